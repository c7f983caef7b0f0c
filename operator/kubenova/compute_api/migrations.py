"""``/os-migrations`` and ``/servers/{id}/migrations``: read from the Migration records (one
per move, :mod:`kubenova.api.migrations`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.compute_api import context as ctx
from kubenova.compute_api import host_views, views
from kubenova.compute_api.servers import P, find_server

routes = web.RouteTableDef()


IN_PROGRESS = ("accepted", "queued", "preparing", "running")
"""A live migration's statuses before it ends (the ones ``/servers/{id}/migrations`` lists)."""


def migration_view(obj: Mapping[str, Any], version: Any) -> dict[str, Any] | None:
    """One Migration record (kubenova's kind, one per move) as Nova's os-migrations entry."""
    meta, spec = obj["metadata"], obj.get("spec") or {}
    status = obj.get("status") or {}
    if not spec.get("migrationType"):
        return None
    out: dict[str, Any] = {
        "id": host_views.stable_int(str(meta.get("uid") or meta.get("name"))),
        "instance_uuid": spec.get("serverUid"),
        "source_compute": spec.get("sourceCompute"),
        "source_node": spec.get("sourceCompute"),
        "dest_compute": spec.get("destCompute"),
        "dest_node": spec.get("destCompute"),
        "dest_host": None,
        "old_instance_type_id": host_views.stable_int(str(spec.get("oldFlavor"))),
        "new_instance_type_id": host_views.stable_int(str(spec.get("newFlavor"))),
        "status": status.get("status"),
        "migration_type": spec.get("migrationType"),
        "created_at": views.timestamp(spec.get("createdAt")),
        "updated_at": views.timestamp(status.get("updatedAt") or spec.get("createdAt")),
    }
    if version.at_least("2.59"):
        out["uuid"] = host_views.uuid_from(str(meta.get("uid") or meta.get("name")))
    if version.at_least("2.80"):
        out["project_id"] = meta.get("namespace")
        out["user_id"] = (meta.get("annotations") or {}).get(views.USER_ANNOTATION, "")
    return out


@routes.get(P + "/os-migrations")
async def migrations(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-migrations:index")
    admin = ctx.claims(request).admin
    records = await ctx.caller(request).list("migrations", "*" if admin else ctx.project(request))
    v, q = ctx.version(request), request.query
    items = [m for m in (migration_view(r, v) for r in records) if m]
    if q.get("instance_uuid"):
        items = [m for m in items if m["instance_uuid"] == q["instance_uuid"]]
    if q.get("host"):
        items = [m for m in items if q["host"] in (m["source_compute"], m["dest_compute"])]
    if q.get("status"):
        items = [m for m in items if m["status"] == q["status"]]
    if q.get("migration_type"):
        items = [m for m in items if m["migration_type"] == q["migration_type"]]
    return ctx.reply({"migrations": items})


@routes.get(P + "/servers/{id}/migrations")
async def server_migrations(request: web.Request) -> web.Response:
    """The server's live migrations in progress (the only ones Nova lists here)."""
    server = await find_server(request, request.match_info["id"])
    records = await ctx.caller(request).list("migrations", server["metadata"]["namespace"])
    v = ctx.version(request)
    items = [
        m
        for m in (migration_view(r, v) for r in records)
        if m
        and m["instance_uuid"] == views.uid(server)
        and m["migration_type"] == "live-migration"
        and m["status"] in IN_PROGRESS
    ]
    return ctx.reply({"migrations": items})
