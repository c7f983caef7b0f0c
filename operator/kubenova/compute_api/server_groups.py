"""``/os-server-groups``: list, show, create and delete on the ServerGroup kind as the caller."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.api.common import API_VERSION
from kubenova.compute_api import body_types, host_views, views
from kubenova.compute_api import context as ctx
from kubenova.compute_api.errors import NovaError, bad_request
from kubenova.compute_api.hosts import _paged
from kubenova.compute_api.servers import P

routes = web.RouteTableDef()


@routes.get(P + "/os-server-groups")
async def server_groups(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-server-groups:index")
    v = ctx.version(request)
    all_projects = ctx.claims(request).admin and request.query.get("all_projects", "").lower() in ("1", "true")
    objs = await ctx.caller(request).list("servergroups", "*" if all_projects else ctx.project(request))
    servers = await ctx.caller(request).list("servers", "*" if all_projects else ctx.project(request))
    items = [host_views.server_group_view(g, v, servers) for g in sorted(objs, key=lambda g: g["metadata"]["name"])]
    return ctx.reply({"server_groups": _paged(items, request)})


async def _group(request: web.Request) -> dict[str, Any]:
    ident = request.match_info["id"]
    for g in await ctx.caller(request).list("servergroups", ctx.project(request)):
        if views.uid(g) == ident or g["metadata"]["name"] == ident:
            return g
    raise NovaError(404, f"Instance group {ident} could not be found.")


@routes.get(P + "/os-server-groups/{id}")
async def server_group(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-server-groups:show")
    g = await _group(request)
    servers = await ctx.caller(request).list("servers", g["metadata"]["namespace"])
    return ctx.reply({"server_group": host_views.server_group_view(g, ctx.version(request), servers)})


@routes.delete(P + "/os-server-groups/{id}")
async def delete_server_group(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-server-groups:delete")
    g = await _group(request)
    await ctx.caller(request).delete("servergroups", g["metadata"]["name"], g["metadata"]["namespace"])
    return web.Response(status=204)


POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


@routes.post(P + "/os-server-groups")
async def create_server_group(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-server-groups:create")
    body = await ctx.json_body(request)
    sg = body.get("server_group") if isinstance(body, Mapping) else None
    if not isinstance(sg, Mapping) or not isinstance(sg.get("name"), str) or not sg["name"].strip():
        raise bad_request("Invalid input for field/attribute server_group. 'name' is a required property")
    v = ctx.version(request)
    if v.at_least("2.64"):
        policy = sg.get("policy")
    else:
        pols = sg.get("policies")
        policy = pols[0] if isinstance(pols, list) and len(pols) == 1 else None
    if policy not in POLICIES:
        raise bad_request(f"Invalid input for field/attribute policy. Value: {policy}.")
    spec: dict[str, Any] = {"policy": policy}
    rules = body_types.obj("rules", sg.get("rules") or {})
    if rules.get("max_server_per_host"):
        if policy != "anti-affinity":
            raise bad_request("Only anti-affinity policy supports rules.")
        spec["maxServerPerHost"] = body_types.positive_integer("max_server_per_host", rules["max_server_per_host"])
    obj = await ctx.caller(request).create(
        "servergroups",
        {
            "apiVersion": API_VERSION,
            "kind": "ServerGroup",
            "metadata": {
                "name": views.kube_name(sg["name"], suffix=secrets.token_hex(3)),
                "namespace": ctx.project(request),
                "annotations": {
                    views.NAME_ANNOTATION: sg["name"],
                    views.USER_ANNOTATION: ctx.claims(request).user_id,
                },
            },
            "spec": spec,
        },
    )
    view = host_views.server_group_view(obj, v)
    view["name"] = sg["name"]
    return ctx.reply({"server_group": view})
