"""The compute API's other collections: flavors, os-keypairs, limits, os-quota-sets,
os-hypervisors, os-services, os-availability-zone, os-aggregates and os-server-groups, each read
from (or written to) its kind as the caller."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.api.common import API_VERSION
from kubenova.compute_api import context as ctx
from kubenova.compute_api import views
from kubenova.compute_api.errors import NovaError, bad_request, not_found
from kubenova.compute_api.servers import P
from kubenova.quotas import NOVA_DEFAULTS

routes = web.RouteTableDef()
KUBE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


# ---- flavors -------------------------------------------------------------------------------


async def _flavors(request: web.Request) -> list[dict[str, Any]]:
    objs = await ctx.caller(request).list("flavors")
    project, admin = ctx.claims(request).project, ctx.claims(request).admin
    is_public = request.query.get("is_public", "true").lower()
    out = []
    for f in objs:
        spec = f.get("spec") or {}
        if admin and is_public in ("none", "false"):
            if is_public == "false" and spec.get("isPublic", True):
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
    if request.query.get("limit"):
        out = out[: int(request.query["limit"])]
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
    obj = await caller.get("flavors", ident) if KUBE_NAME.match(ident) else None
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


# ---- keypairs ------------------------------------------------------------------------------


@routes.get(P + "/os-keypairs")
async def keypairs(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-keypairs:index")
    v = ctx.version(request)
    objs = sorted(await ctx.caller(request).list("keypairs", ctx.project(request)), key=lambda o: o["metadata"]["name"])
    return ctx.reply({"keypairs": [{"keypair": views.keypair_view(o, v)} for o in objs]})


@routes.get(P + "/os-keypairs/{name}")
async def keypair(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-keypairs:show")
    name = request.match_info["name"]
    obj = await ctx.caller(request).get("keypairs", name, ctx.project(request)) if KUBE_NAME.match(name) else None
    if obj is None:
        raise NovaError(404, f"Keypair {name} not found for user {ctx.claims(request).user_id}")
    view = views.keypair_view(obj, ctx.version(request), user_id=ctx.claims(request).user_id, detail=True)
    return ctx.reply({"keypair": view})


@routes.delete(P + "/os-keypairs/{name}")
async def delete_keypair(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-keypairs:delete")
    name, project = request.match_info["name"], ctx.project(request)
    caller = ctx.caller(request)
    if not KUBE_NAME.match(name) or await caller.get("keypairs", name, project) is None:
        raise NovaError(404, f"Keypair {name} not found for user {ctx.claims(request).user_id}")
    await caller.delete("keypairs", name, project)
    return web.Response(status=204 if ctx.version(request).at_least("2.2") else 202)


@routes.post(P + "/os-keypairs")
async def create_keypair(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-keypairs:create")
    body = await ctx.json_body(request)
    kp = body.get("keypair") if isinstance(body, Mapping) else None
    if not isinstance(kp, Mapping) or not isinstance(kp.get("name"), str):
        raise bad_request("Invalid input for field/attribute keypair. 'name' is a required property")
    name = kp["name"]
    if not KUBE_NAME.match(name) or len(name) > 253:
        raise bad_request(
            f"Keypair data is invalid: kubenova keeps keypairs as Kubernetes objects, so the name {name!r} must be "
            "lowercase letters, digits, '-' and '.'"
        )
    version = ctx.version(request)
    kind = kp.get("type", "ssh") if version.at_least("2.2") else "ssh"
    public_key = kp.get("public_key")
    if not public_key and version.at_least("2.92"):
        raise bad_request("Invalid input for field/attribute keypair. 'public_key' is a required property")
    caller, project = ctx.caller(request), ctx.project(request)
    spec: dict[str, Any] = {"type": kind}
    if public_key:
        spec["publicKey"] = public_key
    if await caller.get("keypairs", name, project) is not None:
        raise NovaError(409, f"Key pair '{name}' already exists.")
    await caller.create(
        "keypairs",
        {
            "apiVersion": API_VERSION,
            "kind": "Keypair",
            "metadata": {"name": name, "namespace": project},
            "spec": spec,
        },
    )
    obj = await _ready_keypair(request, name, project)
    status = obj.get("status") or {}
    fault = status.get("fault")
    if fault:
        await caller.delete("keypairs", name, project)
        raise bad_request(f"Keypair data is invalid: {fault.get('message', '')}")
    view = views.keypair_view(obj, version, user_id=ctx.claims(request).user_id)
    if version.at_least("2.10"):
        view["user_id"] = ctx.claims(request).user_id
    if not public_key:
        ref = (status.get("privateKeySecretRef") or {}).get("name")
        data = await caller.secret_data(ref, project) if ref else None
        private = next((v for k, v in (data or {}).items() if "private" in k.lower() or k.startswith("id_")), None)
        view["private_key"] = private or next(iter((data or {}).values()), "")
    return ctx.reply({"keypair": view}, 201 if version.at_least("2.2") else 200)


async def _ready_keypair(request: web.Request, name: str, project: str, wait: float = 20) -> dict[str, Any]:
    """The keypair once the operator has filled in its status (fingerprint, generated key)."""
    caller = ctx.caller(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        obj = await caller.get("keypairs", name, project)
        status = (obj or {}).get("status") or {}
        if obj and (status.get("fingerprint") or status.get("fault")):
            return obj
        if loop.time() > deadline:
            raise NovaError(503, f"Keypair {name} was not ready in time: is the kubenova operator running?")
        await asyncio.sleep(0.2)


# ---- limits and quotas ---------------------------------------------------------------------


async def _quota(request: web.Request, project: str) -> tuple[dict[str, int], dict[str, int]]:
    """(limits, in use) of ``project``: the Quota's status where the operator wrote one, else
    the Quota's spec over Nova's defaults, with usage counted from the Servers."""
    caller = ctx.caller(request)
    quotas = await caller.list("quotas", project)
    limits = dict(NOVA_DEFAULTS)
    used = dict.fromkeys(NOVA_DEFAULTS, 0)
    for q in quotas:
        spec = q.get("spec") or {}
        for key in NOVA_DEFAULTS:
            camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), key)
            if spec.get(camel) is not None:
                limits[key] = int(spec[camel])
        for key, usage in ((q.get("status") or {}).get("resources") or {}).items():
            if key in used:
                used[key] = int(usage.get("inUse", 0))
                limits[key] = int(usage.get("limit", limits[key]))
    if not any(((q.get("status") or {}).get("resources")) for q in quotas):
        servers = await caller.list("servers", project)
        used["instances"] = len(servers)
        for s in servers:
            flavor = (s.get("status") or {}).get("flavor") or {}
            used["cores"] += int(flavor.get("vcpus", 0))
            used["ram"] += int(flavor.get("ram", 0))
        used["server_groups"] = len(await caller.list("servergroups", project))
        used["key_pairs"] = len(await caller.list("keypairs", project))
    return limits, used


@routes.get(P + "/limits")
async def limits(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:limits")
    project = request.query.get("tenant_id") if ctx.claims(request).admin else None
    lim, used = await _quota(request, project or ctx.project(request))
    absolute: dict[str, int] = {
        "maxTotalInstances": lim["instances"],
        "maxTotalCores": lim["cores"],
        "maxTotalRAMSize": lim["ram"],
        "maxTotalKeypairs": lim["key_pairs"],
        "maxServerMeta": lim["metadata_items"],
        "maxServerGroups": lim["server_groups"],
        "maxServerGroupMembers": lim["server_group_members"],
        "totalInstancesUsed": used["instances"],
        "totalCoresUsed": used["cores"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used["server_groups"],
    }
    v = ctx.version(request)
    if not v.at_least("2.57"):
        absolute.update({"maxPersonality": 5, "maxPersonalitySize": 10240, "maxImageMeta": 128})
    if not v.at_least("2.36"):
        absolute.update(
            {
                "maxTotalFloatingIps": -1,
                "totalFloatingIpsUsed": 0,
                "maxSecurityGroups": -1,
                "totalSecurityGroupsUsed": 0,
                "maxSecurityGroupRules": -1,
            }
        )
    return ctx.reply({"limits": {"rate": [], "absolute": absolute}})


def _quota_set(project: str, values: Mapping[str, Any], version: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": project, **{k: values[k] for k in NOVA_DEFAULTS}}
    if not version.at_least("2.57"):
        out.update({"injected_files": 5, "injected_file_content_bytes": 10240, "injected_file_path_bytes": 255})
    if not version.at_least("2.36"):
        out.update({"fixed_ips": -1, "floating_ips": -1, "security_groups": -1, "security_group_rules": -1})
    return out


def _quota_project(request: web.Request) -> str:
    wanted = request.match_info["project"]
    if wanted != ctx.project(request) and not ctx.claims(request).admin:
        raise NovaError(403, "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.")
    return wanted


@routes.get(P + "/os-quota-sets/{project}")
async def quota_show(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-quota-sets:show")
    project = _quota_project(request)
    lim, _ = await _quota(request, project)
    return ctx.reply({"quota_set": _quota_set(project, lim, ctx.version(request))})


@routes.get(P + "/os-quota-sets/{project}/detail")
async def quota_detail(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-quota-sets:detail")
    project = _quota_project(request)
    lim, used = await _quota(request, project)
    values = {k: {"limit": lim[k], "in_use": used[k], "reserved": 0} for k in NOVA_DEFAULTS}
    out = _quota_set(project, values, ctx.version(request))
    for k, v in list(out.items()):
        if k != "id" and not isinstance(v, dict):
            out[k] = {"limit": v, "in_use": 0, "reserved": 0}
    return ctx.reply({"quota_set": out})


@routes.get(P + "/os-quota-sets/{project}/defaults")
async def quota_defaults(request: web.Request) -> web.Response:
    return ctx.reply({"quota_set": _quota_set(request.match_info["project"], NOVA_DEFAULTS, ctx.version(request))})


# ---- hosts: hypervisors, services, availability zones --------------------------------------


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
    if request.query.get("limit"):
        items = items[: int(request.query["limit"])]
    return items


async def _hypervisors(request: web.Request, *, detail: bool) -> web.Response:
    hosts = await _hosts(request, "os_compute_api:os-hypervisors:list")
    v = ctx.version(request)
    pattern = request.query.get("hypervisor_hostname_pattern")
    items = []
    for h in hosts:
        view = views.hypervisor_view(h, v, detail=detail)
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
        view = views.hypervisor_view(h, v, detail=True)
        if str(view["id"]) == ident:
            return ctx.reply({"hypervisor": view})
    raise NovaError(404, f"Hypervisor with ID {ident} could not be found.")


@routes.get(P + "/os-services")
async def services(request: web.Request) -> web.Response:
    v = ctx.version(request)
    items = [views.service_view(h, v) for h in await _hosts(request, "os_compute_api:os-services:list")]
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
    return ctx.reply({"aggregates": [views.aggregate_view(a, v) for a in objs]})


@routes.get(P + "/os-aggregates/{id}")
async def aggregate(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-aggregates:show")
    v, ident = ctx.version(request), request.match_info["id"]
    for a in await ctx.caller(request).list("aggregates"):
        view = views.aggregate_view(a, v)
        if ident in (str(view["id"]), a["metadata"].get("uid"), a["metadata"]["name"]):
            return ctx.reply({"aggregate": view})
    raise not_found("Aggregate", ident)


# ---- server groups -------------------------------------------------------------------------


@routes.get(P + "/os-server-groups")
async def server_groups(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-server-groups:index")
    v = ctx.version(request)
    all_projects = ctx.claims(request).admin and request.query.get("all_projects", "").lower() in ("1", "true")
    objs = await ctx.caller(request).list("servergroups", "*" if all_projects else ctx.project(request))
    items = [views.server_group_view(g, v) for g in sorted(objs, key=lambda g: g["metadata"]["name"])]
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
    return ctx.reply({"server_group": views.server_group_view(await _group(request), ctx.version(request))})


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
    rules = sg.get("rules") or {}
    if rules.get("max_server_per_host"):
        if policy != "anti-affinity":
            raise bad_request("Only anti-affinity policy supports rules.")
        spec["maxServerPerHost"] = int(rules["max_server_per_host"])
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
    view = views.server_group_view(obj, v)
    view["name"] = sg["name"]
    return ctx.reply({"server_group": view})
