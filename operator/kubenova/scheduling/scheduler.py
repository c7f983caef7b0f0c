"""One scheduling decision: filter, weigh, pick; and choose-and-claim in one step."""

from __future__ import annotations

import dataclasses
import itertools
import random
import zlib
from collections.abc import Iterable, Mapping, Sequence

from kubenova.scheduling import weighers
from kubenova.scheduling.claims import Claim, Ledger
from kubenova.scheduling.filters import (
    FILTERS,
    RESOURCES,
    Filter,
    active_filters,
    aggregate_instance_extra_specs,
    availability_zone,
    compute,
    core,
    disk,
    ram,
    tenant_isolation,
)
from kubenova.scheduling.model import Hosts, HostState, RequestSpec, Usage
from kubenova.scheduling.weighers import Weights

_ZERO = Usage(0, 0, 0)
NOVA_DEFAULTS = Weights()
_NAMES = [f for _, f in FILTERS]
_COMPUTE, _RAM, _CORE, _DISK = (_NAMES.index(f) for f in (compute, ram, core, disk))
STATIC = (availability_zone, aggregate_instance_extra_specs, tenant_isolation)
"""Filters that read only the host's facts and the request's zone, extra specs and namespace:
their verdicts are the same for every request of one kind, however the claims change."""
_STATIC_KINDS_KEPT = 256
MAX_PLACEMENT_RESULTS = 1000
"""Nova's ``[scheduler] max_placement_results`` (default 1000): at most this many hosts that pass
the filters are weighed. Nova's Placement hands the scheduler that many candidates; here the
filter loop stops once it has found them, so a decision on 10,000 hosts visits about 1,000."""


@dataclasses.dataclass(frozen=True)
class NoValidHost:
    """Nova's "No valid host was found", with how many hosts each filter removed."""

    total: int
    removed: Sequence[tuple[str, int]]
    """(filter name, hosts it removed), in the order the filters ran; filters that removed none are left out."""

    def reasons(self) -> str:
        if self.total == 0:
            return "There are no compute hosts."
        left = self.total
        parts = []
        for name, count in self.removed:
            parts.append(f"{name} removed {count} of {left}")
            left -= count
        return "There are not enough hosts available. Filtering removed all hosts: " + ", ".join(parts) + "."


@dataclasses.dataclass(frozen=True)
class Chosen:
    host: str
    candidates: int
    """How many hosts passed the filters."""


Decision = Chosen | NoValidHost


def select(
    req: RequestSpec,
    hosts: Hosts | Sequence[HostState],
    usage: Mapping[str, Usage],
    weights: Weights = NOVA_DEFAULTS,
    rng: random.Random | None = None,
    *,
    limit: int = MAX_PLACEMENT_RESULTS,
) -> Decision:
    """Filter ``hosts`` for ``req`` given the claimed ``usage``, weigh the rest, pick the best.

    The filters run in :data:`~kubenova.scheduling.filters.FILTERS` order and a host counts
    against the first that refuses it, as in Nova's sequential filtering. The four every request
    needs (compute, RAM, CPU, disk) are inlined: this loop is the scheduler's hot path.

    At most ``limit`` passing hosts are weighed (:data:`MAX_PLACEMENT_RESULTS`). The loop starts
    at a host chosen from the request's key, so that the candidates of different servers differ
    and placements spread over every host, as Placement's randomized candidates do; a request
    sees the same candidates each time it is tried. "No valid host" is only ever said after every
    host was visited, so its counts are exact.
    """
    if not isinstance(hosts, Hosts):
        hosts = Hosts(hosts)
    before, after, static = _plan(req, hosts)
    removed = [0] * len(FILTERS)
    kept: list[HostState] = []
    free: tuple[list[float], list[float], list[float]] = ([], [], [])  # RAM, CPU, disk left per kept host
    keep, add_ram, add_cpu, add_disk = kept.append, free[0].append, free[1].append, free[2].append
    vcpus, memory, disk = req.vcpus, req.memory_mb, req.disk_gb
    states = hosts.states
    for i in _visiting_order(req, len(states), limit):
        host = states[i]
        if not (host.enabled and host.up):
            removed[_COMPUTE] += 1
            continue
        used = usage.get(host.name, _ZERO)
        if before and (index := _first_refusing(before, host, req, used)) >= 0:
            removed[index] += 1
            continue
        verdict = static.verdict(i)
        if 0 <= verdict < _RAM:  # the availability zone, which Nova checks before resources
            removed[verdict] += 1
            continue
        # ``used`` by position (vcpus, memory_mb, disk_gb): on this loop an index is measurably
        # cheaper than a NamedTuple's attribute, at 10,000 hosts (bench/scheduler.py).
        free_ram = host.usable_memory_mb - used[1]
        if free_ram < memory:
            removed[_RAM] += 1
            continue
        free_cpu = host.usable_vcpus - used[0]
        if free_cpu < vcpus:
            removed[_CORE] += 1
            continue
        free_disk = host.usable_disk_gb - used[2]
        if free_disk < disk:
            removed[_DISK] += 1
            continue
        if verdict > _DISK:
            removed[verdict] += 1
            continue
        if after and (index := _first_refusing(after, host, req, used)) >= 0:
            removed[index] += 1
            continue
        keep(host)
        add_ram(free_ram)
        add_cpu(free_cpu)
        add_disk(free_disk)
        if len(kept) >= limit:
            break
    if not kept:
        return NoValidHost(len(hosts), [(FILTERS[i][0], n) for i, n in enumerate(removed) if n])
    scores = weighers.scores(kept, free, req, weights)
    return Chosen(kept[_pick(scores, weights.host_subset_size, rng)].name, len(kept))


