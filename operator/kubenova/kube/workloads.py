"""Making a Server's workload (a Pod or a KubeVirt VirtualMachine) what its task needs, one
idempotent step per call, and reporting what the backend shows. Called by the Server executor
(:mod:`kubenova.handlers.server_executor`) with the workload the planner asked for.

:func:`ensure` is called on every event of a server with a task in flight. It never waits: it
makes one change (create, delete, halt, re-render, pause...) and returns what it observes; the
change's own event brings the next call. A workload carrying another revision than the status
asks for is replaced: a Pod is deleted and made again (Pods are immutable), a VirtualMachine is
halted, re-rendered and started, as a KubeVirt restart does.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from lightkube import AsyncClient, codecs
from lightkube.resources.core_v1 import PersistentVolumeClaim, Pod, Secret
from lightkube.types import PatchType

from kubenova import backends
from kubenova.backends import container, kubevirt, networks, workload
from kubenova.backends.workload import Observation, PlacedServer
from kubenova.kube import client as kube
from kubenova.kube import kubevirt as kubevirt_api
from kubenova.kube import networks as networks_api
from kubenova.kube import resources, rootdisks
from kubenova.servers.tasks import Goal

RESOURCES: dict[str, Any] = {container.KIND: Pod, kubevirt.KIND: resources.VirtualMachine}
"""Each backend's workload kind, as lightkube's resource."""


class ActionFailed(Exception):
    """The backend refused a step of the action (KubeVirt's subresource API said no, or is absent)."""


async def ensure(
    client: AsyncClient,
    backend: str,
    server: PlacedServer,
    goal: Goal,
    *,
    user_data: str | None = None,
    new: bool = False,
    seen: dict[str, Any] | None = None,
) -> Observation:
    """One step toward ``goal`` for the workload of ``server``; what it looks like now.
    ``user_data`` is the spec's base64 user data, put in a Secret the workload mounts. ``new``:
    the server was placed a moment ago by this process, so no Pod can exist yet: it is created
    without a read first (a conflict still adopts whatever is there). ``seen``: the workload as
    the watch event being handled carried it, which spares a read when it is all in order."""
    kind = backends.of(backend)
    renders = goal is not Goal.ABSENT and (kind.KEEPS_STOPPED or goal is not Goal.STOPPED)
    if renders and not server.networks.resolved:  # a stop or delete needs no network
        try:
            server = dataclasses.replace(
                server, networks=await networks_api.resolved(client, server.networks, backend=backend)
            )
        except networks.NetworkFault as fault:  # Nova refuses such a request with 400
            return Observation(exists=False, failure=str(fault), failure_code=400)
    made = _Secrets(client, server, workload.secrets(server, user_data_b64=user_data, key_secret=kind.KEY_SECRET))
    if kind.KEEPS_STOPPED:
        return await _ensure_vm(client, server, goal, made)
    return await _ensure_replaced(client, kind, server, goal, made, new=new, seen=seen)


class _Secrets:
    """The Secrets a workload mounts, made (or brought up to date) just before the workload is."""

    def __init__(self, client: AsyncClient, server: PlacedServer, wanted: dict[str, dict[str, str]]) -> None:
        self.client, self.server, self.wanted = client, server, wanted

    async def ensure(self) -> None:
        for name, data in self.wanted.items():
            current = await kube.get_dict(self.client, Secret, name, namespace=self.server.namespace)
            if current is None:
                body = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {
                        "name": name,
                        "namespace": self.server.namespace,
                        "labels": self.server.labels(),
                        "ownerReferences": [self.server.owner_reference()],  # removed with the Server
                    },
                    "type": "Opaque",
                    "data": data,
                }
                await kube.create_or_adopt(self.client, codecs.from_dict(body))
            elif current.get("data") != data:
                await self.client.patch(
                    Secret, name, {"data": data}, namespace=self.server.namespace, patch_type=PatchType.MERGE
                )


async def remove(client: AsyncClient, namespace: str, name: str) -> None:
    """Delete whichever workload a server has (the backend may not be known yet)."""
    for res in RESOURCES.values():
        await kube.delete_if_exists(client, res, name, namespace=namespace)


async def delete_claims(client: AsyncClient, namespace: str, claims: list[str]) -> None:
    """Delete the PersistentVolumeClaims a deleted server attached with deleteOnTermination."""
    for claim in claims:
        await kube.delete_if_exists(client, PersistentVolumeClaim, claim, namespace=namespace)


