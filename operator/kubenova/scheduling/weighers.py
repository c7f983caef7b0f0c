"""Nova's weighers: each gives every kept host a raw value; values are normalised to 0..1 over
the kept hosts (``nova/weights.py``), multiplied by the weigher's multiplier and summed.

A positive RAM, CPU or disk multiplier spreads servers (most free first); a negative one stacks
them. Soft (anti-)affinity weighs by how many group members a host already has.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kubenova.scheduling.model import HostState, RequestSpec


@dataclasses.dataclass(frozen=True)
class Weights:
    """Multipliers, Nova's defaults; host_subset_size picks randomly among the best N."""

    ram: float = 1.0
    cpu: float = 1.0
    disk: float = 1.0
    soft_affinity: float = 1.0
    soft_anti_affinity: float = 1.0
    host_subset_size: int = 1


def scores(
    hosts: Sequence[HostState],
    free: tuple[Sequence[float], Sequence[float], Sequence[float]],
    req: RequestSpec,
    w: Weights,
) -> list[float]:
    """The weighted sum per host: RAMWeigher, CPUWeigher and DiskWeigher on what is free after
    ratios, and the soft (anti-)affinity weigher on group members; each normalised over the
    given hosts as Nova does (a constant column weighs 0 for every host)."""
    result = [0.0] * len(hosts)
    columns: list[tuple[float, Sequence[float]]] = [
        (w.ram, free[0]),
        (w.cpu, free[1]),
        (w.disk, free[2]),
    ]
    g = req.group
    if g is not None and g.policy in ("soft-affinity", "soft-anti-affinity"):
        sign, multiplier = (1.0, w.soft_affinity) if g.policy == "soft-affinity" else (-1.0, w.soft_anti_affinity)
        columns.append((multiplier, [sign * g.member_hosts.get(h.name, 0) for h in hosts]))
    weighed = []  # (x - low) * scale per column: each column normalised to 0..1, times its multiplier
    for multiplier, column in columns:
        if not multiplier:
            continue
        low, high = min(column), max(column)
        if high != low:
            weighed.append((column, low, multiplier / (high - low)))
    # One pass over the hosts for the usual three columns (the sums are made in the same order
    # as column by column, so the scores are the same to the bit).
    if len(weighed) == 3:
        (a, la, sa), (b, lb, sb), (c, lc, sc) = weighed
        return [(x - la) * sa + (y - lb) * sb + (z - lc) * sc for x, y, z in zip(a, b, c, strict=True)]
    result = [0.0] * len(hosts)
    for column, low, scale in weighed:
        result = [r + (x - low) * scale for r, x in zip(result, column, strict=True)]
    return result