def _visiting_order(req: RequestSpec, n: int, limit: int) -> Iterable[int]:
    """Every host's position, from one the request's key chooses when not all can be weighed."""
    start = zlib.crc32(req.key.encode()) % n if n > limit else 0
    return itertools.chain(range(start, n), range(start))


def _first_refusing(filters: Sequence[tuple[int, Filter]], host: HostState, req: RequestSpec, used: Usage) -> int:
    """The index in FILTERS of the first of ``filters`` that refuses ``host``, or -1."""
    for index, f in filters:
        if not f(host, req, used):
            return index
    return -1


def _plan(req: RequestSpec, hosts: Hosts) -> tuple[list[tuple[int, Filter]], list[tuple[int, Filter]], StaticVerdicts]:
    """The request's per-host filters before and after the resource checks, and the verdicts of
    its static ones."""
    active = active_filters(req, hosts.tenant_isolation)
    before = [(i, f) for i, f in active if i < _RAM and f not in RESOURCES and f not in STATIC]
    after = [(i, f) for i, f in active if i > _DISK and f not in STATIC]
    return before, after, static_refusals(req, hosts, [(i, f) for i, f in active if f in STATIC])


class StaticVerdicts:
    """Per host, the index in FILTERS of the first static filter that refuses it, or -1; each
    host's worked out at its first visit, then kept."""

    __slots__ = ("_active", "_hosts", "_req", "_verdicts")

    def __init__(self, req: RequestSpec, hosts: Hosts, active: Sequence[tuple[int, Filter]]) -> None:
        self._req, self._hosts, self._active = req, hosts.states, tuple(active)
        self._verdicts: list[int | None] = [None] * len(hosts.states)

    def verdict(self, i: int) -> int:
        v = self._verdicts[i]
        if v is None:
            host, req = self._hosts[i], self._req
            v = self._verdicts[i] = next((index for index, f in self._active if not f(host, req, _ZERO)), -1)
        return v


class _NoStaticFilter(StaticVerdicts):
    def verdict(self, i: int) -> int:
        return -1


def static_refusals(req: RequestSpec, hosts: Hosts, active: Sequence[tuple[int, Filter]]) -> StaticVerdicts:
    """The verdicts of the static filters for ``req``'s kind of request (zone, extra specs,
    namespace where tenants are isolated), kept with the hosts: at 10,000 hosts, re-running these
    filters was half of a decision. Worked out host by host as the loop reaches them, so a new
    kind of request costs only the hosts its decision visits."""
    if not active:
        return _NoStaticFilter(req, hosts, ())
    key = (
        req.zone,
        tuple(sorted(req.extra_specs.items())),
        req.namespace if hosts.tenant_isolation else None,
    )
    verdicts = hosts.static.get(key)
    if verdicts is None:
        if len(hosts.static) >= _STATIC_KINDS_KEPT:
            hosts.static.clear()
        verdicts = hosts.static[key] = StaticVerdicts(req, hosts, active)
    return verdicts


def _pick(scores: Sequence[float], subset: int, rng: random.Random | None) -> int:
    """The best host, or a random one of the best ``subset`` (Nova's host_subset_size)."""
    if subset <= 1:
        return max(range(len(scores)), key=scores.__getitem__)
    ranked = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:subset]
    return (rng or random).choice(ranked)


def choose_and_claim(
    req: RequestSpec,
    hosts: Hosts | Sequence[HostState],
    ledger: Ledger,
    weights: Weights = NOVA_DEFAULTS,
    rng: random.Random | None = None,
) -> Decision:
    """Select and claim in one step. The request's own earlier claim is not counted against it,
    so a resize re-claims on the same host with the new sizes only."""
    own = ledger.release(req.key)
    decision = select(req, hosts, ledger.usage(), weights, rng)
    if isinstance(decision, Chosen):
        ledger.claim(req.key, Claim(decision.host, req.vcpus, req.memory_mb, req.disk_gb))
    elif own is not None:
        ledger.claim(req.key, own)  # a failed move keeps the server where it was
    return decision
