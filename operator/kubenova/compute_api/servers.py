"""``/servers``: create, list, show, update and delete, each a write of the Server's spec
exactly as ``kubectl`` would make it; the lookups of a server and a flavor the other routes share.
The server actions (``/servers/{id}/action``) are in :mod:`kubenova.compute_api.server_actions`."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.api.common import API_VERSION
from kubenova.compute_api import body_types, server_networks, server_views, server_writes, views
from kubenova.compute_api import context as ctx
from kubenova.compute_api.errors import NovaError, bad_request, not_found
from kubenova.kube.caller import Caller, Refused

routes = web.RouteTableDef()


P = "/compute/v2.1"


async def find_server(request: web.Request, ident: str) -> dict[str, Any]:
    """The Server whose Nova id (its uid) or Kubernetes name is ``ident``, in the token's project
    (or, for an admin, anywhere); Nova's 404 otherwise."""
    caller, project = ctx.caller(request), ctx.project(request)
    for obj in await caller.list("servers", project):
        if views.uid(obj) == ident or obj["metadata"]["name"] == ident:
            return obj
    if ctx.claims(request).admin:
        for obj in await caller.list("servers", "*"):
            if views.uid(obj) == ident:
                return obj
    raise not_found("Instance", ident)


async def flavors_by_name(caller: Caller) -> dict[str, dict[str, Any]]:
    try:
        return {f["metadata"]["name"]: f for f in await caller.list("flavors")}
    except Exception:
        return {}


async def find_flavor(caller: Caller, ref: str) -> dict[str, Any] | None:
    ident = views.last_segment(ref)
    obj = await caller.get("flavors", ident) if re.fullmatch(r"[a-z0-9.-]+", ident) else None
    if obj is not None:
        return obj
    for f in await caller.list("flavors"):
        if views.uid(f) == ident:
            return f
    return None


