"""``python -m hack.tempest`` (``make tempest``): OpenStack's own conformance suite, tempest, run
against ``kubenova api`` on a dev cluster.

It starts a dev control plane with simulated KubeVirt hosts, the operator and the Compute API
(the pieces ``make run`` uses), makes what tempest's configuration names (two KubeVirt flavors,
a public Image, namespaces with a member's, a reader's and an admin's ServiceAccount tokens as
pre-provisioned accounts), writes tempest.conf in a temporary workspace and runs the compute API
subset that can apply (:data:`SUBSET`) with ``tempest run``; then prints passed / skipped /
failed and the failing tests. tempest lives in its own virtualenv (``.venv-tempest``, made by the
Makefile with the version pinned in pyproject.toml's ``tempest`` extra): it pins oslo.* and
friends that have no business in the project's venv.

All traffic stays on 127.0.0.1: tempest talks to the API on loopback; neutron, cinder and
validation (SSH into guests) are off.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import yaml

from hack.devcluster import cluster as clusters
from hack.devcluster import computeapi, installing, operating
from hack.devcluster.cluster import Cluster

ROOT = Path(__file__).resolve().parents[1]
TEMPEST = ROOT / ".venv-tempest" / "bin" / "tempest"
API = "compute.kubenova.io/v1alpha1"
IMAGE = "tempest-cirros"
FLAVOR, FLAVOR_ALT = "1", "2"

# The compute API tests that can apply to kubenova: flavors, keypairs, limits, quotas,
# hypervisors, services, availability zones, aggregates, servers, server actions, instance
# actions and server groups. Classes needing Neutron are skipped by tempest itself
# (create_default_network with neutron unavailable).
SUBSET = (
    r"^tempest\.(api\.compute\.(flavors|keypairs|limits|servers|test_quotas|test_versions"
    r"|admin\.(test_flavors|test_keypairs|test_quotas|test_hypervisor|test_services|test_availability_zone"
    r"|test_aggregates|test_servers|test_delete_server|test_create_server|test_migrations|test_live_migration"
    r"|test_simple_tenant_usage|test_server_diagnostics))"
    r"|serial_tests\.api\.compute\.admin\.(test_aggregates|test_server_affinity))"
)
# The fast part (about a minute with the cluster's start; `make test` runs it, see
# tests/integration/test_tempest.py): no server is booted but by the aggregate-zone test.
FAST = (
    r"^tempest\.(api\.compute\.(flavors|keypairs|limits|test_quotas|test_versions"
    r"|admin\.(test_flavors|test_keypairs|test_hypervisor|test_services|test_availability_zone"
    r"|test_aggregates_negative|test_simple_tenant_usage))"
    r"|serial_tests\.api\.compute\.admin\.test_aggregates)"
)
# The fast part's failures that are kubenova's known differences from Nova (README, "tempest"):
# left out of `make test`'s run, which must then pass whole.
FAST_KNOWN = (
    r"(test_keypairs_v210\.KeyPairsV210TestJSON\.test_admin_manage_keypairs_for_other_users"
    r"|test_flavors_negative\.FlavorsV2NegativeTest\.test_boot_with_low_ram)"
)
# Tests in those modules that need what kubenova does not serve: Keystone's admin API (creating
# projects and users), Neutron ports or networks, Cinder volumes, or SSH into guests.
EXCLUDE = r"(test_attach_interfaces|test_attach_volume|test_device_tagging|test_novnc|test_server_personality)"


def pinned() -> str:
    """tempest's pin: pyproject.toml's ``tempest`` extra (one place for the version)."""
    with (ROOT / "pyproject.toml").open("rb") as fh:
        (req,) = tomllib.load(fh)["project"]["optional-dependencies"]["tempest"]
    return str(req)


@dataclasses.dataclass(frozen=True)
class Account:
    username: str
    namespace: str
    role: str  # Keystone's role name in accounts.yaml: member, reader or admin
    token: str


CLUSTER_ROLES = {"member": "edit", "reader": "view", "manager": "admin"}


def make_accounts(c: Cluster, *, projects: int = 6, admins: int = 2) -> list[Account]:
    """Each project (a namespace) holds a member (bound to ``edit``), a reader (``view``) and a
        manager (the namespace's ``admin``, Nova's manager persona): tempest asks for its
        ``project_reader`` and ``project_manager`` in the primary account's project. Admins (bound to
        ``cluster-admin``) have namespaces of their own. Tokens last 6 hours. Six projects: with four,
    a loaded run once had tempest refuse a class ("Insufficient number of users provided"), as
    its workers hold each class's accounts until the class ends."""
    out: list[Account] = []
    plan = [(f"tempest-{i}", role) for i in range(projects) for role in ("member", "reader", "manager")]
    plan += [(f"tempest-admin-{i}", "admin") for i in range(admins)]
    for ns in dict.fromkeys(ns for ns, _ in plan):
        c.kubectl("create", "namespace", ns)
    for ns, role in plan:
        name = f"{ns}-{role}"
        c.kubectl("create", "serviceaccount", name, "-n", ns)
        if role == "admin":
            c.kubectl(
                "create", "clusterrolebinding", name, "--clusterrole=cluster-admin", f"--serviceaccount={ns}:{name}"
            )
        else:
            c.kubectl(
                "create", "rolebinding", name, f"--clusterrole={CLUSTER_ROLES[role]}", f"--serviceaccount={ns}:{name}",
                "-n", ns,
            )  # fmt: skip
        token = c.kubectl("create", "token", name, "-n", ns, "--duration=6h").stdout.strip()
        out.append(Account(name, ns, role, token))
    return out


