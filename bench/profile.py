"""Where the operator's CPU goes during a build: ``py-spy record --format raw`` (collapsed
stacks, active threads only, so samples are CPU) attached to the operator for the build, and the
samples grouped by the leaf frame's module (:func:`group_of`, pure and unit-tested)."""

from __future__ import annotations

import collections
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

RATE = 50  # samples per second: light on a shared 2-core machine
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
_GROUPS = (
    ("kopf/", "kopf (event handling, watches, patches)"),
    ("lightkube/", "lightkube (client, models)"),
    ("httpx/", "HTTP client (httpx, httpcore, h11, ssl)"),
    ("httpcore/", "HTTP client (httpx, httpcore, h11, ssl)"),
    ("h11/", "HTTP client (httpx, httpcore, h11, ssl)"),
    ("ssl.py", "HTTP client (httpx, httpcore, h11, ssl)"),
    ("aiohttp/", "kopf's aiohttp (watch streams)"),
    ("pydantic", "pydantic (models, validation)"),
    ("json/", "JSON"),
    ("asyncio/", "asyncio event loop"),
    ("selectors.py", "asyncio event loop"),
    ("logging/", "logging"),
    ("concurrent/futures/", "thread pool (run_in_executor)"),
    ("threading.py", "thread pool (run_in_executor)"),
    ("yaml/", "YAML"),
    ("prometheus_client/", "metrics"),
)


def group_of(frame: str) -> str:
    """The group of one py-spy frame (``function (path/to/file.py:line)``)."""
    m = _FRAME.match(frame.strip())
    path = m["file"] if m else frame
    for needle, group in _GROUPS:
        if needle in path:
            return group
    k = path.find("kubenova/")
    if k >= 0:
        rest = path[k + len("kubenova/") :].split("/")
        return "kubenova." + (rest[0].removesuffix(".py") if rest else "")
    return "other"


# Not owners: the standard library, and the operator's entry frames under which everything runs.
_STDLIB = frozenset(
    {"asyncio event loop", "JSON", "logging", "other", "kubenova.operator", "kubenova.__main__", "kubenova.cli"}
)


def owner_of(stack: list[str]) -> str:
    """Whose work a sample is: the group of the innermost frame in a library or in kubenova
    (the standard library's asyncio, json, copy, threading... are charged to their caller)."""
    for frame in reversed(stack):
        group = group_of(frame)
        if group not in _STDLIB:
            return group
    leaf = group_of(stack[-1]) if stack else "other"
    return "asyncio event loop" if leaf.startswith("kubenova.") else leaf


def summarize(raw: str, top: int = 12) -> dict[str, Any]:
    """Samples by the leaf frame's group, by owner (:func:`owner_of`), and the top leaf
    functions, in percent."""
    groups: collections.Counter[str] = collections.Counter()
    owners: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        leaf = frames[-1]
        groups[group_of(leaf)] += n
        owners[owner_of(frames)] += n
        m = _FRAME.match(leaf.strip())
        leaves[f"{m['func']} ({Path(m['file']).name})" if m else leaf] += n
        total += n
    if not total:
        return {"samples": 0}

    def pct(c: collections.Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / total, 1) for k, v in c.most_common(top)}

    return {
        "samples": total,
        "by_owner_pct": pct(owners),
        "by_leaf_group_pct": pct(groups),
        "top_functions_pct": pct(leaves),
    }


class Recorder:
    """``py-spy record`` on ``pid`` from :meth:`start` to :meth:`stop` (SIGINT makes it write)."""

    def __init__(self, pid: int, out: Path) -> None:
        self.pid = pid
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None
        self.error = ""

    def start(self) -> Recorder:
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(exe).exists():
            self.error = "py-spy not installed (make venv installs the dev extras)"
            return self
        argv = [exe, "record", "--format", "raw", "--rate", str(RATE), "--nonblocking", "-p", str(self.pid)]
        log = self.out.with_suffix(".log").open("wb")
        self.proc = subprocess.Popen([*argv, "-o", str(self.out)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def stop(self) -> dict[str, Any]:
        if self.proc is None:
            return {"error": self.error}
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if not self.out.exists():
            log = self.out.with_suffix(".log")
            return {"error": log.read_text(errors="replace")[-500:] if log.exists() else "no output"}
        return summarize(self.out.read_text(errors="replace"))
