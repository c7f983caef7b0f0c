"""The ceiling for a Server: the API requests one Server's build made, replayed with a minimal
client and no operator logic, for N Servers at the build's concurrency.

:func:`record` reads the audit log (``bench/audit-policy.yaml``: level Request, only the recording
namespace) of one real build and keeps, in the order the API server received them, the requests
not made by kwok or the control plane's own components: the Server's create, the operator's
finalizer patch, its status patches, the Pod, the Secret, Events, its GETs. kwok's write of the
Pod's status marks where the build waited for the Pod to run. :func:`replay` sends that sequence
for each of N Servers (names, uid, namespace and host substituted; ``resourceVersion``
preconditions dropped), waiting at the marker for kwok to report the Pod running, as fast as the
API server answers; the operator is stopped meanwhile. :func:`plan` is pure and unit-tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import ssl
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx2 as httpx
from lightkube.resources.core_v1 import Pod

from bench import costs, stats
from bench.context import CONCURRENCY, Bench
from bench.watch import Watch, pod_running
from kubenova.api.common import GROUP, VERSION
from kubenova.kube.client import MAX_CONNECTIONS

WAIT_POD_RUNNING = "wait-pod-running"
_METHODS = {"create": "POST", "patch": "PATCH", "update": "PUT", "delete": "DELETE", "get": "GET"}


@dataclasses.dataclass(frozen=True)
class Step:
    method: str
    """POST, PATCH, PUT, DELETE, GET, or WAIT_POD_RUNNING."""
    uri: str
    body: str | None = None
    content_type: str = "application/json"
    what: str = ""
    """verb resource[/subresource], for the report."""
    once: bool = False
    """A request of the namespace's, not the Server's (its ``default`` SecurityGroup and that
    group's NetworkPolicy, the Quota's usage): sent for the first replayed Server only, as the
    operator makes it once for a namespace's first Server."""


def _is_kwok(event: Mapping[str, Any]) -> bool:
    return "kwok" in str(event.get("userAgent", ""))


def _is_control_plane(event: Mapping[str, Any]) -> bool:
    user = str((event.get("user") or {}).get("username", ""))
    return user.startswith("system:")


def _resource(event: Mapping[str, Any]) -> str:
    return str((event.get("objectRef") or {}).get("resource", ""))


def _strip_preconditions(body: Any) -> Any:
    if isinstance(body, dict):
        meta = body.get("metadata")
        if isinstance(meta, dict):
            meta.pop("resourceVersion", None)
            if not meta:
                body.pop("metadata")
    return body


def plan(events: Iterable[Mapping[str, Any]], server: str = "") -> list[Step]:
    """The replayable sequence of one build from its audit events (ResponseComplete stage);
    a request that does not name ``server`` (the recorded Server's name) is sent :attr:`~Step.once`."""
    chosen = [
        e
        for e in events
        if e.get("stage") == "ResponseComplete"
        and e.get("verb") in _METHODS
        and not _is_control_plane(e)
        and (e.get("objectRef") or {}).get("resource") != "namespaces"
    ]
    chosen.sort(key=lambda e: str(e.get("requestReceivedTimestamp", "")))
    # From the Server's create on: what came before is the namespace's setup (its Quota).
    first = next((i for i, e in enumerate(chosen) if e["verb"] == "create" and _resource(e) == "servers"), 0)
    chosen = chosen[first:]
    steps: list[Step] = []
    for e in chosen:
        ref = e.get("objectRef") or {}
        what = f"{e['verb']} {ref.get('resource', '')}" + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        if _is_kwok(e):
            if (
                ref.get("resource") == "pods"
                and ref.get("subresource") == "status"
                and not any(s.method == WAIT_POD_RUNNING for s in steps)
            ):
                steps.append(Step(WAIT_POD_RUNNING, "", what="kwok runs the Pod"))
            continue
        body = e.get("requestObject")
        text = None
        content_type = "application/json"
        if body is not None:
            body = _strip_preconditions(body)
            text = json.dumps(body)
            if e["verb"] == "patch":
                content_type = _patch_type(body)
        uri = str(e["requestURI"])
        once = bool(server) and server not in uri and server not in (text or "")
        steps.append(Step(_METHODS[e["verb"]], uri, text, content_type, what, once))
    return steps


def _patch_type(body: Any) -> str:
    """The audit log keeps a patch's body, not its content type: a whole object (apiVersion and
    kind) is a server-side apply (YAML's content type takes JSON), a list a JSON patch, else a
    merge patch."""
    if isinstance(body, list):
        return "application/json-patch+json"
    if isinstance(body, dict) and "apiVersion" in body and "kind" in body:
        return "application/apply-patch+yaml"
    return "application/merge-patch+json"


def substitute(text: str, names: Mapping[str, str]) -> str:
    """``text`` with each key of ``names`` replaced by its value, longest keys first (a uid, a
    namespace and names that may contain one another)."""
    for old in sorted(names, key=len, reverse=True):
        text = text.replace(old, names[old])
    return text


def summary(steps: Iterable[Step]) -> list[str]:
    return [s.what for s in steps]