async def _ensure_replaced(
    client: AsyncClient,
    kind: backends.Backend,
    server: PlacedServer,
    goal: Goal,
    secrets: _Secrets,
    *,
    new: bool = False,
    seen: dict[str, Any] | None = None,
) -> Observation:
    """A workload that is never changed in place (a Pod): made, or deleted to stop or remake it."""
    res = RESOURCES[kind.KIND]
    if goal is Goal.RUNNING and seen is not None and _in_order(kind.observe(seen), server):
        # The event's Pod is the one this server wants, on its host, and not being deleted:
        # nothing would be done to it, so a read (one per Pod event) would only repeat it. Any
        # other Pod is read first, as what is then done to it (a delete) must not act on an
        # old copy of the watch.
        return kind.observe(seen)
    pod = None if new and goal is Goal.RUNNING else await _get(client, res, server)
    obs = kind.observe(pod)
    # A Pod on another node than the server's host is the old copy of a move. It is deleted
    # gracefully first; one still Terminating there was left on a node that is down (Nova
    # evacuates only from such a host), where no kubelet will ever confirm its deletion: it is
    # then deleted at once (grace 0), as Nova's evacuated-instance cleanup destroys the stale
    # copy, and it is never taken for the server's workload.
    elsewhere = pod is not None and obs.host is not None and obs.host != server.host
    terminating = pod is not None and bool(pod["metadata"].get("deletionTimestamp"))
    if terminating and not elsewhere:
        return obs  # wait for it to go; its DELETED event calls again
    stale = pod is not None and (obs.revision != server.revision or elsewhere)
    if goal in (Goal.STOPPED, Goal.ABSENT) or stale:
        # A Pod cannot be stopped and kept, nor changed: stopping or remaking it deletes it.
        if pod is not None:
            grace = 0 if elsewhere and terminating else None
            await kube.delete_if_exists(client, res, server.name, namespace=server.namespace, grace_period=grace)
            return kind.observe(await _get(client, res, server))
        return obs
    if pod is None:
        await secrets.ensure()
        pod = _as_dict(await kube.create_or_adopt(client, codecs.from_dict(kind.render(server))))
    return kind.observe(pod)


async def _ensure_vm(client: AsyncClient, server: PlacedServer, goal: Goal, secrets: _Secrets) -> Observation:
    disk = None
    if goal is not Goal.ABSENT and (body := kubevirt.root_disk(server)) is not None:
        disk = await _ensure_root_disk(client, server, body)
    return kubevirt.with_root_disk(await _ensure_vm_itself(client, server, goal, secrets), disk)


async def _ensure_root_disk(client: AsyncClient, server: PlacedServer, body: dict[str, Any]) -> dict[str, Any]:
    """The server's root disk (a CDI DataVolume), made if absent and never changed after: every
    re-render of the VM finds the same disk. A rebuild names a new one; the old one goes."""
    namespace, name = server.namespace, body["metadata"]["name"]
    disk = await kube.get_dict(client, resources.DataVolume, name, namespace=namespace)
    if disk is None:
        disk = _as_dict(await kube.create_or_adopt(client, codecs.from_dict(body)))
    else:
        disk = await rootdisks.grow(client, server, disk)  # a resize to a larger flavor disk
    previous = (server.image_source or {}).get("previousRootDisk")
    if previous and previous != name:
        await kube.delete_if_exists(client, resources.DataVolume, previous, namespace=namespace)
    return disk


async def _ensure_vm_itself(client: AsyncClient, server: PlacedServer, goal: Goal, secrets: _Secrets) -> Observation:
    vm = await _get(client, resources.VirtualMachine, server)
    if goal is Goal.ABSENT:
        if vm is not None and not vm["metadata"].get("deletionTimestamp"):
            await kube.delete_if_exists(client, resources.VirtualMachine, server.name, namespace=server.namespace)
        return kubevirt.observe(await _get(client, resources.VirtualMachine, server))
    access = workload.access_secret(server.name) if server.public_key else None
    wanted = kubevirt.render(server, access_secret=access)
    strategy = "Halted" if goal is Goal.STOPPED else "Always"
    wanted["spec"]["runStrategy"] = strategy
    if vm is None:
        await secrets.ensure()
        vm = _as_dict(await kube.create_or_adopt(client, codecs.from_dict(wanted)))
        return kubevirt.observe(vm)
    obs = kubevirt.observe(vm)
    printable = (vm.get("status") or {}).get("printableStatus", "Stopped")
    if obs.revision != server.revision:
        # A new boot (reboot, rebuild, resize, move, rescue): halt the VM, then re-render it while stopped.
        if printable != "Stopped":
            if vm["spec"].get("runStrategy") != "Halted":
                vm = await _patch_vm(
                    client, server, [{"op": "replace", "path": "/spec/runStrategy", "value": "Halted"}]
                )
            return kubevirt.observe(vm)
        await secrets.ensure()
        vm = await _patch_vm(client, server, [{"op": "replace", "path": "/spec", "value": wanted["spec"]}])
        return kubevirt.observe(vm)
    if vm["spec"].get("runStrategy") != strategy:
        vm = await _patch_vm(client, server, [{"op": "replace", "path": "/spec/runStrategy", "value": strategy}])
        return kubevirt.observe(vm)
    if goal is Goal.PAUSED and printable == "Running":
        await _subresource(client, server, "pause")
    elif goal is Goal.RUNNING and printable == "Paused":
        await _subresource(client, server, "unpause")
    elif obs.volumes != frozenset(server.volumes):
        return await _sync_volumes(client, server, vm, wanted=wanted, printable=printable, obs=obs)
    return obs


