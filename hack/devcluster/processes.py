"""The dev cluster's child processes: started with their output in a log file, watched, stopped.

One class for all of them: the control plane's components (:mod:`hack.devcluster.cluster`), the
fake virt-api, the loopback forwarders and the operator (:mod:`hack.devcluster.operating`). Each
child gets a parent-death signal: if the Python process that started it dies, even by SIGKILL,
the kernel stops the child too, so a killed test run leaves no etcd or operator behind.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

POLL = 0.2
_REPO = Path(__file__).resolve().parents[2]


class ProcessError(RuntimeError):
    """A child exited, or was not ready in time; the message ends with its log's last lines."""


@dataclasses.dataclass
class Process:
    """A child process whose stdout and stderr go to ``log``."""

    name: str
    argv: Sequence[str]
    log: Path
    cwd: Path | None = None
    env: Mapping[str, str] | None = None
    """The child's whole environment; None inherits this process's."""
    popen: subprocess.Popen[bytes] | None = None

    def start(self, *, append: bool = False) -> Process:
        """Start it (again); ``append`` keeps the log of an earlier run."""
        fh: IO[bytes] = open(self.log, "ab" if append else "wb")  # noqa: SIM115 - the child owns it
        try:
            self.popen = subprocess.Popen(
                list(self.argv),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.cwd,
                env=dict(self.env) if self.env is not None else None,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )
        finally:
            fh.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check(self) -> None:
        """Raise :class:`ProcessError` if it has exited."""
        if self.popen is not None and self.popen.poll() is not None:
            raise ProcessError(f"{self.name} exited with {self.popen.returncode}; log {self.log}:\n{self.tail()}")

    def wait_until(self, ready: Callable[[], bool], *, what: str | None = None, timeout: float = 90) -> None:
        """Poll ``ready`` until true, failing at once if the process exits."""
        poll_until(ready, what=what or self.name, timeout=timeout, check=self.check, log=self.log)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        if not self.running:
            return
        assert self.popen is not None
        self.popen.terminate()
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL at once, as a crash would: no cleanup handlers run."""
        if self.running:
            assert self.popen is not None
            self.popen.kill()
            self.popen.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)


def python_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (this process's environment by default) with ``PYTHONPATH`` such that a Python
    child imports ``hack.devcluster`` and ``kubenova`` from this checkout (a worktree, a clone),
    whatever its working directory."""
    import kubenova

    env = dict(os.environ if base is None else base)
    roots = [str(_REPO), str(Path(kubenova.__file__).resolve().parent.parent)]
    current = env.get("PYTHONPATH", "")
    return {**env, "PYTHONPATH": os.pathsep.join([*roots, current] if current else roots)}


def poll_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float = 90,
    check: Callable[[], None] = lambda: None,
    log: Path | None = None,
) -> None:
    """Call ``check`` (which raises when something died) and ``ready`` until ``ready`` is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        if ready():
            return
        time.sleep(POLL)
    raise ProcessError(f"{what} was not ready within {timeout:.0f}s" + (f"; log {log}:\n{tail(log)}" if log else ""))


def http_ok(url: str, context: ssl.SSLContext | None = None, timeout: float = 2) -> bool:
    """Whether ``url`` answers 200 (``context``: an ``ssl.SSLContext`` for https)."""
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def say(msg: str) -> None:
    print(f"[devcluster] {msg}", file=sys.stderr, flush=True)


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the kernel sends SIGTERM to the child when its parent dies.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)
