"""Nova's instance faults: what a Server in ERROR (or a refused action) shows in ``status.fault``."""

from __future__ import annotations

import dataclasses
from typing import Any

NO_VALID_HOST = "No valid host was found."


@dataclasses.dataclass(frozen=True)
class Fault:
    code: int
    message: str
    created: str
    details: str = ""

    def to_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "created": self.created}
        if self.details:
            out["details"] = self.details
        return out


def no_valid_host(reasons: str, *, now: str) -> Fault:
    """The scheduler's failure, as Nova records it (code 500), with why each host was refused."""
    return Fault(500, f"{NO_VALID_HOST} {reasons}".strip(), now)


def bad_request(message: str, *, now: str) -> Fault:
    """A reference or value the API server could not check (a missing flavor, say): code 400."""
    return Fault(400, message, now)


def conflict(message: str, *, now: str) -> Fault:
    """A refused action (wrong state, locked): code 409 as Nova's API returns it."""
    return Fault(409, message, now)


def over_quota(message: str, *, now: str) -> Fault:
    """Over quota: Nova's API answers 403 Forbidden."""
    return Fault(403, message, now)


def workload_failed(message: str, *, now: str, code: int = 500) -> Fault:
    """The backend could not create or run the workload: code 500, as a failed spawn in Nova
    (400 when the request cannot be met, as a network that does not exist)."""
    return Fault(code, message, now)
