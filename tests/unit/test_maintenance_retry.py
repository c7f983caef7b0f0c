"""A Host entering maintenance reconciles the servers on it; one whose reconcile fails (here
kube-apiserver restarting) does not stop the others and is tried again by itself, since the
maintenance is seen already and the server's own next event may never come (the
apiserver-faults integration test found two Pods left on a host in maintenance for good)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import kopf
import pytest

from kubenova import config, hosts
from kubenova.handlers import server_index, servers, state
from kubenova.kube.servers import Client


def test_a_server_that_fails_to_follow_the_maintenance_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    async def reconcile(namespace: str, name: str, **_: Any) -> None:
        calls.append(name)
        if calls.count(name) == 1 and name in ("b", "c"):
            raise ConnectionResetError(104, "Connection reset by peer")

    monkeypatch.setattr(servers, "reconcile", reconcile)
    memo = kopf.Memo(state=state.make(config.Settings(refresh_delay_seconds=0), cast(Client, None)))
    migrate = cast(kopf.Spec, {"maintenance": "migrate"})
    on_host = {
        (server_index.ON_HOST, "h1"): [hosts.ServerOnHost("ns", n, f"u-{n}", 1, 256, 1) for n in ("a", "b", "c")]
    }

    handler: Any = servers.host_maintenance_event  # kopf's decorator types it as a WatchingFn

    async def go() -> None:
        await handler(name="h1", spec=migrate, memo=memo, server_facts=on_host)
        assert calls == ["a", "b", "c"]  # b failing did not keep c from moving
        pending = state.of(memo).refresh.pending
        assert sorted(pending) == ["server-retry/ns/b", "server-retry/ns/c"]
        await asyncio.wait_for(asyncio.gather(*pending.values()), 5)
        # The same maintenance seen again (a usage update of the Host) reconciles nothing more.
        await handler(name="h1", spec=migrate, memo=memo, server_facts=on_host)

    asyncio.run(go())
    assert sorted(calls) == ["a", "b", "b", "c", "c"]
