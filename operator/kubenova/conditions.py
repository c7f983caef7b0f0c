"""Kubernetes conditions, set the way cluster-api does it: a condition's ``lastTransitionTime``
changes only when its status flips, and each condition carries the generation it describes.

Pure; called by the status builders of every kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def set_condition(
    conditions: Iterable[Mapping[str, Any]],
    *,
    type: str,
    status: bool,
    reason: str,
    message: str = "",
    generation: int | None,
    now: str,
) -> list[dict[str, Any]]:
    """Return ``conditions`` with one condition replaced or added; the input is not changed."""
    result: list[dict[str, Any]] = []
    previous: Mapping[str, Any] | None = None
    for cond in conditions:
        if cond.get("type") == type:
            previous = cond
        else:
            result.append(dict(cond))
    value = "True" if status else "False"
    changed = previous is None or previous.get("status") != value
    new: dict[str, Any] = {
        "type": type,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now if changed or previous is None else previous.get("lastTransitionTime", now),
    }
    if generation is not None:
        new["observedGeneration"] = generation
    result.append(new)
    return sorted(result, key=lambda c: str(c["type"]))


def ready(
    previous: Mapping[str, Any],
    *,
    ok: bool,
    reason: str,
    message: str = "",
    generation: int | None,
    now: str,
) -> list[dict[str, Any]]:
    """The conditions of the status ``previous`` with its Ready condition set: what every kind's
    status carries, and what ``kubectl wait --for=condition=Ready`` reads."""
    return set_condition(
        previous.get("conditions", []),
        type="Ready",
        status=ok,
        reason=reason,
        message=message,
        generation=generation,
        now=now,
    )


def get(conditions: Iterable[Mapping[str, Any]], type: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type), None)


def is_true(conditions: Iterable[Mapping[str, Any]], type: str) -> bool:
    cond = get(conditions, type)
    return cond is not None and cond.get("status") == "True"


def differs(current: Mapping[str, Any], patch: Mapping[str, Any]) -> bool:
    """Whether merge-patching the status ``current`` with ``patch`` would change what a reader sees.

    As in a JSON merge patch, only the keys of ``patch`` count and ``None`` means "absent".
    Condition timestamps are ignored: a recomputed condition with the same status keeps its old
    time anyway, and comparing them would turn every resync into a write.
    """
    return any(_comparable(key, current.get(key)) != _comparable(key, value) for key, value in patch.items())


def _comparable(key: str, value: Any) -> Any:
    if key == "conditions" and isinstance(value, list):
        return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in value]
    return value
