"""The OpenStack Compute API's cost over the Kubernetes API it calls: server creates and
``GET /servers/detail`` at N servers, each beside the same operation made directly against the
API server with the same caller's token, in the same run.

``python -m bench.compute_api [--servers 1000]`` prints one JSON object. No operator runs (the
Servers stay unplaced): this measures the API's own overhead (token, translation, one or two
calls as the caller), not the operator. All traffic is on 127.0.0.1.

* creates: half the servers through ``POST /compute/v2.1/servers`` (until the 202), half with a
  direct Server create, both as the same ServiceAccount with ``edit``, CONCURRENCY at a time;
  latency per request and requests per second.
* detail: sequential ``GET /servers/detail`` (all N servers, full Nova view) beside a direct list
  of the namespace's Servers; p50/p99 and requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp
from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.config.models import Cluster as KubeCluster
from lightkube.config.models import User

from hack.devcluster import cluster as devcluster
from hack.devcluster import computeapi, installing
from kubenova.kube import resources

NAMESPACE = "bench-api"
CONCURRENCY = 20
LISTS = 30


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def summary(latencies: list[float], wall: float) -> dict[str, Any]:
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": pct(latencies, 0.5),
        "p99_ms": pct(latencies, 0.99),
        "mean_ms": round(statistics.mean(latencies) * 1000, 2),
    }


async def timed_all(make: Any, count: int) -> tuple[list[float], float]:
    sem = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []

    async def one(i: int) -> None:
        async with sem:
            t = time.perf_counter()
            await make(i)
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return latencies, time.perf_counter() - start


async def run(c: devcluster.Cluster, api: computeapi.ComputeApi, token: str, servers: int) -> dict[str, Any]:
    conf = KubeConfig.from_one(
        cluster=KubeCluster(server=c.api_url, certificate_auth=str(c.bundle.ca.cert)), user=User(token=token)
    )
    kube = AsyncClient(config=conf, field_manager="bench")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{api.url}/identity/v3/auth/tokens",
            json={
                "auth": {
                    "identity": {"methods": ["password"], "password": {"user": {"name": "b", "password": token}}},
                    "scope": {"project": {"name": NAMESPACE}},
                }
            },
        ) as resp:
            assert resp.status == 201, await resp.text()
            fernet = resp.headers["X-Subject-Token"]
        h = {"X-Auth-Token": fernet, "OpenStack-API-Version": "compute 2.100"}
        half = servers // 2

        async def via_api(i: int) -> None:
            body = {"server": {"name": f"api {i}", "flavorRef": "bench", "imageRef": "nginx:1.27", "networks": "none"}}
            async with http.post(f"{api.url}/compute/v2.1/servers", json=body, headers=h) as r:
                assert r.status == 202, await r.text()

        async def direct(i: int) -> None:
            await kube.create(
                resources.Server.from_dict(
                    {
                        "apiVersion": "compute.kubenova.io/v1alpha1",
                        "kind": "Server",
                        "metadata": {"name": f"direct-{i}", "namespace": NAMESPACE},
                        "spec": {"flavor": "bench", "image": "nginx:1.27", "displayName": f"direct {i}"},
                    }
                )
            )

        api_lat, api_wall = await timed_all(via_api, half)
        direct_lat, direct_wall = await timed_all(direct, servers - half)

        async def detail() -> int:
            async with http.get(f"{api.url}/compute/v2.1/servers/detail", headers=h) as r:
                assert r.status == 200
                return len((await r.json())["servers"])

        async def listing() -> int:
            return len([o async for o in kube.list(resources.Server, namespace=NAMESPACE)])

        assert await detail() == servers
        out: dict[str, Any] = {}
        for name, fn in (("api_servers_detail", detail), ("direct_list_servers", listing)):
            lat = []
            start = time.perf_counter()
            for _ in range(LISTS):
                t = time.perf_counter()
                await fn()
                lat.append(time.perf_counter() - t)
            out[name] = summary(lat, time.perf_counter() - start)
    await kube.close()
    return {
        "servers": servers,
        "concurrency": CONCURRENCY,
        "create_via_api": summary(api_lat, api_wall),
        "create_direct": summary(direct_lat, direct_wall),
        **out,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    args = parser.parse_args()
    with devcluster.running(kubevirt=False) as c:
        installing.install_crds(c)
        c.apply(computeapi.user_roles(c))
        c.kubectl("create", "namespace", NAMESPACE)
        c.kubectl("create", "serviceaccount", "bench", "-n", NAMESPACE)
        c.kubectl("create", "rolebinding", "bench", "--clusterrole=edit", f"--serviceaccount={NAMESPACE}:bench",
                  "-n", NAMESPACE)  # fmt: skip
        c.apply(
            [
                {
                    "apiVersion": "compute.kubenova.io/v1alpha1",
                    "kind": "Flavor",
                    "metadata": {"name": "bench"},
                    "spec": {"vcpus": 1, "ram": 64},
                }
            ]
        )
        token = c.kubectl("create", "token", "bench", "-n", NAMESPACE, "--duration=1h").stdout.strip()
        api = computeapi.start(c, name="compute-api-bench")
        try:
            report = asyncio.run(run(c, api, token, args.servers))
        finally:
            api.stop()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
