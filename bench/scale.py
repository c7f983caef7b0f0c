"""Scale figures: the operator's memory over the Servers it holds, and a restart over all of
them — the time from starting the process until its ``kubenova_servers`` gauge counts every
Server and no reconcile is queued (each seen and adopted), and the writes the API server
answered meanwhile (must be 0)."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from typing import Any

from bench import costs, servers
from bench.context import SETTLE_S, Bench

_GAUGE = re.compile(r"^kubenova_servers\{[^}]*\} (\S+)$", re.MULTILINE)
_QUEUED = re.compile(r"^kubenova_server_reconciles_queued (\S+)$", re.MULTILINE)


def parse_servers_gauge(text: str) -> int:
    """The sum of ``kubenova_servers`` over its labels in a Prometheus text exposition."""
    return int(sum(float(v) for v in _GAUGE.findall(text)))


def parse_adopted(text: str) -> int:
    """The Servers the operator has seen, if their reconciles are all done (else 0)."""
    queued = _QUEUED.search(text)
    return parse_servers_gauge(text) if queued is not None and float(queued.group(1)) == 0 else 0


def operator_servers(b: Bench) -> int:
    """What :func:`parse_adopted` says of the operator's metrics (-1: not answering)."""
    # Only the two metrics it reads (prometheus_client's ``name[]``): the whole page with 1,000
    # hosts' gauges takes the operator about 50 ms to write, a tenth of a core at two a second.
    names = "&".join(f"name[]={n}" for n in ("kubenova_servers", "kubenova_server_reconciles_queued"))
    url = f"http://127.0.0.1:{b.operator.metrics_port}/metrics?{names}"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return parse_adopted(resp.read().decode())
    except OSError:
        return -1


def memory(b: Bench, servers_held: int, baseline_rss_kb: int | None) -> dict[str, Any]:
    usage = b.snapshot().get("operator")
    if usage is None:
        return {}
    out: dict[str, Any] = {
        "servers_held": servers_held,
        "rss_mb": round(usage.rss_kb / 1024, 1),
        "peak_rss_mb": round(usage.hwm_kb / 1024, 1),
    }
    if baseline_rss_kb is not None and servers_held:
        out["rss_kb_per_server_over_idle"] = round((usage.rss_kb - baseline_rss_kb) / servers_held, 1)
    return out


async def restart(b: Bench, total: int, limit_s: float = 600) -> dict[str, Any]:
    """Kill the operator and start it over ``total`` Servers; time to all adopted, writes made.
    The writes of what came before (coalesced Host usage, a resize's confirmation) are let
    settle first."""
    await asyncio.sleep(SETTLE_S)
    b.operator.kill()
    before = servers.write_counts(b.cluster)
    start = time.perf_counter()
    b.operator.start(wait=False)
    seen = -1
    while time.perf_counter() - start < limit_s:
        seen = operator_servers(b)
        if seen >= total:
            break
        await asyncio.sleep(0.5)
    adopted = time.perf_counter() - start
    pid = b.operator.popen.pid if b.operator.popen is not None else 0
    cpu = costs.snapshot({"operator": pid}).get("operator")
    await asyncio.sleep(SETTLE_S)
    after = servers.write_counts(b.cluster)
    return {
        "servers": total,
        "all_adopted_s": round(adopted, 2) if seen >= total else None,
        "seen": seen,
        "operator_cpu_s_to_adopt": round(cpu.cpu_s, 2) if cpu else None,
        "writes": servers.delta(after, before, servers.SERVER_WRITES | servers.HOST_WRITES),
        "writes_by_kind": {"/".join(k): v - before.get(k, 0) for k, v in sorted(after.items()) if v > before.get(k, 0)},
        "writes_window_s": round(adopted + SETTLE_S, 1),
    }
