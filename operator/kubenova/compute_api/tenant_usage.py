"""``os-simple-tenant-usage``: Nova's usage report, derived from the Servers that exist.

What it counts, honestly: each Server of the project (or of every project, for the list) from
its launch (``status.launchedAt``, else its creation) to its termination (``status.terminatedAt``
or its deletion timestamp), else to now, clipped to the asked period, times its current flavor's
vCPUs, memory and root disk. What Nova counts and kubenova cannot: servers already deleted (a
deleted Server is gone from the API server; Nova keeps soft-deleted rows) and the flavor a
server had before a resize (Nova bills the flavor recorded on the instance, which is the new one
too, so this part agrees).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from kubenova.compute_api import context as ctx
from kubenova.compute_api import views
from kubenova.compute_api.errors import bad_request
from kubenova.compute_api.servers import P, flavors_by_name

routes = web.RouteTableDef()
FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")


def parse_time(text: str) -> dt.datetime:
    """A time as Nova's API takes it (naive UTC), or Nova's 400."""
    for fmt in FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise bad_request(f"Invalid start time or end time: {text}")


def period(query: Mapping[str, str], now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = parse_time(query["start"]) if query.get("start") else now
    stop = parse_time(query["end"]) if query.get("end") else now
    if start > stop:
        raise bad_request("Invalid start time. The start time cannot occur after the end time.")
    return start, stop


def _when(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC).replace(tzinfo=None)


def server_usage(obj: Mapping[str, Any], flavor: Mapping[str, Any], start: dt.datetime, stop: dt.datetime,
                 now: dt.datetime) -> dict[str, Any] | None:  # fmt: skip
    """One server's usage in [start, stop], or None if it did not run then."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    launched = _when(status.get("launchedAt")) or _when(meta.get("creationTimestamp"))
    ended = _when(status.get("terminatedAt")) or _when(meta.get("deletionTimestamp"))
    if launched is None or launched > stop or (ended is not None and ended < start):
        return None
    used = (min(ended or now, stop) - max(launched, start)).total_seconds()
    spec = flavor.get("spec") or {}
    return {
        "instance_id": views.uid(obj),
        "name": views.display_name(obj),
        "tenant_id": meta.get("namespace"),
        "flavor": views.nova_name(flavor) if flavor.get("metadata") else str((obj.get("spec") or {}).get("flavor")),
        "hours": max(used, 0) / 3600,
        "vcpus": int(spec.get("vcpus", 0)),
        "memory_mb": int(spec.get("ram", 0)),
        "local_gb": int(spec.get("disk", 0)),
        "started_at": launched.isoformat(),
        "ended_at": ended.isoformat() if ended else None,
        "state": "terminated" if ended else str(status.get("vmState") or "building"),
        "uptime": int(((ended or now) - launched).total_seconds()),
    }


def tenant_usages(servers: Iterable[Mapping[str, Any]], flavors: Mapping[str, Mapping[str, Any]],
                  start: dt.datetime, stop: dt.datetime, now: dt.datetime) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Each project's totals and server usages, by project."""
    out: dict[str, dict[str, Any]] = {}
    for obj in servers:
        flavor = flavors.get(str((obj.get("spec") or {}).get("flavor"))) or {}
        usage = server_usage(obj, flavor, start, stop, now)
        if usage is None:
            continue
        t = out.setdefault(str(usage["tenant_id"]), {
            "tenant_id": usage["tenant_id"], "start": start.isoformat(), "stop": stop.isoformat(),
            "total_hours": 0.0, "total_vcpus_usage": 0.0, "total_memory_mb_usage": 0.0,
            "total_local_gb_usage": 0.0, "server_usages": [],
        })  # fmt: skip
        hours = usage["hours"]
        t["total_hours"] += hours
        t["total_vcpus_usage"] += hours * usage["vcpus"]
        t["total_memory_mb_usage"] += hours * usage["memory_mb"]
        t["total_local_gb_usage"] += hours * usage["local_gb"]
        t["server_usages"].append(usage)
    return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@routes.get(P + "/os-simple-tenant-usage")
async def usage_list(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-simple-tenant-usage:list")
    now = _now()
    start, stop = period(request.query, now)
    caller = ctx.caller(request)
    servers = await caller.list("servers", "*")
    usages = tenant_usages(servers, await flavors_by_name(caller), start, stop, now)
    detailed = request.query.get("detailed", "0") not in ("0", "", "false", "False")
    items = []
    for project in sorted(usages):
        t = dict(usages[project])
        if not detailed:
            del t["server_usages"]
        items.append(t)
    return ctx.reply({"tenant_usages": items})


@routes.get(P + "/os-simple-tenant-usage/{project}")
async def usage_show(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-simple-tenant-usage:show")
    now = _now()
    start, stop = period(request.query, now)
    project = request.match_info["project"]
    caller = ctx.caller(request)
    servers = await caller.list("servers", project)
    usages = tenant_usages(servers, await flavors_by_name(caller), start, stop, now)
    return ctx.reply({"tenant_usage": usages.get(project, {})})
