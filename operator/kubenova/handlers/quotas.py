"""Quota status: a namespace's limits and usage, as os-quota-sets/detail shows them.

The limits and usage come from the read model in :mod:`kubenova.handlers.indexes` (shared with
the webhook and the Server step) and the status from pure :func:`kubenova.quotas.status`. A
Quota's status follows its namespace's usage within a second, then at most once per usage
interval (``KUBENOVA_USAGE_INTERVAL_SECONDS``: a burst of creates is one write per interval), and
is written only when it changed; a change of its limits is written at once.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubenova import conditions, metrics, quotas
from kubenova.api.common import GROUP, VERSION
from kubenova.api.quotas import QUOTA_NAME
from kubenova.handlers import common, indexes, state
from kubenova.kube import client as kube
from kubenova.kube import resources


@kopf.on.event(GROUP, VERSION, "quotas", id="quota-event")
async def quota_event(
    *, event: kopf.RawEvent, body: kopf.Body, namespace: str | None, memo: kopf.Memo, **kw: Any
) -> None:
    if not namespace:
        return
    if event["type"] == "DELETED":
        metrics.forget_quota(namespace)
        return
    observed = (body.get("status") or {}).get("observedGeneration")
    if observed == body["metadata"].get("generation") and usage_key(namespace) in state.of(memo).usage.pending:
        return  # its usage write is due (at most one per interval); its own write's echo, mostly
    await reconcile(namespace, memo=memo, ix=kw, current=dict(body))


@kopf.on.event(GROUP, VERSION, "keypairs", id="quota-keypairs")
@kopf.on.event(GROUP, VERSION, "servergroups", id="quota-server-groups")
async def usage_event(*, namespace: str | None, memo: kopf.Memo, **kw: Any) -> None:
    """Something counted changed: refresh the namespace's Quota status, if it has a Quota."""
    usage_changed(namespace, memo, kw)


def usage_key(namespace: str) -> str:
    """The namespace's Quota's key in the usage debounce (``OperatorState.usage``)."""
    return f"quota/{namespace}"


def usage_changed(namespace: str | None, memo: kopf.Memo, kw: dict[str, Any]) -> None:
    """Also called for each Server event, by :mod:`kubenova.handlers.servers`' one handler."""
    if namespace and namespace in kw["quota_specs"]:
        state.of(memo).usage.soon(usage_key(namespace), lambda: reconcile(namespace, memo=memo, ix=kw))


async def reconcile(
    namespace: str, *, memo: kopf.Memo, ix: dict[str, Any], current: dict[str, Any] | None = None
) -> None:
    """Write the namespace's Quota status if it changed. ``current``: the Quota as its own event
    carried it; a refresh after a usage change reads it (it may have changed since)."""
    if current is None:
        current = await kube.get_dict(state.of(memo).client, resources.Quota, QUOTA_NAME, namespace=namespace)
    if current is None:
        return
    status = current.get("status") or {}
    generation = current["metadata"].get("generation")
    limit, used = indexes.quota_limits(memo, ix, namespace), indexes.quota_usage(memo, ix, namespace)
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
        # The Quota (or its namespace) may be deleted meanwhile: its status is then nobody's.
        await kube.patch_status_if_exists(
            state.of(memo).client, resources.Quota, QUOTA_NAME, desired, namespace=namespace
        )
