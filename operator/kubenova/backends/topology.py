"""A kubevirt guest's CPU topology from the flavor's ``hw:cpu_*`` extra specs and the image's
``hw_cpu_*`` properties, as Nova chooses it (``nova/virt/hardware.py``'s
``get_cpu_topology_constraints`` and ``get_best_cpu_topology``), with Nova's messages.

* ``hw:cpu_max_sockets|cores|threads`` (flavor) and ``hw_cpu_max_*`` (image) are limits; the
  image's may only lower the flavor's.
* ``hw:cpu_sockets|cores|threads`` and ``hw_cpu_*`` are preferences (the image's win), within
  the limits.
* The topology is sockets x cores x threads = the flavor's vcpus, within the limits, matching
  the most preferences; ties go to more sockets, then more cores, as Nova's.

Rendered as ``domain.cpu.sockets``, ``cores`` and ``threads``. The limits only bound the choice:
KubeVirt's ``maxSockets`` is the ceiling for CPU hot-plug, which Nova has no notion of, so it is
not set. With none of these given, the topology is kubenova's default: one socket, vcpus cores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIELDS = ("sockets", "cores", "threads")
UNLIMITED = 65536
"""Nova's limit when none is given."""


class TopologyProblem(ValueError):
    """Nova's 400 for a topology the flavor and image cannot give."""


def _ints(source: Mapping[str, Any], prefix: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for field in FIELDS:
        raw = source.get(prefix + field)
        if raw is None or str(raw).strip() == "":
            continue
        try:
            value = int(str(raw))
        except ValueError:
            raise TopologyProblem(f"Invalid {prefix}{field} value {raw!r}: it must be a whole number.") from None
        if value < 1:
            raise TopologyProblem(f"Invalid {prefix}{field} value {raw!r}: it must be at least 1.")
        out[field] = value
    return out


def _triple(values: Mapping[str, int]) -> str:
    return ", ".join(f"{f}={values[f]}" for f in FIELDS)


def choose(vcpus: int, extra_specs: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, int]:
    """The guest's sockets, cores and threads; :class:`TopologyProblem` with Nova's message if
    the limits or preferences cannot be met."""
    flavor_max, image_max = _ints(extra_specs, "hw:cpu_max_"), _ints(properties, "hw_cpu_max_")
    flavor_pref, image_pref = _ints(extra_specs, "hw:cpu_"), _ints(properties, "hw_cpu_")
    if not (flavor_max or image_max or flavor_pref or image_pref):
        return {"sockets": 1, "cores": vcpus, "threads": 1}
    fmax = {f: flavor_max.get(f, UNLIMITED) for f in FIELDS}
    imax = {f: image_max.get(f, fmax[f]) for f in FIELDS}
    if any(imax[f] > fmax[f] for f in FIELDS):
        raise TopologyProblem(
            f"Image vCPU topology limits ({_triple(imax)}) exceeds the limits of the flavor ({_triple(fmax)})"
        )
    limits = {f: min(fmax[f], imax[f]) for f in FIELDS}
    preferred = image_pref or flavor_pref
    if any(preferred[f] > limits[f] for f in preferred):
        wanted = {f: preferred.get(f, -1) for f in FIELDS}
        raise TopologyProblem(
            f"Image vCPU topology ({_triple(wanted)}) exceeds the limits of the flavor or image ({_triple(limits)})"
        )
    possible = [
        {"sockets": s, "cores": c, "threads": t}
        for s in range(min(vcpus, limits["sockets"]), 0, -1)
        for c in range(min(vcpus, limits["cores"]), 0, -1)
        for t in range(min(vcpus, limits["threads"]), 0, -1)
        if s * c * t == vcpus
    ]
    if not possible:
        raise TopologyProblem(
            f"Requested vCPU limits {limits['sockets']}:{limits['cores']}:{limits['threads']} "
            f"are impossible to satisfy for vcpus count {vcpus}"
        )
    # The most preferences met; the order above (more sockets, then cores) breaks ties.
    return max(possible, key=lambda top: sum(top[f] == v for f, v in preferred.items()))
