"""``python -m bench``: every benchmark of issue 13 in one run on one dev cluster, printed as one
JSON document (``make bench``). Sizes are small by default so that it runs in minutes on a shared
machine; ``--servers 1000`` (on ``--hosts``, default a tenth) is the scale run.

Phases, in order (each a module of this package): record one Server's build from the audit log
and replay it for N Servers with the operator stopped (:mod:`bench.replay`: the ceiling); the
ConfigMap-create rate; N Servers built by the operator (:mod:`bench.build`), with the CPU and peak
RSS of every process over the build (:mod:`bench.costs`) and a py-spy profile of the operator
(:mod:`bench.profile`); latency (:mod:`bench.latency`: idle single create, open loop at 10/s and
at half the measured maximum, Rally's closed loop); stop/start and resize of the N
(:mod:`bench.actions`); a restart of the operator over all of them (:mod:`bench.scale`); the
scheduler at 1,000 and 10,000 hosts with as many servers placed (:mod:`bench.scheduler`); then
issue 13's targets, each with ``holds`` (:mod:`bench.targets`). Benchmarks report; they never
fail on a target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta

from bench import actions, build, costs, latency, profile, replay, scale, scheduler, targets
from bench.context import MEDIUM, SMALL, Bench
from bench.watch import Watch
from hack.devcluster import cluster as devcluster
from hack.devcluster import installing, operating
from kubenova.kube import resources

BUILD_NS, LATENCY_NS = "bench", "bench-latency"


def load() -> dict[str, Any]:
    one, five, fifteen = os.getloadavg()
    return {"cpus": os.cpu_count(), "loadavg_1_5_15": [round(one, 2), round(five, 2), round(fifteen, 2)]}


async def run(c: devcluster.Cluster, op: operating.Operator, args: argparse.Namespace) -> dict[str, Any]:
    n: int = args.servers
    client = AsyncClient(field_manager="kubenova-bench")
    watch = await Watch(client, resources.Server).start()
    b = Bench(c, op, client, watch, args.hosts)
    report: dict[str, Any] = {}
    try:
        for name, vcpus, ram in ((SMALL, 1, 512), (MEDIUM, 2, 1024)):
            await client.create(
                resources.Flavor(metadata=ObjectMeta(name=name), spec={"vcpus": vcpus, "ram": ram, "disk": 1})
            )
        idle = b.snapshot().get("operator")

        steps, recorded = await replay.record(b)
        op.stop()
        ceiling = await replay.run(b, steps, recorded, n)
        op.start()

        await b.namespace(BUILD_NS)
        configmaps = await build.configmap_rate(b, BUILD_NS, n)
        recorder = profile.Recorder(b.pids()["operator"], c.root / "logs" / "py-spy.raw")
        if args.profile:
            recorder.start()
        built = await build.build(b, BUILD_NS, n)
        prof = recorder.stop() if args.profile else {"skipped": True}
        memory = scale.memory(b, n + 1, idle.rss_kb if idle else None)
        report["cost_per_server"] = built.pop("cost_per_server")
        report["replay_cost_per_server"] = ceiling.pop("cost_per_server")
        report["build"] = built
        report["replay_ceiling"] = ceiling
        report["configmap_ceiling"] = configmaps
        report["throughput_over_replay"] = round(
            built["throughput_servers_per_s"] / ceiling["throughput_servers_per_s"], 3
        )
        # On a machine whose cores are all busy, rates are set by CPU: the ratio of what one Server
        # costs the whole machine in the replay and in the build is that fraction, measured without
        # depending on the load of the moment each phase ran at.
        machine = costs.machine_cpu_ms(report["cost_per_server"])
        machine_replay = costs.machine_cpu_ms(report["replay_cost_per_server"])
        report["machine_cpu_ms_per_server"] = {"build": machine, "replay": machine_replay}
        report["cpu_bound_throughput_over_replay"] = round(machine_replay / machine, 3) if machine else None
        report["profile"] = prof

        await b.namespace(LATENCY_NS)
        lat: dict[str, Any] = {"idle_single": await latency.single(b, LATENCY_NS)}
        lat["open_loop_10_per_s"] = await latency.open_loop(b, LATENCY_NS, 10.0, args.open_loop, "ol")
        half = max(1.0, built["throughput_servers_per_s"] / 2)
        lat["open_loop_half_max"] = await latency.open_loop(b, LATENCY_NS, half, args.open_loop, "oh")
        lat["closed_loop_rally"] = await latency.closed_loop(b, LATENCY_NS, args.rally)
        report["latency"] = lat

        if args.actions:
            report["actions"] = await actions.run(b, BUILD_NS, [f"s{i:05d}" for i in range(n)])
        report["scale"] = {"memory": memory, "restart": await scale.restart(b, n + 1)}
    finally:
        await watch.stop()
        await client.close()
    report["scheduler"] = [
        scheduler.measure(h, decisions=d, placed=h) for h, d in ((1_000, args.decisions), (10_000, args.decisions))
    ]
    return report


def figures(report: dict[str, Any], servers: int) -> dict[str, float | None]:
    """The values issue 13's targets are about, from a report."""
    cost, replayed = report["cost_per_server"], report["replay_cost_per_server"]
    op = cost.get("operator", {}).get("cpu_ms_per_server")
    api = cost.get("kube-apiserver", {}).get("cpu_ms_per_server")
    api_replay = replayed.get("kube-apiserver", {}).get("cpu_ms_per_server")
    lat, build_ = report["latency"], report["build"]
    restart = report["scale"]["restart"]
    first, last = build_["throughput_first_20pct_per_s"], build_["throughput_last_20pct_per_s"]
    at_10k = next((s for s in report["scheduler"] if s["hosts"] == 10_000), None)
    return {
        "operator_cpu_ms_per_server": op,
        "operator_cpu_over_apiserver_cpu": op / api if op is not None and api else None,
        "apiserver_cpu_over_replay_apiserver_cpu": api / api_replay if api is not None and api_replay else None,
        "throughput_over_replay_ceiling": report["throughput_over_replay"],
        "throughput_over_replay_ceiling_cpu_bound": report["cpu_bound_throughput_over_replay"],
        "open_loop_10_per_s_p50_s": lat["open_loop_10_per_s"]["create_to_active_s"].get("p50"),
        "open_loop_10_per_s_p99_s": lat["open_loop_10_per_s"]["create_to_active_s"].get("p99"),
        "idle_single_create_to_active_s": lat["idle_single"]["create_to_active_s"].get("p50"),
        "throughput_end_over_start": last / first if first else None,
        "operator_rss_mb_at_10000": report["scale"]["memory"].get("rss_mb") if servers >= 10_000 else None,
        "restart_all_adopted_s": restart["all_adopted_s"],
        "restart_writes": restart["writes"],
        "scheduler_p99_ms_at_10000_hosts": at_10k["p99_ms"] if at_10k else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=100, help="Servers built, replayed, acted on (default 100)")
    parser.add_argument("--hosts", type=int, default=None, help="simulated hosts (default servers/10)")
    parser.add_argument("--open-loop", type=int, default=None, help="Servers per open-loop run (default min(N, 100))")
    parser.add_argument("--rally", type=int, default=None, help="closed-loop iterations (default N)")
    parser.add_argument("--decisions", type=int, default=1000, help="timed scheduler decisions per size")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="no py-spy on the operator")
    parser.add_argument("--no-actions", dest="actions", action="store_false", help="skip stop/start and resize")
    args = parser.parse_args()
    args.hosts = args.hosts or max(1, args.servers // 10)
    args.open_loop = args.open_loop or min(args.servers, 100)
    args.rally = args.rally or args.servers
    started, load_before = time.time(), load()
    with devcluster.running(kubevirt=True, audit=replay.POLICY) as c:
        installing.install_crds(c)
        c.add_nodes(args.hosts)
        op = operating.start(c, name="operator")
        try:
            deadline = time.monotonic() + 120  # every Host discovered and reported first
            while time.monotonic() < deadline:
                hosts = c.get_json("hosts").get("items", [])
                if len(hosts) == args.hosts and all((h.get("status") or {}).get("state") for h in hosts):
                    break
                time.sleep(1)
            os.environ["KUBECONFIG"] = str(c.kubeconfig)
            body = asyncio.run(run(c, op, args))
        finally:
            op.stop()
    report = {
        "benchmark": "kubenova issue 13: cost, ceiling, latency, scale, actions (container backend)",
        "servers": args.servers,
        "hosts": args.hosts,
        "machine": {"before": load_before, "after": load()},
        "wall_s": round(time.time() - started, 1),
        **body,
    }
    report["targets"] = targets.evaluate(figures(body, args.servers))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
