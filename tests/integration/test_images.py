"""Images on the real control plane: an Image becomes active and Ready, lists like
`openstack image list`, and its source is immutable; servers boot Images by name, with Nova's
refusals (visibility, status, min disk and ram) at `kubectl apply` or as the server's fault."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration

API = "compute.kubenova.io/v1alpha1"
CIRROS = "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0"


def image(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Image",
        "metadata": {"name": name},
        "spec": {"source": {"containerDisk": CIRROS}, "visibility": "public", **spec},
    }


def status(cluster: Cluster, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    args = ["get", kind, name, "-o", "json"] + (["-n", namespace] if namespace else [])
    proc = cluster.kubectl(*args, check=False)
    result: dict[str, Any] = json.loads(proc.stdout).get("status", {}) if proc.returncode == 0 else {}
    return result


def test_an_image_becomes_active_and_lists_like_openstack_image_list(
    made: Made, cluster: Cluster, operator: Operator
) -> None:
    made.apply([image("it-cirros", diskFormat="qcow2", minDisk=1, minRam=64)])
    try:
        cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "image/it-cirros")
        s = status(cluster, "image", "it-cirros")
        assert s["status"] == "active"
        assert s["sourceType"] == "containerDisk"
        assert s["id"] == cluster.get_json("image", "it-cirros")["metadata"]["uid"]
        header = cluster.kubectl("get", "images", "it-cirros").stdout.splitlines()[0].split()
        assert header[:3] == ["NAME", "STATUS", "VISIBILITY"]
        assert "PROTECTED" in header
        cluster.kubectl("patch", "image", "it-cirros", "--type=merge", "-p", '{"spec":{"deactivated":true}}')
        waiting.until(lambda: status(cluster, "image", "it-cirros").get("status") == "deactivated", what="deactivated")
        refused = cluster.kubectl(
            "patch",
            "image",
            "it-cirros",
            "--type=merge",
            "-p",
            '{"spec":{"source":{"containerDisk":"quay.io/other:1"}}}',
            check=False,
        )
        assert refused.returncode != 0
        assert "source is immutable" in refused.stderr
    finally:
        cluster.kubectl("delete", "image", "it-cirros", "--ignore-not-found", check=False)


def server(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Server", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


@pytest.fixture(scope="module")
def catalog(cluster: Cluster, operator: Operator) -> Any:
    """A small flavor and a few Images: public ones that need more than the flavor has, and a
    private one of another namespace."""
    objects = [
        {
            "apiVersion": API,
            "kind": "Flavor",
            "metadata": {"name": "img.small"},
            "spec": {"vcpus": 1, "ram": 256, "disk": 2},
        },
        image("it-fits", minDisk=1, minRam=128, properties={"os_distro": "cirros"}),
        image("it-big-disk", minDisk=20),
        image("it-big-ram", minRam=4096),
        image("it-private", visibility="private", owner="someone-else"),
    ]
    cluster.apply(objects)
    for obj in objects[1:]:
        cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", f"image/{obj['metadata']['name']}")
    yield
    for obj in objects[1:]:
        cluster.kubectl("delete", "image", obj["metadata"]["name"], "--ignore-not-found", check=False)


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("it-big-disk", "Flavor's disk is too small for requested image."),
        ("it-big-ram", "Flavor's memory is too small for requested image."),
        ("it-private", "Can not find requested image"),
    ],
)
def test_kubectl_apply_refuses_a_server_whose_image_does_not_fit_with_novas_message(
    cluster: Cluster, namespace: str, name: str, message: str
) -> None:
    body = json.dumps(server("refused", namespace, flavor="img.small", image=name, backend="kubevirt"))
    proc = cluster.kubectl("apply", "-f", "-", input=body, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


def wait_server(cluster: Cluster, name: str, namespace: str, wanted: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        s = status(cluster, "server", name, namespace)
        return s if s.get("status") == wanted and s.get("taskState") is None else None

    return waiting.until(settled, what=f"server {name} {wanted}")


@pytest.mark.usefixtures("catalog")
def test_a_kubevirt_server_boots_an_image_by_name_and_keeps_what_it_booted(
    made: Made, cluster: Cluster, namespace: str
) -> None:
    made.apply([server("booted", namespace, flavor="img.small", image="it-fits", backend="kubevirt")])
    s = wait_server(cluster, "booted", namespace, "ACTIVE")
    assert s["image"] == "it-fits"
    assert s["imageSource"]["source"] == {"containerDisk": CIRROS}
    assert s["imageSource"]["minDisk"] == 1
    assert s["imageSource"]["properties"] == {"os_distro": "cirros"}


@pytest.mark.usefixtures("catalog")
def test_the_container_backend_refuses_a_disk_image_as_the_servers_fault(
    made: Made, cluster: Cluster, namespace: str
) -> None:
    made.apply([server("pod", namespace, flavor="img.small", image="it-fits", backend="container")])
    s = wait_server(cluster, "pod", namespace, "ERROR")
    assert s["fault"]["code"] == 400
    assert "container backend cannot run" in s["fault"]["message"]


# --- the root disk (kubevirt) -------------------------------------------------------------------


def datavolume(cluster: Cluster, name: str, namespace: str) -> dict[str, Any] | None:
    proc = cluster.kubectl("get", "datavolume", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def act(cluster: Cluster, namespace: str, server_name: str, action: str, **spec: Any) -> dict[str, Any]:
    name = f"{server_name}-{action.lower()}-{len(spec)}{abs(hash(json.dumps(spec))) % 100000}"
    body = {"server": server_name, "action": action, **spec}
    cluster.apply(
        [{"apiVersion": API, "kind": "ServerAction", "metadata": {"name": name, "namespace": namespace}, "spec": body}]
    )

    def ended() -> dict[str, Any] | None:
        s = status(cluster, "serveraction", name, namespace)
        return s if s.get("phase") in ("Succeeded", "Failed") else None

    result: dict[str, Any] = waiting.until(ended, what=f"serveraction {name}")
    return result


def settled_when(
    cluster: Cluster, namespace: str, name: str, what: str, ok: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The server's status once no task is in flight and ``ok`` holds of it."""

    def check() -> dict[str, Any] | None:
        s = status(cluster, "server", name, namespace)
        return s if s.get("taskState") is None and ok(s) else None

    result: dict[str, Any] = waiting.until(check, what=what)
    return result


