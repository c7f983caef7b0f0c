"""The older os-hypervisors calls Nova removed at 2.88 (statistics, uptime) or replaced at 2.53
(search and servers by hostname pattern), over the Host kind as the caller. Registered before
:mod:`kubenova.compute_api.hosts` so that ``/os-hypervisors/statistics`` is not read as an id."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from kubenova.compute_api import context as ctx
from kubenova.compute_api import host_views
from kubenova.compute_api.errors import NovaError
from kubenova.compute_api.servers import P

routes = web.RouteTableDef()
STAT_KEYS = (
    "vcpus", "vcpus_used", "memory_mb", "memory_mb_used", "free_ram_mb", "local_gb", "local_gb_used",
    "free_disk_gb", "running_vms", "current_workload", "disk_available_least",
)  # fmt: skip


def _before(request: web.Request, version: str) -> None:
    """Nova's 404 for a call its microversion no longer has."""
    if ctx.version(request).at_least(version):
        raise NovaError(404, "The resource could not be found.")


async def _hosts(request: web.Request, policy: str) -> list[dict[str, Any]]:
    ctx.set_policy(request, policy)
    return sorted(await ctx.caller(request).list("hosts"), key=lambda h: h["metadata"]["name"])


def statistics(views: list[dict[str, Any]]) -> dict[str, Any]:
    """The sums of the detailed hypervisor views (Nova's hypervisor_statistics)."""
    out: dict[str, Any] = {"count": len(views)}
    for key in STAT_KEYS:
        out[key] = sum(int(v.get(key) or 0) for v in views)
    return out


def uptime(created: str | None, now: dt.datetime) -> str:
    """An uptime in the shape of uptime(1)'s first fields, counted from when the Host was
    registered (kubenova does not read the node's boot time); no users or load figures."""
    if not created:
        return ""
    since = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    up = max(now - since, dt.timedelta(0))
    hours, rest = divmod(up.seconds, 3600)
    return f" {now:%H:%M:%S} up {up.days} days, {hours:2d}:{rest // 60:02d}"


@routes.get(P + "/os-hypervisors/statistics")
async def hypervisor_statistics(request: web.Request) -> web.Response:
    _before(request, "2.88")
    v = ctx.version(request)
    hosts = await _hosts(request, "os_compute_api:os-hypervisors:statistics")
    return ctx.reply(
        {"hypervisor_statistics": statistics([host_views.hypervisor_view(h, v, detail=True) for h in hosts])}
    )


@routes.get(P + "/os-hypervisors/{id}/uptime")
async def hypervisor_uptime(request: web.Request) -> web.Response:
    _before(request, "2.88")
    v, ident = ctx.version(request), request.match_info["id"]
    for h in await _hosts(request, "os_compute_api:os-hypervisors:uptime"):
        view = host_views.hypervisor_view(h, v, detail=False)
        if str(view["id"]) == ident:
            view["uptime"] = uptime(h["metadata"].get("creationTimestamp"), dt.datetime.now(dt.UTC))
            return ctx.reply({"hypervisor": view})
    raise NovaError(404, f"Hypervisor with ID {ident} could not be found.")


async def _matching(request: web.Request, policy: str, *, servers: bool) -> web.Response:
    _before(request, "2.53")
    v, pattern = ctx.version(request), request.match_info["pattern"]
    items = []
    for h in await _hosts(request, policy):
        view = host_views.hypervisor_view(h, v, detail=False)
        if pattern not in str(view["hypervisor_hostname"]):
            continue
        listed = [{"name": s.get("name"), "uuid": s.get("uid")} for s in (h.get("status") or {}).get("servers") or []]
        if servers and listed:  # Nova leaves the key out for a hypervisor without servers
            view["servers"] = listed
        items.append(view)
    if not items:
        raise NovaError(404, f"No hypervisor matching '{pattern}' could be found.")
    return ctx.reply({"hypervisors": items})


@routes.get(P + "/os-hypervisors/{pattern}/search")
async def hypervisor_search(request: web.Request) -> web.Response:
    return await _matching(request, "os_compute_api:os-hypervisors:search", servers=False)


@routes.get(P + "/os-hypervisors/{pattern}/servers")
async def hypervisor_servers(request: web.Request) -> web.Response:
    return await _matching(request, "os_compute_api:os-hypervisors:servers", servers=True)
