"""Running ``kubenova api`` (the OpenStack Compute API) as a child process against a dev cluster,
on loopback only, as :mod:`hack.devcluster.operating` runs the operator; and a clouds.yaml for it.

Used by ``tests/integration/test_compute_api.py`` and ``make run``.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from hack.devcluster import processes
from hack.devcluster.cluster import Cluster, free_ports


@dataclasses.dataclass
class ComputeApi:
    cluster: Cluster
    log: Path
    port: int
    key: str
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    process: processes.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def popen(self) -> subprocess.Popen[bytes] | None:
        return self.process.popen if self.process is not None else None

    def start(self, *, wait: bool = True) -> None:
        """Start it (again: the log is appended to); ``wait`` until ``/healthz`` answers."""
        env = {
            **processes.python_env(self.cluster.env()),
            "KUBENOVA_API_FERNET_KEY": self.key,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        argv = [sys.executable, "-m", "kubenova", "api", "--address", f"127.0.0.1:{self.port}"]
        self.process = processes.Process(self.log.stem, argv, self.log, env=env).start(append=True)
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout: float = 60) -> None:
        assert self.process is not None
        url = f"{self.url}/healthz"
        self.process.wait_until(lambda: processes.http_ok(url), what="kubenova api's health", timeout=timeout)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=15)

    def tail(self, lines: int = 60) -> str:
        return self.process.tail(lines) if self.process is not None else ""


def start(cluster: Cluster, *, name: str = "compute-api", env: dict[str, str] | None = None) -> ComputeApi:
    """Start ``kubenova api`` on a free loopback port; its log is ``logs/<name>.log``."""
    from cryptography.fernet import Fernet

    (port,) = free_ports(1)
    api = ComputeApi(
        cluster,
        cluster.root / "logs" / f"{name}.log",
        port,
        Fernet.generate_key().decode(),
        extra_env=dict(env or {}),
    )
    api.start()
    return api


def cloud(api_url: str, *, user: str, token: str, project: str) -> dict[str, Any]:
    """One cloud of a clouds.yaml: the password method with a Kubernetes token as the password."""
    return {
        "auth": {
            "auth_url": f"{api_url}/identity",
            "username": user,
            "password": token,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "auth_type": "password",
        "identity_api_version": 3,
        "region_name": "RegionOne",
        "interface": "public",
    }


def write_clouds(path: Path, clouds: dict[str, dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"clouds": clouds}, sort_keys=False))
    path.chmod(0o600)
    return path


def account(cluster: Cluster, namespace: str, name: str, role: str) -> str:
    """A ServiceAccount bound to the ClusterRole ``role`` in ``namespace``; its token."""
    cluster.kubectl("create", "serviceaccount", name, "-n", namespace)
    cluster.kubectl(
        "create", "rolebinding", f"{name}-{role}", f"--clusterrole={role}", f"--serviceaccount={namespace}:{name}",
        "-n", namespace,
    )  # fmt: skip
    # A RoleBinding takes a moment to reach the API server's authorizer: a client that asks at
    # once (the forked openstack CLI does, in milliseconds) is told it has no access to the project.
    who = f"system:serviceaccount:{namespace}:{name}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        can = cluster.kubectl("auth", "can-i", "get", "servers.compute.kubenova.io", "-n", namespace, f"--as={who}",
                              check=False)  # fmt: skip
        if can.stdout.strip() == "yes":
            break
        time.sleep(0.1)
    return cluster.kubectl("create", "token", name, "-n", namespace, "--duration=1h").stdout.strip()


CHART = Path(__file__).resolve().parents[2] / "charts" / "kubenova"


def user_roles(cluster: Cluster, release: str = "kubenova") -> list[dict[str, Any]]:
    """The chart's ClusterRoles for users (aggregated into view, edit and admin), rendered by helm."""
    from hack.devcluster import building

    proc = subprocess.run(
        [str(building.binary("helm")), "template", release, str(CHART), "--show-only", "templates/rbac-users.yaml"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [o for o in yaml.safe_load_all(proc.stdout) if o]


def for_run(cluster: Cluster, namespace: str = "demo") -> tuple[ComputeApi, Path]:
    """``make run``'s API: started on loopback, with the chart's user roles, a ``demo``
    ServiceAccount with ``edit`` in ``namespace``, an admin ServiceAccount, and a clouds.yaml
    (clouds ``kubenova``, the admin, and ``kubenova-demo``) in the cluster's folder."""
    cluster.apply(user_roles(cluster))
    k = cluster.kubectl
    if k("get", "namespace", namespace, check=False).returncode != 0:
        k("create", "namespace", namespace)
    for ns, sa in ((namespace, "demo"), ("kube-system", "kubenova-admin")):
        if k("get", "serviceaccount", sa, "-n", ns, check=False).returncode != 0:
            k("create", "serviceaccount", sa, "-n", ns)
    if k("get", "rolebinding", "demo-edit", "-n", namespace, check=False).returncode != 0:
        k(
            "create",
            "rolebinding",
            "demo-edit",
            "--clusterrole=edit",
            f"--serviceaccount={namespace}:demo",
            "-n",
            namespace,
        )
    if k("get", "clusterrolebinding", "kubenova-admin", check=False).returncode != 0:
        k("create", "clusterrolebinding", "kubenova-admin", "--clusterrole=cluster-admin",
          "--serviceaccount=kube-system:kubenova-admin")  # fmt: skip
    demo = k("create", "token", "demo", "-n", namespace, "--duration=24h").stdout.strip()
    admin = k("create", "token", "kubenova-admin", "-n", "kube-system", "--duration=24h").stdout.strip()
    api = start(cluster)
    path = write_clouds(
        cluster.root / "clouds.yaml",
        {
            "kubenova": cloud(api.url, user="kubenova-admin", token=admin, project=namespace),
            "kubenova-demo": cloud(api.url, user="demo", token=demo, project=namespace),
        },
    )
    return api, path


def server_list(clouds: Path, cloud_name: str = "kubenova-demo") -> str:
    """``openstack server list`` as the demo user, for ``make run``'s banner."""
    openstack = Path(sys.executable).with_name("openstack")
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds), "OS_CLOUD": cloud_name, "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    proc = subprocess.run(
        [str(openstack), "server", "list"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    return proc.stdout or proc.stderr
