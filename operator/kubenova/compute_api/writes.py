"""The writes beyond servers and keypairs: server metadata and tags, flavors (create, delete,
extra specs), os-services (enable, disable, forced down), os-aggregates (create, delete, hosts,
metadata), os-quota-sets (update), and os-migrations (read from the servers' moves). Each is a
write of the kind's spec as the caller: RBAC says who may (Nova's admin-only calls need
cluster-scoped rights on Flavors, Hosts, Aggregates and Quotas)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.api.common import API_VERSION
from kubenova.compute_api import context as ctx
from kubenova.compute_api import views
from kubenova.compute_api.errors import NovaError, bad_request, not_found
from kubenova.compute_api.resources import KUBE_NAME, _flavor
from kubenova.compute_api.servers import P, find_server
from kubenova.quotas import NOVA_DEFAULTS

routes = web.RouteTableDef()


async def _body(request: web.Request, key: str) -> Any:
    body = await ctx.json_body(request)
    if not isinstance(body, Mapping) or key not in body:
        raise bad_request(f"Invalid input for field/attribute {key}. '{key}' is a required property")
    return body[key]


# ---- server metadata and tags --------------------------------------------------------------


async def _patch_server(request: web.Request, obj: Mapping[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return await ctx.caller(request).patch("servers", meta["name"], {"spec": spec}, meta["namespace"])


def _metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("spec") or {}).get("metadata") or {})


@routes.get(P + "/servers/{id}/metadata")
async def metadata(request: web.Request) -> web.Response:
    return ctx.reply({"metadata": _metadata(await find_server(request, request.match_info["id"]))})


@routes.put(P + "/servers/{id}/metadata")
@routes.post(P + "/servers/{id}/metadata")
async def set_metadata(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:server-metadata:update_all")
    new = await _body(request, "metadata")
    if not isinstance(new, Mapping):
        raise bad_request("Malformed request body: metadata must be an object")
    obj = await find_server(request, request.match_info["id"])
    merged = {} if request.method == "PUT" else _metadata(obj)
    merged.update({str(k): str(v) for k, v in new.items()})
    # A merge patch cannot remove keys that a PUT leaves out: null them explicitly.
    patch: dict[str, Any] = dict.fromkeys(_metadata(obj)) if request.method == "PUT" else {}
    patch.update(merged)
    obj = await _patch_server(request, obj, {"metadata": patch})
    return ctx.reply({"metadata": _metadata(obj)})


@routes.get(P + "/servers/{id}/metadata/{key}")
async def get_metadata_item(request: web.Request) -> web.Response:
    obj = await find_server(request, request.match_info["id"])
    key = request.match_info["key"]
    md = _metadata(obj)
    if key not in md:
        raise NovaError(404, "Metadata item was not found")
    return ctx.reply({"meta": {key: md[key]}})


@routes.put(P + "/servers/{id}/metadata/{key}")
async def set_metadata_item(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:server-metadata:update")
    meta = await _body(request, "meta")
    key = request.match_info["key"]
    if not isinstance(meta, Mapping) or list(meta) != [key]:
        raise bad_request("Request body and URI mismatch")
    obj = await find_server(request, request.match_info["id"])
    await _patch_server(request, obj, {"metadata": {key: str(meta[key])}})
    return ctx.reply({"meta": {key: str(meta[key])}})


@routes.delete(P + "/servers/{id}/metadata/{key}")
async def delete_metadata_item(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:server-metadata:delete")
    obj = await find_server(request, request.match_info["id"])
    key = request.match_info["key"]
    if key not in _metadata(obj):
        raise NovaError(404, "Metadata item was not found")
    await _patch_server(request, obj, {"metadata": {key: None}})
    return web.Response(status=204)


def _tags(obj: Mapping[str, Any]) -> list[str]:
    return list((obj.get("spec") or {}).get("tags") or [])


def _tags_version(request: web.Request) -> None:
    if not ctx.version(request).at_least("2.26"):
        raise NovaError(404, "The resource could not be found.")


@routes.get(P + "/servers/{id}/tags")
async def tags(request: web.Request) -> web.Response:
    _tags_version(request)
    return ctx.reply({"tags": _tags(await find_server(request, request.match_info["id"]))})


@routes.put(P + "/servers/{id}/tags")
async def replace_tags(request: web.Request) -> web.Response:
    _tags_version(request)
    ctx.set_policy(request, "os_compute_api:os-server-tags:update_all")
    new = await _body(request, "tags")
    if not isinstance(new, list) or len(new) > 50:
        raise bad_request("Invalid input for field/attribute tags.")
    obj = await _patch_server(request, await find_server(request, request.match_info["id"]), {"tags": new})
    return ctx.reply({"tags": _tags(obj)})


@routes.put(P + "/servers/{id}/tags/{tag}")
async def add_tag(request: web.Request) -> web.Response:
    _tags_version(request)
    ctx.set_policy(request, "os_compute_api:os-server-tags:update")
    obj = await find_server(request, request.match_info["id"])
    tag = request.match_info["tag"]
    current = _tags(obj)
    if tag in current:
        return web.Response(status=204)
    await _patch_server(request, obj, {"tags": [*current, tag]})
    return web.Response(status=201, headers={"Location": str(request.url)})


@routes.get(P + "/servers/{id}/tags/{tag}")
async def has_tag(request: web.Request) -> web.Response:
    _tags_version(request)
    obj = await find_server(request, request.match_info["id"])
    if request.match_info["tag"] not in _tags(obj):
        raise NovaError(404, f"Tag {request.match_info['tag']} could not be found for instance {views.uid(obj)}.")
    return web.Response(status=204)


@routes.delete(P + "/servers/{id}/tags/{tag}")
async def delete_tag(request: web.Request) -> web.Response:
    _tags_version(request)
    ctx.set_policy(request, "os_compute_api:os-server-tags:delete")
    obj = await find_server(request, request.match_info["id"])
    tag = request.match_info["tag"]
    if tag not in _tags(obj):
        raise NovaError(404, f"Tag {tag} could not be found for instance {views.uid(obj)}.")
    await _patch_server(request, obj, {"tags": [t for t in _tags(obj) if t != tag]})
    return web.Response(status=204)


@routes.delete(P + "/servers/{id}/tags")
async def delete_tags(request: web.Request) -> web.Response:
    _tags_version(request)
    ctx.set_policy(request, "os_compute_api:os-server-tags:delete_all")
    await _patch_server(request, await find_server(request, request.match_info["id"]), {"tags": []})
    return web.Response(status=204)


# ---- flavors (admin) -----------------------------------------------------------------------


@routes.post(P + "/flavors")
async def create_flavor(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-flavor-manage:create")
    f = await _body(request, "flavor")
    if not isinstance(f, Mapping) or not isinstance(f.get("name"), str):
        raise bad_request("Invalid input for field/attribute flavor. 'name' is a required property")
    name = str(f.get("id") or f["name"])
    if name == "auto" or not KUBE_NAME.match(name):
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
            spec[ours] = int(f[nova])
    if "os-flavor-access:is_public" in f:
        spec["isPublic"] = bool(f["os-flavor-access:is_public"])
    if f.get("description"):
        spec["description"] = f["description"]
    caller = ctx.caller(request)
    if await caller.get("flavors", name) is not None:
        raise NovaError(409, f"Flavor with ID {name} already exists.")
    obj = await caller.create(
        "flavors", {"apiVersion": API_VERSION, "kind": "Flavor", "metadata": {"name": name}, "spec": spec}
    )
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
    specs = await _body(request, "extra_specs")
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
    return web.Response(status=202)


# ---- os-services (admin) -------------------------------------------------------------------


@routes.put(P + "/os-services/{id}")
async def update_service(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-services:update")
    if not ctx.version(request).at_least("2.53"):
        raise NovaError(404, "The resource could not be found.")
    body = await ctx.json_body(request)
    if not isinstance(body, Mapping):
        raise bad_request("Malformed request body")
    v = ctx.version(request)
    for host in await ctx.caller(request).list("hosts"):
        if views.service_id(host, v) == request.match_info["id"]:
            break
    else:
        raise NovaError(404, f"Service {request.match_info['id']} could not be found.")
    spec: dict[str, Any] = {}
    if "status" in body:
        if body["status"] not in ("enabled", "disabled"):
            raise bad_request("Invalid input for field/attribute status.")
        spec["enabled"] = body["status"] == "enabled"
        spec["disabledReason"] = body.get("disabled_reason") if body["status"] == "disabled" else None
    if "forced_down" in body:
        spec["forcedDown"] = bool(body["forced_down"])
    host = await ctx.caller(request).patch("hosts", host["metadata"]["name"], {"spec": spec})
    view = views.service_view(host, v)
    view["status"] = "enabled" if (host.get("spec") or {}).get("enabled", True) else "disabled"
    return ctx.reply({"service": view})


# ---- os-aggregates (admin) -----------------------------------------------------------------


async def _aggregate(request: web.Request) -> dict[str, Any]:
    v, ident = ctx.version(request), request.match_info["id"]
    for a in await ctx.caller(request).list("aggregates"):
        if ident in (str(views.aggregate_view(a, v)["id"]), a["metadata"].get("uid"), a["metadata"]["name"]):
            return a
    raise not_found("Aggregate", ident)


@routes.post(P + "/os-aggregates")
async def create_aggregate(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-aggregates:create")
    agg = await _body(request, "aggregate")
    if not isinstance(agg, Mapping) or not isinstance(agg.get("name"), str) or not KUBE_NAME.match(agg["name"]):
        raise bad_request("Invalid aggregate name: kubenova keeps aggregates as Kubernetes objects (a DNS name)")
    spec: dict[str, Any] = {}
    if agg.get("availability_zone"):
        spec["availabilityZone"] = agg["availability_zone"]
    caller = ctx.caller(request)
    if await caller.get("aggregates", agg["name"]) is not None:
        raise NovaError(409, f"Aggregate {agg['name']} already exists.")
    obj = await caller.create(
        "aggregates",
        {"apiVersion": API_VERSION, "kind": "Aggregate", "metadata": {"name": agg["name"]}, "spec": spec},
    )
    return ctx.reply({"aggregate": views.aggregate_view(obj, ctx.version(request))})


@routes.delete(P + "/os-aggregates/{id}")
async def delete_aggregate(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-aggregates:delete")
    a = await _aggregate(request)
    if (a.get("spec") or {}).get("hosts"):
        raise bad_request(f"Cannot remove aggregate {a['metadata']['name']}: it still has hosts")
    await ctx.caller(request).delete("aggregates", a["metadata"]["name"])
    return web.Response(status=200)


@routes.post(P + "/os-aggregates/{id}/action")
async def aggregate_action(request: web.Request) -> web.Response:
    body = await ctx.json_body(request)
    if not isinstance(body, Mapping) or len(body) != 1:
        raise bad_request("Malformed request body")
    ((name, arg),) = body.items()
    ctx.set_policy(request, f"os_compute_api:os-aggregates:{name}")
    a = await _aggregate(request)
    spec = a.get("spec") or {}
    hosts = list(spec.get("hosts") or [])
    patch: dict[str, Any]
    if name in ("add_host", "remove_host"):
        host = (arg or {}).get("host") if isinstance(arg, Mapping) else None
        if not host:
            raise bad_request(f"Invalid input for field/attribute {name}. 'host' is a required property")
        if name == "add_host":
            if host in hosts:
                raise NovaError(409, f"Aggregate {a['metadata']['name']} already has host {host}.")
            if await ctx.caller(request).get("hosts", host) is None:
                raise NovaError(404, f"Compute host {host} could not be found.")
            hosts.append(host)
        else:
            if host not in hosts:
                raise NovaError(404, f"Cannot remove host {host} in aggregate {a['metadata']['name']}")
            hosts.remove(host)
        patch = {"hosts": hosts}
    elif name == "set_metadata":
        md = (arg or {}).get("metadata") if isinstance(arg, Mapping) else None
        if not isinstance(md, Mapping):
            raise bad_request("Invalid input for field/attribute set_metadata.")
        patch = {
            "metadata": {str(k): (None if v is None else str(v)) for k, v in md.items() if k != "availability_zone"}
        }
        if "availability_zone" in md:
            patch["availabilityZone"] = md["availability_zone"]
    else:
        raise bad_request(f"There is no such action: {name}")
    a = await ctx.caller(request).patch("aggregates", a["metadata"]["name"], {"spec": patch})
    view = views.aggregate_view(a, ctx.version(request))
    view["hosts"] = list((a.get("spec") or {}).get("hosts") or [])
    return ctx.reply({"aggregate": view})


# ---- os-quota-sets update (admin) ----------------------------------------------------------


@routes.put(P + "/os-quota-sets/{project}")
async def update_quota(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-quota-sets:update")
    values = await _body(request, "quota_set")
    if not isinstance(values, Mapping):
        raise bad_request("Invalid input for field/attribute quota_set.")
    project = request.match_info["project"]
    spec: dict[str, int] = {}
    for key, value in values.items():
        if key in ("force", "id"):
            continue
        if key not in NOVA_DEFAULTS:
            if key.startswith(("injected_file", "fixed_ips", "floating_ips", "security_group", "networks")):
                continue  # Nova accepts (and ignores) these before 2.57 / 2.36
            raise bad_request(f"Additional properties are not allowed ('{key}' was unexpected)")
        spec[re.sub(r"_(\w)", lambda m: m.group(1).upper(), key)] = int(value)
    caller = ctx.caller(request)
    existing = await caller.list("quotas", project)
    if existing:
        await caller.patch("quotas", existing[0]["metadata"]["name"], {"spec": spec}, project)
    else:
        await caller.create(
            "quotas",
            {
                "apiVersion": API_VERSION,
                "kind": "Quota",
                "metadata": {"name": "default", "namespace": project},
                "spec": spec,
            },
        )
    from kubenova.compute_api.resources import _quota, _quota_set

    lim, _ = await _quota(request, project)
    out = _quota_set(project, lim, ctx.version(request))
    out.pop("id")
    return ctx.reply({"quota_set": out})


# ---- os-migrations -------------------------------------------------------------------------


def migration_view(obj: Mapping[str, Any], version: Any) -> dict[str, Any] | None:
    status = obj.get("status") or {}
    m = status.get("migration")
    if not m:
        return None
    meta = obj["metadata"]
    ident = f"{views.uid(obj)}/{m.get('kind')}/{m.get('sourceHost')}/{m.get('destHost')}"
    out: dict[str, Any] = {
        "id": views.stable_int(ident),
        "instance_uuid": views.uid(obj),
        "source_compute": m.get("sourceHost"),
        "source_node": m.get("sourceHost"),
        "dest_compute": m.get("destHost"),
        "dest_node": m.get("destHost"),
        "dest_host": None,
        "old_instance_type_id": views.stable_int(str(m.get("oldFlavor"))),
        "new_instance_type_id": views.stable_int(str(m.get("newFlavor"))),
        "status": m.get("status"),
        "migration_type": m.get("kind"),
        "created_at": views.timestamp(status.get("updated")),
        "updated_at": views.timestamp(status.get("updated")),
    }
    if version.at_least("2.59"):
        out["uuid"] = views.uuid_from(ident)
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
