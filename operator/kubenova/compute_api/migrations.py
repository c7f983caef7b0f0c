"""``/os-migrations`` and ``/servers/{id}/migrations``: read from the servers' moves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.compute_api import context as ctx
from kubenova.compute_api import host_views, views
from kubenova.compute_api.servers import P, find_server

routes = web.RouteTableDef()


def migration_view(obj: Mapping[str, Any], version: Any) -> dict[str, Any] | None:
    status = obj.get("status") or {}
    m = status.get("migration")
    if not m:
        return None
    meta = obj["metadata"]
    ident = f"{views.uid(obj)}/{m.get('kind')}/{m.get('sourceHost')}/{m.get('destHost')}"
    out: dict[str, Any] = {
        "id": host_views.stable_int(ident),
        "instance_uuid": views.uid(obj),
        "source_compute": m.get("sourceHost"),
        "source_node": m.get("sourceHost"),
        "dest_compute": m.get("destHost"),
        "dest_node": m.get("destHost"),
        "dest_host": None,
        "old_instance_type_id": host_views.stable_int(str(m.get("oldFlavor"))),
        "new_instance_type_id": host_views.stable_int(str(m.get("newFlavor"))),
        "status": m.get("status"),
        "migration_type": m.get("kind"),
        "created_at": views.timestamp(status.get("updated")),
        "updated_at": views.timestamp(status.get("updated")),
    }
    if version.at_least("2.59"):
        out["uuid"] = host_views.uuid_from(ident)
    if version.at_least("2.80"):
        out["project_id"] = meta.get("namespace")
        out["user_id"] = (meta.get("annotations") or {}).get(views.USER_ANNOTATION, "")
    return out


@routes.get(P + "/os-migrations")
async def migrations(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-migrations:index")
    admin = ctx.claims(request).admin
    servers = await ctx.caller(request).list("servers", "*" if admin else ctx.project(request))
    v, q = ctx.version(request), request.query
    items = [m for m in (migration_view(s, v) for s in servers) if m]
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
    # Only live migrations in progress are listed here; kubenova's are done by KubeVirt at once.
    await find_server(request, request.match_info["id"])
    return ctx.reply({"migrations": []})
