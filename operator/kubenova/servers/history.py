"""A Server's action history (``openstack server event list``): a record per Nova action, opened
when the action starts and closed when it ends. Called by the planner (:mod:`.plan`, :mod:`.tasks`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from kubenova.servers.bodies import ActionRecord

HISTORY = 20
"""How many action records a Server keeps."""


def records(status: Mapping[str, Any]) -> Sequence[ActionRecord]:
    found: Sequence[ActionRecord] = status.get("actions") or ()
    return found


def start_action(
    previous: Mapping[str, Any],
    action: str,
    *,
    now: str,
    server_action: str | None = None,
    request_id: str | None = None,
) -> list[ActionRecord]:
    """The action history with a new record (request id, action, start) last."""
    record: ActionRecord = {"requestId": request_id or f"req-{uuid.uuid4()}", "action": action, "startTime": now}
    if server_action:
        record["serverAction"] = server_action
    return [*records(previous), record][-HISTORY:]


def finish_action(previous: Mapping[str, Any], *, now: str, error: str | None = None) -> list[ActionRecord] | None:
    """The history with its newest unfinished record closed, or None if there is none."""
    history = [ActionRecord(**r) for r in records(previous)]
    if not history or history[-1].get("finishTime"):
        return None
    last = history[-1]
    last["finishTime"] = now
    last["result"] = "Error" if error else "Success"
    if error:
        last["message"] = error
    return history


def open_record(status: Mapping[str, Any]) -> ActionRecord | None:
    """The newest record if it has not finished."""
    history = records(status)
    if history and not history[-1].get("finishTime"):
        return history[-1]
    return None


def last_record(status: Mapping[str, Any]) -> ActionRecord | None:
    history = records(status)
    return history[-1] if history else None