def patch_spec(cluster: Cluster, namespace: str, name: str, **spec: Any) -> None:
    cluster.kubectl("patch", "server", name, "-n", namespace, "--type=merge", "-p", json.dumps({"spec": spec}))


def grown_and_never_shrunk(cluster: Cluster, namespace: str, uid: str) -> None:
    """The larger flavor disk grew the root disk: the claim's request (the simulated CDI makes no
    claim), recorded on the same DataVolume; a smaller one is refused (Nova's libvirt driver's)."""
    grown = datavolume(cluster, "vm-root", namespace)
    assert grown is not None
    assert grown["metadata"]["uid"] == uid
    assert grown["metadata"]["annotations"]["compute.kubenova.io/root-disk-size"] == "4Gi"
    patch_spec(cluster, namespace, "vm", flavor="img.small")
    refused = settled_when(
        cluster, namespace, "vm", "resize down refused", lambda x: (x.get("fault") or {}).get("code") == 400
    )
    assert refused["fault"]["message"] == "Resize error: Unable to resize disk down."
    assert refused["flavor"]["originalName"] == "img.medium"
    patch_spec(cluster, namespace, "vm", flavor="img.medium")


@pytest.mark.usefixtures("catalog")
def test_the_root_disk_is_one_datavolume_across_stop_start_reboot_resize_and_migrate(
    made: Made, cluster: Cluster, namespace: str
) -> None:
    medium = {"apiVersion": API, "kind": "Flavor", "metadata": {"name": "img.medium"}}
    medium["spec"] = {"vcpus": 1, "ram": 512, "disk": 4}
    made.apply([medium, server("vm", namespace, flavor="img.small", image="it-fits", backend="kubevirt")])
    s = wait_server(cluster, "vm", namespace, "ACTIVE")
    disk = datavolume(cluster, "vm-root", namespace)
    assert disk is not None
    uid = disk["metadata"]["uid"]
    assert disk["status"]["phase"] == "Succeeded"  # ACTIVE only once imported
    assert disk["spec"]["source"] == {"registry": {"url": f"docker://{CIRROS}"}}
    assert disk["spec"]["storage"]["resources"]["requests"]["storage"] == "2Gi"
    assert disk["metadata"]["ownerReferences"][0]["uid"] == s["id"]
    vm = cluster.get_json("virtualmachine", "vm", "-n", namespace)
    assert vm["spec"]["template"]["spec"]["volumes"][0] == {"name": "root", "dataVolume": {"name": "vm-root"}}
    assert vm["metadata"]["labels"]["compute.kubenova.io/os-distro"] == "cirros"

    patch_spec(cluster, namespace, "vm", state="stopped")
    wait_server(cluster, "vm", namespace, "SHUTOFF")
    patch_spec(cluster, namespace, "vm", state="active")
    wait_server(cluster, "vm", namespace, "ACTIVE")
    assert act(cluster, namespace, "vm", "reboot", type="HARD")["phase"] == "Succeeded"
    wait_server(cluster, "vm", namespace, "ACTIVE")
    patch_spec(cluster, namespace, "vm", flavor="img.medium", autoConfirmResize=True)
    resized = settled_when(
        cluster,
        namespace,
        "vm",
        "resized",
        lambda x: x["status"] == "ACTIVE" and x["flavor"]["originalName"] == "img.medium",
    )
    host = resized["host"]
    grown_and_never_shrunk(cluster, namespace, uid)
    assert act(cluster, namespace, "vm", "migrate")["phase"] == "Succeeded"
    # confirmed at once (autoConfirmResize)
    settled_when(cluster, namespace, "vm", "migrated", lambda x: x["status"] == "ACTIVE" and x["host"] != host)
    again = datavolume(cluster, "vm-root", namespace)
    assert again is not None
    assert again["metadata"]["uid"] == uid  # the same disk all along

    # A rebuild (here to another Image) wipes the disk: a new DataVolume, the old one gone.
    made.apply([image("it-other", minDisk=1)])
    patch_spec(cluster, namespace, "vm", image="it-other")
    s = settled_when(
        cluster, namespace, "vm", "rebuilt", lambda x: x["status"] == "ACTIVE" and x.get("image") == "it-other"
    )
    new_name = s["imageSource"]["rootDisk"]
    assert new_name != "vm-root"
    rebuilt = datavolume(cluster, new_name, namespace)
    assert rebuilt is not None
    assert rebuilt["metadata"]["uid"] != uid
    waiting.until(lambda: datavolume(cluster, "vm-root", namespace) is None, what="old root disk deleted")

    # Nova's usual rebuild, a reinstall from the same image: a ServerAction.
    result = act(cluster, namespace, "vm", "rebuild")
    assert result["phase"] == "Succeeded", result
    s = settled_when(cluster, namespace, "vm", "reinstalled", lambda x: x["imageSource"]["rootDisk"] != new_name)
    assert s["image"] == "it-other"
    reinstalled = datavolume(cluster, s["imageSource"]["rootDisk"], namespace)
    assert reinstalled is not None
    assert reinstalled["metadata"]["uid"] != rebuilt["metadata"]["uid"]
    waiting.until(
        lambda: datavolume(cluster, new_name, namespace) is None, what="the reinstalled disk's predecessor deleted"
    )
    new_name = s["imageSource"]["rootDisk"]

    # Deleting the server deletes its disk (the garbage collector, through the owner reference).
    cluster.kubectl("delete", "server", "vm", "-n", namespace)
    waiting.until(lambda: datavolume(cluster, new_name, namespace) is None, what="root disk deleted with the server")
    cluster.kubectl("delete", "image", "it-other", check=False)


