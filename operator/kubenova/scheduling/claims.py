"""Claims: the resources each placed server holds on its host.

Choosing and claiming happen in one synchronous step (:func:`kubenova.scheduling.scheduler.
choose_and_claim`), under one lock held by the caller, so two decisions in flight can never
oversubscribe a host. The operator records each claim in the Server's status before it makes
the workload, and rebuilds the ledger from those statuses when it starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from kubenova.scheduling.model import Usage

_NONE = Usage(0, 0, 0)


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    host: str
    vcpus: int
    memory_mb: int
    disk_gb: int


class Ledger:
    """Claims by server key, and their sums per host."""

    def __init__(self) -> None:
        self._claims: dict[str, Claim] = {}
        self._usage: dict[str, Usage] = {}

    def claim(self, key: str, claim: Claim) -> None:
        """Record a claim; a server has at most one, so claiming again replaces it (a resize)."""
        self.release(key)
        self._claims[key] = claim
        v, m, d = self._usage.get(claim.host, _NONE)
        self._usage[claim.host] = Usage(v + claim.vcpus, m + claim.memory_mb, d + claim.disk_gb)

    def release(self, key: str) -> Claim | None:
        old = self._claims.pop(key, None)
        if old is not None:
            v, m, d = self._usage[old.host]
            left = Usage(v - old.vcpus, m - old.memory_mb, d - old.disk_gb)
            if left == _NONE:
                del self._usage[old.host]
            else:
                self._usage[old.host] = left
        return old

    def rebuild(self, claims: Iterable[tuple[str, Claim]]) -> None:
        """Start over from recorded claims (the Servers' statuses at start-up)."""
        self._claims.clear()
        self._usage.clear()
        for key, claim in claims:
            self.claim(key, claim)

    def get(self, key: str) -> Claim | None:
        return self._claims.get(key)

    def copy(self) -> Ledger:
        """A ledger to claim in without changing this one (two dict copies, no re-summing)."""
        led = Ledger()
        led._claims = dict(self._claims)
        led._usage = dict(self._usage)
        return led

    def usage(self) -> Mapping[str, Usage]:
        """Host → what is claimed on it."""
        return self._usage

    def __len__(self) -> int:
        return len(self._claims)
