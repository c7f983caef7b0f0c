"""A Quota's own event while its usage write is due (at most one per usage interval) waits for
that write, mostly its own echo; an event with new limits is written at once."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import kopf
import pytest

from kubenova import config
from kubenova.handlers import quotas, state
from kubenova.kube.servers import Client


def _quota(generation: int, observed: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "default", "namespace": "ns", "generation": generation},
        "spec": {"instances": 5},
        "status": {"observedGeneration": observed},
    }


@pytest.mark.parametrize(
    ("generation", "pending", "written"),
    [(1, True, False), (2, True, True), (1, False, True)],
    ids=["echo-while-due", "new-limits-while-due", "nothing-due"],
)
def test_a_quota_event_waits_for_a_due_usage_write_unless_its_limits_changed(
    monkeypatch: pytest.MonkeyPatch, generation: int, pending: bool, written: bool
) -> None:
    calls: list[str] = []

    async def reconcile(namespace: str, **_: Any) -> None:
        calls.append(namespace)

    monkeypatch.setattr(quotas, "reconcile", reconcile)
    memo = kopf.Memo(state=state.make(config.Settings(), cast(Client, None)))
    handler: Any = quotas.quota_event  # kopf's decorator types it as a WatchingFn

    async def go() -> None:
        usage = state.of(memo).usage
        if pending:
            usage.soon("quota/ns", reconcile_later)
        await handler(event={"type": "MODIFIED"}, body=_quota(generation, 1), namespace="ns", memo=memo)
        usage.close()

    async def reconcile_later() -> None:
        return None

    asyncio.run(go())
    assert calls == (["ns"] if written else [])
