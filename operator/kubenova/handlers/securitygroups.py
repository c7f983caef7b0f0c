"""SecurityGroup handlers: each group's NetworkPolicy (rendered by :mod:`kubenova.securitygroups`,
written by :mod:`kubenova.kube.networkpolicies`), and the membership of servers: the labels their
Pods carry for the groups they name, and the namespace's ``default`` group, made when a server
names it and it does not exist (as Neutron gives every project one).

A group's policy follows its rules at once (each change is an event); a server's groups follow
``spec.securityGroups`` at once too: its Pod (or its VM's template and virt-launcher Pods) is
relabelled in place, which restarts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from kubenova import conditions, securitygroups
from kubenova.api.common import GROUP, VERSION
from kubenova.backends import container
from kubenova.handlers import common, state
from kubenova.kube import client as kube
from kubenova.kube import networkpolicies, resources
from kubenova.kube import servers as kube_servers

log = logging.getLogger(__name__)


@kopf.index(GROUP, VERSION, "securitygroups")
async def securitygroup_names(*, namespace: str | None, name: str, **_: Any) -> dict[str, str]:
    """The SecurityGroups of each namespace, by name: is its ``default`` group there yet."""
    return {namespace or "": name}


@kopf.on.event(GROUP, VERSION, "securitygroups", id="securitygroup-event")
async def securitygroup_event(
    *,
    event: kopf.RawEvent,
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    if event["type"] == "DELETED" or meta.get("deletionTimestamp") or namespace is None:
        return  # its NetworkPolicy is owned by it: the garbage collector removes it
    generation = meta.get("generation")
    # Applied on every event, an unchanged policy included: server-side apply of the same spec
    # changes nothing, and it puts back a policy deleted or edited by hand (at the latest when
    # the operator restarts and sees every group again).
    client = state.of(memo).client
    rendered = securitygroups.render(name, namespace, meta["uid"], dict(spec))
    try:
        await networkpolicies.apply_policy(client, rendered.policy)
    except networkpolicies.PolicyRefused as exc:  # said in status (kopf does not retry an event handler)
        message = f"The NetworkPolicy could not be written: {exc}"
        failed = {"conditions": securitygroups.failed_conditions(dict(status), message, generation, common.now())}
        await kube.patch_status_if_exists(client, resources.SecurityGroup, name, failed, namespace=namespace)
        log.warning("securitygroup %s/%s: %s", namespace, name, message)
        return
    desired = securitygroups.status(
        meta["uid"], dict(spec), rendered, previous=dict(status), generation=generation, now=common.now()
    )
    if not conditions.differs(status, desired):
        return  # the echo of our own status write
    await kube.patch_status_if_exists(client, resources.SecurityGroup, name, desired, namespace=namespace)
    log.info("securitygroup %s/%s: policy %s written", namespace, name, rendered.policy["metadata"]["name"])


async def server_changed(
    key: str, body: Mapping[str, Any], *, deleted: bool, memo: kopf.Memo, kw: dict[str, Any]
) -> None:
    """A Server's event (from :mod:`kubenova.handlers.servers`' one handler): its groups' labels,
    and its namespace's ``default`` group. A namespace being deleted refuses both (403) or has
    lost the object (404): nothing is left to label, and no event handler is retried."""
    try:
        await _follow_groups(key, body, deleted=deleted, memo=memo, kw=kw)
    except kube_servers.ApiError as exc:
        if exc.status.code not in {403, 404}:
            raise
        log.info("server %s: security groups not followed: %s", key, exc.status.message)


async def _follow_groups(
    key: str, body: Mapping[str, Any], *, deleted: bool, memo: kopf.Memo, kw: dict[str, Any]
) -> None:
    namespace, name = key.split("/", 1)
    spec, status, meta = body.get("spec") or {}, body.get("status") or {}, body.get("metadata") or {}
    operator = state.of(memo)
    labelled, defaulted = operator.security_labels, operator.defaulted_namespaces
    if deleted or not namespace:
        labelled.pop(key, None)
        operator.security_unchecked.pop(key, None)
        return
    groups = tuple(spec.get("securityGroups", [securitygroups.DEFAULT]))
    client = operator.client
    if securitygroups.DEFAULT in kw["securitygroup_names"].get(namespace, []):
        defaulted.discard(namespace)
    elif securitygroups.DEFAULT in groups and namespace not in defaulted:
        await networkpolicies.ensure_default_group(client, namespace)
        defaulted.add(namespace)
    if meta.get("deletionTimestamp") or labelled.get(key) == groups:
        return
    backend = status.get("backend")
    if backend and status.get("workload"):
        if backend == container.NAME and key not in labelled:
            # Not known since this process started: its Pod's own event checks it, from the Pod
            # it carries (every Pod is listed at start-up, after the Servers: see
            # :data:`kubenova.handlers.dispatch.FIRST`), instead of a read of each Pod.
            operator.security_unchecked[key] = groups
            return
        # A workload may exist with other groups' labels: bring them to these. One not made yet
        # is rendered with the spec's groups.
        await networkpolicies.relabel_members(client, str(backend), namespace, name, list(groups))
    labelled[key] = groups


async def pod_seen(key: str, pod: Mapping[str, Any] | None, *, memo: kopf.Memo) -> None:
    """A container server's Pod event: if its server's groups were not checked yet (see
    :func:`_follow_groups`), bring this Pod's member labels to them."""
    operator = state.of(memo)
    if pod is None or key not in operator.security_unchecked or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return
    groups = operator.security_unchecked.pop(key)
    try:
        await networkpolicies.relabel_pod(operator.client, pod, list(groups))
    except kube_servers.ApiError as exc:
        if exc.status.code not in {403, 404}:  # else gone, or its namespace going: as above
            operator.security_unchecked[key] = groups  # its next event tries again
            raise
    operator.security_labels[key] = groups
