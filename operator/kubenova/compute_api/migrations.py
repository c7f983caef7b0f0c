"""``/os-migrations`` and ``/servers/{id}/migrations``: read from the Migration records (one
per move, :mod:`kubenova.api.migrations`)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.api.common import API_VERSION
from kubenova.compute_api import context as ctx
from kubenova.compute_api import host_views, views
from kubenova.compute_api.errors import NovaError, bad_request
from kubenova.compute_api.servers import P, find_server
from kubenova.nova.actions import ActionRefused
from kubenova.servers import live
from kubenova.servers.view import Server

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


async def _in_progress(request: web.Request) -> tuple[dict[str, Any], str]:
    """The server and its live migration in progress that the path names, or Nova's error."""
    server = await find_server(request, request.match_info["id"])
    mid, uuid = request.match_info["mid"], views.uid(server)
    records = await ctx.caller(request).list("migrations", server["metadata"]["namespace"])
    views_ = [migration_view(r, ctx.version(request)) for r in records]
    if not any(m and str(m["id"]) == mid and m["instance_uuid"] == uuid for m in views_):
        raise NovaError(404, f"Migration {mid} not found for instance {uuid}.")
    return server, mid


async def _control(request: web.Request, control: live.Control) -> web.Response:
    """force_complete or abort as a ServerAction, once Nova's checks pass (the operator checks
    again when it acts: the migration may end in between)."""
    server, _ = await _in_progress(request)
    try:
        live.check_control(Server.of(server), control)
    except ActionRefused as exc:
        raise NovaError(exc.code, exc.message) from None
    meta = server["metadata"]
    await ctx.caller(request).create(
        "serveractions",
        {
            "apiVersion": API_VERSION,
            "kind": "ServerAction",
            "metadata": {
                "name": f"{meta['name'][:40]}-{control.value.lower()}-{secrets.token_hex(3)}",
                "namespace": meta["namespace"],
                "annotations": {views.USER_ANNOTATION: ctx.claims(request).user_id},
            },
            "spec": {"server": meta["name"], "action": control.value},
        },
    )
    return web.Response(status=202)


@routes.post(P + "/servers/{id}/migrations/{mid}/action")
async def migration_action(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:servers:migrations:force_complete")
    body = await ctx.json_body(request)
    if not isinstance(body, Mapping) or "force_complete" not in body:
        raise bad_request("Invalid input for field/attribute force_complete.")
    return await _control(request, live.Control.FORCE_COMPLETE)


@routes.delete(P + "/servers/{id}/migrations/{mid}")
async def abort_migration(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:servers:migrations:delete")
    return await _control(request, live.Control.ABORT)
