"""SecurityGroups rendered as NetworkPolicies (:mod:`kubenova.securitygroups`), exactly: Neutron's
default group, ports and ranges, CIDR and group remotes, the IPv4/IPv6 twins merged, ICMP left
out (and said so), member labels within Kubernetes' limits, the label patch of a change, and
the namespace's policy that keeps a server in no existing group closed."""

from __future__ import annotations

from typing import Any

from kubenova import securitygroups as sg

LABEL = "securitygroup.compute.kubenova.io"
PORT_SECURITY = "compute.kubenova.io/port-security"


def policy_spec(rules: list[dict[str, Any]], name: str = "web") -> dict[str, Any]:
    spec: dict[str, Any] = sg.render(name, "demo", "uid-1", {"rules": rules}).policy["spec"]
    return spec


def test_the_default_group_admits_its_members_and_lets_everything_out() -> None:
    rendered = sg.render("default", "demo", "uid-d", sg.default_group("demo")["spec"])
    assert rendered.unenforced == ()
    assert rendered.policy == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "securitygroup-default",
            "namespace": "demo",
            "labels": {"compute.kubenova.io/securitygroup": "default", "app.kubernetes.io/managed-by": "kubenova"},
            "ownerReferences": [
                {
                    "apiVersion": "compute.kubenova.io/v1alpha1",
                    "kind": "SecurityGroup",
                    "name": "default",
                    "uid": "uid-d",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "podSelector": {"matchLabels": {f"{LABEL}/default": ""}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {f"{LABEL}/default": ""}}}]}],
            "egress": [{}],
        },
    }


def test_no_rules_isolates_members_both_ways() -> None:
    assert policy_spec([]) == {
        "podSelector": {"matchLabels": {f"{LABEL}/web": ""}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [],
        "egress": [],
    }


def test_ports_ranges_protocol_numbers_and_remotes() -> None:
    spec = policy_spec(
        [
            {"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22,
             "remoteIpPrefix": "10.1.2.3/16"},
            {"direction": "ingress", "protocol": "tcp", "portRangeMin": 8000, "portRangeMax": 8080,
             "remoteGroup": "lb"},
            {"direction": "ingress", "protocol": "17", "portRangeMin": 53},
            {"direction": "ingress", "ethertype": "IPv6", "protocol": "sctp", "remoteIpPrefix": "2001:db8::/32"},
            {"direction": "egress", "protocol": "udp", "remoteIpPrefix": "192.0.2.0/24"},
        ]
    )  # fmt: skip
    assert spec["ingress"] == [
        {"from": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 22}]},
        {
            "from": [{"podSelector": {"matchLabels": {f"{LABEL}/lb": ""}}}],
            "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8080}],
        },
        {"ports": [{"protocol": "UDP", "port": 53}]},
        {"from": [{"ipBlock": {"cidr": "2001:db8::/32"}}], "ports": [{"protocol": "SCTP"}]},
    ]
    assert spec["egress"] == [{"to": [{"ipBlock": {"cidr": "192.0.2.0/24"}}], "ports": [{"protocol": "UDP"}]}]


def test_icmp_and_other_protocols_are_left_out_and_reported() -> None:
    rendered = sg.render(
        "web",
        "demo",
        "u",
        {
            "rules": [
                {"direction": "ingress", "protocol": "icmp"},
                {"direction": "ingress", "protocol": "tcp", "portRangeMin": 443},
                {"direction": "egress", "protocol": "47"},
            ]
        },
    )
    assert rendered.policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 443}]}]
    assert rendered.policy["spec"]["egress"] == []
    assert [i for i, _ in rendered.unenforced] == [0, 2]
    assert "protocol icmp" in rendered.unenforced[0][1]


def test_long_group_names_make_valid_label_keys_and_policy_names() -> None:
    long = "a" * 200 + ".example"
    key = sg.member_label(long)
    prefix, _, name = key.partition("/")
    assert prefix == LABEL
    assert len(name) <= 63
    assert name[-1].isalnum()
    assert key == sg.member_label(long) != sg.member_label("a" * 200 + ".other")
    assert len(sg.policy_name(long)) <= 253
    assert sg.member_label("web") == f"{LABEL}/web"


def test_a_membership_change_is_a_label_patch() -> None:
    secured = {PORT_SECURITY: "enabled"}
    current = {"compute.kubenova.io/server": "s1", **secured, f"{LABEL}/default": "", f"{LABEL}/old": ""}
    assert sg.label_changes(current, ["default", "web"]) == {f"{LABEL}/web": "", f"{LABEL}/old": None}
    assert sg.label_changes({**secured, f"{LABEL}/web": ""}, ["web"]) == {}
    assert sg.label_changes({**secured, f"{LABEL}/web": ""}, []) == {f"{LABEL}/web": None}


def test_every_member_is_selected_by_its_namespaces_closed_policy_whatever_its_groups() -> None:
    """A Pod no policy selects is open both ways; a Neutron port in no group that exists is
    closed. The closed policy selects every server's Pods and allows nothing."""
    assert sg.member_labels([]) == {PORT_SECURITY: "enabled"}
    assert sg.member_labels(["web"]) == {PORT_SECURITY: "enabled", f"{LABEL}/web": ""}
    # A Pod labelled before the label existed gets it at its next check (each restart).
    assert sg.label_changes({f"{LABEL}/web": ""}, ["web"]) == {PORT_SECURITY: "enabled"}
    assert sg.closed_policy("demo") == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "kubenova-port-security",
            "namespace": "demo",
            "labels": {"app.kubernetes.io/managed-by": "kubenova"},
        },
        "spec": {"podSelector": {"matchLabels": {PORT_SECURITY: "enabled"}}, "policyTypes": ["Ingress", "Egress"]},
    }


def test_status_names_the_policy_and_is_ready() -> None:
    spec = {"rules": [{"direction": "ingress", "protocol": "icmp"}]}
    rendered = sg.render("web", "demo", "u", spec)
    st = sg.status("u", spec, rendered, previous={}, generation=3, now="2026-01-01T00:00:00Z")
    assert st["networkPolicy"] == "securitygroup-web"
    assert st["memberLabel"] == f"{LABEL}/web"
    assert (st["ruleCount"], st["observedGeneration"]) == (1, 3)
    assert st["unenforcedRules"][0]["index"] == 0
    ready = st["conditions"][0]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "PolicyWritten")
