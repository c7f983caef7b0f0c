"""Live migration of a kubevirt server, as pure steps: the KubeVirt VirtualMachineInstanceMigration
to make (:func:`migration_body`), how its phases read as Nova's migration statuses, and the
Outcome that ends the task (:func:`converge`): ACTIVE (or PAUSED) on the new host with one claim,
or back on the source with the fault (cancelled, without one, after an abort). The move itself
(the claim on the destination, the source's kept) is :func:`kubenova.servers.moves.live_migrate`;
the executor (:mod:`kubenova.handlers.server_executor`) does the I/O.

Why the VM's node selector moves first: kubenova pins a VM to its host with a
``kubernetes.io/hostname`` node selector, and KubeVirt's ``addedNodeSelector`` only restricts the
selector the instance already has (on a key collision the VM's value stands), so a migration
that names the destination there would find no node. The executor first sets the VM template's
selector to the destination, which KubeVirt's LiveUpdate rollout carries to the running instance
without a restart, then creates the migration with ``addedNodeSelector`` naming the destination
too. A failed or aborted migration puts the selector back on the source.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from kubenova.api.common import API_VERSION
from kubenova.backends.workload import MANAGED_BY, SERVER_LABEL
from kubenova.nova import faults
from kubenova.nova.actions import ActionRefused
from kubenova.nova.states import TaskState
from kubenova.servers import claims, history, status
from kubenova.servers.outcome import NOTHING, Event, Outcome, Settle
from kubenova.servers.view import Server

HOSTNAME = "kubernetes.io/hostname"
KIND = "live-migration"
IN_PROGRESS = ("accepted", "queued", "preparing", "running")
STATUSES = {
    "Pending": "queued",
    "Scheduling": "preparing",
    "Scheduled": "preparing",
    "PreparingTarget": "preparing",
    "TargetReady": "running",
    "Running": "running",
    "Succeeded": "post-migrating",
    "Failed": "error",
}
"""KubeVirt's migration phases → Nova's live-migration statuses (nova/objects/migration.py)."""


class Control(enum.StrEnum):
    """What a ServerAction may do to the live migration in flight (Nova's server-migrations
    API: ``POST .../migrations/{id}/action {"force_complete": null}`` and ``DELETE``). Not Nova
    actions of their own: they start no task, and act on the one in flight."""

    FORCE_COMPLETE = "forceComplete"
    ABORT = "abortLiveMigration"


def migration_name(server: str, request_id: str) -> str:
    """The VirtualMachineInstanceMigration of one live migration (deterministic: a retry adopts it)."""
    return f"{server}-{request_id.removeprefix('req-')[:8]}"[:63]


def request_of(st: Mapping[str, Any]) -> str | None:
    record = history.open_record(st)
    return str(record["requestId"]) if record else None


def migration_body(server: Server, name: str, dest: str) -> dict[str, Any]:
    """KubeVirt's migration of the server's instance to ``dest``, owned by the Server."""
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstanceMigration",
        "metadata": {
            "name": name,
            "namespace": server.namespace,
            "labels": {SERVER_LABEL: server.name, **MANAGED_BY},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "Server",
                    "name": server.name,
                    "uid": server.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"vmiName": server.name, "addedNodeSelector": {HOSTNAME: dest}},
    }


@dataclasses.dataclass(frozen=True)
class Step:
    """What the executor does for a live migration in flight, then records."""

    outcome: Outcome
    start: dict[str, Any] | None = None
    """A migration to create (after pinning the VM to :attr:`pin`)."""
    pin: str | None = None
    """The host the VM template's node selector must name."""


def converge(server: Server, vmi: Mapping[str, Any] | None, vmim: Mapping[str, Any] | None, *, now: str) -> Step:
    """The next step of the live migration in flight, from the instance and its migration."""
    st, gen = server.status, server.generation
    m = dict(st.get("migration") or {})
    request_id = request_of(st) or ""
    dest, source = str(m.get("destHost")), str(m.get("sourceHost"))
    if vmim is None:
        if m.get("abortRequested"):  # aborted, and KubeVirt has let its migration go already
            return Step(_rolled_back(server, {}, aborted=True, now=now), pin=source)
        return Step(NOTHING, start=migration_body(server, migration_name(server.name, request_id), dest), pin=dest)
    mstatus = vmim.get("status") or {}
    phase = mstatus.get("phase")
    node = ((vmi or {}).get("status") or {}).get("nodeName")
    if phase == "Succeeded":
        if node != dest:
            return Step(NOTHING)  # the instance's own event says it moved
        return Step(_completed(server, now=now))
    if phase == "Failed":
        state = ((vmi or {}).get("status") or {}).get("migrationState") or {}
        uid = vmim.get("metadata", {}).get("uid")
        aborted = bool(vmim.get("metadata", {}).get("deletionTimestamp")) or (
            state.get("migrationUid") == uid and state.get("abortStatus") == "Succeeded"
        )
        return Step(_rolled_back(server, vmim, aborted=aborted, now=now), pin=source)
    wanted = STATUSES.get(str(phase), "queued")
    if m.get("status") == wanted:
        return Step(NOTHING)
    patch = {"migration": m | {"status": wanted}, "updated": now, "observedGeneration": gen}
    return Step(Outcome(patch, log=f"live migration {wanted}"))


