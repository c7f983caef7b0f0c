"""Server events handled at once: after a start, a container server's Pod is checked against its
groups from what the Pod's event carried, whichever of the two events (the Server's, its Pod's)
is handled first (the kept events of the first listings are handled several at once, so a Pod's
can overtake its Server's); and a namespace's default group and closed policy are made once,
however many of its servers' events are handled together.

The kube writes are stubbed here because these orders cannot be forced on a real control plane;
there, `tests/integration/test_networks_and_security_groups.py` checks the restart's labels and
`tests/integration/test_chart.py` the chart's RBAC (which caught the second create)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import kopf
import pytest

from kubenova import config
from kubenova import securitygroups as sg
from kubenova.handlers import securitygroups as handlers
from kubenova.handlers import state
from kubenova.kube import networkpolicies
from kubenova.kube.servers import Client

KEY = "demo/front"
SERVER = {
    "metadata": {"name": "front", "namespace": "demo"},
    "spec": {"securityGroups": ["web"]},
    "status": {"backend": "container", "workload": "Pod/front"},
}
POD = {"metadata": {"name": "front", "namespace": "demo", "labels": {sg.member_label("old"): ""}}}
INDEXES = {"securitygroup_names": {"demo": ["default", "web"]}}


def run(monkeypatch: pytest.MonkeyPatch, *steps: str) -> tuple[list[dict[str, Any]], state.OperatorState]:
    relabelled: list[dict[str, Any]] = []

    async def relabel_pod(_: Any, pod: dict[str, Any], groups: list[str]) -> None:
        relabelled.append({"labels": pod["metadata"]["labels"], "groups": groups})

    async def apply_policy(*_: Any) -> None:
        await asyncio.sleep(0)  # an await, as the real request's

    monkeypatch.setattr(networkpolicies, "relabel_pod", relabel_pod)
    monkeypatch.setattr(networkpolicies, "apply_policy", apply_policy)
    memo = kopf.Memo(state=state.make(config.Settings(), cast(Client, None)))

    async def go() -> None:
        for step in steps:
            if step == "server":
                await handlers.server_changed(KEY, SERVER, deleted=False, memo=memo, kw=INDEXES)
            else:
                await handlers.pod_seen(KEY, POD, memo=memo)

    asyncio.run(go())
    return relabelled, state.of(memo)


@pytest.mark.parametrize("order", [("server", "pod"), ("pod", "server")])
def test_the_pod_is_checked_once_whichever_event_comes_first(
    monkeypatch: pytest.MonkeyPatch, order: tuple[str, str]
) -> None:
    relabelled, operator = run(monkeypatch, *order)
    assert relabelled == [{"labels": {sg.member_label("old"): ""}, "groups": ["web"]}]
    assert operator.security_labels == {KEY: ("web",)}
    assert not operator.security_unchecked
    assert not operator.pods_ahead
    assert operator.closed_namespaces == {"demo"}


def test_a_pod_event_after_its_server_is_checked_checks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    relabelled, operator = run(monkeypatch, "server", "pod", "pod", "server")
    assert len(relabelled) == 1
    assert not operator.pods_ahead


def test_a_namespaces_default_group_and_closed_policy_are_made_once_for_servers_handled_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second create of the default group would be refused (409) and read back: a ``get`` the
    chart's RBAC does not give the operator."""
    made: list[str] = []

    async def ensure_default_group(_: Any, namespace: str) -> None:
        made.append(f"group {namespace}")
        await asyncio.sleep(0.01)

    async def apply_policy(_: Any, policy: dict[str, Any]) -> None:
        made.append(f"policy {policy['metadata']['name']}")
        await asyncio.sleep(0.01)

    monkeypatch.setattr(networkpolicies, "ensure_default_group", ensure_default_group)
    monkeypatch.setattr(networkpolicies, "apply_policy", apply_policy)
    memo = kopf.Memo(state=state.make(config.Settings(), cast(Client, None)))
    no_groups_yet: dict[str, Any] = {"securitygroup_names": {}}

    async def go() -> None:
        await asyncio.gather(
            *(
                handlers.server_changed(f"demo/s{i}", {"spec": {}}, deleted=False, memo=memo, kw=no_groups_yet)
                for i in range(3)
            )
        )

    asyncio.run(go())
    assert sorted(made) == ["group demo", f"policy {sg.CLOSED_POLICY}"]
