"""``/flavors``: list, show, extra specs and flavor access read from the Flavor kind, and (admin)
create, delete and extra-spec writes, each as the caller: RBAC says who may (writes need
cluster-scoped rights on Flavors)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.api.common import API_VERSION
from kubenova.compute_api import body_types, views
from kubenova.compute_api import context as ctx
from kubenova.compute_api.errors import NovaError, bad_request, not_found
from kubenova.compute_api.servers import P

routes = web.RouteTableDef()


# ---- flavors -------------------------------------------------------------------------------


async def _flavors(request: web.Request) -> list[dict[str, Any]]:
    objs = await ctx.caller(request).list("flavors")
    project, admin = ctx.claims(request).project, ctx.claims(request).admin
    # Nova's is_public filter is an admin's: none lists every flavor, false the private ones;
    # anyone else (and an admin's default) sees the public ones and those shared with the project.
    raw = request.query.get("is_public", "true").strip().lower()
    public = None if raw == "none" else _boolean(raw)
    out = []
    for f in objs:
        spec = f.get("spec") or {}
        if admin and public is not True:
            if public is False and spec.get("isPublic", True):
                continue
        elif not views.flavor_visible(f, project, admin=False):
            continue
        out.append(f)
    for key, field in (("minRam", "ram"), ("minDisk", "disk")):
        if request.query.get(key):
            try:
                floor = int(request.query[key])
            except ValueError:
                raise bad_request(f"Invalid {key} filter [{request.query[key]}]") from None
            out = [f for f in out if (f.get("spec") or {}).get(field, 0) >= floor]
    out.sort(key=lambda f: f["metadata"]["name"])
    marker = request.query.get("marker")
    if marker:
        names = [views.flavor_id(f) for f in out]
        if marker not in names:
            raise bad_request(f"marker [{marker}] not found")
        out = out[names.index(marker) + 1 :]
    limit = ctx.page_limit(request)
    if limit is not None:
        out = out[:limit]
    return out


@routes.get(P + "/flavors")
async def flavors(request: web.Request) -> web.Response:
    base, v = ctx.compute_base(request), ctx.version(request)
    return ctx.reply({"flavors": [views.flavor_brief(f, base, v) for f in await _flavors(request)]})


@routes.get(P + "/flavors/detail")
async def flavors_detail(request: web.Request) -> web.Response:
    base, v = ctx.compute_base(request), ctx.version(request)
    return ctx.reply({"flavors": [views.flavor_view(f, base, v) for f in await _flavors(request)]})


async def _flavor(request: web.Request) -> dict[str, Any]:
    ident = request.match_info["id"]
    caller = ctx.caller(request)
    obj = await caller.get("flavors", ident) if ctx.KUBE_NAME.match(ident) else None
    if obj is None:
        obj = next((f for f in await caller.list("flavors") if views.uid(f) == ident), None)
    if obj is None or not views.flavor_visible(obj, ctx.claims(request).project, admin=ctx.claims(request).admin):
        raise not_found("Flavor", ident)
    return obj


@routes.get(P + "/flavors/{id}")
async def flavor(request: web.Request) -> web.Response:
    obj = await _flavor(request)
    return ctx.reply({"flavor": views.flavor_view(obj, ctx.compute_base(request), ctx.version(request))})


@routes.get(P + "/flavors/{id}/os-extra_specs")
async def extra_specs(request: web.Request) -> web.Response:
    obj = await _flavor(request)
    return ctx.reply({"extra_specs": dict((obj.get("spec") or {}).get("extraSpecs") or {})})


@routes.get(P + "/flavors/{id}/os-extra_specs/{key}")
async def extra_spec(request: web.Request) -> web.Response:
    obj = await _flavor(request)
    specs = (obj.get("spec") or {}).get("extraSpecs") or {}
    key = request.match_info["key"]
    if key not in specs:
        raise NovaError(404, f"Flavor {views.flavor_id(obj)} has no extra specs with key {key}.")
    return ctx.reply({key: specs[key]})


@routes.get(P + "/flavors/{id}/os-flavor-access")
async def flavor_access(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-flavor-access")
    obj = await _flavor(request)
    spec = obj.get("spec") or {}
    if spec.get("isPublic", True):
        raise NovaError(404, "Access list not available for public flavors.")
    fid = views.flavor_id(obj)
    return ctx.reply({"flavor_access": [{"flavor_id": fid, "tenant_id": t} for t in spec.get("access") or []]})


def _boolean(value: Any) -> bool:
    """Nova's parameter_types.boolean: true/false and their strings (tempest sends "False")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "y", "t"):
        return True
    if text in ("false", "0", "no", "off", "n", "f"):
        return False
    raise bad_request(f"Invalid input for field/attribute os-flavor-access:is_public. Value: {value}.")


