"""Servers end to end: apply N Servers (container backend) on H simulated hosts and measure
create→ACTIVE latency, throughput, the operator's own API writes per Server and at idle, against
the control plane's raw write rate measured in the same run with the same client.

``python -m bench.servers [--servers 1000] [--hosts 100]`` prints one JSON object; the exit code
is 0 either way (targets are reported, not asserted: a benchmark on a shared 2-core machine is a
measurement, not a test).

How each figure is obtained:

* latency: from the moment the create call returned to the moment a watch on Servers sees
  ``status: ACTIVE`` (client clock, both in this process); throughput: Servers over the time
  from the first create to the last ACTIVE.
* the operator's writes: ``apiserver_request_total`` before and after, restricted to the
  (verb, resource, subresource) triples only the operator uses (kwok writes Pod status, Node
  status and Leases; this benchmark writes Servers with POST); Host usage writes are reported
  beside the per-Server count, since they are per host and coalesced, not per Server.
* idle: the operator is killed and started again over the ACTIVE Servers (a full re-list, the
  worst resync), then left alone; every write in that window counts.
* ceiling: the same AsyncClient, with the same concurrency, creating ConfigMaps: the raw rate
  at which this control plane accepts writes on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from typing import Any

from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace

from bench.context import SETTLE_S
from hack.devcluster import cluster as devcluster
from hack.devcluster import installing, operating
from kubenova.kube import resources

NAMESPACE = "bench"
CONCURRENCY = 50
TARGET_RATE = 54.0  # ten times Nova's published fake-driver rate
TARGET_P99_S = 5.0
TARGET_WRITES = 4.0
IDLE_S = 20.0
# (verb, group, resource, subresource) that only the operator writes.
SERVER_WRITES = {
    ("PATCH", "compute.kubenova.io", "servers", ""),  # its finalizer
    ("PATCH", "compute.kubenova.io", "servers", "status"),  # claim, states
    ("POST", "", "pods", ""),  # the workload
    ("POST", "", "secrets", ""),
    ("POST", "events.k8s.io", "events", ""),
}
HOST_WRITES = {("PATCH", "compute.kubenova.io", "hosts", "status")}
_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def write_counts(c: devcluster.Cluster) -> Counter[tuple[str, str, str, str]]:
    """Every write the API server has answered, by (verb, group, resource, subresource)."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for line in c.raw_get("/metrics", timeout=30).splitlines():
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m["labels"]))
        if labels.get("verb") in ("POST", "PUT", "PATCH", "DELETE", "APPLY") and labels.get("dry_run", "") == "":
            key = (labels["verb"], labels.get("group", ""), labels.get("resource", ""), labels.get("subresource", ""))
            counts[key] += int(float(m["value"]))
    return counts


def delta(after: Counter[Any], before: Counter[Any], keys: set[Any] | None = None) -> int:
    return sum(v - before.get(k, 0) for k, v in after.items() if keys is None or k in keys)


async def ceiling(client: AsyncClient, n: int) -> float:
    """Writes per second this control plane accepts from this client (ConfigMap creates)."""
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with sem:
            await client.create(
                ConfigMap(metadata=ObjectMeta(name=f"ceiling-{i}", namespace=NAMESPACE), data={"k": "v"})
            )

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - start)