def accounts_yaml(accounts: list[Account]) -> str:
    return yaml.safe_dump(
        [
            {
                "username": a.username,
                "password": a.token,
                "project_name": a.namespace,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
                "roles": [a.role],
            }
            for a in accounts
        ],
        sort_keys=False,
    )


def resources(image_source: str) -> list[dict[str, Any]]:
    """The flavors (KubeVirt, so every action applies) and the public Image tempest boots."""

    def flavor(name: str, vcpus: int, ram: int, disk: int) -> dict[str, Any]:
        spec = {"vcpus": vcpus, "ram": ram, "disk": disk, "extraSpecs": {"kubenova:backend": "kubevirt"}}
        return {"apiVersion": API, "kind": "Flavor", "metadata": {"name": name}, "spec": spec}

    image = {
        "apiVersion": API,
        "kind": "Image",
        "metadata": {"name": IMAGE},
        "spec": {"visibility": "public", "source": {"containerDisk": image_source}, "diskFormat": "qcow2"},
    }
    return [flavor(FLAVOR, 1, 512, 1), flavor(FLAVOR_ALT, 2, 1024, 2), image]


def config(api_url: str, accounts_file: Path, image_ref: str, max_version: str, *, nodes: int) -> str:
    """tempest.conf for kubenova: pre-provisioned accounts, identity v3 at the API's /identity/v3,
    glance on (the read-only image API), neutron and cinder off, validation off, and the compute
    features set to what kubenova supports (README, "tempest")."""
    sections: dict[str, dict[str, str]] = {
        "DEFAULT": {"log_dir": str(accounts_file.parent.parent), "log_file": "tempest.log", "use_stderr": "False"},
        "auth": {
            "use_dynamic_credentials": "False",
            "test_accounts_file": str(accounts_file),
            "create_isolated_networks": "False",
        },
        "identity": {
            "uri_v3": f"{api_url}/identity/v3",
            "auth_version": "v3",
            "region": "RegionOne",
            "v3_endpoint_type": "public",
        },
        "identity-feature-enabled": {"api_v2": "False", "api_v3": "True"},
        "service_available": {
            "nova": "True",
            "glance": "True",
            "neutron": "False",
            "cinder": "False",
            "swift": "False",
            "horizon": "False",
            "placement": "False",
        },
        "compute": {
            "image_ref": image_ref,
            "image_ref_alt": image_ref,
            "flavor_ref": FLAVOR,
            "flavor_ref_alt": FLAVOR_ALT,
            "region": "RegionOne",
            "min_microversion": "2.1",
            "max_microversion": max_version,
            "min_compute_nodes": str(nodes),
            # kubenova keeps a shelved server shelved until shelveOffload (no offload timer).
            "shelved_offload_time": "-1",
            "build_interval": "1",
            "build_timeout": "120",
        },
        "compute-feature-enabled": {
            "resize": "True",
            "pause": "True",
            "suspend": "True",
            "shelve": "True",
            "shelve_migrate": "False",
            "rescue": "True",
            "stable_rescue": "False",
            "cold_migration": "True",
            "live_migration": "True",
            "block_migration_for_live_migration": "False",
            "console_output": "False",
            "change_password": "False",
            "interface_attach": "False",
            "snapshot": "False",
            "metadata_service": "False",
            "config_drive": "False",
            "personality": "False",
            "enable_instance_password": "True",
            "disk_config": "False",
            "vnc_console": "False",
            "serial_console": "False",
            "spice_console": "False",
            "attach_encrypted_volume": "False",
            "swap_volume": "False",
            "volume_multiattach": "False",
            "scheduler_enabled_filters": "all",
        },
        "image-feature-enabled": {"api_v1": "False", "api_v2": "True"},
        "validation": {"run_validation": "False"},
        "image": {"region": "RegionOne"},
    }
    return "".join(
        f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in opts.items()) + "\n" for name, opts in sections.items()
    )


@dataclasses.dataclass
class Result:
    passed: int
    skipped: int
    failed: int
    failures: list[str]
    output: str


