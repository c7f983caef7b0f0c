"""ServerGroup: Nova's server group, namespaced: servers that must (or should) share a host,
or must (or should) not. As in Nova, a group's policy cannot change after creation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubenova.api.common import AGE, ApiModel, Column, Kind, ObjectRef, StatusBase, rule, rules

Policy = Literal["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"]


class ServerGroupSpec(ApiModel):
    """The group's placement policy."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(
            rule("self == oldSelf", "a ServerGroup's policy and rules are immutable, as in Nova"),
            rule(
                "!has(self.maxServerPerHost) || self.policy == 'anti-affinity'",
                "maxServerPerHost applies only to the anti-affinity policy",
                field_path=".maxServerPerHost",
            ),
        )
    }

    policy: Policy
    """affinity: all members on one host; anti-affinity: each on a different host (up to
    maxServerPerHost per host); soft-*: the same as preferences, weighed rather than enforced."""
    max_server_per_host: int | None = Field(default=None, ge=1, le=1000)
    """For anti-affinity: how many members may share a host (Nova's rules.max_server_per_host, default 1)."""


class ServerGroupStatus(StatusBase):
    """The group's members and where they are."""

    CONDITIONS = "Ready once the group can take members."

    id: str | None = Field(default=None, max_length=64)
    """Nova's id of the group: the object's uid."""
    members: list[ObjectRef] = Field(default_factory=list, max_length=10000)
    """Servers in the group."""
    member_count: int = Field(default=0, ge=0)
    """How many servers are in the group."""
    hosts: list[str] = Field(default_factory=list, max_length=10000)
    """Hosts the members are placed on."""


KIND = Kind(
    kind="ServerGroup",
    plural="servergroups",
    short_names=("sg",),
    scope="Namespaced",
    description="A Nova server group: an affinity or anti-affinity policy for the servers that name it.",
    spec=ServerGroupSpec,
    status=ServerGroupStatus,
    columns=(
        Column("Policy", ".spec.policy"),
        Column("Members", ".status.memberCount", "integer"),
        Column("Max Per Host", ".spec.maxServerPerHost", "integer", priority=1),
        AGE,
    ),
)