@routes.post(P + "/flavors")
async def create_flavor(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-flavor-manage:create")
    f = await ctx.keyed_body(request, "flavor")
    if not isinstance(f, Mapping) or not isinstance(f.get("name"), str):
        raise bad_request("Invalid input for field/attribute flavor. 'name' is a required property")
    display = f["name"]
    if not display.strip() or len(display) > 255:
        raise bad_request("Invalid input for field/attribute name. 'name' must be 1 to 255 characters")
    # The id is the Kubernetes name; Nova makes a UUID when none (or "auto") is given.
    name = str(uuid.uuid4()) if f.get("id") in (None, "", "auto") else str(f["id"])
    if not ctx.KUBE_NAME.match(name):
        raise bad_request(
            f"Invalid flavor id {name!r}: kubenova's flavor ids are their Kubernetes names "
            "(lowercase letters, digits, '-' and '.'); give a valid id"
        )
    try:
        spec: dict[str, Any] = {"vcpus": int(f["vcpus"]), "ram": int(f["ram"]), "disk": int(f.get("disk", 0))}
    except (KeyError, TypeError, ValueError):
        raise bad_request("Invalid input for field/attribute flavor: vcpus, ram and disk are integers") from None
    for nova, ours in (("OS-FLV-EXT-DATA:ephemeral", "ephemeral"), ("swap", "swap")):
        if f.get(nova):
            spec[ours] = body_types.non_negative_integer(nova, f[nova])
    if "os-flavor-access:is_public" in f:
        spec["isPublic"] = _boolean(f["os-flavor-access:is_public"])
    if f.get("description"):
        spec["description"] = body_types.description("description", f["description"])
    caller = ctx.caller(request)
    if await caller.get("flavors", name) is not None:
        raise NovaError(409, f"Flavor with ID {name} already exists.")
    if any(views.nova_name(o) == display for o in await caller.list("flavors")):
        raise NovaError(409, f"Flavor with name {display} already exists.")
    meta: dict[str, Any] = {"name": name}
    if display != name:
        meta["annotations"] = {views.NAME_ANNOTATION: display}
    obj = await caller.create("flavors", {"apiVersion": API_VERSION, "kind": "Flavor", "metadata": meta, "spec": spec})
    return ctx.reply({"flavor": views.flavor_view(obj, ctx.compute_base(request), ctx.version(request))})


@routes.delete(P + "/flavors/{id}")
async def delete_flavor(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-flavor-manage:delete")
    obj = await _flavor(request)
    await ctx.caller(request).delete("flavors", obj["metadata"]["name"])
    return web.Response(status=202)


@routes.post(P + "/flavors/{id}/os-extra_specs")
async def set_extra_specs(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-flavor-extra-specs:create")
    specs = await ctx.keyed_body(request, "extra_specs")
    if not isinstance(specs, Mapping):
        raise bad_request("Invalid input for field/attribute extra_specs.")
    obj = await _flavor(request)
    values = {str(k): str(v) for k, v in specs.items()}
    await ctx.caller(request).patch("flavors", obj["metadata"]["name"], {"spec": {"extraSpecs": values}})
    return ctx.reply({"extra_specs": values})


@routes.delete(P + "/flavors/{id}/os-extra_specs/{key}")
async def delete_extra_spec(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-flavor-extra-specs:delete")
    obj = await _flavor(request)
    key = request.match_info["key"]
    if key not in ((obj.get("spec") or {}).get("extraSpecs") or {}):
        raise NovaError(404, f"Flavor {views.flavor_id(obj)} has no extra specs with key {key}.")
    await ctx.caller(request).patch("flavors", obj["metadata"]["name"], {"spec": {"extraSpecs": {key: None}}})
    return web.Response(status=200)  # Nova's 200 (a flavor's delete is 202)


@routes.put(P + "/flavors/{id}")
async def update_flavor(request: web.Request) -> web.Response:
    """2.55's description update, the one change Nova allows a flavor."""
    ctx.set_policy(request, "os_compute_api:os-flavor-manage:update")
    if not ctx.version(request).at_least("2.55"):
        raise NovaError(405, "The method PUT is not allowed for this resource before microversion 2.55.")
    f = await ctx.keyed_body(request, "flavor")
    if not isinstance(f, Mapping) or set(f) != {"description"}:
        raise bad_request("Invalid input for field/attribute flavor. Only 'description' may be updated")
    obj = await _flavor(request)
    obj = await ctx.caller(request).patch(
        "flavors", obj["metadata"]["name"], {"spec": {"description": f["description"]}}
    )
    return ctx.reply({"flavor": views.flavor_view(obj, ctx.compute_base(request), ctx.version(request))})


@routes.put(P + "/flavors/{id}/os-extra_specs/{key}")
async def update_extra_spec(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-flavor-extra-specs:update")
    body = await ctx.json_body(request)
    key = request.match_info["key"]
    if not isinstance(body, Mapping) or len(body) != 1:
        raise bad_request("Request body contains too many items")
    if key not in body:
        raise bad_request("Request body and URI mismatch")
    obj = await _flavor(request)
    value = str(body[key])
    await ctx.caller(request).patch("flavors", obj["metadata"]["name"], {"spec": {"extraSpecs": {key: value}}})
    return ctx.reply({key: value})


@routes.post(P + "/flavors/{id}/action")
async def flavor_action(request: web.Request) -> web.Response:
    """addTenantAccess / removeTenantAccess: a project (namespace) in the private flavor's
    ``spec.access``, with Nova's 409 and 404."""
    body = await ctx.json_body(request)
    if not isinstance(body, Mapping) or len(body) != 1:
        raise bad_request("Malformed request body")
    ((name, arg),) = body.items()
    if name not in ("addTenantAccess", "removeTenantAccess"):
        raise bad_request(f"There is no such action: {name}")
    ctx.set_policy(
        request, f"os_compute_api:os-flavor-access:{'add' if name.startswith('add') else 'remove'}_tenant_access"
    )
    if not ctx.claims(request).admin:  # Nova's policy is checked before the flavor is looked up
        raise NovaError(403, f"Policy doesn't allow {request[ctx.POLICY]} to be performed.")
    tenant = arg.get("tenant") if isinstance(arg, Mapping) else None
    if not isinstance(tenant, str) or not tenant:
        raise bad_request(f"Invalid input for field/attribute {name}. 'tenant' is a required property")
    obj = await _flavor(request)
    spec, fid = obj.get("spec") or {}, views.flavor_id(obj)
    access = list(spec.get("access") or [])
    if spec.get("isPublic", True):
        raise NovaError(409, "Can not add access to a public flavor.")
    if name == "addTenantAccess":
        if tenant in access:
            raise NovaError(409, f"Flavor access already exists for flavor {fid} and project {tenant} combination.")
        access.append(tenant)
    else:
        if tenant not in access:
            raise NovaError(404, f"Flavor access not found for {fid} / {tenant} combination.")
        access.remove(tenant)
    await ctx.caller(request).patch("flavors", obj["metadata"]["name"], {"spec": {"access": access}})
    return ctx.reply({"flavor_access": [{"flavor_id": fid, "tenant_id": t} for t in access]})
