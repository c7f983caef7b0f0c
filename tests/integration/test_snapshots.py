"""createImage (Nova's snapshot) on the real control plane: a kubevirt server's root disk cloned
by CDI (simulated by kwok Stages) into a new private Image that becomes active, outlives the
server, and boots a second server whose root disk is cloned from it; a failed clone kills the
Image with the reason and fails the action; the container backend refuses with Nova's 501."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import waiting
from tests.integration.conftest import Made
from tests.integration.test_compute_api import admin_token, api, clouds, connect, user_roles  # noqa: F401 (fixtures)
from tests.integration.test_images import act, datavolume, image, server, status, wait_server

pytestmark = pytest.mark.integration

FLAVOR = {
    "apiVersion": "compute.kubenova.io/v1alpha1",
    "kind": "Flavor",
    "metadata": {"name": "snap.small"},
    "spec": {"vcpus": 1, "ram": 256, "disk": 2},
}


@pytest.fixture
def booted(made: Made, cluster: Cluster, operator: Operator, namespace: str) -> str:
    """An active kubevirt server booted from a public Image (its root disk a DataVolume)."""
    made.apply([FLAVOR, image(f"snap-base-{namespace}", minDisk=1, properties={"os_distro": "cirros"})])
    made.apply([server("orig", namespace, flavor="snap.small", image=f"snap-base-{namespace}", backend="kubevirt")])
    wait_server(cluster, "orig", namespace, "ACTIVE")
    return "orig"


def test_create_image_makes_an_active_image_that_outlives_the_server_and_boots_another(
    made: Made, cluster: Cluster, namespace: str, booted: str
) -> None:
    name = f"snap-{namespace}"
    made.track("image", name)
    result = act(cluster, namespace, booted, "createImage", imageName=name, imageMetadata={"purpose": "backup"})
    assert result["phase"] == "Succeeded", result
    img = cluster.get_json("image", name)
    assert result["imageId"] == img["metadata"]["uid"]
    assert img["status"]["status"] == "active"
    assert img["status"]["dataVolumePhase"] == "Succeeded"
    spec = img["spec"]
    assert (spec["visibility"], spec["owner"], spec["minDisk"]) == ("private", namespace, 1)
    orig = status(cluster, "server", booted, namespace)
    assert spec["properties"]["image_type"] == "snapshot"
    assert spec["properties"]["instance_uuid"] == orig["id"]
    assert spec["properties"]["purpose"] == "backup"
    assert spec["properties"]["os_distro"] == "cirros"  # inherited from the booted image
    assert orig["vmState"] == "active"
    assert orig.get("taskState") is None
    assert orig.get("snapshot") is None
    record = orig["actions"][-1]
    assert (record["action"], record["result"]) == ("createImage", "Success")

    clone = datavolume(cluster, f"{name}.snapshot", namespace)
    assert clone is not None
    assert clone["spec"]["source"] == {"pvc": {"namespace": namespace, "name": "orig-root"}}
    assert clone["metadata"]["ownerReferences"][0]["uid"] == img["metadata"]["uid"]

    # Deleting the server leaves its image (and the clone that holds its bits).
    cluster.kubectl("delete", "server", booted, "-n", namespace)
    waiting.until(
        lambda: cluster.kubectl("get", "server", booted, "-n", namespace, check=False).returncode != 0,
        what="the server gone",
    )
    assert datavolume(cluster, f"{name}.snapshot", namespace) is not None
    assert status(cluster, "image", name)["status"] == "active"

    # A second server boots the snapshot: its root disk is a clone of the snapshot's.
    made.apply([server("second", namespace, flavor="snap.small", image=name, backend="kubevirt")])
    s = wait_server(cluster, "second", namespace, "ACTIVE")
    assert s["imageSource"]["source"] == {"pvc": {"namespace": namespace, "name": f"{name}.snapshot"}}
    disk = datavolume(cluster, "second-root", namespace)
    assert disk is not None
    assert disk["spec"]["source"] == {"pvc": {"namespace": namespace, "name": f"{name}.snapshot"}}
    assert disk["status"]["phase"] == "Succeeded"


def test_a_failed_clone_kills_the_image_with_the_reason_and_fails_the_action(
    made: Made, cluster: Cluster, namespace: str, booted: str
) -> None:
    name = f"lost-{namespace}.invalid"  # the simulated CDI fails a clone whose name has an .invalid label
    made.track("image", name)
    result = act(cluster, namespace, booted, "createImage", imageName=name)
    assert result["phase"] == "Failed", result
    assert "Clone failed: the source PersistentVolumeClaim is gone" in result["message"]
    s = waiting.until(lambda: status(cluster, "image", name).get("status") == "killed" or None, what="killed")
    assert s
    img = status(cluster, "image", name)
    ready = img["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "Killed")
    assert "Clone failed: the source PersistentVolumeClaim is gone" in ready["message"]
    orig = status(cluster, "server", booted, namespace)
    assert (orig["vmState"], orig.get("taskState"), orig["status"]) == ("active", None, "ACTIVE")
    assert orig["actions"][-1]["result"] == "Error"


def test_create_image_refusals(made: Made, cluster: Cluster, operator: Operator, namespace: str) -> None:
    made.apply([FLAVOR])
    made.apply([server("pod", namespace, flavor="snap.small", image="busybox:1.36", backend="container")])
    wait_server(cluster, "pod", namespace, "ACTIVE")
    result = act(cluster, namespace, "pod", "createImage", imageName=f"never-{namespace}")
    assert result["phase"] == "Failed"
    assert result["fault"]["code"] == 501
    assert result["message"].startswith("The requested functionality is not supported: the container backend")
    assert cluster.kubectl("get", "image", f"never-{namespace}", check=False).returncode != 0


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            code, raw, got = resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        code, raw, got = exc.code, exc.read(), dict(exc.headers)
    return code, json.loads(raw) if raw.strip() else None, got


@pytest.mark.usefixtures("user_roles")
def test_the_compute_api_create_image_answers_202_with_the_image_id_from_2_45(
    made: Made,
    cluster: Cluster,
    clouds: dict[str, Any],  # noqa: F811 (the fixture)
    booted: str,
) -> None:
    from kubenova.compute_api.views import image_id

    namespace = clouds["namespace"]
    conn = connect(clouds, "demo")
    base = str(conn.compute.get_endpoint()).rstrip("/")
    h = {"X-Auth-Token": str(conn.session.get_token())}
    uid = status(cluster, "server", booted, namespace)["id"]
    url = f"{base}/servers/{uid}/action"
    name = f"api-snap-{namespace}"
    made.track("image", name)
    code, body, _ = post(
        url, {"createImage": {"name": name, "metadata": {"k": "v"}}}, {**h, "OpenStack-API-Version": "compute 2.45"}
    )
    assert (code, body) == (202, {"image_id": image_id(name)})
    waiting.until(lambda: status(cluster, "image", name).get("status") == "active", what="the API's snapshot active")
    assert cluster.get_json("image", name)["spec"]["properties"]["k"] == "v"
    wait_server(cluster, booted, namespace, "ACTIVE")

    older = f"api-old-{namespace}"
    made.track("image", older)
    code, body, headers = post(url, {"createImage": {"name": older}}, {**h, "OpenStack-API-Version": "compute 2.44"})
    assert (code, body) == (202, None)
    assert headers["Location"].endswith(f"/v2/images/{image_id(older)}")
    waiting.until(lambda: status(cluster, "image", older).get("status") == "active", what="the 2.44 snapshot active")

    # A server that is not in a state Nova snapshots: Nova's 409, at once.
    cluster.kubectl("patch", "server", booted, "-n", namespace, "--type=merge", "-p", '{"spec":{"state":"shelved"}}')
    wait_server(cluster, booted, namespace, "SHELVED")
    code, body, _ = post(url, {"createImage": {"name": f"never-{namespace}"}}, h)
    assert code == 409
    assert (
        body["conflictingRequest"]["message"] == f"Cannot 'createImage' instance {uid} while it is in vm_state shelved"
    )
