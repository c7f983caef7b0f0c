"""What every phase of ``python -m bench`` shares: the dev cluster, the operator, one client, a
watch on every Server, and the pids whose /proc figures are read."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Iterable

from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from bench import costs
from bench.watch import Watch, gone, status_is
from hack.devcluster import cluster as devcluster
from hack.devcluster import operating
from kubenova import config
from kubenova.kube import resources

CONCURRENCY = 50
IMAGE = "registry.k8s.io/pause:3.10"
SMALL, MEDIUM = "bench.small", "bench.medium"
TIMEOUT_S = 900.0
_SETTINGS = config.Settings()
SETTLE_S = _SETTINGS.refresh_delay_seconds + _SETTINGS.usage_interval_seconds + 1.0
"""Seconds after the last change until every usage summary (a Host's, a Quota's) is written: it
waits the refresh delay, then at most one write per usage interval."""


@dataclasses.dataclass
class Bench:
    cluster: devcluster.Cluster
    operator: operating.Operator
    client: AsyncClient
    servers: Watch
    hosts: int

    def pids(self) -> dict[str, int]:
        """The control plane's children, the operator and this process, by name."""
        pids = self.cluster.pids()
        if self.operator.popen is not None and self.operator.popen.poll() is None:
            pids["operator"] = self.operator.popen.pid
        pids["bench"] = os.getpid()
        return {n: p for n, p in pids.items() if not n.startswith("route-")}

    def snapshot(self) -> dict[str, costs.Usage]:
        return costs.snapshot(self.pids(), children=frozenset({"bench"}))

    async def namespace(self, name: str) -> None:
        await self.client.create(Namespace(metadata=ObjectMeta(name=name)))
        # Nova's default quota (10 instances) would stop a benchmark at 10 servers.
        await self.client.create(
            resources.Quota(
                metadata=ObjectMeta(name="default", namespace=name), spec={"instances": -1, "cores": -1, "ram": -1}
            )
        )

    async def create(self, namespace: str, name: str, flavor: str = SMALL) -> float:
        """Create one Server (container backend); returns the time the call was sent."""
        sent = time.perf_counter()
        await self.client.create(
            resources.Server(
                metadata=ObjectMeta(name=name, namespace=namespace),
                spec={"flavor": flavor, "image": IMAGE, "backend": "container"},
            )
        )
        return sent

    def until_active(self, namespace: str, name: str, flavor: str | None = None) -> asyncio.Future[float]:
        return self.servers.until(f"{namespace}/{name}", status_is("ACTIVE", flavor))

    async def delete_all(self, namespace: str, names: Iterable[str]) -> None:
        """Delete Servers and wait until they are gone (the operator removed its finalizer)."""
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(name: str) -> None:
            done = self.servers.until(f"{namespace}/{name}", gone)
            async with sem:
                await self.client.delete(resources.Server, name, namespace=namespace)
            await asyncio.wait_for(done, TIMEOUT_S)

        await asyncio.gather(*(one(n) for n in names))
