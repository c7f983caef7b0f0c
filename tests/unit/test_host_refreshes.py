"""Events that change nothing a Host reports compute no Host status: a Node's heartbeat (with
1,000 Nodes, about 30 a second) and most of a Server's events (its own writes' echoes, ACTIVE)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, cast

import kopf
import pytest

from kubenova import config, hosts
from kubenova.handlers import hosts as host_handlers
from kubenova.handlers import state
from kubenova.kube.servers import Client

FACTS = hosts.NodeFacts(name="n1", ready=True, vcpus=8, memory_mb=16384, local_gb=100, host_ip="10.0.0.1", compute=True)


def test_only_a_node_event_that_changes_its_facts_reconciles_its_host(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, bool]] = []

    async def reconcile(name: str, *, node_deleted: bool = False, **_: Any) -> None:
        calls.append((name, node_deleted))

    monkeypatch.setattr(host_handlers, "reconcile", reconcile)
    memo = kopf.Memo(state=state.make(config.Settings(), cast(Client, None)))
    handler: Any = host_handlers.node_event  # kopf's decorator types it as a WatchingFn
    node_facts: dict[str, Any] = {"n1": [FACTS]}
    indexes = {"host_bodies": {"n1": [hosts.HostBody({}, {}, 1)]}, "node_facts": node_facts}

    async def go() -> None:
        for _ in range(3):  # the first event, then two heartbeats
            await handler(event={"type": "MODIFIED"}, name="n1", memo=memo, **indexes)
        node_facts["n1"] = [dataclasses.replace(FACTS, ready=False)]
        await handler(event={"type": "MODIFIED"}, name="n1", memo=memo, **indexes)
        await handler(event={"type": "DELETED"}, name="n1", memo=memo, **indexes)

    asyncio.run(go())
    assert calls == [("n1", False), ("n1", False), ("n1", True)]
    assert not state.of(memo).node_facts_reflected


def _claimed(host: str, vcpus: int = 1, **more: Any) -> dict[str, Any]:
    return {"claim": {"host": host, "vcpus": vcpus, "memoryMb": 512, "diskGb": 1}, "vmState": "active", **more}


def test_a_server_event_refreshes_only_the_hosts_where_what_it_holds_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build's echoes and its ACTIVE change nothing a Host reports: no usage refresh for them.
    A resize, a move (the source held until confirmed) and a deletion do."""
    refreshed: list[str] = []
    monkeypatch.setattr(host_handlers, "_refresh_soon", lambda host, memo, indexes: refreshed.append(host))
    memo = kopf.Memo(state=state.make(config.Settings(), cast(Client, None)))

    def event(status: dict[str, Any], deleted: bool = False) -> list[str]:
        refreshed.clear()
        host_handlers.server_changed("ns/s1", status, deleted=deleted, memo=memo, kwargs={})
        return list(refreshed)

    assert event({}) == []  # accepted, not placed yet
    assert event(_claimed("h1", taskState="spawning")) == ["h1"]
    assert event(_claimed("h1", taskState="spawning")) == []  # its own write's echo
    assert event(_claimed("h1")) == []  # ACTIVE: it ran already while spawning
    assert event(_claimed("h1", vmState="stopped")) == ["h1"]  # stopped: it no longer runs
    assert event(_claimed("h1")) == ["h1"]  # started again
    moving = _claimed("h2", migration={"sourceClaim": {"host": "h1", "vcpus": 1, "memoryMb": 512, "diskGb": 1}})
    assert event(moving) == ["h2"]  # h1 still held (and running: the move's task)
    assert event(_claimed("h2")) == ["h1"]  # confirmed: the source released
    assert event(_claimed("h2", vcpus=2)) == ["h2"]  # resized in place
    assert event(_claimed("h2", vcpus=2), deleted=True) == ["h2"]
    assert not state.of(memo).server_hosts