@pytest.mark.usefixtures("catalog")
def test_an_import_from_a_host_that_does_not_exist_puts_the_server_in_error(
    made: Made, cluster: Cluster, namespace: str
) -> None:
    made.apply(
        [
            image("it-missing", source={"http": "https://does-not-exist.invalid/cirros.img"}, diskFormat="qcow2"),
            server("lost", namespace, flavor="img.small", image="it-missing", backend="kubevirt"),
        ]
    )
    try:
        s = wait_server(cluster, "lost", namespace, "ERROR")
        assert "DataVolumeError: root disk lost-root" in s["fault"]["message"]
        assert "does not resolve" in s["fault"]["message"]
        disk = datavolume(cluster, "lost-root", namespace)
        assert disk is not None
        assert disk["status"]["phase"] == "Failed"
        # Glance's killed: the Image's source cannot be read, said in its Ready condition.
        waiting.until(lambda: status(cluster, "image", "it-missing").get("status") == "killed", what="killed")
        ready = status(cluster, "image", "it-missing")["conditions"][0]
        assert (ready["status"], ready["reason"]) == ("False", "Killed")
        assert "importing its source failed" in ready["message"]
        assert "does not resolve" in ready["message"]
    finally:
        cluster.kubectl("delete", "image", "it-missing", check=False)


