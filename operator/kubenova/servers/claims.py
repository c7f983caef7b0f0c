"""The claims a Server's status records (its host's, and a moving server's source host's), as
the scheduler's :class:`~kubenova.scheduling.claims.Claim`. Read by the Server-stream indexes
(:mod:`kubenova.handlers.placement`, :mod:`kubenova.handlers.hosts`) and the planner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova.scheduling.claims import Claim
from kubenova.servers.bodies import ClaimBody

SOURCE = "@source"
"""Suffix of the ledger key under which a resized or migrated server holds its source host."""


def to_status(claim: Claim) -> ClaimBody:
    return {"host": claim.host, "vcpus": claim.vcpus, "memoryMb": claim.memory_mb, "diskGb": claim.disk_gb}


def from_status(body: Mapping[str, Any] | None) -> Claim | None:
    """The claim a status records (``claim``, or a migration's ``sourceClaim``), if any."""
    if not body or not body.get("host"):
        return None
    return Claim(body["host"], int(body["vcpus"]), int(body["memoryMb"]), int(body["diskGb"]))


def claims_of(status: Mapping[str, Any]) -> dict[str, Claim]:
    """The claims a server's status records, by key suffix: its own ("") and, until a move is
    confirmed or reverted, the source host's (:data:`SOURCE`), as Nova's Placement keeps both."""
    out: dict[str, Claim] = {}
    if (claim := from_status(status.get("claim"))) is not None:
        out[""] = claim
    if (source := from_status((status.get("migration") or {}).get("sourceClaim"))) is not None:
        out[SOURCE] = source
    return out
