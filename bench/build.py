"""A build measured: N Servers created at the benchmark's concurrency (closed loop: a create is
sent when one of the CONCURRENCY in flight returns), each timed from its create to the watch
seeing ACTIVE, with the CPU of every process over the build; and the raw ConfigMap-create rate of
this control plane with the same client and concurrency."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap

from bench import costs, servers, stats
from bench.context import CONCURRENCY, SETTLE_S, TIMEOUT_S, Bench

SLOWEST_RATE = 5.0
"""Servers per second below which a build is given up."""


async def configmap_rate(b: Bench, namespace: str, n: int) -> dict[str, Any]:
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with sem:
            await b.client.create(
                ConfigMap(metadata=ObjectMeta(name=f"ceiling-{i}", namespace=namespace), data={"k": "v"})
            )

    before = b.snapshot()
    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    rate = n / (time.perf_counter() - start)
    after = b.snapshot()
    api = costs.per_server(before, after, n).get("kube-apiserver", {})
    return {"creates": n, "per_s": round(rate, 1), "apiserver_cpu_ms_per_create": api.get("cpu_ms_per_server")}


async def create_and_wait(
    b: Bench, namespace: str, names: list[str], concurrency: int = CONCURRENCY
) -> tuple[dict[str, float], dict[str, float], float]:
    """Create ``names`` (closed loop); return send times, ACTIVE times, and the start."""
    sem = asyncio.Semaphore(concurrency)
    sent: dict[str, float] = {}
    waits = {n: b.until_active(namespace, n) for n in names}

    async def one(name: str) -> None:
        async with sem:
            sent[name] = await b.create(namespace, name)

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in names))
    # At least TIMEOUT_S, and longer for a large build (10,000 Servers at 10/s take 17 minutes).
    limit = max(TIMEOUT_S, len(names) / SLOWEST_RATE)
    active = dict(zip(names, await asyncio.wait_for(asyncio.gather(*waits.values()), limit), strict=True))
    return sent, active, start


async def build(b: Bench, namespace: str, n: int) -> dict[str, Any]:
    """N Servers: throughput, latency, cost per Server by process, writes by kind."""
    names = [f"s{i:05d}" for i in range(n)]
    writes_before = servers.write_counts(b.cluster)
    before = b.snapshot()
    sent, active, start = await create_and_wait(b, namespace, names)
    # The cost includes the usage summaries written after the last Server went ACTIVE (at most
    # one per Host and per Quota): they are part of the build, however late they come.
    await asyncio.sleep(SETTLE_S)
    after = b.snapshot()
    writes_after = servers.write_counts(b.cluster)
    first, last = stats.window_rates(list(active.values()))
    server_writes = servers.delta(writes_after, writes_before, servers.SERVER_WRITES)
    host_writes = servers.delta(writes_after, writes_before, servers.HOST_WRITES)
    return {
        "servers": n,
        "hosts": b.hosts,
        "concurrency": CONCURRENCY,
        "throughput_servers_per_s": round(stats.rate(list(active.values()), start), 1),
        "throughput_first_20pct_per_s": round(first, 1),
        "throughput_last_20pct_per_s": round(last, 1),
        "create_to_active_s": stats.summary([active[k] - sent[k] for k in names]),
        "cost_per_server": costs.per_server(before, after, n),
        "operator_writes_per_server": round(server_writes / n, 2),
        "host_usage_writes_per_server": round(host_writes / n, 3),
    }