def test_a_protected_image_cannot_be_deleted_until_unprotected(
    made: Made, cluster: Cluster, operator: Operator
) -> None:
    made.apply([image("it-protected", protected=True)])
    refused = cluster.kubectl("delete", "image", "it-protected", check=False)
    assert refused.returncode != 0
    assert "Image it-protected is protected and cannot be deleted" in refused.stderr
    cluster.kubectl("patch", "image", "it-protected", "--type=merge", "-p", '{"spec":{"protected":false}}')
    cluster.kubectl("delete", "image", "it-protected")


@pytest.mark.usefixtures("catalog")
def test_image_properties_filter_counts_hosts_of_another_architecture(
    made: Made, cluster: Cluster, namespace: str
) -> None:
    made.apply([image("it-s390x", properties={"hw_architecture": "s390x"})])
    try:
        made.apply([server("mainframe", namespace, flavor="img.small", image="it-s390x", backend="kubevirt")])
        s = wait_server(cluster, "mainframe", namespace, "ERROR")
        assert s["fault"]["message"].startswith("No valid host was found.")
        assert "ImagePropertiesFilter removed" in s["fault"]["message"]
    finally:
        cluster.kubectl("delete", "server", "mainframe", "-n", namespace, "--wait=false", check=False)
        cluster.kubectl("delete", "image", "it-s390x", check=False)


@pytest.mark.usefixtures("catalog")
def test_a_migration_whose_root_disk_cannot_follow_is_refused_with_the_reason(
    made: Made, cluster: Cluster, namespace: str
) -> None:
    local = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "it-local"},
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    flavor = {"apiVersion": API, "kind": "Flavor", "metadata": {"name": "img.local"}}
    flavor["spec"] = {"vcpus": 1, "ram": 256, "disk": 2, "extraSpecs": {"kubenova:storage_class": "it-local"}}
    made.apply([local, flavor, server("pinned", namespace, flavor="img.local", image="it-fits", backend="kubevirt")])
    try:
        s = wait_server(cluster, "pinned", namespace, "ACTIVE")
        assert s["imageSource"]["storageClass"] == "it-local"
        disk = datavolume(cluster, "pinned-root", namespace)
        assert disk is not None
        assert disk["spec"]["storage"]["storageClassName"] == "it-local"
        result = act(cluster, namespace, "pinned", "migrate")
        assert result["phase"] == "Failed"
        assert result["fault"]["code"] == 409
        assert "The root disk pinned-root is on storage class it-local" in result["fault"]["message"]
        assert wait_server(cluster, "pinned", namespace, "ACTIVE")["host"] == s["host"]
    finally:
        cluster.kubectl("delete", "server", "pinned", "-n", namespace, "--wait=false", check=False)
        cluster.kubectl("delete", "storageclass", "it-local", check=False)


@pytest.mark.usefixtures("catalog")
def test_shelve_offload_keeps_the_root_disk_and_unshelve_boots_it_again(
    made: Made, cluster: Cluster, namespace: str
) -> None:
    made.apply([server("shelved", namespace, flavor="img.small", image="it-fits", backend="kubevirt")])
    wait_server(cluster, "shelved", namespace, "ACTIVE")
    disk = datavolume(cluster, "shelved-root", namespace)
    assert disk is not None
    patch_spec(cluster, namespace, "shelved", state="shelved_offloaded")
    wait_server(cluster, "shelved", namespace, "SHELVED_OFFLOADED")
    kept = datavolume(cluster, "shelved-root", namespace)
    assert kept is not None
    assert kept["metadata"]["uid"] == disk["metadata"]["uid"]
    patch_spec(cluster, namespace, "shelved", state="active")
    wait_server(cluster, "shelved", namespace, "ACTIVE")
    again = datavolume(cluster, "shelved-root", namespace)
    assert again is not None
    assert again["metadata"]["uid"] == disk["metadata"]["uid"]
    cluster.kubectl("delete", "server", "shelved", "-n", namespace, "--wait=false", check=False)
