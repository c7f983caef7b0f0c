"""Networks and security groups on the real control plane: secondary networks (Multus
NetworkAttachmentDefinitions, with Multus's published CRD) rendered into a VM and a Pod, a VM
without a network, a network that does not exist as the server's 400 fault; SecurityGroups as
exactly the NetworkPolicies they render to (the API server validates them), following rule and
membership changes at once, with the namespace's default group made as Neutron's.

No CNI runs here, so nothing enforces the policies: the tests check what is rendered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from kubenova import securitygroups as sg
from kubenova.backends import networks
from tests import kube as k
from tests import waiting
from tests.integration import test_compute_api as compute_api
from tests.integration.conftest import Made
from tests.integration.test_compute_api import admin_token, api, clouds, user_roles  # noqa: F401 - fixtures
from tests.unit.backends.test_kubevirt_rendering import assert_valid
from tests.unit.networking.test_server_networks import selection_validator

pytestmark = pytest.mark.integration

FLAVOR = "net.small"
CIRROS = "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0"


def nad(name: str, namespace: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": networks.NAD_API_VERSION,
        "kind": networks.NAD_KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"config": json.dumps({"cniVersion": "1.0.0", **config})},
    }


def test_secondary_networks_render_into_the_vm_and_the_pod(
    made: Made, cluster: Cluster, operator: Operator, kube: Client, namespace: str
) -> None:
    made.apply([k.flavor(FLAVOR, vcpus=1, ram=64)])
    cluster.apply(
        [
            nad("storage", namespace, {"type": "bridge", "ipam": {"type": "whereabouts", "range": "192.0.2.0/24"}}),
            nad("fixed", namespace, {"type": "macvlan", "capabilities": {"ips": True}, "ipam": {"type": "static"}}),
            nad("fast", namespace, {"type": "sriov", "vlan": 100}),
        ]
    )
    cluster.apply(
        [
            k.server("pod", namespace, flavor=FLAVOR, image="nginx:1.27", backend="container",
                     networks=[{"network": "pod"}, {"network": "storage"},
                               {"network": "fixed", "fixedIp": "198.51.100.7"}]),
            k.server("vm", namespace, flavor=FLAVOR, image=CIRROS, backend="kubevirt",
                     networks=[{"network": "pod"}, {"network": "storage"}, {"network": f"{namespace}/fast"}]),
            k.server("isolated", namespace, flavor=FLAVOR, image=CIRROS, backend="kubevirt",
                     networks=[{"network": "none"}]),
            k.server("lost", namespace, flavor=FLAVOR, image="nginx:1.27", backend="container",
                     networks=[{"network": "nowhere"}]),
        ]
    )  # fmt: skip
    for name in ("pod", "vm", "isolated"):
        k.Srv(kube, namespace, name).wait("ACTIVE", timeout=60)

    pod = k.get(kube, "pod", "pod", namespace)
    selection = json.loads(pod["metadata"]["annotations"][networks.SELECTION_ANNOTATION])
    assert selection == [
        {"name": "storage", "namespace": namespace, "interface": "net1"},
        {"name": "fixed", "namespace": namespace, "interface": "net2", "ips": ["198.51.100.7"]},
    ]
    assert not list(selection_validator().iter_errors(selection))

    vm = k.get(kube, "virtualmachine", "vm", namespace)
    spec = vm["spec"]["template"]["spec"]
    assert spec["networks"] == [
        {"name": "default", "pod": {}},
        {"name": "storage", "multus": {"networkName": "storage"}},
        {"name": "fast", "multus": {"networkName": "fast"}},
    ]
    assert spec["domain"]["devices"]["interfaces"] == [
        {"name": "default", "masquerade": {}},
        {"name": "storage", "bridge": {}},
        {"name": "fast", "sriov": {}},
    ]
    assert_valid(_as_rendered(vm))
    isolated = k.get(kube, "virtualmachine", "isolated", namespace)["spec"]["template"]["spec"]
    assert (isolated["networks"], isolated["domain"]["devices"]["interfaces"]) == ([], [])
    assert isolated["domain"]["devices"]["autoattachPodInterface"] is False

    lost = k.Srv(kube, namespace, "lost").wait("ERROR", timeout=60)
    assert lost["fault"]["code"] == 400
    assert f"Network {namespace}/nowhere could not be found" in lost["fault"]["message"]
    assert not k.get(kube, "pod", "lost", namespace)


def _as_rendered(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as it was sent: without what the API server adds (status, metadata fields)."""
    meta = {key: obj["metadata"][key] for key in ("name", "namespace", "labels", "ownerReferences")}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta, "spec": obj["spec"]}


