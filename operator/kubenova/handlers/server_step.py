"""One reconcile of one Server, as a :class:`Step`: from what its status says, the next Nova
step: accept and claim (BUILD), make the workload what the task in flight needs and end the
task, or start the next action the spec (or a ServerAction) asks for; and delete.

An action starts with one status write (task_state, history record, and any new claim or
workload revision) and ends with another once the workload shows it done (:mod:`kubenova.tasks`),
so a restart at any moment resumes without duplicating a workload or losing a claim. A Step acts
on each state it writes at once (:meth:`Step.advance`), so it never waits for the echo of its own
write. The spec is never written; status, our finalizer and our children are.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import kopf
from lightkube import ApiError, AsyncClient
from lightkube.types import PatchType

from kubenova import admission, backends, conditions, intent, lifecycle, metrics, quotas, tasks
from kubenova.api.common import GROUP, VERSION
from kubenova.backends import container
from kubenova.handlers import common, placement, server_cache, server_moves
from kubenova.handlers import quotas as quota_counts
from kubenova.kube import client as kube
from kubenova.kube import events, resources, workloads
from kubenova.nova import actions, faults
from kubenova.nova.actions import Action, ActionRefused
from kubenova.nova.states import PowerState, TaskState, VmState
from kubenova.scheduling.scheduler import Chosen, NoValidHost

log = logging.getLogger(__name__)
# Not kopf's own finalizer name: kopf removes its finalizer from objects it has no delete handler for.
FINALIZER = f"{GROUP}/server-cleanup"
MAX_STEPS = 8
"""Steps one reconcile may take in a row (each acts on the state the previous one wrote)."""


async def load(client: AsyncClient, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.get_dict(client, resources.Server, name, namespace=namespace)


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
        self.uid: str = self.meta["uid"]
        self.generation: int | None = self.meta.get("generation")
        self.now = common.now()
        self.wrote = False
        self.placed_now = False

    async def run(self) -> None:
        if self.meta.get("deletionTimestamp"):
            await self.delete()
            return
        if FINALIZER not in self.meta.get("finalizers", []):
            self._took(
                await self.client.patch(
                    resources.Server,
                    self.name,
                    {"metadata": {"finalizers": [*self.meta.get("finalizers", []), FINALIZER]}},
                    namespace=self.namespace,
                    patch_type=PatchType.MERGE,
                )
            )
        await self.advance()

    async def advance(self) -> None:
        """Take steps until one leaves nothing to do now: each acts on the state the previous one
        wrote, so no step waits for the echo of our own write (and echoes are skipped)."""
        for _ in range(MAX_STEPS):
            self.wrote = False
            await self.step()
            if not self.wrote:
                return

    async def step(self) -> None:
        vm, task = self.status.get("vmState"), self.status.get("taskState")
        if vm is None or quotas.refused(self.status):
            await self.accept()
        elif task == TaskState.SCHEDULING:
            await self.schedule()
        elif task:
            await self.converge()
        else:
            await self.follow_spec()

    # --- build ---------------------------------------------------------------------------------

    async def accept(self) -> None:
        """Check what the API server could not (references to other objects), then BUILD."""
        flavor_name = self.spec.get("flavor", "")
        flavor = common.first(self.ix["flavor_specs"], flavor_name)
        problem = admission.flavor_problem(flavor_name, flavor, self.namespace)
        key_name = self.spec.get("keyName")
        if problem is None and key_name and (self.namespace, key_name) not in self.ix["keypair_keys"]:
            problem = admission.keypair_missing(self.namespace, key_name)
        backend = lifecycle.backend_of(self.spec, flavor or {}, self.conf.default_backend)
        if problem is None and backend == container.NAME and not self.spec.get("image"):
            problem = "The container backend needs spec.image; bootVolume is for kubevirt."
        limit = quota_counts.limits(self.memo, self.ix, self.namespace)
        over = quotas.metadata_problem(self.spec.get("metadata"), limit)
        patch: dict[str, Any] = {
            "id": self.uid,
            "backend": backend,
            "image": self.spec.get("image"),
            "keyName": self.spec.get("keyName"),
            "locked": bool(self.spec.get("locked", False)),
            "lockedReason": self.spec.get("lockedReason"),
            "actions": lifecycle.start_action(self.status, tasks.CREATE, now=self.now),
        }
        retrying = quotas.refused(self.status)
        if over and not problem and retrying:
            return  # still over quota: said so already
        if problem or over:
            fault = faults.bad_request(problem, now=self.now) if problem else faults.over_quota(str(over), now=self.now)
            patch |= lifecycle.fail(self.status, fault, generation=self.generation, now=self.now)
            patch["actions"] = lifecycle.finish_action({"actions": patch["actions"]}, now=self.now, error=fault.message)
            await self.event("Warning", "BuildFailed" if problem else "QuotaExceeded", "create", fault.message)
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
            # Scheduled at once: acceptance and claim share one status write (a write fewer per
            # server). A restart before it finds no vmState and starts over; nothing is claimed yet.
            if retrying:
                patch["fault"] = None  # the refusal is over
            self.status = {**self.status, **patch}
            await self.schedule(accepted=patch, retrying=retrying)
            return
        await self.write(patch)

    async def schedule(self, accepted: dict[str, Any] | None = None, *, retrying: bool = False) -> None:
        """Choose a host and claim it in one step under the scheduler's lock; record the claim
        (with ``accepted``, the acceptance's own status fields, in the same write)."""
        accepted = accepted or {}
        p = placement.of(self.memo)
        async with p.lock:
            if accepted:  # a new server: counted against the quota here, under the lock
                over = self._over_quota(accepted["flavor"])
                if over:
                    if not retrying:  # a server tried again and still over says nothing new
                        await self._refuse_over_quota(accepted, over)
                    return
            charge = quotas.server_usage(self.name, accepted) if accepted else None
            ledger = placement.ledger(p, self.ix["server_claims"])
            existing = ledger.get(self.key)
            # Claimed already: a restart between the claim and its status write.
            decision = (
                Chosen(existing.host, 1) if existing else server_moves.choose(self, ledger, self.status["flavor"])
            )
            if isinstance(decision, NoValidHost):
                metrics.no_valid_host(decision)
                fault = faults.no_valid_host(decision.reasons(), now=self.now)
                patch = lifecycle.fail(self.status, fault, generation=self.generation, now=self.now)
                patch["actions"] = lifecycle.finish_action(self.status, now=self.now, error=fault.message)
                patch["conditions"] = _scheduled(patch["conditions"], False, fault.message, self)
                await self.write(accepted | patch)
                if charge:  # Nova counts a server in ERROR until it is deleted
                    p.charged[self.key] = charge
                await self.event("Warning", "NoValidHost", "create", fault.message)
                return
            claim = ledger.get(self.key)
            assert claim is not None
            patch = lifecycle.state_patch(
                self.status,
                vm_state=VmState.BUILDING,
                task_state=TaskState.SPAWNING,
                generation=self.generation,
                now=self.now,
            )
            record = tasks.open_record(self.status) or {}
            patch |= server_moves.placed_on(self, claim, revision=record.get("requestId"))
            patch["conditions"] = _scheduled(patch["conditions"], True, f"Placed on {claim.host}.", self)
            await self.write(accepted | patch)
            p.pending[self.key] = claim
            self.placed_now = bool(accepted)  # a first placement: no workload can exist yet
            if charge:
                p.charged[self.key] = charge
        log.info("server %s: placed on %s", self.key, claim.host)

    def _over_quota(self, flavor: dict[str, Any]) -> str | None:
        """Nova's quota message if this server does not fit its namespace's quota, else None."""
        limit = quota_counts.limits(self.memo, self.ix, self.namespace)
        usage = quota_counts.usage(self.memo, self.ix, self.namespace)
        over = quotas.over_quota(quotas.server_request(flavor["vcpus"], flavor["ram"]), usage, limit)
        group = (self.spec.get("schedulerHints") or {}).get("group")
        if over is None and group:
            members = [m for m in self.ix["server_group_members"].get((self.namespace, group), []) if m != self.name]
            over = quotas.group_members_problem(len(members), limit)
        return over

    async def _refuse_over_quota(self, accepted: dict[str, Any], message: str) -> None:
        """ERROR with Nova's 403; no flavor in status, so the server holds no quota."""
        fault = faults.over_quota(message, now=self.now)
        patch = {k: v for k, v in accepted.items() if k != "flavor"}
        patch |= lifecycle.fail(self.status, fault, generation=self.generation, now=self.now)
        patch["actions"] = lifecycle.finish_action(self.status, now=self.now, error=message)
        await self.write(patch)
        await self.event("Warning", "QuotaExceeded", "create", message)

    # --- tasks in flight -----------------------------------------------------------------------

    async def converge(self) -> None:
        """Make the workload what the task in flight needs, and end the task once it is."""
        flight = tasks.in_flight(self.status)
        if flight is None or flight.task == TaskState.DELETING or not self.status.get("claim"):
            return
        action = actions.EVENTS[flight.action] if flight.action else tasks.CREATE
        try:
            obs = await workloads.ensure(
                self.client,
                self.status["backend"],
                self._placed(flight.goal),
                flight.goal,
                user_data=self.spec.get("userData"),
                new=self.placed_now,
            )
        except workloads.ActionFailed as failed:
            await self._action_failed(action, str(failed))
            return
        server_cache.of(self.memo).observed[self.key] = obs
        if obs.failure:
            message = f"The {self.status.get('backend')} workload failed: {obs.failure}."
            patch = lifecycle.fail(
                self.status, faults.workload_failed(message, now=self.now), generation=self.generation, now=self.now
            )
            patch["actions"] = lifecycle.finish_action(self.status, now=self.now, error=message)
            await self.write(patch)
            await self.event("Warning", "WorkloadFailed", action, message)
            await self._settle_server_action(error=message)
            return
        if not tasks.reached(flight.goal, obs, tasks.revision(self.status)):
            return
        patch = tasks.finish(self.status, flight, obs, generation=self.generation, now=self.now)
        patch["conditions"] = _synced({"conditions": patch["conditions"]}, True, "Synced", "As declared.", self)
        await self.write(patch)
        p = placement.of(self.memo)
        if flight.action is Action.SHELVE_OFFLOAD:
            p.pending[self.key] = None
        elif flight.action is Action.REVERT_RESIZE:
            p.pending[self.key + lifecycle.SOURCE] = None
        status = patch["status"]
        if flight.action is not None:  # a finished build is visible in status; one Event per action
            await self.event(
                "Normal", tasks.event_reason(flight.action), action, f"{action} finished: the server is {status}."
            )
        await self._settle_server_action()
        log.info("server %s: %s finished, %s", self.key, action, status)

    # --- lasting state from the spec -------------------------------------------------------

    async def follow_spec(self) -> None:
        """Start the next Nova action toward what the spec declares; keep the lock current."""
        patch: dict[str, Any] = {}
        before = dict(self.status)
        locked = bool(self.spec.get("locked", False))
        if locked != bool(self.status.get("locked", False)) or self.spec.get("lockedReason") != self.status.get(
            "lockedReason"
        ):
            patch["locked"] = locked
            patch["lockedReason"] = self.spec.get("lockedReason")
            self.status.update(patch)  # the action below is checked against the new lock
        wanted = intent.wanted(self.spec, self.status, self._maintenance)
        if isinstance(wanted, Action) and intent.failed_already(wanted, self.status, self.generation):
            return  # said so when it failed (Synced=False, fault, Event); a spec change retries
        if isinstance(wanted, Action):
            try:
                await self.begin(wanted, extra=patch)
            except ActionRefused as refused:
                await self._refused(refused, actions.EVENTS[wanted], patch)
            return
        if wanted is not None:  # waiting on the user: say why
            patch["conditions"] = _synced(self.status, False, "Waiting", wanted, self)
        else:
            patch["conditions"] = _synced(self.status, True, "Synced", "As declared.", self)
        if self.generation != self.status.get("observedGeneration"):
            patch["observedGeneration"] = self.generation
        if conditions.differs(before, patch):
            await self.write(patch)

    # --- starting an action ---------------------------------------------------------------------

    async def begin(
        self,
        action: Action,
        *,
        server_action: str | None = None,
        host: str | None = None,
        request_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Start ``action`` with one status write, or raise :class:`ActionRefused` (Nova's error).
        Returns the request id recorded in the server's action history."""
        vm, task = self.status["vmState"], self.status.get("taskState")
        actions.check(action, uuid=self.uid, vm_state=vm, task_state=task, locked=bool(self.spec.get("locked")))
        backend = backends.of(self.status.get("backend"))
        why = backend.UNSUPPORTED.get(action.value)
        if why:
            raise actions.not_supported(action, backend.NAME, why)
        if action is Action.RESIZE:
            self._check_resize_quota()
        history = lifecycle.start_action(
            self.status, actions.EVENTS[action], now=self.now, server_action=server_action, request_id=request_id
        )
        request_id = str(history[-1]["requestId"])
        steps = actions.transition(action, vm).steps
        patch = dict(extra or {})
        patch |= lifecycle.state_patch(
            self.status, vm_state=vm, task_state=steps[0] if steps else None, generation=self.generation, now=self.now
        )
        patch["actions"] = history
        patch["conditions"] = _synced(
            {"conditions": patch["conditions"]}, True, "Converging", f"{actions.EVENTS[action]} in progress.", self
        )
        if action in tasks.REMAKES:
            patch["workload"] = server_moves.workload(self, request_id)
        if action is Action.REBUILD:
            patch["image"] = self.spec.get("image")
        if action is Action.CONFIRM_RESIZE:
            patch |= tasks.confirm(self.status, generation=self.generation, now=self.now)
            patch["actions"] = lifecycle.finish_action({"actions": history}, now=self.now)
            patch["conditions"] = _synced(
                {"conditions": patch["conditions"]}, True, "Synced", "Resize confirmed.", self
            )
            async with placement.of(self.memo).lock:
                await self.write(patch)
                placement.of(self.memo).pending[self.key + lifecycle.SOURCE] = None
            await self.event(
                "Normal", "ResizeConfirmed", "confirmResize", "The move is confirmed; the source host is released."
            )
            self.status |= patch
            await self._settle_server_action()
            return request_id
        if action in (Action.RESIZE, Action.MIGRATE, Action.EVACUATE, Action.REVERT_RESIZE) or (
            action is Action.UNSHELVE and vm == VmState.SHELVED_OFFLOADED
        ):
            async with placement.of(self.memo).lock:
                patch |= server_moves.move(self, action, host, request_id)
                await self.write(patch)
        else:
            await self.write(patch)
        log.info("server %s: %s started (%s)", self.key, actions.EVENTS[action], request_id)
        return request_id

    def _check_resize_quota(self) -> None:
        """A resize to a larger flavor needs the difference in quota (Nova's 403 otherwise)."""
        new = common.first(self.ix["flavor_specs"], self.spec.get("flavor", ""))
        if new is None:
            return  # the move says the flavor is missing
        limit = quota_counts.limits(self.memo, self.ix, self.namespace)
        usage = quota_counts.usage(self.memo, self.ix, self.namespace)
        over = quotas.over_quota(quotas.resize_request(self.status.get("flavor") or {}, new), usage, limit)
        if over:
            raise ActionRefused(over, 403)

    async def _action_failed(self, action: str, message: str) -> None:
        """The backend refused a step: as Nova's reverts_task_state, the task is cleared and the
        server keeps its vm_state, with the fault recorded."""
        patch = lifecycle.state_patch(
            self.status, vm_state=self.status["vmState"], task_state=None, generation=self.generation, now=self.now
        )
        patch["fault"] = faults.workload_failed(message, now=self.now).to_status()
        patch["actions"] = lifecycle.finish_action(self.status, now=self.now, error=message)
        patch["conditions"] = _synced({"conditions": patch["conditions"]}, False, "ActionFailed", message, self)
        await self.write(patch)
        await self.event("Warning", "ActionFailed", action, message)
        await self._settle_server_action(error=message)

    async def _refused(self, refused: ActionRefused, action: str, patch: dict[str, Any]) -> None:
        """Say why the spec cannot be followed, once: a condition, a fault and a Warning Event."""
        reason = "Unsupported" if refused.code == 501 else "ActionRefused"
        patch["conditions"] = _synced(self.status, False, reason, refused.message, self)
        if (self.status.get("fault") or {}).get("message") != refused.message:
            patch["fault"] = faults.Fault(refused.code, refused.message, self.now).to_status()
        if self.generation != self.status.get("observedGeneration"):
            patch["observedGeneration"] = self.generation
        if conditions.differs(self.status, patch):
            await self.write(patch)
            if "fault" in patch:
                await self.event("Warning", reason, action, refused.message)

    # --- delete ---------------------------------------------------------------------------------

    async def delete(self) -> None:
        """Remove the workload and release the claims, then our finalizer. A locked server waits."""
        if FINALIZER not in self.meta.get("finalizers", []):
            return
        if self.spec.get("locked"):
            message = f"Instance {self.uid} is locked"
            if (self.status.get("fault") or {}).get("message") != message:
                await self.write(
                    {
                        "fault": faults.conflict(message, now=self.now).to_status(),
                        "conditions": _synced(
                            self.status, False, "Locked", message + ": unlock it to delete it.", self
                        ),
                    }
                )
                await self.event("Warning", "Locked", "delete", message + ": unlock it to delete it.")
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
        await workloads.remove(self.client, self.namespace, self.name)
        p = placement.of(self.memo)
        async with p.lock:
            p.pending[self.key] = p.pending[self.key + lifecycle.SOURCE] = None
            p.charged[self.key] = None
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
        self._took(await kube.patch_status(self.client, resources.Server, self.name, patch, namespace=self.namespace))
        self.wrote = True

    def _took(self, obj: Any) -> None:
        """Continue from the object our write returned (and remember it as our own)."""
        body = _as_dict(obj)
        server_cache.of(self.memo).wrote(self.key, body)
        self.body, self.meta = body, body["metadata"]
        self.spec, self.status = body.get("spec", {}), body.get("status") or {}
        self.generation = self.meta.get("generation")

    async def event(self, type: Literal["Normal", "Warning"], reason: str, action: str, note: str) -> None:
        await events.post(
            self.client,
            {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Server", "metadata": self.meta},
            type=type,
            reason=reason,
            action=action,
            note=note,
        )

    async def _settle_server_action(self, error: str | None = None) -> None:
        """Record the end of the action in the ServerAction that asked for it, if one did."""
        record = tasks.open_record(self.status) or (self.status.get("actions") or [{}])[-1]
        if record.get("serverAction"):
            await settle(
                self.client,
                self.namespace,
                record["serverAction"],
                request_id=record.get("requestId"),
                error=error,
                now=self.now,
            )

    def _placed(self, goal: tasks.Goal) -> Any:
        public_key = None
        if self.spec.get("keyName"):
            public_key = common.first(self.ix["keypair_keys"], (self.namespace, self.spec["keyName"])) or None
        return lifecycle.placed(self.body, self.status, public_key=public_key, running=goal is not tasks.Goal.STOPPED)

    def _maintenance(self, host: str | None) -> str | None:
        """The maintenance an admin asked for on ``host`` (Host spec.maintenance): migrate, stop or None."""
        body = common.first(self.ix["host_bodies"], host) if host else None
        mode: str | None = (body[0] or {}).get("maintenance") if body else None
        return mode


async def settle(
    client: AsyncClient, namespace: str, name: str, *, request_id: str | None, error: str | None, now: str
) -> None:
    """Write the outcome of an action into the ServerAction ``name`` that asked for it."""
    patch = tasks.server_action_status("Failed" if error else "Succeeded", request_id=request_id, error=error, now=now)
    try:
        await kube.patch_status(client, resources.ServerAction, name, patch, namespace=namespace)
    except ApiError as exc:
        if not kube.is_not_found(exc):  # deleted meanwhile: nothing to record in
            raise


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
