"""Servers: validate, schedule and claim, make the workload, and mirror Nova's states.

Level-triggered: a Server's own events and its workload's (Pod or VirtualMachine, found by the
server label) all end in :func:`reconcile`, which takes the one step the Server's status calls
for. Steps are idempotent, so a restart at any moment resumes without duplicating a workload
or losing a claim. The spec is never written; status, our finalizer and our children are.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from lightkube import ApiError, AsyncClient, codecs
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from kubenova import conditions, lifecycle
from kubenova.api.common import GROUP, VERSION
from kubenova.backends import container, kubevirt
from kubenova.backends.servers import SERVER_LABEL, Observation
from kubenova.handlers import common, placement
from kubenova.kube import client as kube
from kubenova.kube import resources
from kubenova.nova import actions, faults, planning
from kubenova.nova.states import PowerState, TaskState, VmState
from kubenova.scheduling.model import GroupSpec
from kubenova.scheduling.scheduler import Chosen, choose_and_claim

log = logging.getLogger(__name__)
# Not kopf's own finalizer name: kopf removes its finalizer from objects it has no delete handler for.
FINALIZER = f"{GROUP}/server-cleanup"
POWER_ACTIONS = {actions.Action.STOP: TaskState.POWERING_OFF, actions.Action.START: TaskState.POWERING_ON}


@kopf.on.event(GROUP, VERSION, "servers", id="server-event")
async def server_event(*, event: kopf.RawEvent, namespace: str | None, name: str, memo: kopf.Memo, **kw: Any) -> None:
    if event["type"] == "DELETED":
        placement.of(memo).pending[f"{namespace}/{name}"] = None
        return
    await reconcile(namespace or "", name, memo=memo, indexes=kw)


@kopf.on.event("", "v1", "pods", labels={SERVER_LABEL: kopf.PRESENT}, id="server-pod-event")
async def pod_event(*, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **kw: Any) -> None:
    await reconcile(namespace or "", labels[SERVER_LABEL], memo=memo, indexes=kw)


@kopf.on.event("kubevirt.io", "v1", "virtualmachines", labels={SERVER_LABEL: kopf.PRESENT}, id="server-vm-event")
async def vm_event(*, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **kw: Any) -> None:
    await reconcile(namespace or "", labels[SERVER_LABEL], memo=memo, indexes=kw)


async def reconcile(namespace: str, name: str, *, memo: kopf.Memo, indexes: dict[str, Any]) -> None:
    """One step for the Server ``namespace/name``; ``indexes`` are kopf's, as handlers receive them."""
    key = f"{namespace}/{name}"
    async with placement.of(memo).server_locks[key]:
        client = common.client(memo)
        try:
            server = _as_dict(await client.get(resources.Server, name, namespace=namespace))
        except ApiError as exc:
            if kube.is_not_found(exc):
                return
            raise
        await Step(server, memo, indexes).run()


