"""SecurityGroup handlers: each group's NetworkPolicy (rendered by :mod:`kubenova.securitygroups`,
written by :mod:`kubenova.kube.networkpolicies`), and the membership of servers: the labels their
Pods carry for the groups they name, and the namespace's ``default`` group, made when a server
names it and it does not exist (as Neutron gives every project one).

A group's policy follows its rules at once (each change is an event); a server's groups follow
``spec.securityGroups`` at once too: its Pod (or its VM's template and virt-launcher Pods) is
relabelled in place, which restarts nothing. Every namespace with servers has one more policy,
which closes every server's Pods but for what their groups allow (a Neutron port in no group that
exists is closed, a Pod no policy selects is open).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
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
    if deleted or not namespace:
        operator.security_labels.pop(key, None)
        operator.security_unchecked.pop(key, None)
        operator.pods_ahead.pop(key, None)
        return
    groups = tuple(spec.get("securityGroups", [securitygroups.DEFAULT]))
    if not meta.get("deletionTimestamp") and operator.security_labels.get(key) != groups:
        await _label(operator, namespace, name, status, groups)
    await _namespace_policies(operator, namespace, groups, kw)


async def _label(
    operator: state.OperatorState, namespace: str, name: str, status: Mapping[str, Any], groups: tuple[str, ...]
) -> None:
    """Bring the server's workload to the member labels of ``groups``."""
    key, client = f"{namespace}/{name}", operator.client
    backend = status.get("backend")
    if backend and status.get("workload"):
        if backend == container.NAME and key not in operator.security_labels:
            # Not known since this process started: its Pod's own event checks it, from the Pod
            # it carries (every Pod is listed at start-up, after the Servers: see
            # :data:`kubenova.handlers.dispatch.FIRST`), instead of a read of each Pod; or the
            # Pod's event came first (the kept events are handled several at once) and left
            # what this needs.
            pod = operator.pods_ahead.pop(key, None)
            if pod is None:
                operator.security_unchecked[key] = groups  # before any await: see pod_seen
                return
            await networkpolicies.relabel_pod(client, pod, list(groups))
        else:
            # A workload may exist with other groups' labels: bring them to these. One not made
            # yet is rendered with the spec's groups.
            await networkpolicies.relabel_members(client, str(backend), namespace, name, list(groups))
    operator.security_labels[key] = groups


async def _namespace_policies(
    operator: state.OperatorState, namespace: str, groups: tuple[str, ...], kw: dict[str, Any]
) -> None:
    """The namespace's ``default`` group if a server names it, and its closed-by-default policy."""
    client, defaulted = operator.client, operator.defaulted_namespaces
    if securitygroups.DEFAULT in kw["securitygroup_names"].get(namespace, []):
        defaulted.discard(namespace)
    elif securitygroups.DEFAULT in groups:
        await _once(defaulted, namespace, lambda: _make_default_group(client, namespace))
    await _once(operator.closed_namespaces, namespace, lambda: _close_namespace(client, namespace))


async def _once(done: set[str], namespace: str, work: Callable[[], Awaitable[bool]]) -> None:
    """``work`` for ``namespace`` unless ``done`` holds it. Marked before the request, not after:
    the servers of a namespace are handled at once, and a second create of its default group
    would be refused (409) and read back, a ``get`` the operator's RBAC does not need otherwise
    (the chart's test caught it). Unmarked if it fails: the next server event tries again."""
    if namespace in done:
        return
    done.add(namespace)
    succeeded = False
    try:
        succeeded = await work()
    finally:
        if not succeeded:
            done.discard(namespace)


async def _make_default_group(client: kube_servers.Client, namespace: str) -> bool:
    await networkpolicies.ensure_default_group(client, namespace)
    return True


async def _close_namespace(client: kube_servers.Client, namespace: str) -> bool:
    """Apply the namespace's closed-by-default policy (:func:`kubenova.securitygroups.closed_policy`),
    once per process: an apply of the unchanged policy writes nothing, and one deleted by hand
    is back at the next start. False if refused (a namespace being deleted)."""
    try:
        await networkpolicies.apply_policy(client, securitygroups.closed_policy(namespace))
    except networkpolicies.PolicyRefused as exc:
        log.info("namespace %s: the servers' closed-by-default NetworkPolicy was refused: %s", namespace, exc)
        return False
    return True


async def pod_seen(key: str, pod: Mapping[str, Any] | None, *, memo: kopf.Memo) -> None:
    """A container server's Pod event: if its server's groups were not checked yet (see
    :func:`_label`), bring this Pod's member labels to them. If its server's event was not
    handled yet since this process started, leave it what it needs (:attr:`.pods_ahead`)."""
    operator = state.of(memo)
    if pod is None:
        operator.pods_ahead.pop(key, None)
        return
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return
    if key not in operator.security_unchecked:
        if key not in operator.security_labels:
            operator.pods_ahead[key] = {"metadata": {f: meta.get(f) for f in ("name", "namespace", "labels")}}
        return
    groups = operator.security_unchecked.pop(key)
    try:
        await networkpolicies.relabel_pod(operator.client, pod, list(groups))
    except kube_servers.ApiError as exc:
        if exc.status.code not in {403, 404}:  # else gone, or its namespace going: as above
            operator.security_unchecked[key] = groups  # its next event tries again
            raise
    operator.security_labels[key] = groups