def policy(kube: Client, group: str, namespace: str) -> dict[str, Any]:
    return k.get(kube, "networkpolicy", sg.policy_name(group), namespace)


def expected_spec(group: str, namespace: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The policy spec as the API server stores it (an empty list is left out)."""
    spec = sg.render(group, namespace, "", {"rules": rules}).policy["spec"]
    return {key: value for key, value in spec.items() if value != []}


def wait_policy(kube: Client, group: str, namespace: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = expected_spec(group, namespace, rules)
    return waiting.until(
        lambda: (p := policy(kube, group, namespace)) and p["spec"] == wanted and p,
        what=f"policy of {group} with its rules",
    )


def member_labels(obj: dict[str, Any]) -> set[str]:
    labels = obj.get("metadata", {}).get("labels") or {}
    return {key for key in labels if key.startswith(sg.LABEL_PREFIX + "/")}


def wait_labels(
    kube: Client, kind: str, name: str, namespace: str, *, groups: list[str], template: bool = False
) -> None:
    wanted = {sg.member_label(g) for g in groups}

    def labelled() -> bool:
        obj = k.get(kube, kind, name, namespace)
        if template:  # a VM's template
            obj = obj.get("spec", {}).get("template", {})
        # Every member carries the label its namespace's closed-by-default policy selects.
        secured = (obj.get("metadata", {}).get("labels") or {}).get(sg.PORT_SECURITY) == "enabled"
        return secured and member_labels(obj) == wanted

    waiting.until(labelled, what=f"{kind} {name} labelled for {groups}")


WEB_RULES: list[dict[str, Any]] = [
    {"direction": "ingress", "protocol": "tcp", "portRangeMin": 443},
    {"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "remoteIpPrefix": "10.0.0.0/8"},
    {"direction": "ingress", "protocol": "icmp"},
    {"direction": "egress", "ethertype": "IPv4"},
    {"direction": "egress", "ethertype": "IPv6"},
]


def test_security_groups_are_exactly_their_policies_and_follow_rules_and_members(
    made: Made, cluster: Cluster, operator: Operator, kube: Client, namespace: str
) -> None:
    made.apply([k.flavor(FLAVOR, vcpus=1, ram=64)])
    cluster.apply(
        [
            k.manifest("SecurityGroup", "web", namespace, description="web servers", rules=WEB_RULES),
            k.manifest("SecurityGroup", "db", namespace, rules=[
                {"direction": "ingress", "protocol": "tcp", "portRangeMin": 5432, "remoteGroup": "web"}]),
            k.server("front", namespace, flavor=FLAVOR, image="nginx:1.27", backend="container",
                     securityGroups=["default", "web"]),
            k.server("vm", namespace, flavor=FLAVOR, image=CIRROS, backend="kubevirt", securityGroups=["web"]),
        ]
    )  # fmt: skip
    web = k.wait_for(kube, "securitygroup", "web", namespace, check=lambda s: s.get("networkPolicy"), what="web")
    assert (web["networkPolicy"], web["ruleCount"]) == ("securitygroup-web", 5)
    assert [r["index"] for r in web["unenforcedRules"]] == [2]  # icmp: no NetworkPolicy can say it
    uid = k.get(kube, "securitygroup", "web", namespace)["metadata"]["uid"]
    written = wait_policy(kube, "web", namespace, WEB_RULES)
    assert written["spec"] == {
        "podSelector": {"matchLabels": {sg.member_label("web"): ""}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {"ports": [{"protocol": "TCP", "port": 443}]},
            {"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"protocol": "TCP", "port": 22}]},
        ],
        "egress": [{}],
    }
    assert written["metadata"]["ownerReferences"][0]["uid"] == uid
    wait_policy(kube, "db", namespace, [{"direction": "ingress", "protocol": "tcp", "portRangeMin": 5432,
                                         "remoteGroup": "web"}])  # fmt: skip
    # A server naming `default` gets the namespace's default group, made as Neutron's.
    k.wait_for(kube, "securitygroup", "default", namespace, check=lambda s: s.get("networkPolicy"), what="default")
    wait_policy(kube, "default", namespace, [dict(r) for r in sg.DEFAULT_RULES])

    front = k.Srv(kube, namespace, "front")
    front.wait("ACTIVE", timeout=60)
    k.Srv(kube, namespace, "vm").wait("ACTIVE", timeout=60)
    wait_labels(kube, "pod", "front", namespace, groups=["default", "web"])
    wait_labels(kube, "virtualmachine", "vm", namespace, groups=["web"], template=True)
    pod_uid = k.get(kube, "pod", "front", namespace)["metadata"]["uid"]

    # A rule changed: the policy follows.
    changed: list[dict[str, Any]] = [
        *WEB_RULES[:1],
        {"direction": "ingress", "protocol": "udp", "portRangeMin": 5000, "portRangeMax": 5010},
    ]
    cluster.kubectl("patch", "securitygroup", "web", "-n", namespace, "--type=merge",
                    "-p", json.dumps({"spec": {"rules": changed}}))  # fmt: skip
    wait_policy(kube, "web", namespace, changed)

    # Groups changed: the Pod is relabelled in place (not remade), the VM's template and its
    # running instance's virt-launcher Pod (standing in for KubeVirt's) too.
    cluster.apply([launcher_pod("vm", namespace, ["web"])])
    front.declare(securityGroups=["web", "db"])
    wait_labels(kube, "pod", "front", namespace, groups=["web", "db"])
    assert k.get(kube, "pod", "front", namespace)["metadata"]["uid"] == pod_uid
    k.Srv(kube, namespace, "vm").declare(securityGroups=["db"])
    wait_labels(kube, "virtualmachine", "vm", namespace, groups=["db"], template=True)
    wait_labels(kube, "pod", "virt-launcher-vm-abcde", namespace, groups=["db"])
    # The policy is the operator's: deleted by hand, it is written back at the group's next event.
    cluster.kubectl("delete", "networkpolicy", sg.policy_name("db"), "-n", namespace)
    cluster.kubectl("annotate", "securitygroup", "db", "-n", namespace, "touched=yes")
    wait_policy(kube, "db", namespace, [{"direction": "ingress", "protocol": "tcp", "portRangeMin": 5432,
                                         "remoteGroup": "web"}])  # fmt: skip
    out = cluster.kubectl("get", "server", "front", "-n", namespace, "-o", "wide").stdout
    assert "SECURITY GROUPS" in out.splitlines()[0]
    assert '["web","db"]' in out


def test_a_server_in_no_group_that_exists_is_closed_not_open(
    made: Made, cluster: Cluster, operator: Operator, kube: Client, namespace: str
) -> None:
    """A Pod that no NetworkPolicy selects is open both ways; a Neutron port with port security
    and no group is closed. Every server's Pods are selected by their namespace's closed policy,
    which allows nothing: a server naming only a group not made yet, or whose group is deleted
    while in use, stays closed."""
    made.apply([k.flavor(FLAVOR, vcpus=1, ram=64)])
    cluster.apply(
        [
            k.manifest("SecurityGroup", "web", namespace, rules=WEB_RULES),
            k.server("ghostly", namespace, flavor=FLAVOR, image="nginx:1.27", backend="container",
                     securityGroups=["ghost"]),
            k.server("webby", namespace, flavor=FLAVOR, image="nginx:1.27", backend="container",
                     securityGroups=["web"]),
        ]
    )  # fmt: skip
    for name in ("ghostly", "webby"):
        k.Srv(kube, namespace, name).wait("ACTIVE", timeout=60)
    wait_labels(kube, "pod", "ghostly", namespace, groups=["ghost"])
    closed = waiting.until(lambda: k.get(kube, "networkpolicy", sg.CLOSED_POLICY, namespace), what="the closed policy")
    assert closed["spec"] == {
        "podSelector": {"matchLabels": {sg.PORT_SECURITY: "enabled"}},
        "policyTypes": ["Ingress", "Egress"],
    }
    assert not k.get(kube, "securitygroup", "ghost", namespace)  # named, never made: no policy of its own
    # Deleted in use: Neutron would refuse; here its policy goes, and its member stays closed.
    cluster.kubectl("delete", "securitygroup", "web", "-n", namespace)
    waiting.until(lambda: not policy(kube, "web", namespace), what="web's policy gone with it")
    wait_labels(kube, "pod", "webby", namespace, groups=["web"])
    assert k.get(kube, "networkpolicy", sg.CLOSED_POLICY, namespace)


def test_an_operator_started_over_running_servers_checks_their_pods_labels_from_the_pods_events(
    made: Made, cluster: Cluster, operator: Operator, kube: Client, namespace: str
) -> None:
    """After a restart the operator knows nothing of what each Pod carries; it checks each
    container server's Pod against its groups from the Pod's own event (no read of each Pod),
    and puts back what is wrong: here labels lost while it was down (as a Pod made before
    :data:`kubenova.securitygroups.PORT_SECURITY` existed lacks that one)."""
    made.apply([k.flavor(FLAVOR, vcpus=1, ram=64)])
    cluster.apply(
        [
            k.manifest("SecurityGroup", "web", namespace, rules=WEB_RULES),
            k.server("front", namespace, flavor=FLAVOR, image="nginx:1.27", backend="container",
                     securityGroups=["web"]),
        ]
    )  # fmt: skip
    k.Srv(kube, namespace, "front").wait("ACTIVE", timeout=60)
    wait_labels(kube, "pod", "front", namespace, groups=["web"])
    operator.kill()
    cluster.kubectl("label", "pod", "front", "-n", namespace, f"{sg.member_label('web')}-", f"{sg.member_label('db')}=",
                    f"{sg.PORT_SECURITY}-")  # fmt: skip
    operator.start()
    wait_labels(kube, "pod", "front", namespace, groups=["web"])


def launcher_pod(vm: str, namespace: str, groups: list[str]) -> dict[str, Any]:
    """A Pod labelled as KubeVirt labels a VM's virt-launcher Pod (none runs here)."""
    labels = {"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": vm, **sg.member_labels(groups)}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"virt-launcher-{vm}-abcde", "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "compute", "image": "quay.io/kubevirt/virt-launcher:v1.8.0"}]},
    }


