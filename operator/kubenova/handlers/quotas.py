"""Quotas: each namespace's usage, from kopf indexes, for the checks and for Quota status.

Usage is counted from the objects (Servers' statuses, Keypairs, ServerGroups), never kept in a
counter that a restart could lose. The Server handler checks a create against it under the
scheduler's lock, overlaid with what this process has just admitted and the index has not seen
yet (``Placement.charged``): concurrent creates can never pass a limit. A Quota's status follows
its namespace's usage within a second (coalesced: a burst of creates is one write).
"""

from __future__ import annotations

from typing import Any

import kopf

from kubenova import conditions, metrics, quotas
from kubenova.api.common import GROUP, VERSION
from kubenova.api.quotas import QUOTA_NAME
from kubenova.handlers import common, placement
from kubenova.kube import client as kube
from kubenova.kube import resources


@kopf.index(GROUP, VERSION, "servers")
def quota_servers(*, namespace: str | None, name: str, status: kopf.Status, **_: Any) -> dict[str, Any] | None:
    usage = quotas.server_usage(name, status)
    return {namespace or "": usage} if usage else None


@kopf.index(GROUP, VERSION, "servers")
def quota_refused(*, namespace: str | None, name: str, status: kopf.Status, **_: Any) -> dict[str, str] | None:
    """Servers refused for quota, which are tried again when their namespace has room."""
    return {namespace or "": name} if quotas.refused(status) else None


@kopf.index(GROUP, VERSION, "keypairs")
def quota_keypairs(*, namespace: str | None, name: str, **_: Any) -> dict[str, str]:
    return {namespace or "": name}


@kopf.index(GROUP, VERSION, "servergroups")
def quota_server_groups(*, namespace: str | None, name: str, **_: Any) -> dict[str, str]:
    return {namespace or "": name}


@kopf.index(GROUP, VERSION, "quotas")
def quota_specs(*, namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[str, Any] | None:
    # Only 'default' counts (the CRD refuses other names; this guards an old object).
    return {namespace or "": dict(spec)} if name == QUOTA_NAME else None


def limits(memo: kopf.Memo, indexes: dict[str, Any], namespace: str) -> dict[str, int]:
    """The namespace's limits: its Quota's spec over the operator's defaults (Nova's, unless set)."""
    defaults = {**quotas.NOVA_DEFAULTS, **common.settings(memo).default_quota}
    return quotas.limits(common.first(indexes["quota_specs"], namespace), defaults)


def usage(memo: kopf.Memo, indexes: dict[str, Any], namespace: str) -> quotas.Usage:
    """The namespace's usage: the index's, overlaid with this process's admissions not yet in it."""
    servers: dict[str, quotas.ServerUsage] = {u.name: u for u in indexes["quota_servers"].get(namespace, [])}
    charged = placement.of(memo).charged
    for key, held in list(charged.items()):
        ns, name = key.split("/", 1)
        if ns != namespace:
            continue
        if servers.get(name) == held:
            del charged[key]  # the index has caught up
        elif held is None:
            servers.pop(name, None)
        else:
            servers[name] = held
    return quotas.Usage.count(
        servers.values(),
        key_pairs=len(list(indexes["quota_keypairs"].get(namespace, []))),
        server_groups=len(list(indexes["quota_server_groups"].get(namespace, []))),
    )


# --- Quota status -----------------------------------------------------------------------------


@kopf.on.event(GROUP, VERSION, "quotas", id="quota-event")
async def quota_event(
    *, event: kopf.RawEvent, body: kopf.Body, namespace: str | None, memo: kopf.Memo, **kw: Any
) -> None:
    if not namespace:
        return
    if event["type"] == "DELETED":
        metrics.forget_quota(namespace)
    else:
        await reconcile(namespace, memo=memo, indexes=kw, current=dict(body))


@kopf.on.event(GROUP, VERSION, "servers", id="quota-servers")
@kopf.on.event(GROUP, VERSION, "keypairs", id="quota-keypairs")
@kopf.on.event(GROUP, VERSION, "servergroups", id="quota-server-groups")
async def usage_event(*, namespace: str | None, memo: kopf.Memo, **kw: Any) -> None:
    """Something counted changed: refresh the namespace's Quota status, if it has a Quota."""
    if namespace and namespace in kw["quota_specs"]:
        common.soon(memo, f"quota/{namespace}", lambda: reconcile(namespace, memo=memo, indexes=kw))


async def reconcile(
    namespace: str, *, memo: kopf.Memo, indexes: dict[str, Any], current: dict[str, Any] | None = None
) -> None:
    """Write the namespace's Quota status if it changed. ``current``: the Quota as its own event
    carried it; a refresh after a usage change reads it (it may have changed since)."""
    if current is None:
        current = await kube.get_dict(common.client(memo), resources.Quota, QUOTA_NAME, namespace=namespace)
    if current is None:
        return
    status = current.get("status") or {}
    generation = current["metadata"].get("generation")
    limit, used = limits(memo, indexes, namespace), usage(memo, indexes, namespace)
    for resource in quotas.RESOURCES:
        metrics.set_quota(namespace, resource, used=used.of(resource), limit=limit[resource])
    desired = quotas.status(limit, used)
    desired["observedGeneration"] = generation
    desired["conditions"] = conditions.ready(
        status,
        ok=True,
        reason="Counted",
        message="Limits in effect and usage counted.",
        generation=generation,
        now=common.now(),
    )
    if conditions.differs(status, desired):
        await kube.patch_status(common.client(memo), resources.Quota, QUOTA_NAME, desired, namespace=namespace)