async def _sync_volumes(
    client: AsyncClient,
    server: PlacedServer,
    vm: dict[str, Any],
    *,
    wanted: dict[str, Any],
    printable: str,
    obs: Observation,
) -> Observation:
    """One step toward the volumes the server has attached: hot-plugged into (or out of) a
    running or paused VM through KubeVirt's ``addvolume``/``removevolume`` (kept in the VM's spec,
    as KubeVirt does), written into a halted VM's spec directly (nothing to hot-plug). A VM
    between the two waits for its next event."""
    if printable == "Stopped" and vm["spec"].get("runStrategy") == "Halted":
        template = vm["spec"]["template"]["spec"]
        spec = wanted["spec"]["template"]["spec"]
        ops = [
            {"op": "test", "path": "/spec/template/spec/volumes", "value": template.get("volumes", [])},
            {"op": "replace", "path": "/spec/template/spec/volumes", "value": spec["volumes"]},
            {
                "op": "replace",
                "path": "/spec/template/spec/domain/devices/disks",
                "value": spec["domain"]["devices"]["disks"],
            },
        ]
        return kubevirt.observe(await _patch_vm(client, server, ops))
    if printable not in ("Running", "Paused"):
        return obs
    extra = sorted(obs.volumes - frozenset(server.volumes))
    try:
        if extra:
            name = workload.volume_name(extra[0])
            await kubevirt_api.vm_volume(client, server.namespace, server.name, "removevolume", {"name": name})
        else:
            claim = next(c for c in server.volumes if c not in obs.volumes)
            disk, volume = kubevirt.hotplug_volume(claim)
            body = {
                "name": disk["name"],
                "disk": disk,
                "volumeSource": {"persistentVolumeClaim": volume["persistentVolumeClaim"]},
            }
            await kubevirt_api.vm_volume(client, server.namespace, server.name, "addvolume", body)
    except kubevirt_api.SubresourceFailed as exc:
        raise ActionFailed(f"KubeVirt could not hot-plug the volume: {exc.message} (HTTP {exc.code})") from exc
    return obs  # the VM's own event (virt-api wrote its spec) brings the next step


async def _subresource(client: AsyncClient, server: PlacedServer, action: Literal["pause", "unpause"]) -> None:
    try:
        await kubevirt_api.vmi_subresource(client, server.namespace, server.name, action)
    except kubevirt_api.SubresourceFailed as exc:  # SubresourceUnavailable included
        raise ActionFailed(f"KubeVirt could not {action} the VirtualMachine: {exc.message} (HTTP {exc.code})") from exc


async def _patch_vm(client: AsyncClient, server: PlacedServer, ops: list[dict[str, Any]]) -> dict[str, Any]:
    return _as_dict(
        await client.patch(
            resources.VirtualMachine, server.name, ops, namespace=server.namespace, patch_type=PatchType.JSON
        )
    )


async def _get(client: AsyncClient, res: Any, server: PlacedServer) -> dict[str, Any] | None:
    return await kube.get_dict(client, res, server.name, namespace=server.namespace)


def _in_order(obs: Observation, server: PlacedServer) -> bool:
    """The Pod is the server's current one: of its revision, on its host, not being deleted."""
    return obs.exists and obs.power != "SHUTDOWN" and obs.host == server.host and obs.revision == server.revision


def _as_dict(obj: Any) -> dict[str, Any]:
    """A lightkube object as plain JSON-like data (its to_dict is untyped)."""
    result: dict[str, Any] = obj.to_dict()
    return result
