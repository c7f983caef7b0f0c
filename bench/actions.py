"""Actions on N ACTIVE Servers: stop then start (``spec.state``), and resize to a larger flavor
with ``autoConfirmResize``; each sent at the benchmark's concurrency, timed until the watch sees
every Server in the resulting state."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lightkube.types import PatchType

from bench import stats
from bench.context import CONCURRENCY, MEDIUM, TIMEOUT_S, Bench
from bench.watch import status_is
from kubenova.kube import resources


async def _act(
    b: Bench, namespace: str, names: list[str], spec: dict[str, Any], *, status: str, flavor: str | None = None
) -> dict[str, Any]:
    sem = asyncio.Semaphore(CONCURRENCY)
    sent: dict[str, float] = {}
    waits = {n: b.servers.until(f"{namespace}/{n}", status_is(status, flavor)) for n in names}

    async def one(name: str) -> None:
        async with sem:
            sent[name] = time.perf_counter()
            await b.client.patch(
                resources.Server, name, {"spec": spec}, namespace=namespace, patch_type=PatchType.MERGE
            )

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in names))
    done = await asyncio.wait_for(asyncio.gather(*waits.values()), TIMEOUT_S)
    return {
        "servers": len(names),
        "throughput_per_s": round(stats.rate(list(done), start), 1),
        "latency_s": stats.summary([d - sent[n] for n, d in zip(names, done, strict=True)]),
    }


async def run(b: Bench, namespace: str, names: list[str]) -> dict[str, Any]:
    return {
        "stop": await _act(b, namespace, names, {"state": "stopped"}, status="SHUTOFF"),
        "start": await _act(b, namespace, names, {"state": "active"}, status="ACTIVE"),
        "resize": await _act(
            b, namespace, names, {"flavor": MEDIUM, "autoConfirmResize": True}, status="ACTIVE", flavor=MEDIUM
        ),
    }
