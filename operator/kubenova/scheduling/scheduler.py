"""One scheduling decision: filter, weigh, pick; and choose-and-claim in one step."""

from __future__ import annotations

import bisect
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
    disk,
    ram,
    tenant_isolation,
)
from kubenova.scheduling.model import Hosts, HostState, RequestSpec, Usage
from kubenova.scheduling.weighers import Weights

_ZERO = Usage(0, 0, 0)
NOVA_DEFAULTS = Weights()
_NAMES = [f for _, f in FILTERS]
_RAM, _DISK = _NAMES.index(ram), _NAMES.index(disk)
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

    The filters run in :data:`~kubenova.scheduling.filters.FILTERS` order. The loop visits only
    the hosts that pass the filters which read host facts alone (enabled and up, the zone, the
    aggregates' extra specs, tenant isolation: :meth:`StaticVerdicts.passing`, worked out once
    per kind of request), and inlines the four resource checks every request needs: this loop
    is the scheduler's hot path.

    At most ``limit`` passing hosts are weighed (:data:`MAX_PLACEMENT_RESULTS`). The loop starts
    at a host chosen from the request's key, so that the candidates of different servers differ
    and placements spread over every host, as Placement's randomized candidates do; a request
    sees the same candidates each time it is tried. When no host passes, every host is counted
    against the first filter that refuses it (:func:`_no_valid_host`), as in Nova's sequential
    filtering, so "No valid host" gives exact counts.
    """
    if not isinstance(hosts, Hosts):
        hosts = Hosts(hosts)
    before, after, static = _plan(req, hosts)
    kept: list[HostState] = []
    free: tuple[list[float], list[float], list[float]] = ([], [], [])  # RAM, CPU, disk left per kept host
    keep, add_ram, add_cpu, add_disk = kept.append, free[0].append, free[1].append, free[2].append
    vcpus, memory, disk = req.vcpus, req.memory_mb, req.disk_gb
    states = hosts.states
    for i in _visiting_order(req, static.passing(), len(states), limit):
        host = states[i]
        used = usage.get(host.name, _ZERO)
        if before and _first_refusing(before, host, req, used) >= 0:
            continue
        # ``used`` by position (vcpus, memory_mb, disk_gb): on this loop an index is measurably
        # cheaper than a NamedTuple's attribute, at 10,000 hosts (bench/scheduler.py).
        free_ram = host.usable_memory_mb - used[1]
        if free_ram < memory:
            continue
        free_cpu = host.usable_vcpus - used[0]
        if free_cpu < vcpus:
            continue
        free_disk = host.usable_disk_gb - used[2]
        if free_disk < disk:
            continue
        if after and _first_refusing(after, host, req, used) >= 0:
            continue
        keep(host)
        add_ram(free_ram)
        add_cpu(free_cpu)
        add_disk(free_disk)
        if len(kept) >= limit:
            break
    if not kept:
        return _no_valid_host(req, hosts, usage)
    scores = weighers.scores(kept, free, req, weights)
    return Chosen(kept[_pick(scores, weights.host_subset_size, rng)].name, len(kept))


def _no_valid_host(req: RequestSpec, hosts: Hosts, usage: Mapping[str, Usage]) -> NoValidHost:
    """Every host counted against the first filter that refuses it, all filters as functions in
    FILTERS order: Nova's sequential filtering, spelled plainly (a failing decision is rare, and
    its counts are what an admin reads)."""
    active = active_filters(req, hosts.tenant_isolation)
    removed = [0] * len(FILTERS)
    for host in hosts.states:
        index = _first_refusing(active, host, req, usage.get(host.name, _ZERO))
        if index >= 0:
            removed[index] += 1
    return NoValidHost(len(hosts), [(FILTERS[i][0], n) for i, n in enumerate(removed) if n])


def _visiting_order(req: RequestSpec, positions: Sequence[int], n: int, limit: int) -> Iterable[int]:
    """``positions`` (ascending, of ``n`` hosts), from the first at or after a host the
    request's key chooses when not all can be weighed, round to the one before it."""
    start = bisect.bisect_left(positions, zlib.crc32(req.key.encode()) % n) if n > limit else 0
    return itertools.chain(itertools.islice(positions, start, None), itertools.islice(positions, start))


def _first_refusing(filters: Sequence[tuple[int, Filter]], host: HostState, req: RequestSpec, used: Usage) -> int:
    """The index in FILTERS of the first of ``filters`` that refuses ``host``, or -1."""
    for index, f in filters:
        if not f(host, req, used):
            return index
    return -1


def _plan(req: RequestSpec, hosts: Hosts) -> tuple[list[tuple[int, Filter]], list[tuple[int, Filter]], StaticVerdicts]:
    """The request's per-host filters before and after the resource checks (those reading what
    is claimed, or the request's own hosts), and the verdicts of its static ones."""
    active = active_filters(req, hosts.tenant_isolation)
    before = [(i, f) for i, f in active if i < _RAM and f not in RESOURCES and f not in STATIC]
    after = [(i, f) for i, f in active if i > _DISK and f not in STATIC]
    return before, after, static_refusals(req, hosts, [(i, f) for i, f in active if f in STATIC])


class StaticVerdicts:
    """For one kind of request, the hosts that pass every filter reading host facts alone: the
    service enabled and up, and the request's static filters (zone, extra specs, tenant)."""

    __slots__ = ("_active", "_hosts", "_passing", "_req")

    def __init__(self, req: RequestSpec, hosts: Hosts, active: Sequence[tuple[int, Filter]]) -> None:
        self._req, self._hosts, self._active = req, hosts.states, tuple(active)
        self._passing: list[int] | None = None

    def passing(self) -> list[int]:
        """Their positions, ascending; worked out at the first decision of the kind, then kept."""
        if self._passing is None:
            states, req = self._hosts, self._req
            up = [i for i, host in enumerate(states) if host.enabled and host.up]
            for _, f in self._active:
                up = [i for i in up if f(states[i], req, _ZERO)]
            self._passing = up
        return self._passing


def static_refusals(req: RequestSpec, hosts: Hosts, active: Sequence[tuple[int, Filter]]) -> StaticVerdicts:
    """The static verdicts for ``req``'s kind of request (its zone, extra specs, and namespace
    where tenants are isolated), kept with the hosts: at 10,000 hosts, re-running these filters
    was half of a decision, and visiting the hosts they refuse most of the rest."""
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


def _pick(scores: list[float], subset: int, rng: random.Random | None) -> int:
    """The best host (the first of equals), or a random one of the best ``subset`` (Nova's
    host_subset_size)."""
    if subset <= 1:
        return scores.index(max(scores))
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
