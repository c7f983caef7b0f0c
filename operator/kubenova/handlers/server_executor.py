"""The executor of the Server planner (:mod:`kubenova.servers.plan`): one reconcile of one
Server, as an :class:`Executor` that reads, plans and applies each phase's Outcome. Called by
the Server dispatcher (:mod:`.servers`) and the ServerAction handler (:mod:`.serveractions`),
each under the server's lock.

The durable rule: one status write per Nova transition, written before the workload is touched
(an action starts with one write and ends with another once the workload shows it done), so a
restart at any moment resumes without duplicating a workload or losing a claim. The executor
acts on each state it writes at once (:meth:`Executor.advance`), so it never waits for the echo
of its own write. The spec is never written; status, our finalizer and our children are.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import kopf

from kubenova import zones
from kubenova.handlers import common, indexes, placement, server_index, state
from kubenova.kube import finalizers, snapshots, vmis, workloads
from kubenova.kube import servers as kube_servers
from kubenova.nova.actions import Action
from kubenova.servers import build, live, plan, tasks, volumes
from kubenova.servers.outcome import Event, Outcome
from kubenova.servers.snapshots import taking as taking_snapshot
from kubenova.servers.view import Facts, Server

log = logging.getLogger(__name__)
MAX_STEPS = 8
"""Steps one reconcile may take in a row (each acts on the state the previous one wrote)."""


def facts(memo: kopf.Memo, ix: dict[str, Any]) -> Facts:
    """The planner's view of kopf's indexes (``ix``, as handlers receive them)."""
    st = state.of(memo)
    p, conf = st.placement, st.settings

    def host_status(host: str) -> dict[str, Any]:
        body = common.first(ix["host_bodies"], host)
        if body is None:
            return {}
        _, status, _ = body
        return status or {}

    def maintenance(host: str | None) -> str | None:
        """The maintenance an admin asked for on ``host`` (Host spec.maintenance)."""
        body = common.first(ix["host_bodies"], host) if host else None
        if body is None:
            return None
        spec, _, _ = body
        mode: str | None = (spec or {}).get("maintenance")
        return mode

    return Facts(
        default_backend=conf.default_backend,
        flavor=lambda name: common.first(ix["flavor_specs"], name),
        public_key=lambda namespace, name: common.first(ix["keypair_keys"], (namespace, name)),
        limits=lambda namespace: indexes.quota_limits(memo, ix, namespace),
        usage=lambda namespace: indexes.quota_usage(memo, ix, namespace),
        group=lambda namespace, name: common.first(ix["server_group_specs"], (namespace, name)),
        group_members=lambda namespace, name: server_index.group_members(ix, namespace, name),
        ledger=lambda: placement.ledger(p),
        hosts=lambda: placement.current_hosts(conf, p, ix),
        zone=lambda host: zones.zone_of(ix["host_aggregates"].get(host, [])),
        host_up=lambda host: host_status(host).get("state") == "up",
        maintenance=maintenance,
        image=lambda name: common.first(ix["image_bodies"], name),
        root_disk_storage_class=conf.root_disk_storage_class,
        storage_class=lambda name: common.first(ix["storage_classes"], name or ""),
        claim=lambda namespace, name: common.first(ix["volume_claims"], (namespace, name)),
        claim_holders=lambda namespace, name: claim_holders(p, ix, namespace, name),
        evacuating=lambda namespace, name: common.first(ix["evacuating_instances"], (namespace, name)),
    )


def claim_holders(p: placement.Placement, ix: dict[str, Any], namespace: str, name: str) -> list[str]:
    """The servers holding a claim: the index, overlaid with what this process wrote since."""
    held = dict(server_index.claim_users(ix, namespace, name))
    prefix = namespace + "/"
    for key, claims in p.volume_holds.items():
        if key.startswith(prefix):
            held[key.removeprefix(prefix)] = claims.get(name, False)
    return sorted(s for s, holds in held.items() if holds)


class Executor:
    """One reconcile of one Server: plans its next step and carries the Outcome out."""

    def __init__(
        self,
        body: dict[str, Any],
        memo: kopf.Memo,
        indexes: dict[str, Any],
        workload: dict[str, Any] | None = None,
        *,
        guarded: bool = False,
    ) -> None:
        self.guarded = guarded
        """Each status write only over the version it was planned from (a reconcile from a cached
        or event body, which may be older than the Server is: see ``servers.reconcile``)."""
        self.state = state.of(memo)
        self.workload = workload
        """The workload as the watch event that called this reconcile carried it, if one did."""
        self.client = self.state.client
        self.facts = facts(memo, indexes)
        self.server = Server.of(body)
        self.now = common.now()
        self.wrote = False
        self.placed_now = False
        """Placed a moment ago by this reconcile: its workload cannot exist yet."""
        self.woken: list[str] = []
        """Claims this reconcile let go of (the servers waiting for them try again)."""

    async def run(self) -> None:
        if self.server.deleting:
            await self.delete()
            return
        if not finalizers.has(self.server.meta):
            self._took(await finalizers.add(self.client, self.server.meta))
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
        server, phase = self.server, plan.phase(self.server)
        if phase is plan.Phase.CONVERGE:
            await self.converge()
            return
        if phase is plan.Phase.FOLLOW_SPEC:
            async with self._placing(plan.needs_lock(server, self.facts)):
                outcome = plan.follow_spec(server, self.facts, self.now)
                await self.record(outcome)
        else:
            async with self._placing(True):
                if phase is plan.Phase.ACCEPT:
                    outcome = build.accept(server, self.facts, self.now)
                else:
                    outcome = build.schedule(server, self.facts, self.now)
                await self.record(outcome)
        await self.announce(outcome)

    async def converge(self) -> None:
        """Make the workload what the task in flight needs, and end the task once it is."""
        if taking_snapshot(self.server.status):  # the clone's progress drives it, not the workload
            base = self.facts.image(str(self.server.status.get("image") or ""))
            outcome = await snapshots.take(self.client, self.server, dict(base) if base else None, self.now)
            await self.record(outcome)
            await self.announce(outcome)
            return
        flight = tasks.in_flight(self.server.status)
        if flight is not None and flight.action is Action.LIVE_MIGRATE:
            await self.live_migration()
            return
        target = plan.workload(self.server, self.facts)
        if target is None:
            return
        try:
            obs = await workloads.ensure(
                self.client,
                target.backend,
                target.server,
                target.goal,
                user_data=target.user_data,
                new=self.placed_now,
                seen=self.workload,
            )
        except workloads.ActionFailed as failed:
            outcome = plan.action_failed(self.server, target.action, str(failed), self.now)
        else:
            self.state.servers.cache.observed[self.server.key] = obs
            outcome = plan.converge(self.server, obs, self.now)
        await self.record(outcome)
        await self.announce(outcome)

    async def live_migration(self) -> None:
        """One step of a live migration (see :mod:`kubenova.servers.live`): pin the VM to the
        destination and create KubeVirt's migration, or follow it to its end."""
        s = self.server
        name = live.migration_name(s.name, live.request_of(s.status) or "")
        vmim = await vmis.migration(self.client, s.namespace, name)
        vmi = await vmis.instance(self.client, s.namespace, s.name)
        step = live.converge(s, vmi, vmim, now=self.now)
        if step.pin is not None:
            await vmis.pin(self.client, s.namespace, s.name, {live.HOSTNAME: step.pin})
        if step.start is not None:
            try:
                await vmis.create_migration(self.client, step.start)
            except kube_servers.ApiError as exc:  # KubeVirt's webhook refused it: say why, go back
                if exc.status.code not in (400, 403, 422):
                    raise
                step = live.refused(s, str(exc.status.message), now=self.now)
                await vmis.pin(self.client, s.namespace, s.name, {live.HOSTNAME: step.pin or ""})
        async with self._placing(bool(step.outcome.claims)):
            await self.record(step.outcome)
        await self.announce(step.outcome)

    async def control(self, action: live.Control) -> None:
        """force_complete or abort of the live migration in flight, or ActionRefused."""
        name, outcome = live.control(self.server, action, now=self.now)
        await self.record(outcome)
        if name:
            await vmis.delete_migration(self.client, self.server.namespace, name)
        await self.announce(outcome)

    async def begin(
        self,
        action: Action,
        *,
        server_action: str,
        host: str | None = None,
        request_id: str | None = None,
        image: dict[str, Any] | None = None,
    ) -> None:
        """Start ``action`` for a ServerAction, or raise :class:`~kubenova.nova.actions.ActionRefused`."""
        server = self.server
        async with self._placing(plan.claims_or_releases(action, server.status["vmState"])):
            outcome = plan.begin(
                server,
                self.facts,
                action,
                self.now,
                server_action=server_action,
                host=host,
                request_id=request_id,
                image=image,
            )
            await self.record(outcome)
        await self.announce(outcome)

    async def delete(self) -> None:
        """Remove the workload and release the claims, then our finalizer. A locked server waits."""
        if not finalizers.has(self.server.meta):
            return
        outcome = plan.delete(self.server, self.now)
        await self.record(outcome)
        await self.announce(outcome)
        if not plan.deletable(self.server):
            return
        await workloads.remove(self.client, self.server.namespace, self.server.name)
        # Nova deletes a volume attached with delete_on_termination along with the server.
        await workloads.delete_claims(
            self.client, self.server.namespace, volumes.delete_on_termination(self.server.status)
        )
        released = plan.released(self.server)
        async with self._placing(True):
            await self.record(released)
        await finalizers.remove(self.client, self.server.meta)
        await self.announce(released)

    # --- applying an Outcome --------------------------------------------------------------------

    async def record(self, outcome: Outcome) -> None:
        """The durable part: the status write, then the overlays of what the indexes have not
        seen yet (with no wait in between, so no decision sees one without the other)."""
        if outcome.patch is not None:
            rv = self.server.meta.get("resourceVersion") if self.guarded else None
            body = await kube_servers.patch_status(
                self.client, self.server.namespace, self.server.name, outcome.patch, resource_version=rv
            )
            self._took(body)
            self.wrote = True
        p = self.state.placement
        if outcome.patch is not None:
            p.volume_holds[self.server.key] = volumes.held(self.server.spec, self.server.status)
        if outcome.patch is None and outcome.wake:  # a deleted server let its claims go
            p.volume_holds[self.server.key] = {}
        for key, claim in outcome.claims.items():
            p.pending[key] = claim
        for key, charge in outcome.charges.items():
            p.charged[key] = charge
        self.placed_now = self.placed_now or outcome.placed
        self.woken.extend(outcome.wake)

    async def announce(self, outcome: Outcome) -> None:
        """What others read of it: Events, the ServerAction's end, the log."""
        for event in outcome.events:
            await self.post(event)
        if outcome.settle is not None:
            s = outcome.settle
            patch = tasks.server_action_status(
                "Failed" if s.error else "Succeeded", request_id=s.request_id, error=s.error, now=self.now
            )
            await kube_servers.settle_action(self.client, self.server.namespace, s.name, patch)
        if outcome.log:
            log.info("server %s: %s", self.server.key, outcome.log)

    async def post(self, event: Event) -> None:
        await kube_servers.post_event(
            self.client, self.server.meta, type=event.type, reason=event.reason, action=event.action, note=event.note
        )

    def _took(self, body: dict[str, Any]) -> None:
        """Continue from the object our write returned (and remember it as our own)."""
        self.state.servers.cache.wrote(self.server.key, body)
        self.server = Server.of(body)

    @contextlib.asynccontextmanager
    async def _placing(self, needed: bool) -> AsyncIterator[None]:
        """The scheduler's lock, if ``needed``: a phase that reads and changes the ledger or the
        quota overlay plans and records under it, so no two decisions can oversubscribe."""
        if not needed:
            yield
            return
        async with self.state.placement.lock:
            yield
