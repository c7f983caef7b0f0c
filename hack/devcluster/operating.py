"""Running the kubenova operator as a child process against a dev cluster.

Used by the test fixtures, ``bench/`` and ``make run``. A real process (not a thread) so that
tests can kill it at any moment and start it again, as a crash or a rollout would.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from hack.devcluster import certs
from hack.devcluster.cluster import Cluster, free_ports, python_path


@dataclasses.dataclass
class Operator:
    cluster: Cluster
    log: Path
    health_port: int
    metrics_port: int
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    kubeconfig: Path | None = None
    """Whom the operator runs as: the cluster's admin unless given (e.g. a ServiceAccount's)."""
    popen: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> None:
        env = self.cluster.env()
        env.update(
            KUBENOVA_STANDALONE="true",
            KUBENOVA_HEALTH_ADDRESS=f"127.0.0.1:{self.health_port}",
            KUBENOVA_METRICS_ADDRESS=f"127.0.0.1:{self.metrics_port}",
            PYTHONUNBUFFERED="1",
        )
        env.update(python_path())
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        env.update(self.extra_env)
        fh = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "kubenova", "operator"],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        fh.close()
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"the operator exited with {self.popen.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"the operator was not healthy within {timeout:.0f}s:\n{self.tail()}")

    def kill(self) -> None:
        """Kill it at once (SIGKILL), as a crash would: no cleanup handlers run."""
        if self.popen and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.kill()
        self.start()

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# kopf names each webhook "<handler>.<configuration>", and the API server wants three dot-separated parts.
WEBHOOK_CONFIGURATION = "webhook.compute.kubenova.io"


def start(
    cluster: Cluster,
    *,
    env: dict[str, str] | None = None,
    name: str | None = None,
    kubeconfig: Path | None = None,
    webhook: bool = False,
) -> Operator:
    """Start an operator process; its log is ``logs/<name>.log`` in the cluster's folder.

    ``kubeconfig`` runs it as someone other than the admin (the chart's ServiceAccount). With
    ``webhook``, it also serves the admission webhook on loopback (a certificate from the
    cluster's CA) and keeps the ValidatingWebhookConfiguration :data:`WEBHOOK_CONFIGURATION`
    pointing at it.
    """
    health, metrics, hook = free_ports(3)
    label = name or f"operator-{health}"
    log = cluster.root / "logs" / f"{label}.log"
    extra = dict(env or {})
    if webhook:
        certs_dir = certs.webhook_certs(cluster.root / "pki" / f"webhook-{label}", cluster.bundle.ca)
        extra = {
            "KUBENOVA_WEBHOOK_LISTEN": f"127.0.0.1:{hook}",
            "KUBENOVA_WEBHOOK_HOST": "127.0.0.1",
            "KUBENOVA_WEBHOOK_CERT_DIR": str(certs_dir),
            "KUBENOVA_WEBHOOK_CONFIGURATION": WEBHOOK_CONFIGURATION,
            **extra,
        }
    op = Operator(cluster, log, health, metrics, extra, kubeconfig)
    op.start()
    return op