@pytest.mark.usefixtures("operator", "user_roles")
def test_the_compute_api_maps_networks_and_security_groups_onto_the_spec(
    cluster: Cluster,
    kube: Client,
    namespace: str,
    clouds: dict[str, Any],  # noqa: F811
) -> None:
    cluster.apply([nad("storage", namespace, {"type": "macvlan", "capabilities": {"ips": True}})])
    uid = k.get(kube, "networkattachmentdefinition", "storage", namespace)["metadata"]["uid"]
    conn = compute_api.connect(clouds, "demo")
    made = conn.compute.post(
        "/servers",
        json={
            "server": {
                "name": "api-made",
                "flavorRef": compute_api.FLAVOR,
                "imageRef": "nginx:1.27",
                "networks": [{"uuid": "pod"}, {"uuid": uid, "fixed_ip": "192.0.2.9"}],
                "security_groups": [{"name": "web"}],
            }
        },
        microversion="2.37",
        raise_exc=False,
    )
    assert made.status_code == 202, made.text
    assert made.json()["server"]["security_groups"] == [{"name": "web"}]
    spec = by_display_name(kube, namespace, "api-made")["spec"]
    assert spec["networks"] == [{"network": "pod"}, {"network": "storage", "fixedIp": "192.0.2.9"}]
    assert spec["securityGroups"] == ["web"]
    none = conn.compute.post(
        "/servers",
        json={
            "server": {
                "name": "api-none",
                "flavorRef": compute_api.FLAVOR,
                "imageRef": "nginx:1.27",
                "networks": "none",
            }
        },
        microversion="2.37",
        raise_exc=False,
    )
    assert none.status_code == 202, none.text
    assert by_display_name(kube, namespace, "api-none")["spec"]["networks"] == [{"network": "none"}]
    port = conn.compute.post(
        "/servers",
        json={"server": {"name": "api-port", "flavorRef": compute_api.FLAVOR, "imageRef": "nginx:1.27",
                         "networks": [{"port": "p1"}]}},
        microversion="2.37",
        raise_exc=False,
    )  # fmt: skip
    assert port.status_code == 400
    ident = made.json()["server"]["id"]
    shown = conn.compute.get(f"/servers/{ident}", microversion="2.37").json()["server"]
    assert shown["security_groups"] == [{"name": "web"}]
    # addSecurityGroup / removeSecurityGroup (`openstack server add/remove security group`).
    cluster.apply([k.manifest("SecurityGroup", "db", namespace, rules=[])])

    def act(body: dict[str, Any]) -> int:
        return int(conn.compute.post(f"/servers/{ident}/action", json=body, raise_exc=False).status_code)

    assert act({"addSecurityGroup": {"name": "db"}}) == 202
    assert act({"addSecurityGroup": {"name": "nowhere"}}) == 404
    assert act({"removeSecurityGroup": {"name": "web"}}) == 202
    assert act({"removeSecurityGroup": {"name": "web"}}) == 404
    assert by_display_name(kube, namespace, "api-made")["spec"]["securityGroups"] == ["db"]


def by_display_name(kube: Client, namespace: str, name: str) -> dict[str, Any]:
    """The Server the Compute API made for Nova's name ``name``."""
    return next(s for s in k.items(kube, "server", namespace) if s["spec"].get("displayName") == name)
