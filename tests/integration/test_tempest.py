"""OpenStack's conformance suite against kubenova: tempest's fast compute part (flavors,
keypairs, limits, quotas, versions, hypervisors, services, availability zones, aggregates,
tenant usage; ``hack.tempest.FAST``), run by ``python -m hack.tempest --fast`` as a subprocess on
a dev cluster of its own, must pass whole but for the known differences it leaves out
(``FAST_KNOWN``, listed in the README). The whole subset is ``make tempest`` (longer: it boots
and acts on servers). tempest lives in .venv-tempest, which ``make test`` and ``make tempest``
make; run this file without it and it is skipped, saying so."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from hack import tempest

pytestmark = pytest.mark.integration


def test_tempests_fast_compute_part_passes() -> None:
    if not tempest.TEMPEST.exists():
        pytest.skip(f"{tempest.TEMPEST} is missing: `make tempest` (or `make test`) installs {tempest.pinned()}")
    proc = subprocess.run(
        [sys.executable, "-m", "hack.tempest", "--fast"], capture_output=True, text=True, timeout=900, check=False
    )
    summary = re.search(r"^tempest: passed (\d+), skipped (\d+), failed (\d+)$", proc.stdout, re.M)
    assert summary, proc.stdout[-4000:] + proc.stderr[-4000:]
    passed, _, failed = (int(g) for g in summary.groups())
    assert (proc.returncode, failed) == (0, 0), proc.stdout[-8000:]
    assert passed >= 100, proc.stdout[-4000:]  # the part ran: not everything skipped