class Step:
    """One reconcile of one Server: reads its status and takes the next step."""

    def __init__(self, body: dict[str, Any], memo: kopf.Memo, indexes: dict[str, Any]) -> None:
        self.body = body
        self.meta = body["metadata"]
        self.spec: dict[str, Any] = body.get("spec", {})
        self.status: dict[str, Any] = body.get("status", {}) or {}
        self.memo = memo
        self.ix = indexes
        self.client: AsyncClient = common.client(memo)
        self.conf = common.settings(memo)
        self.name: str = self.meta["name"]
        self.namespace: str = self.meta["namespace"]
        self.key = f"{self.namespace}/{self.name}"
        self.generation: int | None = self.meta.get("generation")
        self.now = common.now()

    async def run(self) -> None:
        if self.meta.get("deletionTimestamp"):
            await self.delete()
            return
        if FINALIZER not in self.meta.get("finalizers", []):
            await self.client.patch(
                resources.Server,
                self.name,
                {"metadata": {"finalizers": [*self.meta.get("finalizers", []), FINALIZER]}},
                namespace=self.namespace,
                patch_type=PatchType.MERGE,
            )
        vm, task = self.status.get("vmState"), self.status.get("taskState")
        if vm is None:
            await self.accept()
        elif vm == VmState.BUILDING and task == TaskState.SCHEDULING:
            await self.schedule()
        elif vm == VmState.ERROR:
            return
        elif task in (TaskState.SPAWNING, TaskState.POWERING_ON, TaskState.POWERING_OFF):
            await self.converge(task)
        elif task is None:
            await self.follow_spec()

    # --- steps --------------------------------------------------------------------------------

    async def accept(self) -> None:
        """Check what the API server could not (references to other objects), then BUILD."""
        flavor_name = self.spec.get("flavor", "")
        flavor = common.first(self.ix["flavor_specs"], flavor_name)
        problem = None
        if flavor is None:
            problem = f"Flavor {flavor_name} could not be found."
        elif not flavor.get("isPublic", True) and self.namespace not in flavor.get("access", []):
            problem = f"Flavor {flavor_name} is private and namespace {self.namespace} is not on its access list."
        elif self.spec.get("keyName") and (self.namespace, self.spec["keyName"]) not in self.ix["keypair_keys"]:
            problem = f"Invalid key_name provided: Keypair {self.spec['keyName']} not found in {self.namespace}."
        backend = lifecycle.backend_of(self.spec, flavor or {}, self.conf.default_backend)
        if problem is None and backend == container.NAME and not self.spec.get("image"):
            problem = "The container backend needs spec.image; bootVolume is for kubevirt."
        patch: dict[str, Any] = {
            "id": self.meta["uid"],
            "backend": backend,
            "image": self.spec.get("image"),
            "keyName": self.spec.get("keyName"),
            "locked": bool(self.spec.get("locked", False)),
            "actions": lifecycle.start_action(self.status, "create", now=self.now),
        }
        if problem:
            patch |= lifecycle.fail(
                self.status, faults.bad_request(problem, now=self.now), generation=self.generation, now=self.now
            )
            patch["actions"] = lifecycle.finish_action({"actions": patch["actions"]}, now=self.now, error=problem)
        else:
            assert flavor is not None
            patch |= lifecycle.state_patch(
                self.status,
                vm_state=VmState.BUILDING,
                task_state=TaskState.SCHEDULING,
                power=PowerState.NOSTATE,
                generation=self.generation,
                now=self.now,
            )
            patch["flavor"] = lifecycle.embedded_flavor(flavor_name, flavor)
        await self.write(patch)

    async def schedule(self) -> None:
        """Choose a host and claim it in one step under the scheduler's lock; record the claim."""
        p = placement.of(self.memo)
        hints = self.spec.get("schedulerHints") or {}
        async with p.lock:
            ledger = placement.ledger(p, self.ix["server_claims"])
            existing = ledger.get(self.key)
            if existing is not None:  # claimed already (a restart between claim and status write)
                decision: Any = Chosen(existing.host, 1)
            else:
                hosts = placement.host_states(
                    self.conf,
                    self.ix["node_facts"],
                    self.ix["host_bodies"],
                    self.ix["aggregate_metadata"],
                    self.ix["host_aggregates"],
                )
                request = lifecycle.request_spec(
                    self.key,
                    self.namespace,
                    self.spec,
                    self.status["flavor"],
                    group=self._group(hints.get("group"), ledger),
                    same_host=self._hosts_of(hints.get("sameHost", []), ledger),
                    different_host=self._hosts_of(hints.get("differentHost", []), ledger),
                )
                decision = choose_and_claim(request, hosts, ledger)
            if not isinstance(decision, Chosen):
                fault = faults.no_valid_host(decision.reasons(), now=self.now)
                patch = lifecycle.fail(self.status, fault, generation=self.generation, now=self.now)
                patch["actions"] = lifecycle.finish_action(self.status, now=self.now, error=fault.message)
                patch["conditions"] = _scheduled(patch["conditions"], False, fault.message, self)
                await self.write(patch)
                return
            claim = ledger.get(self.key)
            assert claim is not None
            zone = next((z for _, z in sorted(self.ix["host_aggregates"].get(claim.host, [])) if z), "nova")
            patch = lifecycle.state_patch(
                self.status,
                vm_state=VmState.BUILDING,
                task_state=TaskState.SPAWNING,
                generation=self.generation,
                now=self.now,
            )
            patch |= {
                "claim": lifecycle.claim_status(claim),
                "host": claim.host,
                "hypervisorHostname": claim.host,
                "availabilityZone": zone,
                "conditions": _scheduled(patch["conditions"], True, f"Placed on {claim.host}.", self),
            }
            await self.write(patch)
            p.pending[self.key] = claim
        log.info("server %s: placed on %s", self.key, claim.host)

    async def converge(self, task: str) -> None:
        """Make the workload match the task in flight, and finish the task once it does."""
        running = task != TaskState.POWERING_OFF
        obs = await self.ensure_workload(running)
        if obs.failure:
            message = f"The {self.status.get('backend')} workload failed: {obs.failure}."
            patch = lifecycle.fail(
                self.status, faults.workload_failed(message, now=self.now), generation=self.generation, now=self.now
            )
            patch["actions"] = lifecycle.finish_action(self.status, now=self.now, error=message)
            await self.write(patch)
            return
        done = (obs.ready and obs.power == "RUNNING") if running else obs.power in ("SHUTDOWN", "NOSTATE")
        if not done:
            return
        vm_state, power = lifecycle.SPAWNED[TaskState(task)]
        patch = lifecycle.state_patch(
            self.status, vm_state=vm_state, task_state=None, power=power, generation=self.generation, now=self.now
        )
        patch["addresses"] = lifecycle.addresses(obs) if running else []
        patch["actions"] = lifecycle.finish_action(self.status, now=self.now)
        patch["fault"] = None
        if task == TaskState.SPAWNING and not self.status.get("launchedAt"):
            patch["launchedAt"] = self.now
        await self.write(patch)

    async def follow_spec(self) -> None:
        """Take the next Nova action toward spec.state; keep addresses and lock current."""
        patch: dict[str, Any] = {}
        if bool(self.spec.get("locked", False)) != bool(self.status.get("locked", False)):
            patch["locked"] = bool(self.spec.get("locked", False))
            patch["lockedReason"] = self.spec.get("lockedReason")
        action = planning.next_action(
            vm_state=self.status["vmState"],
            task_state=None,
            state=self.spec.get("state", "active"),
            rescue=bool(self.spec.get("rescue", False)),
        )
        if action is None:
            if self.generation != self.status.get("observedGeneration"):
                patch |= lifecycle.state_patch(
                    self.status,
                    vm_state=self.status["vmState"],
                    task_state=None,
                    generation=self.generation,
                    now=self.now,
                )
            if patch:
                await self.write(patch)
            return
        if action not in POWER_ACTIONS:
            message = f"kubenova does not carry out '{action}' yet; the server stays {self.status['status']}."
            patch["conditions"] = _synced(self.status, False, "Unsupported", message, self)
            await self.write(patch)
            return
        try:
            actions.check(
                action,
                uuid=self.meta["uid"],
                vm_state=self.status["vmState"],
                task_state=None,
                locked=bool(self.spec.get("locked", False)),
            )
        except actions.ActionRefused as refused:
            patch["conditions"] = _synced(self.status, False, "ActionRefused", refused.message, self)
            if self.generation != self.status.get("observedGeneration"):
                patch["observedGeneration"] = self.generation
            await self.write(patch)
            return
        task = POWER_ACTIONS[action]
        patch |= lifecycle.state_patch(
            self.status, vm_state=self.status["vmState"], task_state=task, generation=self.generation, now=self.now
        )
        patch["conditions"] = _synced(
            {"conditions": patch["conditions"]}, True, "Converging", f"{action} in progress.", self
        )
        patch["actions"] = lifecycle.start_action(self.status, str(action), now=self.now)
        await self.write(patch)
        await self.ensure_workload(task != TaskState.POWERING_OFF)

    async def delete(self) -> None:
        """Remove the workload and release the claim, then our finalizer. A locked server waits."""
        if FINALIZER not in self.meta.get("finalizers", []):
            return
        if self.spec.get("locked"):
            message = f"Instance {self.meta['uid']} is locked"
            if (self.status.get("fault") or {}).get("message") != message:
                await self.write(
                    {
                        "fault": faults.conflict(message, now=self.now).to_status(),
                        "conditions": _synced(
                            self.status, False, "Locked", message + ": unlock it to delete it.", self
                        ),
                    }
                )
            return
        if self.status.get("taskState") != TaskState.DELETING:
            await self.write(
                lifecycle.state_patch(
                    self.status,
                    vm_state=self.status.get("vmState") or VmState.BUILDING,
                    task_state=TaskState.DELETING,
                    generation=self.generation,
                    now=self.now,
                )
            )
        await kube.delete_if_exists(self.client, Pod, self.name, namespace=self.namespace)
        await kube.delete_if_exists(self.client, resources.VirtualMachine, self.name, namespace=self.namespace)
        p = placement.of(self.memo)
        async with p.lock:
            p.pending[self.key] = None
        finalizers = [f for f in self.meta.get("finalizers", []) if f != FINALIZER]
        await self.client.patch(
            resources.Server,
            self.name,
            {"metadata": {"finalizers": finalizers or None}},
            namespace=self.namespace,
            patch_type=PatchType.MERGE,
        )
        log.info("server %s: deleted; its claim on %s released", self.key, self.status.get("host"))

    # --- helpers ------------------------------------------------------------------------------

    async def write(self, patch: dict[str, Any]) -> None:
        await kube.patch_status(self.client, resources.Server, self.name, patch, namespace=self.namespace)

    async def ensure_workload(self, running: bool) -> Observation:
        """The workload as the task needs it (created, started or stopped), and what it shows now."""
        public_key = None
        if self.spec.get("keyName"):
            public_key = common.first(self.ix["keypair_keys"], (self.namespace, self.spec["keyName"])) or None
        server = lifecycle.placed(self.body, self.status, public_key=public_key, running=running)
        if self.status.get("backend") == kubevirt.NAME:
            wanted = kubevirt.render(server)
            vm = await self._get(resources.VirtualMachine)
            if vm is None:
                vm = _as_dict(await kube.create_or_adopt(self.client, codecs.from_dict(wanted)))
            elif vm["spec"].get("runStrategy") != wanted["spec"]["runStrategy"]:
                vm = _as_dict(
                    await self.client.patch(
                        resources.VirtualMachine,
                        self.name,
                        {"spec": {"runStrategy": wanted["spec"]["runStrategy"]}},
                        namespace=self.namespace,
                        patch_type=PatchType.MERGE,
                    )
                )
            return kubevirt.observe(vm)
        pod = await self._get(Pod)
        if running and pod is None:
            pod = _as_dict(await kube.create_or_adopt(self.client, codecs.from_dict(container.render(server))))
        elif not running and pod is not None and not pod["metadata"].get("deletionTimestamp"):
            await kube.delete_if_exists(self.client, Pod, self.name, namespace=self.namespace)
            pod = await self._get(Pod)
        return container.observe(pod)

    async def _get(self, res: Any) -> dict[str, Any] | None:
        try:
            obj = await self.client.get(res, self.name, namespace=self.namespace)
        except ApiError as exc:
            if kube.is_not_found(exc):
                return None
            raise
        return _as_dict(obj)

    def _hosts_of(self, names: list[str], ledger: Any) -> frozenset[str]:
        return frozenset(c.host for n in names if (c := ledger.get(f"{self.namespace}/{n}")))

    def _group(self, name: str | None, ledger: Any) -> GroupSpec | None:
        if not name:
            return None
        group = common.first(self.ix["server_group_specs"], (self.namespace, name))
        if group is None:
            return None
        members = [m for m in self.ix["server_group_members"].get((self.namespace, name), []) if m != self.name]
        hosts: dict[str, int] = {}
        for m in members:
            claim = ledger.get(f"{self.namespace}/{m}")
            if claim:
                hosts[claim.host] = hosts.get(claim.host, 0) + 1
        return GroupSpec(name, group["policy"], hosts, int(group.get("maxServerPerHost") or 1))


@kopf.index(GROUP, VERSION, "servergroups")
def server_group_specs(*, namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[tuple[str, str], Any]:
    return {(namespace or "", name): dict(spec)}


@kopf.index(GROUP, VERSION, "servers")
def server_group_members(
    *, namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[tuple[str, str], str] | None:
    group = (spec.get("schedulerHints") or {}).get("group")
    return {(namespace or "", group): name} if group else None


def _scheduled(conds: list[dict[str, Any]], ok: bool, message: str, step: Step) -> list[dict[str, Any]]:
    return conditions.set_condition(
        conds,
        type="Scheduled",
        status=ok,
        reason="Scheduled" if ok else "NoValidHost",
        message=message,
        generation=step.generation,
        now=step.now,
    )


def _synced(status: dict[str, Any], ok: bool, reason: str, message: str, step: Step) -> list[dict[str, Any]]:
    return conditions.set_condition(
        status.get("conditions", []),
        type="Synced",
        status=ok,
        reason=reason,
        message=message,
        generation=step.generation,
        now=step.now,
    )


def _as_dict(obj: Any) -> dict[str, Any]:
    """A lightkube object as plain JSON-like data (its to_dict is untyped)."""
    result: dict[str, Any] = obj.to_dict()
    return result
