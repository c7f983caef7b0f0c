"""Status of Aggregates and ServerGroups, from kopf's indexes, written only when it changes.

An Aggregate's status follows its spec and the compute Nodes; a ServerGroup's follows the servers
that name it (coalesced like Host usage: a burst of members is one write).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from kubenova import conditions, groups
from kubenova.api.common import GROUP, VERSION
from kubenova.handlers import common, server_index, state
from kubenova.kube import client as kube
from kubenova.kube import resources


@kopf.on.event(GROUP, VERSION, "aggregates", id="aggregate-status")
async def aggregate_event(
    *,
    event: kopf.RawEvent,
    name: str,
    uid: str,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    memo: kopf.Memo,
    **kw: Any,
) -> None:
    if event["type"] == "DELETED":
        return
    desired = groups.aggregate_status(
        uid=uid,
        spec=spec,
        compute_hosts=list(kw["node_facts"]),
        previous=status,
        generation=meta.get("generation"),
        now=common.now(),
    )
    if conditions.differs(status, desired):
        await kube.patch_status_if_exists(state.of(memo).client, resources.Aggregate, name, desired)


@kopf.on.event(GROUP, VERSION, "servergroups", id="server-group-status")
async def server_group_event(
    *, event: kopf.RawEvent, body: kopf.Body, namespace: str | None, name: str, memo: kopf.Memo, **kw: Any
) -> None:
    if event["type"] != "DELETED" and namespace:
        await reconcile(namespace, name, memo=memo, indexes=kw, current=dict(body))


def server_changed(namespace: str | None, spec: Mapping[str, Any], memo: kopf.Memo, kw: dict[str, Any]) -> None:
    """A Server's event (from :mod:`kubenova.handlers.servers`' one handler): its group's members may
    have changed."""
    group = (spec.get("schedulerHints") or {}).get("group")
    if group and namespace and (namespace, group) in kw["server_group_specs"]:
        state.of(memo).refresh.soon(
            f"servergroup/{namespace}/{group}", lambda: reconcile(namespace, group, memo=memo, indexes=kw)
        )


async def reconcile(
    namespace: str, name: str, *, memo: kopf.Memo, indexes: dict[str, Any], current: dict[str, Any] | None = None
) -> None:
    """Write the group's status if it changed. ``current``: the group as its own event carried it;
    a refresh after a member changed reads it."""
    if current is None:
        current = await kube.get_dict(state.of(memo).client, resources.ServerGroup, name, namespace=namespace)
    if current is None:
        return
    status = current.get("status") or {}
    members = server_index.group_members(indexes, namespace, name)
    hosts = [
        claim.host for m in members if (claim := common.first(indexes["server_claims"], f"{namespace}/{m}")) is not None
    ]
    desired = groups.server_group_status(
        uid=current["metadata"]["uid"],
        namespace=namespace,
        members=members,
        hosts=hosts,
        previous=status,
        generation=current["metadata"].get("generation"),
        now=common.now(),
    )
    if conditions.differs(status, desired):
        await kube.patch_status_if_exists(
            state.of(memo).client, resources.ServerGroup, name, desired, namespace=namespace
        )