def _view(
    request: web.Request,
    obj: Mapping[str, Any],
    flavors: Mapping[str, Any],
    *,
    show: bool,
    server_actions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return server_views.server_view(
        obj,
        ctx.compute_base(request),
        ctx.version(request),
        admin=ctx.claims(request).admin,
        image_base=ctx.image_base(request),
        flavor=flavors.get(str((obj.get("spec") or {}).get("flavor"))),
        show=show,
        server_actions=server_actions,
    )


@routes.post(P + "/servers")
async def create(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:servers:create")
    body = await ctx.json_body(request)
    server = server_views.validate_create(body, ctx.version(request))
    caller, project = ctx.caller(request), ctx.project(request)
    count = int(server.get("max_count") or server.get("min_count") or 1)
    if count != 1:
        raise bad_request("kubenova's Compute API creates one server per request (min_count/max_count 1).")
    flavor = await find_flavor(caller, str(server["flavorRef"]))
    # A private flavor is usable only by the projects on its access list (admins: any).
    if flavor is None or not views.flavor_visible(flavor, project, admin=ctx.claims(request).admin):
        raise bad_request(f"Flavor {server['flavorRef']} could not be found.")
    if (
        server.get("key_name")
        and await caller.get("keypairs", views.object_name(str(server["key_name"])), project) is None
    ):
        raise bad_request(f"Invalid key_name provided.")  # noqa: F541 - Nova's text
    hints = (body or {}).get("OS-SCH-HNT:scheduler_hints") or (body or {}).get("os:scheduler_hints")
    flavor_disk = int((flavor.get("spec") or {}).get("disk") or 0)
    spec = server_views.server_spec(server, flavor=flavor["metadata"]["name"], hints=hints, flavor_disk=flavor_disk)
    uids = await _attachment_uids(caller, project) if isinstance(server.get("networks"), list) else {}
    if (nets := server_networks.networks(server.get("networks"), uids)) is not None:
        spec["networks"] = nets
    if (groups := server_networks.security_groups(server.get("security_groups"))) is not None:
        spec["securityGroups"] = groups
    group = (spec.get("schedulerHints") or {}).get("group")
    if group:
        spec["schedulerHints"]["group"] = await _group_name(caller, project, group)
    await _server_hints(caller, project, spec.get("schedulerHints") or {})
    obj = await caller.create(
        "servers",
        {
            "apiVersion": API_VERSION,
            "kind": "Server",
            "metadata": {
                "name": views.kube_name(server["name"]),
                "namespace": project,
                "annotations": {
                    views.USER_ANNOTATION: ctx.claims(request).user_id,
                    **server_writes.access_ip_annotations(server),
                },
            },
            "spec": spec,
        },
    )
    ident = views.uid(obj)
    out: dict[str, Any] = {
        "id": ident,
        "links": views.link(ctx.compute_base(request), "servers", ident),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": server_networks.shown(spec),
        "adminPass": secrets.token_urlsafe(12),
    }
    return ctx.reply({"server": out}, 202)


async def _attachment_uids(caller: Caller, project: str) -> dict[str, str]:
    """The project's NetworkAttachmentDefinitions' names by uid (a network's uuid may be either);
    none if the caller may not list them or Multus is not installed (names still work)."""
    try:
        nads = await caller.list("network-attachment-definitions", project)
    except Refused:
        return {}
    return {n["metadata"]["uid"]: n["metadata"]["name"] for n in nads}


async def _group_name(caller: Caller, project: str, ref: str) -> str:
    for g in await caller.list("servergroups", project):
        if views.uid(g) == ref or g["metadata"]["name"] == ref:
            return str(g["metadata"]["name"])
    raise bad_request(f"Invalid server group {ref}.")


async def _server_hints(caller: Caller, project: str, hints: dict[str, Any]) -> None:
    """same_host / different_host name servers by Nova id (uuid); the spec by Kubernetes name."""
    keys = [k for k in ("sameHost", "differentHost") if hints.get(k)]
    if not keys:
        return
    names = {views.uid(s): s["metadata"]["name"] for s in await caller.list("servers", project)}
    for key in keys:  # an unknown server stays as given: Nova's filters pass over it too
        hints[key] = [names.get(ref, ref) for ref in hints[key]]


def _filtered(request: web.Request, objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    q = request.query
    out = objs
    if q.get("name"):
        try:
            pattern = re.compile(q["name"])
        except re.error:
            raise bad_request(f"Invalid filter name: {q['name']}") from None
        out = [o for o in out if pattern.search(views.display_name(o))]
    if q.get("status"):
        wanted = {s.upper() for s in q.getall("status")}
        out = [o for o in out if ((o.get("status") or {}).get("status") or "BUILD") in wanted]
    if q.get("host") and ctx.claims(request).admin:
        out = [o for o in out if (o.get("status") or {}).get("host") == q["host"]]
    since = q.get("changes-since") or q.get("changes_since")
    if since:
        out = [
            o for o in out if ((o.get("status") or {}).get("updated") or o["metadata"]["creationTimestamp"]) >= since
        ]
    if q.get("flavor"):
        out = [o for o in out if (o.get("spec") or {}).get("flavor") == q["flavor"]]
    if q.get("image"):
        ref = views.image_reference(q["image"])
        out = [o for o in out if (o.get("spec") or {}).get("image") == ref]
    # Nova's default order: newest first.
    out = sorted(out, key=lambda o: (o["metadata"]["creationTimestamp"], views.uid(o)), reverse=True)
    marker = q.get("marker")
    if marker:
        ids = [views.uid(o) for o in out]
        if marker not in ids:
            raise bad_request(f"marker [{marker}] not found")
        out = out[ids.index(marker) + 1 :]
    return out


async def _listing(request: web.Request, *, detail: bool) -> web.Response:
    ctx.set_policy(request, "os_compute_api:servers:detail" if detail else "os_compute_api:servers:index")
    caller, project = ctx.caller(request), ctx.project(request)
    all_tenants = request.query.get("all_tenants", "0").lower() not in ("0", "false", "") or (
        "all_tenants" in request.query and request.query["all_tenants"] == ""
    )
    if all_tenants and not ctx.claims(request).admin:
        all_tenants = False  # Nova ignores all_tenants for non-admins
    objs = await caller.list("servers", "*" if all_tenants else project)
    if request.query.get("project_id") and all_tenants:
        objs = [o for o in objs if o["metadata"]["namespace"] == request.query["project_id"]]
    objs = _filtered(request, objs)
    limit_text = request.query.get("limit")
    links: list[dict[str, str]] = []
    if limit_text:
        try:
            limit = int(limit_text)
            if limit < 0:
                raise ValueError
        except ValueError:
            raise bad_request(f"Invalid input for field/attribute limit. Value: {limit_text}.") from None
        if len(objs) > limit:
            objs = objs[:limit]
            last = views.uid(objs[-1]) if objs else ""
            path = "servers/detail" if detail else "servers"
            links = [{"rel": "next", "href": f"{ctx.compute_base(request)}/v2.1/{path}?limit={limit}&marker={last}"}]
    if detail:
        flavors = await flavors_by_name(caller)
        items = [_view(request, o, flavors, show=False) for o in objs]
    else:
        base = ctx.compute_base(request)
        items = [server_views.server_brief(o, base) for o in objs]
    data: dict[str, Any] = {"servers": items}
    if links:
        data["servers_links"] = links
    return ctx.reply(data)


@routes.get(P + "/servers")
async def index(request: web.Request) -> web.Response:
    return await _listing(request, detail=False)


@routes.get(P + "/servers/detail")
async def detail(request: web.Request) -> web.Response:
    return await _listing(request, detail=True)


@routes.get(P + "/servers/{id}")
async def show(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:servers:show")
    obj = await find_server(request, request.match_info["id"])
    caller = ctx.caller(request)
    flavors = await flavors_by_name(caller)
    pending = await caller.list("serveractions", obj["metadata"]["namespace"])
    return ctx.reply({"server": _view(request, obj, flavors, show=True, server_actions=pending)})


@routes.put(P + "/servers/{id}")
async def update(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:servers:update")
    body = await ctx.json_body(request)
    if not isinstance(body, Mapping) or not isinstance(body.get("server"), Mapping):
        raise bad_request("Invalid input for field/attribute server. 'server' is a required property")
    obj = await find_server(request, request.match_info["id"])
    changes: dict[str, Any] = {}
    new = body["server"]
    if "name" in new:
        if not isinstance(new["name"], str) or not new["name"].strip() or len(new["name"]) > 255:
            raise bad_request("Invalid input for field/attribute name.")
        changes["displayName"] = new["name"]
    if "description" in new:
        if not ctx.version(request).at_least("2.19"):
            raise bad_request("Additional properties are not allowed ('description' was unexpected)")
        changes["description"] = body_types.description("description", new["description"])
    if "hostname" in new:
        body_types.hostname("hostname", new["hostname"])
    unknown = set(new) - {"name", "description", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig", "hostname"}
    if unknown:
        raise bad_request(f"Additional properties are not allowed ({', '.join(sorted(unknown))} were unexpected)")
    patch: dict[str, Any] = {"spec": changes} if changes else {}
    if access := server_writes.access_ip_annotations(new):
        patch["metadata"] = {"annotations": access}
    if patch:
        obj = await ctx.caller(request).patch("servers", obj["metadata"]["name"], patch, obj["metadata"]["namespace"])
    flavors = await flavors_by_name(ctx.caller(request))
    return ctx.reply(
        {"server": server_writes.update_view(_view(request, obj, flavors, show=True), ctx.version(request))}
    )


@routes.delete(P + "/servers/{id}")
async def delete(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:servers:delete")
    obj = await find_server(request, request.match_info["id"])
    if (obj.get("spec") or {}).get("locked") and not ctx.claims(request).admin:
        raise NovaError(409, f"Instance {views.uid(obj)} is locked")
    await ctx.caller(request).delete("servers", obj["metadata"]["name"], obj["metadata"]["namespace"])
    return web.Response(status=204)