async def apply_servers(client: AsyncClient, n: int) -> tuple[dict[str, float], dict[str, float], float]:
    """Create ``n`` Servers; return when each create returned, when each was ACTIVE, and the start."""
    created: dict[str, float] = {}
    active: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        async for _, obj in client.watch(resources.Server, namespace=NAMESPACE):
            body: dict[str, Any] = obj.to_dict()  # type: ignore[no-untyped-call]
            status = body.get("status") or {}
            name: str = body["metadata"]["name"]
            if status.get("status") == "ACTIVE" and name not in active:
                active[name] = time.perf_counter()
                if len(active) == n:
                    done.set()
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)  # the watch is open before the first create
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        name = f"s{i:05d}"
        body = resources.Server(
            metadata=ObjectMeta(name=name, namespace=NAMESPACE),
            spec={"flavor": "bench.small", "image": "registry.k8s.io/pause:3.10", "backend": "container"},
        )
        async with sem:
            await client.create(body)
            created[name] = time.perf_counter()

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    try:
        await asyncio.wait_for(done.wait(), timeout=600)
    finally:
        watcher.cancel()
    return created, active, start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(c: devcluster.Cluster, op: operating.Operator, servers: int, hosts: int) -> dict[str, Any]:
    client = AsyncClient(field_manager="kubenova-bench")
    try:
        await client.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))
        await client.create(
            resources.Flavor(metadata=ObjectMeta(name="bench.small"), spec={"vcpus": 1, "ram": 512, "disk": 1})
        )
        # Nova's default quota (10 instances) would stop the benchmark at 10 servers.
        await client.create(
            resources.Quota(
                metadata=ObjectMeta(name="default", namespace=NAMESPACE),
                spec={"instances": -1, "cores": -1, "ram": -1},
            )
        )
        raw_rate = await ceiling(client, servers)

        before = write_counts(c)
        created, active, start = await apply_servers(client, servers)
        await asyncio.sleep(SETTLE_S)  # usage summaries are written at most once per interval
        after = write_counts(c)
        latencies = [active[n] - created[n] for n in created]
        elapsed = max(active.values()) - start
        server_writes = delta(after, before, SERVER_WRITES)
        host_writes = delta(after, before, HOST_WRITES)
        by_kind = {
            "/".join(k): v - before.get(k, 0) for k, v in sorted(after.items()) if k in SERVER_WRITES | HOST_WRITES
        }

        # Idle: a restart re-lists everything (the worst resync), then nothing happens.
        op.restart()
        idle_before = write_counts(c)
        await asyncio.sleep(IDLE_S)
        idle_after = write_counts(c)
        idle = delta(idle_after, idle_before, SERVER_WRITES | HOST_WRITES)
    finally:
        await client.close()

    rate = servers / elapsed
    per_server = server_writes / servers
    target_rate = max(TARGET_RATE, raw_rate / 2 / max(per_server, 1))
    p99 = percentile(latencies, 0.99)
    return {
        "benchmark": "servers: apply → ACTIVE (container backend)",
        "servers": servers,
        "hosts": hosts,
        "create_concurrency": CONCURRENCY,
        "latency_s": {
            "p50": round(percentile(latencies, 0.50), 3),
            "p95": round(percentile(latencies, 0.95), 3),
            "p99": round(p99, 3),
            "mean": round(statistics.fmean(latencies), 3),
        },
        "throughput_servers_per_s": round(rate, 1),
        "ceiling_raw_writes_per_s": round(raw_rate, 1),
        "operator_writes_per_server": round(per_server, 2),
        "host_usage_writes": host_writes,
        "host_usage_writes_per_server": round(host_writes / servers, 3),
        "operator_writes_by_kind": by_kind,
        "settle_wait_s": SETTLE_S,
        "idle_writes_after_restart": idle,
        "idle_window_s": IDLE_S,
        "targets": {
            "throughput_servers_per_s": round(target_rate, 1),
            "p99_s": TARGET_P99_S,
            "writes_per_server": TARGET_WRITES,
            "idle_writes": 0,
        },
        "pass": {
            "throughput": rate >= target_rate,
            "p99": p99 <= TARGET_P99_S,
            "writes_per_server": per_server <= TARGET_WRITES,
            "idle": idle == 0,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=100)
    args = parser.parse_args()
    with devcluster.running(kubevirt=False) as c:
        installing.install_crds(c)
        c.add_nodes(args.hosts)
        op = operating.start(c, name="operator")
        try:
            # Every Host discovered and reported before the clock starts.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                hosts = c.get_json("hosts").get("items", [])
                if len(hosts) == args.hosts and all((h.get("status") or {}).get("state") for h in hosts):
                    break
                time.sleep(1)
            os.environ["KUBECONFIG"] = str(c.kubeconfig)
            report = asyncio.run(run(c, op, args.servers, args.hosts))
        finally:
            op.stop()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