SUMMARY = {key: re.compile(rf"^ - {key}: (\d+)$", re.M) for key in ("Passed", "Skipped", "Failed")}


def parse(output: str, failing: str) -> Result:
    counts = {k: int(m.group(1)) if (m := rx.search(output)) else 0 for k, rx in SUMMARY.items()}
    names = sorted({line.split("[")[0].strip() for line in failing.splitlines() if line.startswith("tempest.")})
    return Result(counts["Passed"], counts["Skipped"], counts["Failed"], names, output)


def run_tempest(
    workspace: Path, regex: str, exclude: str | None, concurrency: int, *, tempest: Path = TEMPEST, timeout: float
) -> Result:
    """``tempest run`` in ``workspace`` (made by ``tempest init``); the counts and failures."""
    argv = [str(tempest), "run", "--regex", regex, "--concurrency", str(concurrency)]
    if exclude:
        argv += ["--exclude-regex", exclude]
    proc = subprocess.run(argv, cwd=workspace, capture_output=True, text=True, timeout=timeout, check=False)
    stestr = tempest.with_name("stestr")
    failing = subprocess.run(
        [str(stestr), "failing", "--list"], cwd=workspace, capture_output=True, text=True, check=False, timeout=120
    ).stdout
    return parse(proc.stdout + proc.stderr, failing)


@dataclasses.dataclass
class Prepared:
    workspace: Path
    api: computeapi.ComputeApi
    op: operating.Operator


def prepare(c: Cluster, workspace: Path, *, nodes: int, tempest: Path = TEMPEST) -> Prepared:
    """The operator, the API, the accounts and resources, and a tempest workspace configured for them."""
    from kubenova.compute_api import microversions, views

    installing.install_crds(c)
    # The flavors tempest makes name no backend: KubeVirt, so that its servers boot the Image.
    op = operating.start(c, name="operator", webhook=True, env={"KUBENOVA_DEFAULT_BACKEND": "kubevirt"})
    c.apply(computeapi.user_roles(c, "tempest"))
    c.apply(resources("quay.io/kubevirt/cirros-container-disk-demo:v1.4.0"))
    accounts = make_accounts(c)
    api = computeapi.start(c, name="compute-api")
    # A workspace registry of its own (tempest's default is ~/.tempest/workspace.yaml, shared).
    registry = workspace.parent / "workspace.yaml"
    argv = [str(tempest), "init", "--name", workspace.parent.name, "--workspace-path", str(registry), str(workspace)]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    accounts_file = workspace / "etc" / "accounts.yaml"
    accounts_file.write_text(accounts_yaml(accounts))
    accounts_file.chmod(0o600)
    conf = config(api.url, accounts_file, views.image_id(IMAGE), str(microversions.MAX), nodes=nodes)
    (workspace / "etc" / "tempest.conf").write_text(conf)
    return Prepared(workspace, api, op)


def report(result: Result) -> str:
    lines = [f"tempest: passed {result.passed}, skipped {result.skipped}, failed {result.failed}"]
    lines += [f"  FAILED {name}" for name in result.failures]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.tempest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--regex", default=SUBSET, help="tests to run (default: the compute subset)")
    parser.add_argument("--fast", action="store_true", help="the fast part only (FAST), as make test runs it")
    parser.add_argument("--exclude-regex", default=EXCLUDE, help="tests to leave out")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--nodes", type=int, default=2, help="simulated compute hosts")
    parser.add_argument("--requirement", action="store_true", help="print tempest's pinned requirement and exit")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    if args.requirement:
        print(pinned())
        return 0
    if not TEMPEST.exists():
        print(f"{TEMPEST} is missing: `make tempest` makes .venv-tempest with {pinned()}", file=sys.stderr)
        return 2
    # One temporary folder of its own for the workspace and the cluster: runs side by side do
    # not clash, and nothing that tidies the dev clusters' usual folders takes this one.
    base = Path(tempfile.mkdtemp(prefix="tempest-run-"))
    workspace = base / "ws"
    with clusters.running(base / "cluster", nodes=args.nodes) as c:
        prep = prepare(c, workspace, nodes=args.nodes)
        try:
            regex, exclude = (FAST, f"{EXCLUDE}|{FAST_KNOWN}") if args.fast else (args.regex, args.exclude_regex)
            result = run_tempest(workspace, regex, exclude or None, args.concurrency, timeout=args.timeout)
        finally:
            prep.api.stop()
            prep.op.stop()
            for log in (prep.api.log, prep.op.log):  # kept with the workspace: the cluster's folder goes
                shutil.copy(log, workspace / log.name)
    print(result.output[-4000:] if result.failed else "")
    print(report(result))
    print(f"workspace (tempest.conf, tempest.log, .stestr): {workspace}")
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
