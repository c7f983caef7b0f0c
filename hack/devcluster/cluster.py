"""A real local control plane: etcd, kube-apiserver, kube-controller-manager and kwok on loopback.

The one entry point shared by the tests (a pytest session fixture), ``bench/`` and ``make run``:

    with cluster.running(nodes=3) as c:
        c.kubectl("get", "nodes")

Each cluster lives in its own folder (certificates, kubeconfigs, etcd data, logs). The folder is
removed on a clean stop and kept when something failed, so its logs can be read. Child processes
are started with a parent-death signal: if the Python process dies, so does its control plane.

With ``kubevirt=True`` (the default) the cluster also has KubeVirt's CRDs, kwok Stages that move a
VirtualMachine's status as virt-controller would, a simulated virt-controller that keeps each
running VM's VirtualMachineInstance and runs live migrations
(:mod:`hack.devcluster.virtcontroller`), and a fake virt-api
(:mod:`hack.devcluster.virtapi`) registered through the real aggregation layer for the
``subresources.kubevirt.io`` actions (pause, unpause, soft reboot). All traffic stays on
loopback: every component listens on 127.0.0.1, and kube-apiserver reaches the fake virt-api and
webhook Services through Services of type ExternalName naming loopback addresses
(:mod:`hack.devcluster.routing`, :meth:`Cluster.route_service_here`).

kube-controller-manager runs a handful of controllers that kubenova and its tests rely on:
namespace deletion, garbage collection by owner references, default service accounts (Pods
cannot be created without one), node lifecycle (a Node without heartbeats goes NotReady) and
ClusterRole aggregation (the chart's aggregated view/edit roles), and PVC protection (it removes
the ``kubernetes.io/pvc-protection`` finalizer of a deleted claim no Pod uses, so a namespace
with volumes can finish deleting), and disruption (PodDisruptionBudgets' status, which the
eviction a drain makes checks). kube-scheduler does not run:
kubenova binds its Pods to hosts itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from hack.devcluster import (
    building,
    certs,
    kubeconfigs,
    nodes,
    podlogs,
    processes,
    routing,
    virtapi,
    virtcontroller,
)

free_ports = routing.free_ports  # for the tests and operating
_START_TIMEOUT = 90.0
_HERE = Path(__file__).resolve().parent
_CONTROLLERS = (
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "root-ca-certificate-publisher-controller",
    "node-lifecycle-controller",
    "clusterrole-aggregation-controller",
    "persistentvolumeclaim-protection-controller",
    "disruption-controller",
)
# kwok manages only the Nodes that carry this annotation, so a test can take one away to
# simulate a dead host.
KWOK_MANAGED = ("kwok.x-k8s.io/node", "fake")
POD_CIDR = "10.244.0.0/16"
NODES_WAITED = 100
"""Nodes one `kubectl wait` waits for (see :meth:`Cluster.add_nodes`)."""


class ClusterError(RuntimeError):
    """The control plane could not start or a command against it failed."""


@dataclasses.dataclass
class Cluster:
    """A running control plane; use :func:`running` or :func:`start` to get one."""

    root: Path
    kubeconfig: Path
    api_url: str
    bundle: certs.Bundle
    audit_log: Path | None = None
    """The API server's audit log (JSON lines), when started with ``audit=True``."""
    _procs: list[processes.Process] = dataclasses.field(default_factory=list)
    _routes: dict[tuple[str, str], tuple[str, processes.Process]] = dataclasses.field(default_factory=dict)

    # --- commands -------------------------------------------------------------------------

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run the cluster's own kubectl (same version as the API server) against it."""
        proc = subprocess.run(
            [str(building.binary("kubectl")), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
        return proc

    def apply(self, objects: Iterable[Mapping[str, Any]] | str, *, server_side: bool = False) -> None:
        """Apply manifests given as YAML text or as a list of objects."""
        text = objects if isinstance(objects, str) else yaml.safe_dump_all(list(objects), sort_keys=False)
        args = ["apply", "-f", "-"]
        if server_side:
            args += ["--server-side", "--field-manager=kubenova-devcluster"]
        self.kubectl(*args, input=text)

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def add_nodes(self, count: int, **kwargs: Any) -> list[str]:
        """Create simulated compute nodes; kwok makes them Ready. Returns their names."""
        manifests = nodes.compute_nodes(count, **kwargs)
        self.apply(manifests)
        names = [m["metadata"]["name"] for m in manifests]
        try:
            # In batches: kubectl waits for the objects it is given one after the other, and a
            # thousand (the scale benchmark's) outlast one call's timeout.
            for start in range(0, len(names), NODES_WAITED):
                batch = names[start : start + NODES_WAITED]
                self.kubectl("wait", "--for=condition=Ready", "--timeout=60s", *(f"node/{n}" for n in batch))
        except ClusterError:
            self.check_alive()  # a dead kwok explains it better than a timeout
            raise
        return names

    def route_service_here(self, namespace: str, service: str, port: int) -> str:
        """Make kube-apiserver reach ``service`` (at its first port, the one its webhook or
        APIService names) at ``port`` on 127.0.0.1; returns the loopback address it dials.

        The Service becomes of type ExternalName and names a loopback address of its own, where
        a forwarder (a child of the cluster) listens on the Service's port and passes each
        connection on to ``127.0.0.1:port`` (:mod:`hack.devcluster.routing`). Called again, it
        forwards the same address to the new port. A selector the Service has stays, unused."""
        svc_port = int(self.get_json("service", service, "-n", namespace)["spec"]["ports"][0]["port"])
        address, old = self._routes.pop((namespace, service), (routing.free_address(svc_port), None))
        if old is not None:
            old.stop()
            self._procs.remove(old)
        forwarder = self.spawn(
            f"route-{namespace}-{service}-{port}",
            [sys.executable, "-m", "hack.devcluster.routing", f"{address}:{svc_port}", f"{routing.LOCALHOST}:{port}"],
        )
        self._routes[(namespace, service)] = (address, forwarder)
        self.wait_for(forwarder.name, lambda: routing.listening(address, svc_port))
        patch = json.dumps(routing.external_name_patch(address))
        self.kubectl("patch", "service", service, "-n", namespace, "--type=merge", "-p", patch)
        return address

    def audit_events(self) -> list[dict[str, Any]]:
        """Every event in the audit log so far (the log is written as requests complete)."""
        if self.audit_log is None:
            raise ClusterError("this cluster was started without audit=True")
        if not self.audit_log.exists():
            return []
        return [json.loads(line) for line in self.audit_log.read_text().splitlines() if line.strip()]

    def service_account_kubeconfig(self, namespace: str, name: str, path: Path, *, hours: int = 2) -> Path:
        """A kubeconfig that authenticates as a ServiceAccount, with a token from the TokenRequest
        API (``kubectl create token``), as a Pod running as that account would."""
        token = self.kubectl("create", "token", name, "-n", namespace, f"--duration={hours}h").stdout.strip()
        return kubeconfigs.write_kubeconfig(path, self.api_url, self.bundle.ca, f"{namespace}-{name}", {"token": token})

    def env(self) -> dict[str, str]:
        """Environment for a child process (the operator, a benchmark) that talks to this cluster."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{building.KUBERNETES.bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def ssl_context(self) -> ssl.SSLContext:
        """An admin TLS context, for raw HTTP calls to the API server (metrics, readiness)."""
        ctx = ssl.create_default_context(cafile=str(self.bundle.ca.cert))
        ctx.load_cert_chain(str(self.bundle.admin.cert), str(self.bundle.admin.key))
        return ctx

    def raw_get(self, path: str, timeout: float = 10) -> str:
        with urllib.request.urlopen(self.api_url + path, context=self.ssl_context(), timeout=timeout) as resp:
            body: bytes = resp.read()
            return body.decode()

    # --- processes ------------------------------------------------------------------------

    def pids(self) -> dict[str, int]:  # read-only, for bench/'s /proc readers
        return {p.name: p.popen.pid for p in self._procs if p.popen is not None and p.running}

    def child(self, name: str) -> processes.Process:
        """The running child named ``name`` ("etcd", "kube-apiserver", "kwok"...), for
        :mod:`hack.devcluster.faults` to kill and start again."""
        return next(p for p in self._procs if p.name == name)

    def spawn(self, name: str, argv: list[str]) -> processes.Process:
        """Start a child that lives as long as the cluster, logging to ``logs/<name>.log``."""
        env = processes.python_env() if argv[0] == sys.executable else None
        proc = processes.Process(name, argv, self.root / "logs" / f"{name}.log", cwd=self.root, env=env)
        self._procs.append(proc.start())
        return proc

    def wait_for(self, what: str, ready: Callable[[], bool]) -> None:
        """Poll ``ready`` until true, failing at once if any of the cluster's children exits."""
        processes.poll_until(ready, what=what, timeout=_START_TIMEOUT, check=self.check_alive)

    def check_alive(self) -> None:
        """Raise :class:`processes.ProcessError` (with its log's tail) if a child has exited."""
        for proc in self._procs:
            proc.check()

    def stop(self, *, keep: bool = False) -> None:
        """Stop every process (newest first); remove the folder unless asked to keep it."""
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()
        if keep:
            processes.say(f"cluster folder kept with its logs: {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def default_root(name: str) -> Path:
    """Where a named cluster keeps its state (outside the repository)."""
    base = Path(os.environ.get("KUBENOVA_STATE", tempfile.gettempdir())) / "kubenova-clusters"
    return base / name


def start(root: Path | None = None, *, nodes: int = 0, kubevirt: bool = True, audit: bool | Path = False) -> Cluster:
    """Build what is missing, then start a fresh control plane in ``root`` and wait until ready.

    ``audit=True`` makes the API server write an audit log (:meth:`Cluster.audit_events`) of every
    request made by a ServiceAccount, at the Metadata level (``fixtures/audit-policy.yaml``): who
    did which verb on what. The chart's test reads it to prove that each of the operator's RBAC
    rules is used. A path instead of True is another policy (bench/replay.py records bodies).
    """
    building.ensure_all((building.KUBERNETES, building.ETCD, building.KWOK))
    root = root or Path(tempfile.mkdtemp(prefix="kubenova-cluster-"))
    if root.exists():
        shutil.rmtree(root)
    (root / "logs").mkdir(parents=True)
    started = time.monotonic()
    bundle = certs.generate(root / "pki")
    etcd_port, etcd_peer, api_port, kwok_port, kcm_port, virt_api_port = free_ports(6)
    etcd = f"http://127.0.0.1:{etcd_port}"
    api_url = f"https://127.0.0.1:{api_port}"
    cluster = Cluster(root, root / "admin.kubeconfig", api_url, bundle)
    audit_flags: list[str] = []
    if audit:
        cluster.audit_log = root / "logs" / "audit.jsonl"
        audit_flags = [
            f"--audit-policy-file={audit if isinstance(audit, Path) else _HERE / 'fixtures' / 'audit-policy.yaml'}",
            f"--audit-log-path={cluster.audit_log}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",  # each event is on disk when its request returns
            "--audit-log-maxbackup=0",
        ]
    kubeconfigs.write_kubeconfig(cluster.kubeconfig, api_url, bundle.ca, "admin", kubeconfigs.client_cert(bundle.admin))
    kcm_kubeconfig = kubeconfigs.write_kubeconfig(
        root / "controller-manager.kubeconfig", api_url, bundle.ca, "controller-manager",
        kubeconfigs.client_cert(bundle.controller_manager),
    )  # fmt: skip
    try:
        cluster.spawn("etcd", [
            str(building.binary("etcd")),
            "--name=kubenova",
            f"--data-dir={root / 'etcd'}",
            f"--listen-client-urls={etcd}",
            f"--advertise-client-urls={etcd}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-cluster=kubenova=http://127.0.0.1:{etcd_peer}",
            "--unsafe-no-fsync=true",  # a throwaway store: durability only costs time
            "--log-level=warn",
        ])  # fmt: skip
        cluster.wait_for("etcd", lambda: processes.http_ok(f"{etcd}/health"))
        cluster.spawn("kube-apiserver", [
            str(building.binary("kube-apiserver")),
            f"--etcd-servers={etcd}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # No Endpoints object for a loopback address (validation refuses it).
            "--endpoint-reconciler-type=none",
            f"--secure-port={api_port}",
            f"--tls-cert-file={bundle.serving.cert}",
            f"--tls-private-key-file={bundle.serving.key}",
            f"--client-ca-file={bundle.ca.cert}",
            # The aggregation layer (for the fake virt-api): the client certificate it shows
            # aggregated servers, and the headers in which it says who is asking.
            f"--requestheader-client-ca-file={bundle.front_proxy_ca.cert}",
            f"--requestheader-allowed-names={certs.FRONT_PROXY_CLIENT}",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-username-headers=X-Remote-User",
            f"--proxy-client-cert-file={bundle.front_proxy_client.cert}",
            f"--proxy-client-key-file={bundle.front_proxy_client.key}",
            # No --enable-aggregator-routing: an APIService's or a webhook's Service is of type
            # ExternalName and names a loopback address (see routing.py).
            # RBAC is real, so the Helm chart's rules can be tested.
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={bundle.sa_public}",
            f"--service-account-signing-key-file={bundle.sa_private}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--allow-privileged=true",
            # The simulated Nodes' InternalIPs are made up and off loopback, and no kubelet runs:
            # only their ExternalDNS address, 127.0.0.1 where kwok answers, is ever dialled
            # (pod logs; see podlogs.py).
            "--kubelet-preferred-address-types=ExternalDNS",
            "--profiling=false",
            "--v=1",
            *audit_flags,
        ])  # fmt: skip
        cluster.wait_for("kube-apiserver", lambda: processes.http_ok(f"{api_url}/readyz", cluster.ssl_context()))
        cluster.spawn("kube-controller-manager", [
            str(building.binary("kube-controller-manager")),
            f"--kubeconfig={kcm_kubeconfig}",
            f"--authentication-kubeconfig={kcm_kubeconfig}",
            f"--authorization-kubeconfig={kcm_kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={kcm_port}",
            "--leader-elect=false",
            # Each controller acts as its own service account with its bootstrap role, as in a
            # real cluster (the manager's own identity may do very little).
            "--use-service-account-credentials=true",
            f"--root-ca-file={bundle.ca.cert}",
            f"--service-account-private-key-file={bundle.sa_private}",
            f"--controllers={','.join(_CONTROLLERS)}",
            "--v=1",
        ])  # fmt: skip
        # Multus's NetworkAttachmentDefinition kind, so servers can name secondary networks (the
        # dev cluster has no CNI to attach them: the kind is here for its objects and schema).
        cluster.apply((_HERE / "fixtures" / "multus-crds.yaml").read_text())
        if kubevirt:
            cluster.apply((_HERE / "fixtures" / "kubevirt-crds.yaml").read_text())
            cluster.apply((_HERE / "fixtures" / "cdi-crds.yaml").read_text())
            # kwok reads the OpenAPI v3 document of every kind a Stage names, at start-up; it is
            # published a moment after the CRDs are established.
            cluster.wait_for("KubeVirt CRDs", lambda: _has_openapi(cluster, "apis/kubevirt.io/v1"))
            cluster.wait_for("CDI CRDs", lambda: _has_openapi(cluster, "apis/cdi.kubevirt.io/v1beta1"))
            virtapi.start(cluster, routing.LOCALHOST, virt_api_port)
            virtcontroller.start(cluster)
        stages = ("nodes", "pods", "kubevirt", "cdi") if kubevirt else ("nodes", "pods")
        cluster.spawn("kwok", [
            str(building.binary("kwok")),
            f"--kubeconfig={cluster.kubeconfig}",
            f"--manage-nodes-with-annotation-selector={'='.join(KWOK_MANAGED)}",
            f"--cidr={POD_CIDR}",
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{kwok_port}",
            # kwok answers for each Node's kubelet (pod logs), on loopback: see podlogs.py.
            f"--node-port={kwok_port}",
            f"--tls-cert-file={bundle.serving.cert}",
            f"--tls-private-key-file={bundle.serving.key}",
            f"--config={podlogs.write(root)}",
            *(f"--config={_HERE / 'stages' / f'{n}.yaml'}" for n in stages),
        ])  # fmt: skip
        # The default ServiceAccount appearing proves the controller manager works.
        default_sa = lambda: cluster.kubectl("get", "sa/default", check=False).returncode == 0  # noqa: E731
        cluster.wait_for("kube-controller-manager", default_sa)
        if kubevirt:
            # Checked last, so kube-apiserver's availability check ran while the rest started.
            cluster.wait_for(f"APIService {virtapi.APISERVICE}", lambda: virtapi.is_available(cluster))
        if nodes:
            cluster.add_nodes(nodes)
    except BaseException:
        cluster.stop(keep=True)
        raise
    processes.say(
        f"control plane ready in {time.monotonic() - started:.1f}s at {api_url} (kubeconfig {cluster.kubeconfig})"
    )
    return cluster


@contextlib.contextmanager
def running(root: Path | None = None, **kwargs: Any) -> Iterator[Cluster]:
    """Start a cluster for the duration of a block; keep its logs if the block failed."""
    cluster = start(root, **kwargs)
    failed = True
    try:
        yield cluster
        failed = False
    finally:
        cluster.stop(keep=failed or bool(os.environ.get("KUBENOVA_KEEP_CLUSTER")))


# --- helpers ------------------------------------------------------------------------------


def _has_openapi(cluster: Cluster, path: str) -> bool:
    try:
        return path in json.loads(cluster.raw_get("/openapi/v3")).get("paths", {})
    except (urllib.error.URLError, OSError, ValueError):
        return False
