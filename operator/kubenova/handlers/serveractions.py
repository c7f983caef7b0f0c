"""ServerActions: one-shot Nova actions (reboot, rebuild with the same image, migrate, evacuate,
confirm or revert a resize, createImage).

A new ServerAction is checked against its Server's state under the server's lock; a refusal
ends it at once as Failed with Nova's error (409 for a state or lock, 501 for what the backend
cannot do). An accepted one is marked Running with the request id, then the server's own
reconcile carries the action out and marks the ServerAction Succeeded or Failed when it ends
(the planner's :class:`~kubenova.servers.Settle`). Both go through the one planner and
executor (:mod:`.server_executor`): there is no second state machine here.

Running is written before the action starts, so a restart in between finds a Running
ServerAction whose request id the Server does not know, and starts it again.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import kopf

from kubenova import metrics
from kubenova.api.common import GROUP, VERSION
from kubenova.handlers import common, state
from kubenova.handlers.server_executor import Executor
from kubenova.kube import servers as kube_servers
from kubenova.nova import faults
from kubenova.nova.actions import Action, ActionRefused
from kubenova.servers import history, live, tasks
from kubenova.servers.outcome import Event

log = logging.getLogger(__name__)

ACTIONS = {
    "rebuild": Action.REBUILD,
    "migrate": Action.MIGRATE,
    "liveMigrate": Action.LIVE_MIGRATE,
    "evacuate": Action.EVACUATE,
    "confirmResize": Action.CONFIRM_RESIZE,
    "revertResize": Action.REVERT_RESIZE,
    "createImage": Action.CREATE_IMAGE,
}


def action_of(spec: dict[str, Any]) -> Action:
    if spec["action"] == "reboot":
        return Action.REBOOT_HARD if spec.get("type") == "HARD" else Action.REBOOT
    return ACTIONS[spec["action"]]


@kopf.on.event(GROUP, VERSION, "serveractions", id="server-action-event")
@metrics.timed("ServerAction")
async def server_action_event(
    *,
    event: kopf.RawEvent,
    namespace: str | None,
    name: str,
    spec: kopf.Spec,
    status: kopf.Status,
    memo: kopf.Memo,
    **kw: Any,
) -> None:
    if event["type"] == "DELETED" or status.get("phase") in ("Succeeded", "Failed"):
        return
    namespace = namespace or ""
    server_name = spec["server"]
    st = state.of(memo)
    async with st.servers.locks[f"{namespace}/{server_name}"]:
        client = st.client
        current = await kube_servers.load_action(client, namespace, name)
        seen = (current or {}).get("status") or {}
        if current is None:
            return
        if seen.get("phase") in ("Succeeded", "Failed"):
            return
        server = await kube_servers.load(client, namespace, server_name)
        if server is None:
            await _fail(
                memo, namespace, name, faults.Fault(404, f"Instance {server_name} could not be found.", common.now())
            )
            return
        executor = Executor(server, memo, kw)
        request_id = seen.get("requestId")
        records = [r for r in history.records(executor.server.status) if r.get("requestId") == request_id]
        if request_id and records:  # started already; the server's reconcile ends it, or ended it:
            ended = tasks.settled_from_record(records[-1], now=executor.now)
            if ended is not None:  # ... but the ServerAction's end was lost (a crash between writes)
                await kube_servers.settle_action(client, namespace, name, ended)
            return
        now, uid = executor.now, executor.server.uid
        if not executor.server.status.get("vmState"):
            await _fail(memo, namespace, name, faults.conflict(f"Instance {uid} is not built yet.", now=now))
            return
        request_id = f"req-{uuid.uuid4()}"
        if spec["action"] in tuple(live.Control):
            try:
                await executor.control(live.Control(spec["action"]))
            except ActionRefused as refused:
                await _fail(memo, namespace, name, faults.Fault(refused.code, refused.message, now), request_id)
                return
            done = tasks.server_action_status("Succeeded", request_id=request_id, now=now, start=True)
            await kube_servers.patch_action(client, namespace, name, done | {"finishTime": now})
            return
        running = tasks.server_action_status("Running", request_id=request_id, now=now, start=True)
        await kube_servers.patch_action(client, namespace, name, running)
        try:
            await executor.begin(
                action_of(dict(spec)),
                server_action=name,
                host=spec.get("host"),
                request_id=request_id,
                image=dict(spec) if spec["action"] == "createImage" else None,
            )
            await executor.advance()  # on to the workload now: the echo of begin's write is skipped
        except ActionRefused as refused:
            await _fail(memo, namespace, name, faults.Fault(refused.code, refused.message, now), request_id)
            await executor.post(Event("Warning", "ActionRefused", spec["action"], refused.message))


async def _fail(memo: kopf.Memo, namespace: str, name: str, fault: faults.Fault, request_id: str | None = None) -> None:
    patch = tasks.server_action_status("Failed", request_id=request_id, error=fault.message, now=fault.created)
    patch["fault"] = fault.to_status()
    await kube_servers.patch_action(state.of(memo).client, namespace, name, patch)
    log.info("serveraction %s/%s refused: %s", namespace, name, fault.message)
