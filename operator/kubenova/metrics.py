"""The operator's Prometheus metrics, and the hooks that keep them.

Served on ``KUBENOVA_METRICS_ADDRESS`` (``/metrics``) by :func:`serve`, which
:mod:`kubenova.operator` calls before kopf starts. Handlers touch this module through thin
hooks only: the :func:`timed` decorator on each kind's reconcile, :func:`scheduling_decision`
on the scheduler's entry point, :func:`no_valid_host` where a decision is final, and the
``observe_*``/``forget_*`` functions called by :mod:`kubenova.handlers.metering` from the
objects' own events. Quota logic (built separately) reports through :func:`set_quota`.

Names follow Prometheus' conventions: the ``kubenova_`` prefix, base units (seconds, bytes),
``_total`` on counters. Labels stay low-cardinality except ``host`` and ``namespace``, which
are bounded by the cluster's size and are what an operator of the cloud asks about.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import prometheus_client
from prometheus_client import Counter, Gauge, Histogram

from kubenova.scheduling.scheduler import NoValidHost

P = ParamSpec("P")
R = TypeVar("R")
MIB = 1024 * 1024

SERVERS = Gauge(
    "kubenova_servers", "Servers by Nova status (ACTIVE, BUILD, SHUTOFF, ERROR...) and backend.", ["status", "backend"]
)
RECONCILE_SECONDS = Histogram(
    "kubenova_reconcile_duration_seconds",
    "Time one reconcile of an object took, by kind (API calls included).",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SCHEDULING_SECONDS = Histogram(
    "kubenova_scheduling_duration_seconds",
    "Time one scheduling decision took: filtering, weighing and claiming a host (no API calls).",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
SCHEDULING_FAILURES = Counter(
    "kubenova_scheduling_failures",
    "Servers that got Nova's 'No valid host was found', by the filter that removed the last hosts.",
    ["reason"],
)
QUOTA_USED = Gauge(
    "kubenova_quota_used", "Quota usage by namespace and resource (counts; ram in bytes).", ["namespace", "resource"]
)
QUOTA_LIMIT = Gauge(
    "kubenova_quota_limit",
    "Quota limit by namespace and resource (counts; ram in bytes; -1 is unlimited).",
    ["namespace", "resource"],
)
SERVER_RECONCILES_QUEUED = Gauge(
    "kubenova_server_reconciles_queued",
    "Servers whose events asked for a reconcile not finished yet: waiting or running (the work queue's depth).",
)
HOST_VCPUS = Gauge("kubenova_host_vcpus", "A host's physical vCPUs (Nova's hypervisor vcpus).", ["host"])
HOST_VCPUS_USED = Gauge("kubenova_host_vcpus_used", "vCPUs claimed by the servers on a host.", ["host"])
HOST_MEMORY_BYTES = Gauge("kubenova_host_memory_bytes", "A host's memory.", ["host"])
HOST_MEMORY_USED_BYTES = Gauge(
    "kubenova_host_memory_used_bytes", "Memory claimed on a host, its reserved memory included (as Nova).", ["host"]
)

_lock = threading.Lock()  # the HTTP server reads from its own thread
_servers: dict[str, tuple[str, str]] = {}
_quotas: dict[str, set[str]] = {}  # namespace -> the resources it has gauges for


def queue_depth(depth: Callable[[], int]) -> None:
    """``kubenova_server_reconciles_queued`` reads ``depth`` when scraped."""
    SERVER_RECONCILES_QUEUED.set_function(depth)


def serve(address: str) -> None:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread."""
    host, _, port = address.rpartition(":")
    prometheus_client.start_http_server(int(port), addr=host or "0.0.0.0")


def timed(kind: str) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Record how long each call of an async reconcile takes, as ``kubenova_reconcile_duration_seconds{kind}``."""
    histogram = RECONCILE_SECONDS.labels(kind)

    def decorate(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return wrapper

    return decorate


def scheduling_decision(fn: Callable[P, R]) -> Callable[P, R]:
    """Record the duration of each scheduling decision (``kubenova_scheduling_duration_seconds``)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with SCHEDULING_SECONDS.time():
            return fn(*args, **kwargs)

    return wrapper


def no_valid_host(decision: NoValidHost) -> None:
    """A scheduling failure that ends a request (a resize that first tries its own host and then
    moves is not one)."""
    SCHEDULING_FAILURES.labels(failure_reason(decision)).inc()


def failure_reason(decision: NoValidHost) -> str:
    """The filter that removed the last hosts (Nova's message ends with it), or NoHosts."""
    if decision.total == 0 or not decision.removed:
        return "NoHosts"
    return decision.removed[-1][0]


def observe_server(key: str, status: str, backend: str) -> None:
    """The server ``namespace/name`` now has this Nova status and backend."""
    with _lock:
        before = _servers.get(key)
        if before == (status, backend):
            return
        if before is not None:
            SERVERS.labels(*before).dec()
        _servers[key] = (status, backend)
        SERVERS.labels(status, backend).inc()


def forget_server(key: str) -> None:
    with _lock:
        before = _servers.pop(key, None)
        if before is not None:
            SERVERS.labels(*before).dec()


def observe_host(name: str, status: dict[str, Any]) -> None:
    """A Host's capacity and usage, from its status (memory in MiB there, bytes here)."""
    HOST_VCPUS.labels(name).set(status.get("vcpus") or 0)
    HOST_VCPUS_USED.labels(name).set(status.get("vcpusUsed") or 0)
    HOST_MEMORY_BYTES.labels(name).set((status.get("memoryMb") or 0) * MIB)
    HOST_MEMORY_USED_BYTES.labels(name).set((status.get("memoryMbUsed") or 0) * MIB)


def forget_host(name: str) -> None:
    for gauge in (HOST_VCPUS, HOST_VCPUS_USED, HOST_MEMORY_BYTES, HOST_MEMORY_USED_BYTES):
        with contextlib.suppress(KeyError):
            gauge.remove(name)


def set_quota(namespace: str, resource: str, *, used: float, limit: float) -> None:
    """The hook for quota logic: a namespace's usage and limit of one Nova quota resource
    (``instances``, ``cores``, ``ram``, ``key_pairs``...). ``ram`` is given in MiB, as Nova
    counts it, and exposed in bytes; -1 (unlimited) stays -1."""
    scale = MIB if resource == "ram" else 1
    QUOTA_USED.labels(namespace, resource).set(used * scale)
    QUOTA_LIMIT.labels(namespace, resource).set(limit if limit < 0 else limit * scale)
    with _lock:
        _quotas.setdefault(namespace, set()).add(resource)


def forget_quota(namespace: str) -> None:
    """The namespace's Quota (or the namespace) is gone."""
    with _lock:
        resources = _quotas.pop(namespace, set())
    for resource in resources:
        for gauge in (QUOTA_USED, QUOTA_LIMIT):
            with contextlib.suppress(KeyError):
                gauge.remove(namespace, resource)
