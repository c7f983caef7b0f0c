"""Security groups as NetworkPolicies: each SecurityGroup becomes one ``networking.k8s.io/v1``
NetworkPolicy, owned by the group, that selects the Pods of its member servers by a label per
group (:func:`member_label`). Pure; the SecurityGroup handler (:mod:`kubenova.handlers.securitygroups`)
writes what :func:`render` returns, and the backends label the workloads of members.

Why this carries Neutron's meaning: Neutron applies the union of the rules of a port's groups,
and a port in any group is closed but for what some rule allows. Kubernetes does the same with
the policies selecting a Pod: each policy here declares both policyTypes, so a member is
isolated both ways, and the policies of its groups add up.

What a NetworkPolicy cannot say, and how it is handled:

* ICMP (and any protocol but TCP, UDP and SCTP): a policy's ports cannot name it, and a rule
  without ports would allow every protocol, so such a rule is left out (listed in the group's
  status as unenforced): the traffic stays closed, the safer side.
* The ethertype of a rule without a remote: a policy peer cannot pick an address family, so the
  rule allows both (a CIDR's family is checked against the ethertype at apply time).
* A Pod that no policy selects is open both ways, where a Neutron port with port security and
  no group (none named, or each named one not made yet or deleted while in use) is closed. So
  every server's Pods carry :data:`PORT_SECURITY` too, and one policy per namespace
  (:func:`closed_policy`) selects them all and allows nothing: their groups' policies add what
  is allowed, and a server none of whose groups exists stays closed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from kubenova import conditions
from kubenova.api.common import API_VERSION, GROUP

LABEL_PREFIX = f"securitygroup.{GROUP}"
DEFAULT = "default"
PORT_SECURITY = f"{GROUP}/port-security"
"""On every server's Pods, whatever its groups: what the namespace's :func:`closed_policy` selects."""
CLOSED_POLICY = "kubenova-port-security"
PORT_PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP", "6": "TCP", "17": "UDP", "132": "SCTP"}
MAX_LABEL_NAME = 63
MAX_OBJECT_NAME = 253

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"direction": "egress", "ethertype": "IPv4"},
    {"direction": "egress", "ethertype": "IPv6"},
    {"direction": "ingress", "ethertype": "IPv4", "remoteGroup": DEFAULT},
    {"direction": "ingress", "ethertype": "IPv6", "remoteGroup": DEFAULT},
)
"""Neutron's rules of a project's ``default`` group: all egress, ingress from its own members."""


def _shortened(name: str, limit: int, prefix: str = "") -> str:
    """``prefix + name`` within ``limit`` characters: cut, with a hash of the whole name, when long."""
    if len(prefix) + len(name) <= limit:
        return prefix + name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    stem = name[: limit - len(prefix) - len(digest) - 1].rstrip("-.")
    return f"{prefix}{stem}-{digest}"


def member_label(group: str) -> str:
    """The label key a member's Pods carry: a label's name part is at most 63 characters."""
    return f"{LABEL_PREFIX}/{_shortened(group, MAX_LABEL_NAME)}"


def member_labels(groups: Iterable[str]) -> dict[str, str]:
    """The labels a server's Pods carry for ``groups``: one per group, and :data:`PORT_SECURITY`."""
    return {PORT_SECURITY: "enabled", **{member_label(g): "" for g in groups}}


def policy_name(group: str) -> str:
    """The group's NetworkPolicy."""
    return _shortened(group, MAX_OBJECT_NAME, "securitygroup-")


def default_group(namespace: str) -> dict[str, Any]:
    """The namespace's ``default`` SecurityGroup, as the operator makes it when a server names it
    and it does not exist (Neutron makes one per project)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "SecurityGroup",
        "metadata": {"name": DEFAULT, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "kubenova"}},
        "spec": {"description": "Default security group", "rules": [dict(r) for r in DEFAULT_RULES]},
    }


def closed_policy(namespace: str) -> dict[str, Any]:
    """The namespace's policy that closes every server's Pods both ways but for what their groups'
    policies allow (see the module's docstring). Owned by nothing: it selects only servers' Pods,
    and goes with its namespace."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": CLOSED_POLICY,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kubenova"},
        },
        "spec": {"podSelector": {"matchLabels": {PORT_SECURITY: "enabled"}}, "policyTypes": ["Ingress", "Egress"]},
    }


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A group's NetworkPolicy, and the rules it could not carry (index, reason)."""

    policy: dict[str, Any]
    unenforced: tuple[tuple[int, str], ...] = ()


