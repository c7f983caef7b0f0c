"""SecurityGroup: Neutron's security group, namespaced, as far as a Kubernetes NetworkPolicy can
carry it. Servers name their groups (``Server.spec.securityGroups``); the operator renders each
group into one NetworkPolicy selecting its members (see :mod:`kubenova.securitygroups`).

Neutron's rule fields keep their meaning: direction, ethertype, protocol, the port range and
one remote (a CIDR or another group of the namespace). Neutron's checks are CEL rules here, with
Neutron's messages where it has them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubenova.api.common import AGE, ApiModel, Column, Kind, ObjectName, StatusBase, rule, rules

PROTOCOL = r"^(any|tcp|udp|sctp|icmp|icmpv6|ipv6-icmp|[0-9]{1,3})$"
PORT_PROTOCOLS = ("tcp", "udp", "sctp", "6", "17", "132")
MAX_RULES = 200


class SecurityGroupRule(ApiModel):
    """One rule (Neutron's security group rule): traffic it allows, in one direction."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(
            rule(
                "!has(self.remoteIpPrefix) || !has(self.remoteGroup)",
                "Only remote_ip_prefix or remote_group may be provided (remoteIpPrefix or remoteGroup)",
            ),
            rule(
                "!has(self.portRangeMax) || has(self.portRangeMin)",
                "portRangeMax needs portRangeMin",
                field_path=".portRangeMax",
            ),
            rule(
                "!has(self.portRangeMin) || !has(self.portRangeMax) || self.portRangeMin <= self.portRangeMax",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max (portRangeMin <= portRangeMax)",
                field_path=".portRangeMin",
            ),
            rule(
                "!has(self.portRangeMin) || (has(self.protocol) && self.protocol in " + str(list(PORT_PROTOCOLS)) + ")",
                "a port range needs protocol tcp, udp or sctp (a NetworkPolicy cannot match ICMP types)",
                field_path=".portRangeMin",
            ),
            rule(
                "!has(self.remoteIpPrefix) || !isCIDR(self.remoteIpPrefix)"
                " || cidr(self.remoteIpPrefix).ip().family() == (self.ethertype == 'IPv6' ? 6 : 4)",
                "Conflicting value ethertype for remoteIpPrefix: the CIDR's address family must be the ethertype's",
                field_path=".remoteIpPrefix",
            ),
            rule(
                "!has(self.protocol) || !(self.protocol in ['icmp']) || self.ethertype == 'IPv4'",
                "protocol icmp is IPv4's: use icmpv6 with ethertype IPv6",
                field_path=".protocol",
            ),
        )
    }

    direction: Literal["ingress", "egress"]
    """ingress: traffic to the group's servers; egress: traffic from them."""
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    """The address family the rule is for (Neutron's ethertype)."""
    protocol: str | None = Field(
        default=None,
        max_length=9,
        pattern=PROTOCOL,
        json_schema_extra=rules(
            rule("!self.matches('^[0-9]+$') || int(self) <= 255", "a protocol number is 0 to 255"),
        ),
    )
    """tcp, udp, sctp, icmp, icmpv6, a protocol number (0-255), or any (left out: any)."""
    port_range_min: int | None = Field(default=None, ge=1, le=65535)
    """The first port allowed (tcp, udp, sctp)."""
    port_range_max: int | None = Field(default=None, ge=1, le=65535)
    """The last port allowed; left out, only portRangeMin."""
    remote_ip_prefix: str | None = Field(
        default=None,
        max_length=49,
        json_schema_extra=rules(rule("isCIDR(self)", "remoteIpPrefix must be a CIDR, such as 10.0.0.0/8")),
    )
    """The peer addresses (a CIDR). Left out, with no remoteGroup: any peer."""
    remote_group: ObjectName | None = None
    """The peer servers: the members of this SecurityGroup of the namespace."""
    description: str | None = Field(default=None, max_length=255)
    """Free text."""


class SecurityGroupSpec(ApiModel):
    """The group's rules."""

    description: str | None = Field(default=None, max_length=255)
    """Free text (Neutron's description)."""
    rules: list[SecurityGroupRule] = Field(default_factory=list, max_length=MAX_RULES)
    """What the group's servers may receive and send. No ingress rule: nothing may reach them (but
    their other groups' rules); no egress rule: they may send nothing (as in Neutron)."""


class UnenforcedRule(ApiModel):
    """A rule a NetworkPolicy cannot express, left out of the policy."""

    index: int = Field(ge=0)
    """Its place in spec.rules."""
    reason: str = Field(max_length=1024)
    """Why it is not enforced."""


class SecurityGroupStatus(StatusBase):
    """The NetworkPolicy the group became."""

    CONDITIONS = "Ready once the group's NetworkPolicy carries its rules."

    id: str | None = Field(default=None, max_length=64)
    """Neutron's id of the group: the object's uid."""
    network_policy: str | None = Field(default=None, max_length=253)
    """The NetworkPolicy (in the group's namespace) that carries the rules."""
    member_label: str | None = Field(default=None, max_length=317)
    """The label (key) its members' Pods carry, which the policy selects."""
    rule_count: int = Field(default=0, ge=0)
    """How many rules the group has."""
    unenforced_rules: list[UnenforcedRule] = Field(default_factory=list, max_length=MAX_RULES)
    """Rules left out of the policy (ICMP and other protocols a NetworkPolicy cannot match)."""


KIND = Kind(
    kind="SecurityGroup",
    plural="securitygroups",
    short_names=("secgroup",),
    scope="Namespaced",
    description="A Neutron security group: rules on the traffic of the servers that name it, as a NetworkPolicy.",
    spec=SecurityGroupSpec,
    status=SecurityGroupStatus,
    columns=(
        Column("Rules", ".status.ruleCount", "integer"),
        Column("Network Policy", ".status.networkPolicy"),
        Column("Ready", ".status.conditions[?(@.type=='Ready')].status"),
        Column("Description", ".spec.description", priority=1),
        AGE,
    ),
    spec_required=False,
)
