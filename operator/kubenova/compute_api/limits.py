"""``/limits`` and ``/os-quota-sets``: a project's quotas (its Quota object, Nova's defaults
where unset) and usage, read and (admin) updated as the caller."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.api.common import API_VERSION
from kubenova.compute_api import body_types
from kubenova.compute_api import context as ctx
from kubenova.compute_api.errors import NovaError, bad_request
from kubenova.compute_api.servers import P
from kubenova.quotas import NOVA_DEFAULTS

routes = web.RouteTableDef()


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


_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


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


@routes.put(P + "/os-quota-sets/{project}")
async def update_quota(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-quota-sets:update")
    values = await ctx.keyed_body(request, "quota_set")
    if not isinstance(values, Mapping):
        raise bad_request("Invalid input for field/attribute quota_set.")
    project = request.match_info["project"]
    if not _NAMESPACE.match(project):  # a project is a namespace: nothing else can hold a quota
        raise bad_request(f"Project ID {project} is not a valid project.")
    spec: dict[str, int] = {}
    for key, value in values.items():
        if key in ("force", "id"):
            continue
        if key not in NOVA_DEFAULTS:
            if key.startswith(("injected_file", "fixed_ips", "floating_ips", "security_group", "networks")):
                continue  # Nova accepts (and ignores) these before 2.57 / 2.36
            raise bad_request(f"Additional properties are not allowed ('{key}' was unexpected)")
        spec[re.sub(r"_(\w)", lambda m: m.group(1).upper(), key)] = body_types.quota_value(key, value)
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
    lim, _ = await _quota(request, project)
    out = _quota_set(project, lim, ctx.version(request))
    out.pop("id")
    return ctx.reply({"quota_set": out})
