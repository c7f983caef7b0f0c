"""Running the kubenova operator as a child process against a dev cluster.

Used by the test fixtures, ``bench/`` and ``make run``. A real process (not a thread) so that
tests can kill it at any moment and start it again, as a crash or a rollout would.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from hack.devcluster import certs, processes
from hack.devcluster.cluster import Cluster, free_ports


@dataclasses.dataclass
class Operator:
    cluster: Cluster
    log: Path
    health_port: int
    metrics_port: int
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    kubeconfig: Path | None = None
    """Whom the operator runs as: the cluster's admin unless given (e.g. a ServiceAccount's)."""
    process: processes.Process | None = None

    @property
    def popen(self) -> subprocess.Popen[bytes] | None:
        """The running child, as before :class:`processes.Process` held it."""
        return self.process.popen if self.process is not None else None

    def start(self, *, wait: bool = True) -> None:
        """Start it (again: the log is appended to); ``wait`` until its health endpoint answers."""
        env = {
            **processes.python_env(self.cluster.env()),
            "KUBENOVA_STANDALONE": "true",
            "KUBENOVA_HEALTH_ADDRESS": f"127.0.0.1:{self.health_port}",
            "KUBENOVA_METRICS_ADDRESS": f"127.0.0.1:{self.metrics_port}",
            "PYTHONUNBUFFERED": "1",
            **({"KUBECONFIG": str(self.kubeconfig)} if self.kubeconfig is not None else {}),
            **self.extra_env,
        }
        argv = [sys.executable, "-m", "kubenova", "operator"]
        self.process = processes.Process(self.log.stem, argv, self.log, env=env).start(append=True)
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout: float = 60) -> None:
        assert self.process is not None
        url = f"http://127.0.0.1:{self.health_port}/healthz"
        self.process.wait_until(lambda: processes.http_ok(url), what="the operator's health", timeout=timeout)

    def kill(self) -> None:
        """Kill it at once (SIGKILL), as a crash would: no cleanup handlers run."""
        if self.process is not None:
            self.process.kill()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=15)

    def restart(self) -> None:
        self.kill()
        self.start()

    def tail(self, lines: int = 60) -> str:
        return processes.tail(self.log, lines)


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
