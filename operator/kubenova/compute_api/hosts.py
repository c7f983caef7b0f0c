"""The hosts' side: os-hypervisors and os-services read from the Host kind (and os-services
enabled, disabled or forced down), os-availability-zone, and os-aggregates read and written
(create, delete, hosts, metadata) on the Aggregate kind, each as the caller: RBAC says who may."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.api.common import API_VERSION
from kubenova.compute_api import body_types, host_views, views
from kubenova.compute_api import context as ctx
from kubenova.compute_api.errors import NovaError, bad_request, not_found
from kubenova.compute_api.servers import P

routes = web.RouteTableDef()


async def _hosts(request: web.Request, policy: str) -> list[dict[str, Any]]:
    ctx.set_policy(request, policy)
    return sorted(await ctx.caller(request).list("hosts"), key=lambda h: h["metadata"]["name"])


def _paged(items: list[dict[str, Any]], request: web.Request, key: str = "id") -> list[dict[str, Any]]:
    marker = request.query.get("marker")
    if marker:
        ids = [str(i[key]) for i in items]
        if marker not in ids:
            raise bad_request(f"marker [{marker}] not found")
        items = items[ids.index(marker) + 1 :]
    limit = ctx.page_limit(request)
    if limit is not None:
        items = items[:limit]
    return items


async def _hypervisors(request: web.Request, *, detail: bool) -> web.Response:
    hosts = await _hosts(request, "os_compute_api:os-hypervisors:list")
    v = ctx.version(request)
    pattern = request.query.get("hypervisor_hostname_pattern")
    items = []
    for h in hosts:
        view = host_views.hypervisor_view(h, v, detail=detail)
        if pattern and pattern not in str(view["hypervisor_hostname"]):
            continue
        if v.at_least("2.53") and request.query.get("with_servers", "").lower() in ("1", "true"):
            view["servers"] = [
                {"name": s.get("name"), "uuid": s.get("uid")} for s in (h.get("status") or {}).get("servers") or []
            ]
        items.append(view)
    if pattern and not items:
        raise NovaError(404, f"No hypervisor matching '{pattern}' could be found.")
    return ctx.reply({"hypervisors": _paged(items, request)})


@routes.get(P + "/os-hypervisors")
async def hypervisors(request: web.Request) -> web.Response:
    return await _hypervisors(request, detail=False)


@routes.get(P + "/os-hypervisors/detail")
async def hypervisors_detail(request: web.Request) -> web.Response:
    return await _hypervisors(request, detail=True)


@routes.get(P + "/os-hypervisors/{id}")
async def hypervisor(request: web.Request) -> web.Response:
    v = ctx.version(request)
    ident = request.match_info["id"]
    for h in await _hosts(request, "os_compute_api:os-hypervisors:show"):
        view = host_views.hypervisor_view(h, v, detail=True)
        if str(view["id"]) == ident:
            return ctx.reply({"hypervisor": view})
    raise NovaError(404, f"Hypervisor with ID {ident} could not be found.")


@routes.get(P + "/os-services")
async def services(request: web.Request) -> web.Response:
    v = ctx.version(request)
    items = [host_views.service_view(h, v) for h in await _hosts(request, "os_compute_api:os-services:list")]
    if request.query.get("host"):
        items = [s for s in items if s["host"] == request.query["host"]]
    if request.query.get("binary"):
        items = [s for s in items if s["binary"] == request.query["binary"]]
    return ctx.reply({"services": items})


@routes.get(P + "/os-availability-zone")
async def zones(request: web.Request) -> web.Response:
    names: set[str] = set()
    try:
        hosts = await ctx.caller(request).list("hosts")
        names = {str((h.get("status") or {}).get("availabilityZone") or "nova") for h in hosts}
    except Exception:  # a user who may not read Hosts still sees the default zone
        names = set()
    names = names or {"nova"}
    return ctx.reply(
        {
            "availabilityZoneInfo": [
                {"zoneName": z, "zoneState": {"available": True}, "hosts": None} for z in sorted(names)
            ]
        }
    )


@routes.get(P + "/os-availability-zone/detail")
async def zones_detail(request: web.Request) -> web.Response:
    hosts = await _hosts(request, "os_compute_api:os-availability-zone:detail")
    by_zone: dict[str, dict[str, Any]] = {}
    for h in hosts:
        status = h.get("status") or {}
        zone = str(status.get("availabilityZone") or "nova")
        by_zone.setdefault(zone, {})[h["metadata"]["name"]] = {
            "nova-compute": {
                "active": status.get("status", "enabled") == "enabled",
                "available": status.get("state", "up") == "up",
                "updated_at": None,
            }
        }
    info = [{"zoneName": z, "zoneState": {"available": True}, "hosts": hs} for z, hs in sorted(by_zone.items())]
    return ctx.reply({"availabilityZoneInfo": info})


# ---- aggregates ----------------------------------------------------------------------------


@routes.get(P + "/os-aggregates")
async def aggregates(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-aggregates:index")
    v = ctx.version(request)
    objs = sorted(await ctx.caller(request).list("aggregates"), key=lambda a: a["metadata"]["name"])
    return ctx.reply({"aggregates": [host_views.aggregate_view(a, v) for a in objs]})


@routes.get(P + "/os-aggregates/{id}")
async def aggregate(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-aggregates:show")
    v, ident = ctx.version(request), request.match_info["id"]
    for a in await ctx.caller(request).list("aggregates"):
        view = host_views.aggregate_view(a, v)
        if ident in (str(view["id"]), a["metadata"].get("uid"), a["metadata"]["name"]):
            return ctx.reply({"aggregate": view})
    raise not_found("Aggregate", ident)


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
        if host_views.service_id(host, v) == request.match_info["id"]:
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
    view = host_views.service_view(host, v)
    view["status"] = "enabled" if (host.get("spec") or {}).get("enabled", True) else "disabled"
    return ctx.reply({"service": view})


# ---- os-aggregates (admin) -----------------------------------------------------------------


async def _aggregate(request: web.Request) -> dict[str, Any]:
    v, ident = ctx.version(request), request.match_info["id"]
    for a in await ctx.caller(request).list("aggregates"):
        if ident in (str(host_views.aggregate_view(a, v)["id"]), a["metadata"].get("uid"), a["metadata"]["name"]):
            return a
    raise not_found("Aggregate", ident)


def _aggregate_name(agg: Any) -> str:
    """The aggregate's name, or Nova's 400 (1-255 characters, not only spaces)."""
    name = agg.get("name") if isinstance(agg, Mapping) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise bad_request("Invalid input for field/attribute name. Value: None. 'name' must be 1 to 255 characters")
    return name


def _zone(value: Any, field: str) -> str | None:
    """An aggregate's zone: a name (Nova's ``az_name``), or null or empty (none)."""
    return None if value in (None, "") else body_types.name(field, value)


@routes.post(P + "/os-aggregates")
async def create_aggregate(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-aggregates:create")
    agg = await ctx.keyed_body(request, "aggregate")
    name = _aggregate_name(agg)
    spec: dict[str, Any] = {}
    if (zone := _zone(agg.get("availability_zone"), "availability_zone")) is not None:
        spec["availabilityZone"] = zone
    caller = ctx.caller(request)
    # The Kubernetes name comes from the Nova name (views.object_name): Nova's unique names.
    if any(views.nova_name(a) == name for a in await caller.list("aggregates")):
        raise NovaError(409, f"Aggregate {name} already exists.")
    meta = {"name": views.object_name(name), "annotations": views.name_annotations(name)}
    obj = await caller.create(
        "aggregates", {"apiVersion": API_VERSION, "kind": "Aggregate", "metadata": meta, "spec": spec}
    )
    view = host_views.aggregate_view(obj, ctx.version(request))
    for key in ("hosts", "metadata"):  # Nova's create answers neither
        view.pop(key)
    return ctx.reply({"aggregate": view})


@routes.put(P + "/os-aggregates/{id}")
async def update_aggregate(request: web.Request) -> web.Response:
    """Nova's rename and zone change: the name lives in the annotation (the object keeps its
    Kubernetes name), the zone in ``spec.availabilityZone``."""
    ctx.set_policy(request, "os_compute_api:os-aggregates:update")
    agg = await ctx.keyed_body(request, "aggregate")
    if not isinstance(agg, Mapping) or not ({"name", "availability_zone"} & set(agg)):
        raise bad_request("Invalid input for field/attribute aggregate. Give name or availability_zone")
    a = await _aggregate(request)
    caller = ctx.caller(request)
    patch: dict[str, Any] = {}
    if "name" in agg:
        name = _aggregate_name(agg)
        if any(views.nova_name(o) == name and o["metadata"]["name"] != a["metadata"]["name"]
               for o in await caller.list("aggregates")):  # fmt: skip
            raise NovaError(409, f"Aggregate {name} already exists.")
        patch["metadata"] = {"annotations": {views.NAME_ANNOTATION: name}}
    if "availability_zone" in agg:
        patch["spec"] = {"availabilityZone": _zone(agg["availability_zone"], "availability_zone")}
    a = await caller.patch("aggregates", a["metadata"]["name"], patch)
    view = host_views.aggregate_view(a, ctx.version(request))
    view["updated_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")  # Nova stamps an update
    if "availability_zone" in agg:  # the new zone, before the operator's status catches up
        view["availability_zone"] = agg["availability_zone"] or None
        if agg["availability_zone"]:
            view["metadata"]["availability_zone"] = agg["availability_zone"]
        else:
            view["metadata"].pop("availability_zone", None)
    return ctx.reply({"aggregate": view})


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
        host = arg.get("host") if isinstance(arg, Mapping) else None
        if not isinstance(host, str) or not host:
            raise bad_request(f"Invalid input for field/attribute {name}. 'host' is a required property")
        if name == "add_host":
            if host in hosts:
                raise NovaError(409, f"Aggregate {views.nova_name(a)} already has host {host}.")
            if await ctx.caller(request).get("hosts", host) is None:
                raise NovaError(404, f"Compute host {host} could not be found.")
            hosts.append(host)
        else:
            if host not in hosts:
                raise NovaError(404, f"Cannot remove host {host} in aggregate {views.nova_name(a)}")
            hosts.remove(host)
        patch = {"hosts": hosts}
    elif name == "set_metadata":
        md = arg.get("metadata") if isinstance(arg, Mapping) else None
        if not isinstance(md, Mapping):
            raise bad_request("Invalid input for field/attribute set_metadata.")
        patch = {
            "metadata": {str(k): (None if v is None else str(v)) for k, v in md.items() if k != "availability_zone"}
        }
        if "availability_zone" in md:
            patch["availabilityZone"] = _zone(md["availability_zone"], "set_metadata")
    else:
        raise bad_request(f"There is no such action: {name}")
    a = await ctx.caller(request).patch("aggregates", a["metadata"]["name"], {"spec": patch})
    view = host_views.aggregate_view(a, ctx.version(request))
    view["hosts"] = list((a.get("spec") or {}).get("hosts") or [])
    return ctx.reply({"aggregate": view})
