"""The ``openstack`` CLI, started warm: each command is the real CLI (python-openstackclient's own
``main``, with the same arguments and environment) in a process of its own, forked from one that
imported it once.

Why: a cold ``openstack`` spends about 1.2 s of CPU starting Python and importing
openstackclient, openstacksdk and keystoneauth before it sends a request, and the Compute API
tests run it about a hundred times (each ``--wait`` or status poll is more). Forked, a command
costs what it does. Each command still starts from the same imported-but-unused state, in its own
process with its own environment and file descriptors, so commands cannot see each other.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

# The forking server, run by the tests' Python (whose environment has openstackclient). It reads
# one JSON request per line ({"argv", "env"}) and answers {"pid"} at the fork, then
# {"rc", "stdout", "stderr"} when the command has ended.
_SERVER = r"""
import json, logging, os, sys, tempfile, traceback

sys.argv = ["openstack"]  # argparse's program name, read at import
import keystoneauth1.session, openstack.connection, osc_lib.command.command  # noqa: F401
import openstackclient.compute.v2.server  # noqa: F401
from openstackclient import shell

# Once here, so that every fork finds openstackclient's plugins (compute, image, network...) and
# entry points loaded: they are read on the first command, not at import.
with open(os.devnull, "w") as devnull:
    saved, sys.stdout = sys.stdout, devnull
    shell.main(["help", "server", "list"])
    sys.stdout = saved

def serve():
    for line in sys.stdin:
        req = json.loads(line)
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        pid = os.fork()
        if pid == 0:
            rc = 1
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                os.environ.clear()
                os.environ.update(req["env"])
                sys.argv = ["openstack", *req["argv"]]
                logging.root.handlers.clear()  # the warm-up's, which the command adds again
                rc = shell.main(req["argv"]) or 0
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(rc)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        texts = []
        for f in (out, err):
            f.seek(0)
            texts.append(f.read().decode(errors="replace"))
            f.close()
        print(json.dumps({"rc": rc, "stdout": texts[0], "stderr": texts[1]}), flush=True)

serve()
"""


class Cli:
    """One forking server for the session, started at the first command."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    def _server(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _SERVER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
            )
            atexit.register(self.close)
        return self._proc

    def run(self, argv: Sequence[str], env: Mapping[str, str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        proc = self._server()
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(json.dumps({"argv": list(argv), "env": dict(env)}) + "\n")
        proc.stdin.flush()
        pid = json.loads(proc.stdout.readline())["pid"]
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            timed_out = not sel.select(timeout)
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        done = json.loads(proc.stdout.readline())  # the server answers once the command has ended
        if timed_out:
            raise subprocess.TimeoutExpired(["openstack", *argv], timeout, done["stdout"], done["stderr"])
        return subprocess.CompletedProcess(["openstack", *argv], done["rc"], done["stdout"], done["stderr"])

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


CLI = Cli()
