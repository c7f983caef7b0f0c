"""A real local control plane: etcd, kube-apiserver, kube-controller-manager and kwok on loopback.

The one entry point shared by the tests (a pytest session fixture), ``bench/`` and ``make run``:

    with cluster.running(nodes=3) as c:
        c.kubectl("get", "nodes")

Each cluster lives in its own folder (certificates, kubeconfigs, etcd data, logs). The folder is
removed on a clean stop and kept when something failed, so its logs can be read. Child processes
are started with a parent-death signal: if the Python process dies, so does its control plane.

With ``kubevirt=True`` (the default) the cluster also has KubeVirt's CRDs, kwok Stages that move a
VirtualMachine's status as virt-controller would, and a fake virt-api
(:mod:`hack.devcluster.virtapi`) registered through the real aggregation layer for the
``subresources.kubevirt.io`` actions (pause, unpause, soft reboot).

kube-controller-manager runs a handful of controllers that kubenova and its tests rely on:
namespace deletion, garbage collection by owner references, default service accounts (Pods
cannot be created without one), node lifecycle (a Node without heartbeats goes NotReady) and
ClusterRole aggregation (the chart's aggregated view/edit roles). kube-scheduler does not run:
kubenova binds its Pods to hosts itself.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import dataclasses
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import IO, Any

import yaml

from hack.devcluster import building, certs, nodes, routing, virtapi

_START_TIMEOUT = 90.0
_CONTROLLERS = (
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "root-ca-certificate-publisher-controller",
    "node-lifecycle-controller",
    "clusterrole-aggregation-controller",
)
# kwok manages only the Nodes that carry this annotation, so a test can take one away to
# simulate a dead host.
KWOK_MANAGED = ("kwok.x-k8s.io/node", "fake")
POD_CIDR = "10.244.0.0/16"
# Requests by ServiceAccounts (the operator run as the chart's account), without bodies; the
# control plane's own components and the admin are left out to keep the log small.
AUDIT_POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    # A watch is logged at ResponseStarted (its ResponseComplete comes when it ends, minutes later).
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "userGroups": ["system:serviceaccounts:kube-system"]},
        {"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
        {"level": "None"},
    ],
}


class ClusterError(RuntimeError):
    """The control plane could not start or a command against it failed."""


@dataclasses.dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclasses.dataclass
class Cluster:
    """A running control plane; use :func:`running` or :func:`start` to get one."""

    root: Path
    kubeconfig: Path
    api_url: str
    bundle: certs.Bundle
    audit_log: Path | None = None
    """The API server's audit log (JSON lines), when started with ``audit=True``."""
    _procs: list[_Proc] = dataclasses.field(default_factory=list)

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
            self.kubectl("wait", "--for=condition=Ready", "--timeout=60s", *(f"node/{n}" for n in names))
        except ClusterError:
            self.check_alive()  # a dead kwok explains it better than a timeout
            raise
        return names

    def route_service_here(self, namespace: str, service: str, port: int) -> str:
        """Make kube-apiserver reach ``service`` (its first port) at ``port`` on this machine, with
        an EndpointSlice written by hand (:mod:`hack.devcluster.routing`); returns the address.

        The Service may keep a selector: no EndpointSlice controller runs here, nor any Pod. If
        something else did publish ready endpoints for it, kube-apiserver would pick one of all
        the slices' endpoints at random, so that is refused rather than left to chance."""
        svc = self.get_json("service", service, "-n", namespace)
        port_name = svc["spec"]["ports"][0].get("name", "")
        others = [
            s["metadata"]["name"]
            for s in self.get_json("endpointslices", "-n", namespace, "-l", f"kubernetes.io/service-name={service}")[
                "items"
            ]
            if s["metadata"]["name"] != service and s.get("endpoints")
        ]
        if others:
            raise ClusterError(f"Service {namespace}/{service} has endpoints elsewhere already: {others}")
        address = routing.host_ipv4()
        self.apply([routing.endpoint_slice(namespace, service, address, port, port_name=port_name)])
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
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kubenova-dev",
                    "cluster": {
                        "server": self.api_url,
                        "certificate-authority-data": base64.b64encode(self.bundle.ca.cert.read_bytes()).decode(),
                    },
                }
            ],
            "users": [{"name": f"{namespace}-{name}", "user": {"token": token}}],
            "contexts": [{"name": "sa", "context": {"cluster": "kubenova-dev", "user": f"{namespace}-{name}"}}],
            "current-context": "sa",
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

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

    # --- lifecycle ------------------------------------------------------------------------

    def stop(self, *, keep: bool = False) -> None:
        """Stop every process (newest first); remove the folder unless asked to keep it."""
        for proc in reversed(self._procs):
            _terminate(proc.popen)
        self._procs.clear()
        if keep:
            _say(f"cluster folder kept with its logs: {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def check_alive(self) -> None:
        for proc in self._procs:
            if proc.popen.poll() is not None:
                raise ClusterError(f"{proc.name} exited with {proc.popen.returncode}; log:\n{_tail(proc.log)}")


def default_root(name: str) -> Path:
    """Where a named cluster keeps its state (outside the repository)."""
    base = Path(os.environ.get("KUBENOVA_STATE", tempfile.gettempdir())) / "kubenova-clusters"
    return base / name


def start(root: Path | None = None, *, nodes: int = 0, kubevirt: bool = True, audit: bool = False) -> Cluster:
    """Build what is missing, then start a fresh control plane in ``root`` and wait until ready.

    ``audit=True`` makes the API server write an audit log (:meth:`Cluster.audit_events`) of every
    request made by a ServiceAccount, at the Metadata level: who did which verb on what. The
    chart's test reads it to prove that each of the operator's RBAC rules is used.
    """
    building.ensure_all((building.KUBERNETES, building.ETCD, building.KWOK))
    root = root or Path(tempfile.mkdtemp(prefix="kubenova-cluster-"))
    if root.exists():
        shutil.rmtree(root)
    (root / "logs").mkdir(parents=True)
    started = time.monotonic()
    # Where kube-apiserver reaches the fake virt-api: an address an EndpointSlice may name.
    virt_api_ip = routing.host_ipv4() if kubevirt else None
    bundle = certs.generate(root / "pki", virt_api_ips=[virt_api_ip] if virt_api_ip else [])
    etcd_port, etcd_peer, api_port, kwok_port, virt_api_port = free_ports(5)
    api_url = f"https://127.0.0.1:{api_port}"
    cluster = Cluster(root, root / "admin.kubeconfig", api_url, bundle)
    audit_flags: list[str] = []
    if audit:
        cluster.audit_log = root / "logs" / "audit.jsonl"
        policy = root / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY, sort_keys=False))
        audit_flags = [
            f"--audit-policy-file={policy}",
            f"--audit-log-path={cluster.audit_log}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",  # each event is on disk when its request returns
            "--audit-log-maxbackup=0",
        ]
    _write_kubeconfig(cluster.kubeconfig, api_url, bundle.ca.cert, bundle.admin)
    kcm_kubeconfig = root / "controller-manager.kubeconfig"
    _write_kubeconfig(kcm_kubeconfig, api_url, bundle.ca.cert, bundle.controller_manager)
    try:
        cluster._procs.append(
            _spawn(
                root,
                "etcd",
                [
                    str(building.binary("etcd")),
                    "--name=kubenova",
                    f"--data-dir={root / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-cluster=kubenova=http://127.0.0.1:{etcd_peer}",
                    "--unsafe-no-fsync=true",  # a throwaway store: durability only costs time
                    "--log-level=warn",
                ],
            )
        )
        _wait(cluster, "etcd", lambda: _http_ok(f"http://127.0.0.1:{etcd_port}/health"))
        cluster._procs.append(
            _spawn(
                root,
                "kube-apiserver",
                [
                    str(building.binary("kube-apiserver")),
                    f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    # No Endpoints object for a loopback address (validation refuses it).
                    "--endpoint-reconciler-type=none",
                    f"--secure-port={api_port}",
                    f"--tls-cert-file={bundle.serving.cert}",
                    f"--tls-private-key-file={bundle.serving.key}",
                    f"--client-ca-file={bundle.ca.cert}",
                    # The aggregation layer (for the fake virt-api): the client certificate it
                    # shows aggregated servers, and the headers in which it says who is asking.
                    f"--requestheader-client-ca-file={bundle.front_proxy_ca.cert}",
                    f"--requestheader-allowed-names={certs.FRONT_PROXY_CLIENT}",
                    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                    "--requestheader-group-headers=X-Remote-Group",
                    "--requestheader-username-headers=X-Remote-User",
                    f"--proxy-client-cert-file={bundle.front_proxy_client.cert}",
                    f"--proxy-client-key-file={bundle.front_proxy_client.key}",
                    # Dial an APIService's or a webhook Service's endpoints, not its cluster IP:
                    # no kube-proxy runs here to route one (see routing.py).
                    "--enable-aggregator-routing=true",
                    # RBAC is real, so the Helm chart's rules can be tested.
                    "--authorization-mode=Node,RBAC",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    f"--service-account-key-file={bundle.sa_public}",
                    f"--service-account-signing-key-file={bundle.sa_private}",
                    "--service-cluster-ip-range=10.96.0.0/16",
                    "--allow-privileged=true",
                    "--profiling=false",
                    "--v=1",
                    *audit_flags,
                ],
            )
        )
        _wait(cluster, "kube-apiserver", lambda: _readyz(cluster))
        cluster._procs.append(
            _spawn(
                root,
                "kube-controller-manager",
                [
                    str(building.binary("kube-controller-manager")),
                    f"--kubeconfig={kcm_kubeconfig}",
                    f"--authentication-kubeconfig={kcm_kubeconfig}",
                    f"--authorization-kubeconfig={kcm_kubeconfig}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={free_ports(1)[0]}",
                    "--leader-elect=false",
                    # Each controller acts as its own service account with its bootstrap role,
                    # as in a real cluster (the manager's own identity may do very little).
                    "--use-service-account-credentials=true",
                    f"--root-ca-file={bundle.ca.cert}",
                    f"--service-account-private-key-file={bundle.sa_private}",
                    f"--controllers={','.join(_CONTROLLERS)}",
                    "--v=1",
                ],
            )
        )
        if kubevirt:
            cluster.apply(_package_text("fixtures", "kubevirt-crds.yaml"))
            # kwok reads the OpenAPI v3 document of every kind a Stage names, at start-up; it is
            # published a moment after the CRDs are established.
            _wait(cluster, "KubeVirt CRDs", lambda: _has_openapi(cluster, "apis/kubevirt.io/v1"))
            assert virt_api_ip is not None
            _start_virt_api(cluster, virt_api_ip, virt_api_port)
        stage_files = [_stage_file(root, n) for n in ("nodes", "pods", *(("kubevirt",) if kubevirt else ()))]
        cluster._procs.append(
            _spawn(
                root,
                "kwok",
                [
                    str(building.binary("kwok")),
                    f"--kubeconfig={cluster.kubeconfig}",
                    f"--manage-nodes-with-annotation-selector={'='.join(KWOK_MANAGED)}",
                    f"--cidr={POD_CIDR}",
                    "--node-lease-duration-seconds=40",
                    f"--server-address=127.0.0.1:{kwok_port}",
                    *(f"--config={f}" for f in stage_files),
                ],
            )
        )
        # The default ServiceAccount appearing proves the controller manager works.
        _wait(cluster, "kube-controller-manager", lambda: _has_default_sa(cluster))
        if kubevirt:
            # Checked last, so kube-apiserver's availability check ran while the rest started.
            _wait(cluster, f"APIService {virtapi.APISERVICE}", lambda: _apiservice_available(cluster))
        if nodes:
            cluster.add_nodes(nodes)
    except BaseException:
        cluster.stop(keep=True)
        raise
    _say(f"control plane ready in {time.monotonic() - started:.1f}s at {api_url} (kubeconfig {cluster.kubeconfig})")
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


