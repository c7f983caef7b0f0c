"""Migration: the record of one move of a Server, as Nova's ``os-migrations`` keeps it.

The operator makes one per resize, cold migration, live migration and evacuation (named after
the server and the move's request id), owned by the Server so it goes with it, and kept after the
move ends while the server exists: ``kubectl get migrations -A`` is ``openstack server migration
list``. Users read them (the chart's view role); only the operator writes them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubenova.api.common import AGE, DATE_TIME, ApiModel, Column, Kind, ObjectName, StatusBase, rule, rules

MigrationType = Literal["resize", "migration", "live-migration", "evacuation"]


class MigrationSpec(ApiModel):
    """What moved where: fixed when the move starts."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(rule("self == oldSelf", "a Migration record does not change")),
    }

    server: ObjectName
    """The Server that moved (in this namespace)."""
    server_uid: str = Field(max_length=64)
    """The server's id (Nova's instance_uuid)."""
    migration_type: MigrationType
    """Nova's migration_type: resize, migration (cold), live-migration or evacuation."""
    source_compute: str | None = Field(default=None, max_length=253)
    """The host it left (source_compute; source_node is the same host)."""
    dest_compute: str | None = Field(default=None, max_length=253)
    """The host it went to (dest_compute; dest_node is the same host)."""
    old_flavor: str | None = Field(default=None, max_length=253)
    """The flavor before the move."""
    new_flavor: str | None = Field(default=None, max_length=253)
    """The flavor after it (the same but for a resize)."""
    request_id: str = Field(max_length=64)
    """The request id of the action that made the move (in the server's action history)."""
    created_at: str = Field(json_schema_extra=DATE_TIME)
    """When the move started."""


class MigrationStatus(StatusBase):
    """Where the move is, in Nova's words."""

    CONDITIONS = "Ready once the move has ended (whichever way: see status)."

    status: str | None = Field(default=None, max_length=64)
    """Nova's migration status: migrating, post-migrating, finished, confirmed, reverting,
    reverted (resize and cold migration); accepted, queued, preparing, running, completed,
    error, cancelled (live migration); accepted, done (evacuation)."""
    updated_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    """When the status last changed."""


KIND = Kind(
    kind="Migration",
    plural="migrations",
    short_names=("mig",),
    scope="Namespaced",
    description="The record of one move of a Server (Nova's os-migrations), kept while the Server exists.",
    spec=MigrationSpec,
    status=MigrationStatus,
    columns=(
        Column("Server", ".spec.server"),
        Column("Type", ".spec.migrationType"),
        Column("Source Compute", ".spec.sourceCompute"),
        Column("Dest Compute", ".spec.destCompute"),
        Column("Status", ".status.status"),
        Column("Old Flavor", ".spec.oldFlavor"),
        Column("New Flavor", ".spec.newFlavor"),
        Column("Server UUID", ".spec.serverUid", priority=1),
        Column("Created At", ".spec.createdAt", priority=1),
        Column("Updated At", ".status.updatedAt", priority=1),
        AGE,
    ),
)
