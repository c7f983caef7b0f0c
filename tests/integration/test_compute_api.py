"""The OpenStack Compute API (``kubenova api``) driven by the real clients, the openstack CLI and
openstacksdk, against the dev control plane and operator, as a namespace user (a ServiceAccount
token bound to ``edit``, which the chart's roles aggregate into), as a reader who RBAC refuses
writes (403) and as an admin; and a bad token (401). All traffic stays on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
import yaml
from openstack import exceptions as osexc

from hack.devcluster import computeapi
from hack.devcluster.cluster import Cluster
from tests import openstack_cli, waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration
API = "compute.kubenova.io/v1alpha1"
RELEASE = "capi"
FLAVOR = "it.capi"
FLAVOR_BIG = "it.capi.big"
FLAVOR_VM = "it.capi.vm"
VM_IMAGE = "quay.io/containerdisks/fedora:41"
IMAGE = "docker.io/library/busybox:1.36"


@pytest.fixture(scope="module")
def user_roles(cluster: Cluster) -> Iterator[None]:
    """The chart's user-facing ClusterRoles (aggregated into view/edit/admin), rendered by helm;
    removed afterwards, with the flavors this module made."""
    objs = computeapi.user_roles(cluster, RELEASE)
    cluster.apply(objs)
    cluster.apply(
        [
            {"apiVersion": API, "kind": "Flavor", "metadata": {"name": FLAVOR}, "spec": {"vcpus": 1, "ram": 256}},
            {"apiVersion": API, "kind": "Flavor", "metadata": {"name": FLAVOR_BIG}, "spec": {"vcpus": 2, "ram": 512}},
            {
                "apiVersion": API,
                "kind": "Flavor",
                "metadata": {"name": FLAVOR_VM},
                "spec": {"vcpus": 1, "ram": 512, "extraSpecs": {"kubenova:backend": "kubevirt"}},
            },
        ]
    )
    yield
    for o in objs:
        cluster.kubectl("delete", o["kind"].lower(), o["metadata"]["name"], "--ignore-not-found", check=False)
    cluster.kubectl("delete", "flavor", FLAVOR, FLAVOR_BIG, FLAVOR_VM, "--ignore-not-found", check=False)


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[computeapi.ComputeApi]:
    a = computeapi.start(cluster, name="compute-api")
    yield a
    a.stop()


@pytest.fixture
def admin_token(cluster: Cluster, namespace: str) -> Iterator[str]:
    name = f"capi-admin-{namespace}"
    cluster.kubectl("create", "serviceaccount", "admin", "-n", namespace)
    cluster.kubectl(
        "create", "clusterrolebinding", name, "--clusterrole=cluster-admin", f"--serviceaccount={namespace}:admin"
    )
    yield cluster.kubectl("create", "token", "admin", "-n", namespace, "--duration=1h").stdout.strip()
    cluster.kubectl("delete", "clusterrolebinding", name, "--ignore-not-found", check=False)


@pytest.fixture
def clouds(
    cluster: Cluster, namespace: str, api: computeapi.ComputeApi, tmp_path: Path, admin_token: str
) -> dict[str, Any]:
    demo = computeapi.account(cluster, namespace, "demo", "edit")
    viewer = computeapi.account(cluster, namespace, "viewer", "view")
    conf = {
        "demo": computeapi.cloud(api.url, user="demo", token=demo, project=namespace),
        "viewer": computeapi.cloud(api.url, user="viewer", token=viewer, project=namespace),
        "admin": computeapi.cloud(api.url, user="admin", token=admin_token, project=namespace),
        "bad": computeapi.cloud(api.url, user="bad", token="not-a-kubernetes-token", project=namespace),
    }
    path = computeapi.write_clouds(tmp_path / "clouds.yaml", conf)
    return {"path": path, "clouds": conf, "namespace": namespace}


def run(clouds: dict[str, Any], cloud: str, *args: str) -> subprocess.CompletedProcess[str]:
    """An openstack CLI command that prints nothing (an action, a delete); its process."""
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds["path"]), "OS_CLOUD": cloud, "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return openstack_cli.CLI.run(args, env, timeout=240)


def ok(clouds: dict[str, Any], cloud: str, *args: str) -> None:
    proc = run(clouds, cloud, *args)
    assert proc.returncode == 0, f"openstack {' '.join(args)}: {proc.stderr}\n{proc.stdout}"


def osc(clouds: dict[str, Any], cloud: str, *args: str, check: bool = True) -> Any:
    """An openstack CLI command that prints a table: its JSON (``-f json``)."""
    proc = run(clouds, cloud, *args, "-f", "json")
    if check:
        assert proc.returncode == 0, f"openstack {' '.join(args)}: {proc.stderr}\n{proc.stdout}"
        return json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc


def connect(clouds: dict[str, Any], cloud: str) -> openstack.connection.Connection:
    c = clouds["clouds"][cloud]
    return openstack.connect(**c["auth"], auth_type="password", identity_api_version=3, region_name="RegionOne")


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            code, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        code, raw = exc.code, exc.read()
    try:
        return code, json.loads(raw or b"null")
    except json.JSONDecodeError:
        return code, raw.decode()


def test_discovery_and_health_without_a_token(api: computeapi.ComputeApi) -> None:
    assert get(f"{api.url}/healthz")[0] == 200
    code, body = get(f"{api.url}/compute/")
    assert code == 200
    assert [v["id"] for v in body["versions"]] == ["v2.0", "v2.1"]
    assert (body["versions"][1]["min_version"], body["versions"][1]["version"]) == ("2.1", "2.100")
    assert get(f"{api.url}/compute/v2.1/")[1]["version"]["id"] == "v2.1"
    assert get(f"{api.url}/identity/v3")[1]["version"]["id"].startswith("v3")
    code, body = get(f"{api.url}/compute/v2.1/servers")
    assert code == 401


@pytest.mark.usefixtures("operator", "user_roles")
def test_openstack_server_create_wait_as_a_namespace_user(cluster: Cluster, clouds: dict[str, Any]) -> None:
    ns = clouds["namespace"]
    token = osc(clouds, "demo", "token", "issue")
    assert token["project_id"] == ns
    assert {f["Name"] for f in osc(clouds, "demo", "flavor", "list")} >= {FLAVOR, FLAVOR_BIG}

    started = time.monotonic()
    server = osc(
        clouds, "demo", "server", "create", "--flavor", FLAVOR, "--image", IMAGE, "--property", "role=web",
        "--wait", "My Web Server!",
    )  # fmt: skip
    took = time.monotonic() - started
    assert server["status"] == "ACTIVE", server
    assert server["name"] == "My Web Server!"
    print(f"openstack server create --wait: {took:.1f}s")

    # The same server through kubectl: a valid Kubernetes name, the Nova name in spec.displayName.
    objs = cluster.get_json("servers", "-n", ns)["items"]
    assert len(objs) == 1
    obj = objs[0]
    assert obj["metadata"]["uid"] == server["id"]
    assert obj["metadata"]["name"].startswith("my-web-server-")
    assert obj["spec"]["displayName"] == "My Web Server!"
    assert (obj["spec"]["flavor"], obj["spec"]["image"]) == (FLAVOR, IMAGE)
    assert obj["spec"]["metadata"] == {"role": "web"}
    assert "My Web Server!" in cluster.kubectl("get", "servers", "-n", ns, "-o", "wide").stdout

    listed = osc(clouds, "demo", "server", "list")
    assert [(s["ID"], s["Name"], s["Status"]) for s in listed] == [(server["id"], "My Web Server!", "ACTIVE")]
    assert osc(clouds, "demo", "server", "show", server["id"])["OS-EXT-STS:vm_state"] == "active"

    # Actions: each writes the spec (or a ServerAction), and the operator does the work.
    ok(clouds, "demo", "server", "stop", server["id"])
    wait_status(clouds, server["id"], "SHUTOFF")
    assert cluster.get_json("server", obj["metadata"]["name"], "-n", ns)["spec"]["state"] == "stopped"
    ok(clouds, "demo", "server", "start", server["id"])
    wait_status(clouds, server["id"], "ACTIVE")
    ok(clouds, "demo", "server", "reboot", "--wait", server["id"])
    wait_status(clouds, server["id"], "ACTIVE")
    actions = cluster.get_json("serveractions", "-n", ns)["items"]
    assert [a["spec"]["action"] for a in actions] == ["reboot"]

    # A refusal the API knows at once: Nova's 409 and its words.
    proc = run(clouds, "demo", "server", "start", server["id"])
    assert proc.returncode != 0
    assert f"Cannot 'start' instance {server['id']} while it is in vm_state active" in proc.stderr

    ok(clouds, "demo", "server", "set", "--name", "renamed", server["id"])
    assert osc(clouds, "demo", "server", "show", server["id"])["name"] == "renamed"
    assert cluster.get_json("server", obj["metadata"]["name"], "-n", ns)["spec"]["displayName"] == "renamed"

    events = osc(clouds, "demo", "server", "event", "list", server["id"])
    assert {"create", "stop", "start", "reboot"} <= {e["Action"] for e in events}

    ok(clouds, "demo", "server", "delete", "--wait", server["id"])
    waiting.until(lambda: not cluster.get_json("servers", "-n", ns)["items"] or None, what="server deleted")


def wait_status(clouds: dict[str, Any], ident: str, wanted: str) -> None:
    def settled() -> bool | None:
        s = osc(clouds, "demo", "server", "show", ident)
        return True if s["status"] == wanted and not s.get("OS-EXT-STS:task_state") else None

    waiting.until(settled, what=f"server {ident} {wanted}")


@pytest.mark.usefixtures("operator", "user_roles")
def test_openstacksdk_keypairs_servers_resize_and_limits(cluster: Cluster, clouds: dict[str, Any]) -> None:
    conn = connect(clouds, "demo")
    generated = conn.compute.create_keypair(name="made")
    assert generated.private_key
    assert "PRIVATE KEY" in generated.private_key
    assert generated.fingerprint
    pub = generated.public_key
    imported = conn.compute.create_keypair(name="imported", public_key=pub)
    assert imported.fingerprint == generated.fingerprint
    assert imported.private_key is None
    with pytest.raises(osexc.ConflictException, match="already exists"):
        conn.compute.create_keypair(name="imported", public_key=pub)
    assert sorted(k.name for k in conn.compute.keypairs()) == ["imported", "made"]
    assert conn.compute.get_keypair("made").fingerprint == generated.fingerprint

    flavor = conn.compute.find_flavor(FLAVOR, ignore_missing=False)
    assert (flavor.vcpus, flavor.ram) == (1, 256)
    server = conn.compute.create_server(
        name="sdk server", flavor_id=flavor.id, image_id=IMAGE, key_name="imported", networks="auto"
    )
    server = conn.compute.wait_for_server(server, status="ACTIVE", interval=0.5, wait=120)
    assert server.key_name == "imported"
    assert server.flavor.original_name == FLAVOR

    conn.compute.resize_server(server, conn.compute.find_flavor(FLAVOR_BIG, ignore_missing=False).id)
    conn.compute.wait_for_server(server, status="VERIFY_RESIZE", interval=0.5, wait=120)
    conn.compute.confirm_server_resize(server)
    server = conn.compute.wait_for_server(server, status="ACTIVE", interval=0.5, wait=120)
    assert server.flavor.original_name == FLAVOR_BIG

    conn.compute.lock_server(server, locked_reason="maintenance")
    with pytest.raises(osexc.ConflictException, match="is locked"):
        conn.compute.stop_server(server)
    conn.compute.unlock_server(server)

    limits = conn.compute.get_limits()
    assert limits.absolute.instances_used == 1
    assert limits.absolute.total_cores_used == 2
    quota = conn.compute.get_quota_set(clouds["namespace"])
    assert quota.instances == 10
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.5, wait=120)
    conn.compute.delete_keypair("made")
    assert [k.name for k in conn.compute.keypairs()] == ["imported"]


@pytest.mark.usefixtures("operator", "user_roles")
def test_rbac_refusals_are_novas_403_and_a_bad_token_is_401(clouds: dict[str, Any]) -> None:
    proc = run(clouds, "viewer", "server", "create", "--flavor", FLAVOR, "--image", IMAGE, "x")
    assert proc.returncode != 0
    assert "Policy doesn't allow os_compute_api:servers:create to be performed." in proc.stderr
    assert "ForbiddenException: 403" in proc.stderr
    assert osc(clouds, "viewer", "server", "list") == []

    conn = connect(clouds, "viewer")
    with pytest.raises(osexc.ForbiddenException, match="Policy doesn't allow os_compute_api:os-hypervisors"):
        list(conn.compute.hypervisors())

    proc = run(clouds, "bad", "server", "list")
    assert proc.returncode != 0
    assert "401" in proc.stderr

    # A Keystone token past its expiry, or not ours at all, is 401 on every compute call.
    code, body = get(
        f"{clouds['clouds']['demo']['auth']['auth_url'].removesuffix('/identity')}/compute/v2.1/servers",
        {"X-Auth-Token": "gAAAAAB-not-a-fernet-token"},
    )
    assert code == 401
    assert body["error"]["code"] == 401


@pytest.mark.usefixtures("operator", "user_roles")
def test_admin_sees_hypervisors_services_zones_and_aggregates(clouds: dict[str, Any]) -> None:
    hypervisors = osc(clouds, "admin", "hypervisor", "list")
    assert len(hypervisors) >= 3
    assert all(h["State"] == "up" for h in hypervisors)
    services = osc(clouds, "admin", "compute", "service", "list")
    assert {s["Binary"] for s in services} == {"nova-compute"}
    zones = osc(clouds, "admin", "availability", "zone", "list", "--compute")
    assert zones
    assert osc(clouds, "admin", "aggregate", "list") is not None
    projects = osc(clouds, "admin", "project", "list")
    assert clouds["namespace"] in {p["Name"] for p in projects}
    group = osc(clouds, "demo", "server", "group", "create", "--policy", "anti-affinity", "spread")
    assert group["name"] == "spread"
    assert [g["Name"] for g in osc(clouds, "demo", "server", "group", "list")] == ["spread"]
    ok(clouds, "demo", "server", "group", "delete", group["id"])
    assert osc(clouds, "demo", "server", "group", "list") == []


@pytest.mark.usefixtures("operator", "user_roles")
def test_lasting_state_actions_on_a_virtual_machine_and_what_a_pod_refuses(
    cluster: Cluster, clouds: dict[str, Any]
) -> None:
    conn = connect(clouds, "demo")
    ns = clouds["namespace"]
    vm = conn.compute.create_server(name="vm", flavor_id=FLAVOR_VM, image_id=VM_IMAGE, networks="none")
    vm = conn.compute.wait_for_server(vm, status="ACTIVE", interval=0.5, wait=120)
    name = cluster.get_json("servers", "-n", ns)["items"][0]["metadata"]["name"]

    def spec() -> dict[str, Any]:
        result: dict[str, Any] = cluster.get_json("server", name, "-n", ns)["spec"]
        return result

    for act, status, back in (
        (conn.compute.pause_server, "PAUSED", conn.compute.unpause_server),
        (conn.compute.suspend_server, "SUSPENDED", conn.compute.resume_server),
        (conn.compute.rescue_server, "RESCUE", conn.compute.unrescue_server),
        (conn.compute.shelve_server, "SHELVED", conn.compute.unshelve_server),
    ):
        act(vm)
        conn.compute.wait_for_server(vm, status=status, interval=0.5, wait=120)
        back(vm)
        conn.compute.wait_for_server(vm, status="ACTIVE", interval=0.5, wait=120)
    assert spec()["state"] == "active"
    assert spec()["rescue"] is False

    conn.compute.rebuild_server(vm, image=views_image_id("quay.io/containerdisks/fedora:42"), name="vm2")
    vm = conn.compute.wait_for_server(vm, status="ACTIVE", interval=0.5, wait=120)
    assert (spec()["image"], vm.name) == ("quay.io/containerdisks/fedora:42", "vm2")

    conn.compute.migrate_server(vm)
    conn.compute.wait_for_server(vm, status="VERIFY_RESIZE", interval=0.5, wait=120)
    conn.compute.revert_server_resize(vm)
    conn.compute.wait_for_server(vm, status="ACTIVE", interval=0.5, wait=120)

    actions = [a.action for a in conn.compute.server_actions(vm)]
    assert {"create", "pause", "unpause", "suspend", "resume", "rescue", "unrescue", "rebuild", "migrate"} <= set(
        actions
    )
    create = next(a for a in conn.compute.server_actions(vm) if a.action == "create")
    shown = conn.compute.get_server_action(create.request_id, vm)
    assert shown.events[0]["result"] == "Success"

    # The container backend cannot pause: Nova's 501, at once, in the operator's words.
    pod = conn.compute.create_server(name="pod", flavor_id=FLAVOR, image_id=IMAGE, networks="none")
    pod = conn.compute.wait_for_server(pod, status="ACTIVE", interval=0.5, wait=120)
    with pytest.raises(osexc.HttpException, match="the container backend cannot pause") as exc:
        conn.compute.pause_server(pod)
    assert exc.value.status_code == 501
    for server in (vm, pod):
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, interval=0.5, wait=120)


def views_image_id(reference: str) -> str:
    from kubenova.compute_api.views import image_id

    return image_id(reference)


@pytest.mark.usefixtures("operator", "user_roles")
def test_microversions_images_and_projects_over_http(api: computeapi.ComputeApi, clouds: dict[str, Any]) -> None:
    conn = connect(clouds, "demo")
    token = str(conn.session.get_token())
    h = {"X-Auth-Token": token}
    code, body = get(f"{api.url}/compute/v2.1/flavors/{FLAVOR}", {**h, "OpenStack-API-Version": "compute 2.101"})
    assert (code, next(iter(body))) == (406, "computeFault")
    assert "Minimum is 2.1 and maximum is 2.100" in body["computeFault"]["message"]
    code, body = get(f"{api.url}/compute/v2.1/flavors/{FLAVOR}", {**h, "OpenStack-API-Version": "compute 2.61"})
    assert code == 200
    assert body["flavor"]["extra_specs"] == {}
    code, body = get(f"{api.url}/compute/v2.1/servers/no-such", h)
    assert (code, body) == (404, {"itemNotFound": {"code": 404, "message": "Instance no-such could not be found."}})
    code, body = get(f"{api.url}/compute/v2.1/os-no-such-thing", h)
    assert (code, next(iter(body))) == (404, "itemNotFound")

    image = conn.image.find_image(IMAGE, ignore_missing=False)
    assert (image.name, image.status) == (IMAGE, "active")
    assert conn.image.get_image(image.id).name == IMAGE
    identity: Any = conn.identity
    assert identity.get_project(clouds["namespace"]).name == clouds["namespace"]
    assert [p.name for p in identity.projects()] == [clouds["namespace"]]


@pytest.mark.usefixtures("operator", "user_roles")
def test_the_image_api_lists_images_as_glance_with_their_visibility(clouds: dict[str, Any], made: Made) -> None:
    ns = clouds["namespace"]
    made.namespace(f"{ns}-other")
    src = {"containerDisk": "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0"}

    def img(name: str, **spec: Any) -> dict[str, Any]:
        return {"apiVersion": API, "kind": "Image", "metadata": {"name": name}, "spec": {"source": src, **spec}}

    made.apply(
        [
            img(f"{ns}-pub", visibility="public", diskFormat="qcow2", minDisk=1, properties={"os_distro": "cirros"}),
            img(f"{ns}-mine", visibility="private", owner=ns),
            img(f"{ns}-theirs", visibility="private", owner=f"{ns}-other"),
        ]
    )
    listed = {i["Name"] for i in osc(clouds, "demo", "image", "list")}
    assert {f"{ns}-pub", f"{ns}-mine"} <= listed
    assert f"{ns}-theirs" not in listed
    shown = osc(clouds, "demo", "image", "show", f"{ns}-pub")
    assert (shown["status"], shown["visibility"], shown["min_disk"], shown["disk_format"]) == (
        "active", "public", 1, "qcow2",
    )  # fmt: skip
    assert shown["properties"]["os_distro"] == "cirros"  # the CLI gathers Glance's flattened properties
    assert osc(clouds, "demo", "image", "show", f"{ns}-mine")["owner"] == ns
    assert run(clouds, "demo", "image", "show", f"{ns}-theirs").returncode != 0
    conn = connect(clouds, "demo")
    assert conn.image.find_image(f"{ns}-pub", ignore_missing=False).min_disk == 1


@pytest.mark.usefixtures("operator", "user_roles")
def test_block_device_mapping_boots_from_a_claim_and_refuses_bad_mappings(
    cluster: Cluster, clouds: dict[str, Any]
) -> None:
    ns = clouds["namespace"]
    cluster.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "root", "namespace": ns},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }
        ]
    )
    conn = connect(clouds, "demo")
    boot = {"source_type": "volume", "destination_type": "volume", "uuid": "root", "boot_index": 0}
    server = conn.compute.create_server(
        name="from volume", flavor_id=FLAVOR_VM, block_device_mapping=[boot], networks="none"
    )
    obj = cluster.get_json("servers", "-n", ns)["items"]
    (spec,) = [o["spec"] for o in obj if o["metadata"]["uid"] == server.id]
    assert spec["bootVolume"] == {"claimName": "root"}
    assert "image" not in spec
    with pytest.raises(osexc.BadRequestException, match="Boot sequence"):
        conn.compute.create_server(
            name="two roots",
            flavor_id=FLAVOR_VM,
            block_device_mapping=[boot, {**boot, "uuid": "other"}],
            networks="none",
        )
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.5, wait=120)


@pytest.mark.usefixtures("operator", "user_roles")
def test_admin_writes_flavors_aggregates_services_and_quotas(cluster: Cluster, clouds: dict[str, Any]) -> None:
    ns = clouds["namespace"]
    flavor_name = f"it.capi.{ns}"
    agg_name = f"capi-{ns}"
    try:
        made = osc(
            clouds, "admin", "flavor", "create", "--vcpus", "2", "--ram", "128", "--id", flavor_name, flavor_name
        )
        assert (made["id"], made["vcpus"]) == (flavor_name, 2)
        ok(clouds, "admin", "flavor", "set", "--property", "hw:cpu_policy=dedicated", flavor_name)
        assert cluster.get_json("flavor", flavor_name)["spec"]["extraSpecs"] == {"hw:cpu_policy": "dedicated"}
        # A namespace user may read flavors but not make them: RBAC's answer, in Nova's words.
        proc = run(clouds, "demo", "flavor", "create", "--vcpus", "1", "--ram", "64", "nope")
        assert "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed." in proc.stderr
        ok(clouds, "admin", "flavor", "delete", flavor_name)
        assert cluster.kubectl("get", "flavor", flavor_name, check=False).returncode != 0

        # The last Host, not compute-0, which test_host_discovery's idle-resync test watches: in a
        # full run, these changes to compute-0 were followed by a status write at the operator's
        # restart there (not investigated further).
        host = sorted(h["metadata"]["name"] for h in cluster.get_json("hosts")["items"])[-1]
        agg = osc(clouds, "admin", "aggregate", "create", "--zone", "az-capi", agg_name)
        ok(clouds, "admin", "aggregate", "add", "host", agg_name, host)
        ok(clouds, "admin", "aggregate", "set", "--property", "ssd=true", agg_name)
        spec = cluster.get_json("aggregate", agg_name)["spec"]
        assert (spec["hosts"], spec["metadata"], spec["availabilityZone"]) == ([host], {"ssd": "true"}, "az-capi")
        ok(clouds, "admin", "aggregate", "remove", "host", agg_name, host)
        ok(clouds, "admin", "aggregate", "delete", str(agg["id"]))

        ok(clouds, "admin", "compute", "service", "set", "--disable", "--disable-reason", "capi", host, "nova-compute")
        hspec = cluster.get_json("host", host)["spec"]
        assert (hspec["enabled"], hspec["disabledReason"]) == (False, "capi")
        ok(clouds, "admin", "compute", "service", "set", "--enable", host, "nova-compute")
        assert cluster.get_json("host", host)["spec"]["enabled"] is True

        ok(clouds, "admin", "quota", "set", "--instances", "7", "--cores", "9", ns)
        assert cluster.get_json("quota", "default", "-n", ns)["spec"] == {"instances": 7, "cores": 9}
        assert connect(clouds, "demo").compute.get_quota_set(ns).instances == 7
    finally:
        cluster.kubectl("delete", "flavor", flavor_name, "--ignore-not-found", check=False)
        cluster.kubectl("delete", "aggregate", agg_name, "--ignore-not-found", check=False)


@pytest.mark.usefixtures("operator", "user_roles")
def test_server_metadata_and_tags(clouds: dict[str, Any]) -> None:
    conn = connect(clouds, "demo")
    server = conn.compute.create_server(name="tagged", flavor_id=FLAVOR, image_id=IMAGE, networks="none")
    server = conn.compute.wait_for_server(server, status="ACTIVE", interval=0.5, wait=120)
    conn.compute.set_server_metadata(server, a="1", b="2")
    conn.compute.delete_server_metadata(server, ["a"])
    assert conn.compute.get_server_metadata(server).metadata == {"b": "2"}
    ok(clouds, "demo", "--os-compute-api-version", "2.26", "server", "set", "--tag", "blue", server.id)
    shown = osc(clouds, "demo", "--os-compute-api-version", "2.26", "server", "show", server.id)
    assert shown["tags"] == ["blue"]
    # The console is the Pod's log, read as the caller; kwok's simulated Pods may have none yet.
    console = run(clouds, "demo", "console", "log", "show", server.id)
    assert console.returncode == 0 or "console is not available yet" in console.stderr, console.stderr
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.5, wait=120)


def test_the_chart_deploys_the_api_with_tokenreview_as_its_only_right(cluster: Cluster, namespace: str) -> None:
    proc = subprocess.run(
        [
            str(computeapi_helm()), "template", "kubenova", str(computeapi.CHART), "-n", namespace,
            "--set", "computeApi.enabled=true", "--set", "computeApi.ingress.enabled=true",
            "--set", "computeApi.ingress.host=nova.example", "--show-only", "templates/compute-api.yaml",
        ],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Secret",
        "Deployment",
        "Service",
        "Ingress",
    }
    assert kinds["ClusterRole"]["rules"] == [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]}
    ]
    import base64

    from cryptography.fernet import Fernet

    Fernet(base64.b64decode(kinds["Secret"]["data"]["key"]))  # a valid Fernet key
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert (c["command"], c["args"]) == (["kubenova"], ["api", "--address", "0.0.0.0:8774"])
    assert (c["livenessProbe"]["httpGet"]["path"], c["readinessProbe"]["httpGet"]["path"]) == ("/healthz", "/readyz")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert kinds["Deployment"]["spec"]["replicas"] == 2
    # Not the operator's Pods: its selector must not pick the API's.
    assert kinds["Deployment"]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"].endswith("-compute-api")
    namespaced = [d for d in docs if d["kind"] not in ("ClusterRole", "ClusterRoleBinding")]
    cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(namespaced))


def computeapi_helm() -> Path:
    from hack.devcluster import building

    return building.binary("helm")
