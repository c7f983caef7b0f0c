"""Latency where the operator is not behind a queue: one Server on an idle cluster; open-loop
arrivals at a fixed rate (a create every 1/rate s, whatever the operator does); and a closed loop
as Rally's boot-and-delete scenario runs it (W workers, each: create, wait ACTIVE, delete, wait
gone). Every latency is from sending the create (or delete) to the watch seeing the state."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import stats
from bench.context import CONCURRENCY, TIMEOUT_S, Bench
from bench.watch import gone
from kubenova.kube import resources


async def single(b: Bench, namespace: str, repeats: int = 5) -> dict[str, Any]:
    """create→ACTIVE of one Server at a time on an otherwise idle cluster, ``repeats`` times."""
    times = []
    names = []
    for i in range(repeats):
        name = f"idle{i}"
        wait = b.until_active(namespace, name)
        sent = await b.create(namespace, name)
        times.append(await asyncio.wait_for(wait, 120) - sent)
        names.append(name)
        await asyncio.sleep(1)
    await b.delete_all(namespace, names)
    return {"create_to_active_s": stats.summary(times)}


async def open_loop(b: Bench, namespace: str, rate: float, count: int, prefix: str) -> dict[str, Any]:
    """``count`` creates at ``rate`` per second (open loop); create→ACTIVE percentiles."""
    names = [f"{prefix}{i:05d}" for i in range(count)]
    waits = {n: b.until_active(namespace, n) for n in names}
    sent: dict[str, float] = {}
    start = time.perf_counter()

    async def one(i: int, name: str) -> None:
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        sent[name] = await b.create(namespace, name)

    await asyncio.gather(*(one(i, n) for i, n in enumerate(names)))
    offered = count / (max(sent.values()) - start) if count > 1 else rate
    active = await asyncio.wait_for(asyncio.gather(*waits.values()), TIMEOUT_S)
    latencies = [a - sent[n] for n, a in zip(names, active, strict=True)]
    await b.delete_all(namespace, names)
    return {
        "rate_per_s": round(rate, 1),
        "achieved_create_rate_per_s": round(offered, 1),
        "servers": count,
        "create_to_active_s": stats.summary(latencies),
    }


async def closed_loop(b: Bench, namespace: str, iterations: int, workers: int = CONCURRENCY) -> dict[str, Any]:
    """Rally's boot-and-delete: ``workers`` loops sharing ``iterations``."""
    boots: list[float] = []
    deletes: list[float] = []
    queue = iter(range(iterations))

    async def worker() -> None:
        for i in queue:
            name = f"rally{i:05d}"
            wait = b.until_active(namespace, name)
            sent = await b.create(namespace, name)
            boots.append(await asyncio.wait_for(wait, TIMEOUT_S) - sent)
            wait = b.servers.until(f"{namespace}/{name}", gone)
            sent = time.perf_counter()
            await b.client.delete(resources.Server, name, namespace=namespace)
            deletes.append(await asyncio.wait_for(wait, TIMEOUT_S) - sent)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - start
    return {
        "workers": workers,
        "iterations": iterations,
        "iterations_per_s": round(iterations / elapsed, 2),
        "boot_s": stats.summary(boots),
        "delete_s": stats.summary(deletes),
    }
