"""ServerAction: a one-shot Nova server action (reboot, migrate, confirm a resize...).

Lasting state (power, pause, shelve, lock, rescue, flavor, image) is declared in the Server's
spec. Actions that happen once are objects of their own, as KubeVirt does with migrations:
``kubectl create`` one, and its status records the outcome, so nothing in a GitOps-owned
Server spec has to be edited and edited back. A ServerAction never changes once created.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubenova.api.common import (
    AGE,
    DATE_TIME,
    ApiModel,
    Column,
    Fault,
    Kind,
    ObjectName,
    StatusBase,
    rule,
    rules,
)

ActionName = Literal[
    "reboot",
    "rebuild",
    "migrate",
    "liveMigrate",
    "evacuate",
    "confirmResize",
    "revertResize",
    "forceComplete",
    "abortLiveMigration",
]
HOST_ACTIONS = ("migrate", "liveMigrate", "evacuate")


class ServerActionSpec(ApiModel):
    """Which server, which action."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(
            rule("self == oldSelf", "a ServerAction is one-shot and cannot change: create another"),
            rule(
                "!has(self.type) || self.action == 'reboot'",
                "type (SOFT or HARD) applies only to reboot",
                field_path=".type",
            ),
            rule(
                "!has(self.host) || self.action in " + str(list(HOST_ACTIONS)),
                "host applies only to migrate, liveMigrate and evacuate",
                field_path=".host",
            ),
        )
    }

    server: ObjectName
    """The Server, in this namespace."""
    action: ActionName
    """reboot, rebuild (reinstall from the spec's image, the same one: a new image is a change of
    spec.image), migrate (cold), liveMigrate, evacuate (from a down host), confirmResize or
    revertResize; forceComplete or abortLiveMigration of the server's live migration in flight."""
    type: Literal["SOFT", "HARD"] | None = None
    """For reboot: SOFT (the default, asks the guest) or HARD (power cycles)."""
    host: ObjectName | None = None
    """For migrate, liveMigrate and evacuate: the destination Host; left out, the scheduler chooses."""


class ServerActionStatus(StatusBase):
    """The outcome, like an entry of `openstack server event list`."""

    CONDITIONS = "Ready once the action has finished (successfully or not: see phase)."

    phase: Literal["Pending", "Running", "Succeeded", "Failed"] | None = None
    """Where the action is."""
    request_id: str | None = Field(default=None, max_length=64)
    """Nova-style request id (req-<uuid>), also in the Server's action history."""
    start_time: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    """When the operator began the action."""
    finish_time: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    """When it ended."""
    message: str | None = Field(default=None, max_length=4096)
    """What happened."""
    fault: Fault | None = None
    """Why it failed: Nova's 409 when the server's state does not allow it, for example."""


KIND = Kind(
    kind="ServerAction",
    plural="serveractions",
    short_names=("sact",),
    scope="Namespaced",
    description="A one-shot Nova server action; its status records the outcome.",
    spec=ServerActionSpec,
    status=ServerActionStatus,
    columns=(
        Column("Server", ".spec.server"),
        Column("Action", ".spec.action"),
        Column("Phase", ".status.phase"),
        Column("Request ID", ".status.requestId", priority=1),
        Column("Message", ".status.message", priority=1),
        AGE,
    ),
)