def _package_text(folder: str, name: str) -> str:
    return resources.files("hack.devcluster").joinpath(folder, name).read_text()


def _stage_file(root: Path, name: str) -> Path:
    path = root / f"stages-{name}.yaml"
    path.write_text(_package_text("stages", f"{name}.yaml"))
    return path


def _write_kubeconfig(path: Path, server: str, ca: Path, user: certs.Pair) -> None:
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubenova-dev", "cluster": {"server": server, "certificate-authority-data": b64(ca)}}],
        "users": [
            {
                "name": "kubenova-dev-admin",
                "user": {"client-certificate-data": b64(user.cert), "client-key-data": b64(user.key)},
            }
        ],
        "contexts": [{"name": "kubenova-dev", "context": {"cluster": "kubenova-dev", "user": "kubenova-dev-admin"}}],
        "current-context": "kubenova-dev",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the kernel sends SIGTERM to the child when the parent dies, so a killed
    # test run never leaves an etcd or an API server behind.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)


def _child_env() -> dict[str, str]:
    """The environment of a child: ours, with the repository on ``PYTHONPATH``, so a Python child
    started from the cluster's folder (the fake virt-api, ``python -m hack.devcluster.virtapi``)
    imports ``hack`` as this process does."""
    repo = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{path}" if path else repo}