def _ports(rule: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The policy ports of a rule; None for any protocol."""
    protocol = str(rule.get("protocol") or "any").lower()
    if protocol == "any":
        return None
    port: dict[str, Any] = {"protocol": PORT_PROTOCOLS[protocol]}
    low, high = rule.get("portRangeMin"), rule.get("portRangeMax")
    if low is not None:
        port["port"] = int(low)
        if high is not None and int(high) != int(low):
            port["endPort"] = int(high)
    return [port]


def _peers(rule: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The policy peers of a rule; None for any peer."""
    if rule.get("remoteGroup"):
        return [{"podSelector": {"matchLabels": {member_label(rule["remoteGroup"]): ""}}}]
    if rule.get("remoteIpPrefix"):
        # The API server may refuse a CIDR with host bits set: give it the network.
        cidr = str(ipaddress.ip_network(rule["remoteIpPrefix"], strict=False))
        return [{"ipBlock": {"cidr": cidr}}]
    return None


def unenforceable(rule: Mapping[str, Any]) -> str | None:
    """Why a rule cannot be a NetworkPolicy rule, or None."""
    protocol = str(rule.get("protocol") or "any").lower()
    if protocol == "any" or protocol in PORT_PROTOCOLS:
        return None
    return (
        f"protocol {protocol}: a NetworkPolicy matches only TCP, UDP and SCTP (or every protocol), "
        "so this rule is not enforced and the traffic it allows stays blocked"
    )


def policy_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """One NetworkPolicy ingress or egress rule for a group rule that a policy can carry."""
    out: dict[str, Any] = {}
    peers = _peers(rule)
    if peers is not None:
        out["from" if rule["direction"] == "ingress" else "to"] = peers
    ports = _ports(rule)
    if ports is not None:
        out["ports"] = ports
    return out


def render(name: str, namespace: str, uid: str, spec: Mapping[str, Any]) -> Rendered:
    """The NetworkPolicy of the group ``name`` (uid ``uid``) with ``spec``."""
    ingress: list[dict[str, Any]] = []
    egress: list[dict[str, Any]] = []
    unenforced: list[tuple[int, str]] = []
    for i, rule in enumerate(spec.get("rules") or []):
        why = unenforceable(rule)
        if why:
            unenforced.append((i, why))
            continue
        rendered = policy_rule(rule)
        into = ingress if rule["direction"] == "ingress" else egress
        if rendered not in into:  # IPv4 and IPv6 twins of a rule without a remote are one rule
            into.append(rendered)
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": policy_name(name),
            "namespace": namespace,
            "labels": {
                f"{GROUP}/securitygroup": _shortened(name, MAX_LABEL_NAME),
                "app.kubernetes.io/managed-by": "kubenova",
            },
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "SecurityGroup",
                    "name": name,
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "podSelector": {"matchLabels": {member_label(name): ""}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }
    return Rendered(policy, tuple(unenforced))


def status(
    uid: str,
    spec: Mapping[str, Any],
    rendered: Rendered,
    *,
    previous: Mapping[str, Any],
    generation: int | None,
    now: str,
) -> dict[str, Any]:
    """The group's status once its policy is written."""
    unenforced = [{"index": i, "reason": why} for i, why in rendered.unenforced]
    message = "The NetworkPolicy carries the group's rules."
    if unenforced:
        message = f"The NetworkPolicy carries the group's rules but {len(unenforced)} (see unenforcedRules)."
    return {
        "id": uid,
        "networkPolicy": rendered.policy["metadata"]["name"],
        "memberLabel": next(iter(rendered.policy["spec"]["podSelector"]["matchLabels"])),
        "ruleCount": len(spec.get("rules") or []),
        "unenforcedRules": unenforced,
        "observedGeneration": generation,
        "conditions": conditions.ready(
            previous, ok=True, reason="PolicyWritten", message=message, generation=generation, now=now
        ),
    }


def failed_conditions(
    previous: Mapping[str, Any], message: str, generation: int | None, now: str
) -> list[dict[str, Any]]:
    """Ready=False: the policy could not be written (the group's rules are not in force)."""
    return conditions.ready(
        previous, ok=False, reason="PolicyNotWritten", message=message, generation=generation, now=now
    )


def label_changes(current: Mapping[str, str], groups: Iterable[str]) -> dict[str, str | None]:
    """A merge patch of ``current`` labels making the member labels those of ``groups`` (None
    removes one); empty when they already are. A Pod labelled before :data:`PORT_SECURITY`
    existed gets it here (checked after every restart)."""
    wanted = member_labels(groups)
    patch: dict[str, str | None] = {k: v for k, v in wanted.items() if current.get(k) != v}
    patch.update({k: None for k in current if k.startswith(LABEL_PREFIX + "/") and k not in wanted})
    return patch