def _completed(server: Server, *, now: str) -> Outcome:
    st, gen = server.status, server.generation
    m = dict(st.get("migration") or {})
    dest = m.get("destHost")
    patch = status.state_patch(st, vm_state=st["vmState"], task_state=None, generation=gen, now=now)
    patch |= {"host": dest, "hypervisorHostname": dest, "fault": None}
    patch["migration"] = m | {"status": "completed", "sourceClaim": None}
    patch["actions"] = history.finish_action(st, now=now)
    patch["conditions"] = status.synced(patch, True, "Synced", "As declared.", generation=gen, now=now)
    note = f"live-migration finished: the server is {patch['status']} on {dest}."
    return Outcome(
        patch,
        claims={server.key + claims.SOURCE: None},
        events=(Event("Normal", "LiveMigrated", KIND, note),),
        settle=_settle(server, patch, error=None),
        log=f"live-migration to {dest} finished",
    )


def refused(server: Server, why: str, *, now: str) -> Step:
    """KubeVirt refused to create the migration (its webhook: the instance is not
    LiveMigratable, a ReadWriteOnce volume, say): back on the source with KubeVirt's words."""
    source = str((server.status.get("migration") or {}).get("sourceHost"))
    return Step(_rolled_back(server, {}, aborted=False, now=now, why=why), pin=source)


def _rolled_back(
    server: Server, vmim: Mapping[str, Any], *, aborted: bool, now: str, why: str | None = None
) -> Outcome:
    """Back on the source: its claim the server's again, the destination's released."""
    st, gen = server.status, server.generation
    m: dict[str, Any] = dict(st.get("migration") or {})
    source_claim = m.get("sourceClaim")
    back = claims.from_status(source_claim)
    patch = status.state_patch(st, vm_state=st["vmState"], task_state=None, generation=gen, now=now)
    patch["claim"] = source_claim
    patch["migration"] = m | {"status": "cancelled" if aborted else "error", "sourceClaim": None}
    if aborted:
        message = None
        note = f"live-migration to {m.get('destHost')} aborted: the server stays on {m.get('sourceHost')}."
        event = Event("Normal", "LiveMigrationAborted", KIND, note)
    else:
        why = why or _failure(vmim)
        message = f"Live migration of instance {server.uid} to {m.get('destHost')} failed: {why}."
        patch["fault"] = faults.workload_failed(message, now=now).to_status()
        event = Event("Warning", "LiveMigrationFailed", KIND, message + f" It stays on {m.get('sourceHost')}.")
    patch["actions"] = history.finish_action(st, now=now, error=message or "The live migration was aborted.")
    patch["conditions"] = status.synced(
        patch, not message, "Synced" if not message else "ActionFailed", message or "As declared.",
        generation=gen, now=now,
    )  # fmt: skip
    ledger: dict[str, Any] = {server.key: back, server.key + claims.SOURCE: None}
    return Outcome(
        patch,
        claims=ledger,
        events=(event,),
        settle=_settle(server, patch, error=message or "The live migration was aborted."),
        log=f"live-migration {'aborted' if aborted else 'failed'}; back on {m.get('sourceHost')}",
    )


def _failure(vmim: Mapping[str, Any]) -> str:
    st = vmim.get("status") or {}
    for cond in st.get("conditions") or []:
        if cond.get("message"):
            return str(cond["message"])
    return str((st.get("migrationState") or {}).get("failureReason") or "KubeVirt reported the migration Failed")


def _settle(server: Server, patch: Mapping[str, Any], *, error: str | None) -> Settle | None:
    record = history.last_record(server.with_status(dict(patch)).status)
    if record and record.get("serverAction"):
        return Settle(record["serverAction"], record.get("requestId"), error)
    return None


# --- force_complete and abort of the migration in flight ---------------------------------


def check_control(server: Server, action: Control) -> str:
    """Whether ``action`` (force_complete, abort) may act on the server's live migration now, as
    Nova's server-migrations API checks it; the migration's name, or :class:`ActionRefused`."""
    st, uid = server.status, server.uid
    m = st.get("migration") or {}
    method = "force_complete" if action is Control.FORCE_COMPLETE else "abort live migration"
    if st.get("taskState") != TaskState.MIGRATING or m.get("kind") != KIND:
        task = st.get("taskState")
        raise ActionRefused(f"Cannot '{method}' instance {uid} while it is in task_state {task}")
    if action is Control.FORCE_COMPLETE and st.get("vmState") != "active":
        raise ActionRefused(f"Cannot '{method}' instance {uid} while it is in vm_state {st.get('vmState')}")
    allowed = ("running",) if action is Control.FORCE_COMPLETE else ("queued", "preparing", "running")
    state = m.get("status")
    if state not in allowed:
        verb = "force complete" if action is Control.FORCE_COMPLETE else "abort live migration"
        raise ActionRefused(
            f"Migration {migration_name(server.name, request_of(st) or '')} state of instance {uid} is {state}. "
            f"Cannot {verb} while the migration is in this state.",
            code=400,
        )
    return migration_name(server.name, request_of(st) or "")


def control(server: Server, action: Control, *, now: str) -> tuple[str, Outcome]:
    """force_complete or abort of the live migration in flight: the migration to delete (an
    abort; "" for force_complete) and what the server records. KubeVirt has no call to force a
    migration to complete (its migration policy decides: post-copy, completion timeout), so
    force_complete is accepted, as Nova accepts it (202), and only said in an Event."""
    name = check_control(server, action)
    m = dict(server.status.get("migration") or {})
    if action is Control.FORCE_COMPLETE:
        note = f"force_complete of live migration {name}: KubeVirt completes it by its migration policy."
        return "", Outcome(
            events=(Event("Normal", "LiveMigrationForceComplete", "live_migration_force_complete", note),)
        )
    patch = {"migration": m | {"abortRequested": True}, "updated": now}
    note = f"Abort of live migration {name} requested."
    return name, Outcome(patch, events=(Event("Normal", "LiveMigrationAbort", "live_migration_cancel", note),))