def _spawn(root: Path, name: str, argv: list[str]) -> _Proc:
    log = root / "logs" / f"{name}.log"
    fh: IO[bytes] = open(log, "wb")  # noqa: SIM115 - the child owns it for its lifetime
    popen = subprocess.Popen(
        argv,
        stdout=fh,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - single-threaded at this point
        cwd=root,
        env=_child_env(),
    )
    fh.close()
    return _Proc(name, popen, log)


def _terminate(popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is not None:
        return
    popen.terminate()
    try:
        popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(timeout=10)


def _wait(cluster: Cluster, what: str, ready: Any) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        cluster.check_alive()
        if ready():
            return
        time.sleep(0.2)
    raise ClusterError(f"{what} was not ready within {_START_TIMEOUT:.0f}s; logs in {cluster.root / 'logs'}")


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _readyz(cluster: Cluster) -> bool:
    return _http_ok(cluster.api_url + "/readyz", cluster.ssl_context())


def _has_openapi(cluster: Cluster, path: str) -> bool:
    try:
        return path in json.loads(cluster.raw_get("/openapi/v3")).get("paths", {})
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _start_virt_api(cluster: Cluster, address: str, port: int) -> None:
    """Start the fake virt-api (a child like the others) and register it as an APIService."""
    bundle = cluster.bundle
    cluster._procs.append(
        _spawn(
            cluster.root,
            "virt-api",
            [
                sys.executable,
                "-m",
                "hack.devcluster.virtapi",
                f"--address={address}",
                f"--port={port}",
                f"--tls-cert={bundle.virt_api.cert}",
                f"--tls-key={bundle.virt_api.key}",
                f"--api-url={cluster.api_url}",
                f"--ca={bundle.ca.cert}",
                f"--client-cert={bundle.admin.cert}",
                f"--client-key={bundle.admin.key}",
                f"--front-proxy-ca={bundle.front_proxy_ca.cert}",
            ],
        )
    )
    # It takes only the front proxy's clients, so its health is checked with that certificate.
    as_front_proxy = ssl.create_default_context(cafile=str(bundle.ca.cert))
    as_front_proxy.load_cert_chain(str(bundle.front_proxy_client.cert), str(bundle.front_proxy_client.key))
    _wait(cluster, "virt-api", lambda: _http_ok(f"https://{address}:{port}/healthz", as_front_proxy))
    cluster.apply(virtapi.manifests(address, port, bundle.ca.cert.read_bytes()))


def _apiservice_available(cluster: Cluster) -> bool:
    return virtapi.is_available(cluster.get_json("apiservice", virtapi.APISERVICE))


def _has_default_sa(cluster: Cluster) -> bool:
    return cluster.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _say(msg: str) -> None:
    print(f"[devcluster] {msg}", file=sys.stderr, flush=True)