class Replayer:
    """Sends the plan for many Servers with one HTTP/1.1 connection pool of ``connections``
    (the operator's own pool size, :data:`kubenova.kube.client.MAX_CONNECTIONS`)."""

    def __init__(self, api_url: str, ctx: ssl.SSLContext, connections: int) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.http = httpx.AsyncClient(base_url=api_url, verify=ctx, limits=limits, timeout=60)
        self.failures: dict[str, int] = {}

    async def close(self) -> None:
        await self.http.aclose()

    async def one(
        self,
        steps: list[Step],
        names: dict[str, str],
        recorded_uid: str,
        pod_running: Any,
        gate: asyncio.Semaphore,
        *,
        first: bool = False,
    ) -> float:
        """Replay ``steps`` for one Server; ``pod_running`` is awaited at the marker. The first
        step (the Server's create) is sent within ``gate``, as the build's creates are; the rest
        of a Server's requests are bounded only by the connection pool, as the operator's are.
        ``first``: the namespace's first Server, which also sends the :attr:`~Step.once` requests.
        Returns the time of the last response."""
        for i, step in enumerate(steps):
            if step.once and not first:
                continue
            if step.method == WAIT_POD_RUNNING:
                await pod_running()
                continue
            if i == 0:
                async with gate:
                    resp = await self._send(step, names)
            else:
                resp = await self._send(step, names)
            if resp.status_code >= 300:
                key = f"{step.what} {resp.status_code}"
                self.failures[key] = self.failures.get(key, 0) + 1
            elif step.method == "POST" and "/servers" in step.uri and recorded_uid not in names:
                names[recorded_uid] = resp.json()["metadata"]["uid"]
        return time.perf_counter()

    async def _send(self, step: Step, names: Mapping[str, str]) -> httpx.Response:
        body = substitute(step.body, names) if step.body is not None else None
        return await self.http.request(
            step.method,
            substitute(step.uri, names),
            content=body,
            headers={"Content-Type": step.content_type} if body is not None else None,
        )


RECORD_NAMESPACE = "bench-record"  # the audit policy's namespace
REPLAY_NAMESPACE = "bench-replay"
RECORDED = "recorded-server-0"
POLICY = Path(__file__).resolve().parent / "audit-policy.yaml"


async def record(b: Bench) -> tuple[list[Step], dict[str, str]]:
    """Build one Server with the operator and read its requests from the audit log; returns the
    plan and what to substitute (the recorded name, uid, namespace and host)."""
    await b.namespace(RECORD_NAMESPACE)
    await asyncio.sleep(2)  # the Quota's own reconcile is over before the Server comes
    await b.create(RECORD_NAMESPACE, RECORDED)
    await asyncio.wait_for(b.until_active(RECORD_NAMESPACE, RECORDED), 120)
    await asyncio.sleep(3)  # the writes after ACTIVE (Host usage is coalesced; Events)
    body = b.servers.bodies[f"{RECORD_NAMESPACE}/{RECORDED}"]
    host = str((body.get("status") or {}).get("host") or body["status"].get("hypervisorHostname", ""))
    events = b.cluster.audit_events()
    return plan(events, server=RECORDED), {"uid": body["metadata"]["uid"], "host": host}


async def run(b: Bench, steps: list[Step], recorded: dict[str, str], servers: int) -> dict[str, Any]:
    """Replay ``steps`` for ``servers`` Servers at the build's concurrency (CONCURRENCY creates in
    flight), the operator stopped;
    returns the rate, per-Server costs, and failures (none expected)."""
    await b.namespace(REPLAY_NAMESPACE)
    hosts = sorted({h["metadata"]["name"] for h in (b.cluster.get_json("hosts").get("items") or [])})
    pods = await Watch(b.client, Pod, namespace=REPLAY_NAMESPACE).start()
    replayer = Replayer(b.cluster.api_url, b.cluster.ssl_context(), MAX_CONNECTIONS)
    sem = asyncio.Semaphore(CONCURRENCY)
    done: list[float] = []

    async def one(i: int) -> None:
        name = f"rp{i:05d}"
        names = {RECORDED: name, f"/namespaces/{RECORD_NAMESPACE}/": f"/namespaces/{REPLAY_NAMESPACE}/"}
        names[f'"namespace": "{RECORD_NAMESPACE}"'] = f'"namespace": "{REPLAY_NAMESPACE}"'
        if recorded["host"] and hosts:
            names[recorded["host"]] = hosts[i % len(hosts)]

        async def running() -> None:
            await asyncio.wait_for(pods.until(name, pod_running), 120)

        done.append(await replayer.one(steps, names, recorded["uid"], running, sem, first=i == 0))

    before = b.snapshot()
    start = time.perf_counter()
    try:
        await asyncio.gather(*(one(i) for i in range(servers)))
        after = b.snapshot()
    finally:
        await pods.stop()
    rate = stats.rate(done, start)
    await cleanup(b, replayer, servers)
    await replayer.close()
    return {
        "servers": servers,
        "requests_per_server": sum(1 for s in steps if s.method != WAIT_POD_RUNNING and not s.once),
        "requests_per_namespace": sum(1 for s in steps if s.once),
        "sequence": summary(steps),
        "throughput_servers_per_s": round(rate, 1),
        "failures": replayer.failures,
        "cost_per_server": costs.per_server(before, after, servers),
    }


async def cleanup(b: Bench, replayer: Replayer, servers: int) -> None:
    """The replayed Servers carry the operator's finalizer: take it off, then delete them (their
    Pods go with the namespace)."""
    sem = asyncio.Semaphore(CONCURRENCY)
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{REPLAY_NAMESPACE}/servers"

    async def one(i: int) -> None:
        async with sem:
            url = f"{base}/rp{i:05d}"
            merge = {"Content-Type": "application/merge-patch+json"}
            await replayer.http.patch(url, content='{"metadata":{"finalizers":null}}', headers=merge)
            await replayer.http.delete(url)

    await asyncio.gather(*(one(i) for i in range(servers)))
    with contextlib.suppress(Exception):
        await replayer.http.delete(f"/api/v1/namespaces/{REPLAY_NAMESPACE}")
