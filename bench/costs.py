"""CPU seconds and peak memory of processes, read from ``/proc`` (Linux).

``/proc/<pid>/stat`` gives utime and stime (fields 14, 15) and the waited-for children's cutime
and cstime (16, 17) in clock ticks; ``/proc/<pid>/status`` gives VmHWM (peak resident set) and
VmRSS in kB. :func:`snapshot` reads both for a set of named pids; :func:`per_server` turns two
snapshots into CPU milliseconds per Server built and peak RSS in MB. The parsers are pure and
unit-tested (tests/unit/bench/test_costs.py).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass(frozen=True)
class Usage:
    cpu_s: float
    """utime + stime (+ the waited-for children's when asked), seconds."""
    hwm_kb: int
    """VmHWM: the peak resident set, kB."""
    rss_kb: int


def parse_stat(text: str, *, children: bool = False) -> float:
    """CPU seconds from the text of ``/proc/<pid>/stat``. The command (field 2) is in parentheses
    and may hold spaces or parentheses itself, so fields are counted after its last ')'."""
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): field n is rest[n - 3].
    ticks = int(rest[11]) + int(rest[12])
    if children:
        ticks += int(rest[13]) + int(rest[14])
    return ticks / TICKS


def parse_status(text: str) -> tuple[int, int]:
    """(VmHWM, VmRSS) in kB from the text of ``/proc/<pid>/status`` (0 when absent: a zombie)."""
    values = {"VmHWM": 0, "VmRSS": 0}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in values:
            values[key] = int(value.split()[0])
    return values["VmHWM"], values["VmRSS"]


def read(pid: int, *, children: bool = False, proc: Path = Path("/proc")) -> Usage:
    cpu = parse_stat((proc / str(pid) / "stat").read_text(), children=children)
    hwm, rss = parse_status((proc / str(pid) / "status").read_text())
    return Usage(cpu, hwm, rss)


def snapshot(pids: Mapping[str, int], *, children: frozenset[str] = frozenset()) -> dict[str, Usage]:
    """Usage of each named pid; a process that has gone is left out."""
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = read(pid, children=name in children)
        except (OSError, ValueError, IndexError):
            continue
    return out


def per_server(before: Mapping[str, Usage], after: Mapping[str, Usage], servers: int) -> dict[str, dict[str, float]]:
    """For each process in both snapshots: CPU seconds spent between them, that per Server in
    milliseconds, and its peak RSS in MB at the second."""
    out = {}
    for name, end in after.items():
        start = before.get(name)
        if start is None:
            continue
        cpu = end.cpu_s - start.cpu_s
        out[name] = {
            "cpu_s": round(cpu, 3),
            "cpu_ms_per_server": round(cpu * 1000 / servers, 2) if servers else 0.0,
            "peak_rss_mb": round(end.hwm_kb / 1024, 1),
        }
    return out


def total_cpu(costs: Mapping[str, Mapping[str, float]], names: tuple[str, ...]) -> float:
    return sum(costs[n]["cpu_ms_per_server"] for n in names if n in costs)


def machine_cpu_ms(costs: Mapping[str, Mapping[str, float]]) -> float:
    """CPU milliseconds per Server summed over every process: what one Server costs the machine."""
    return round(sum(c["cpu_ms_per_server"] for c in costs.values()), 2)
