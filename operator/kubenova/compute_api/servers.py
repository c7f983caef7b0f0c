"""``/servers``: create, list, show, update, delete and actions, each a write of the Server's spec
(lasting state) or a ServerAction (one-shot), exactly as ``kubectl`` would make it. The operator
does the work and records refusals it alone can know in ``status.fault``; what the API can know
now (a locked server, a state the action is not allowed from) it refuses with Nova's 409 text,
using the same rules (:mod:`kubenova.nova.actions`)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova import backends
from kubenova.api.common import API_VERSION
from kubenova.compute_api import context as ctx
from kubenova.compute_api import views
from kubenova.compute_api.errors import NovaError, bad_request, not_found
from kubenova.kube.caller import Caller
from kubenova.nova import actions as nova

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
    return views.server_view(
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
    server = views.validate_create(body, ctx.version(request))
    caller, project = ctx.caller(request), ctx.project(request)
    count = int(server.get("max_count") or server.get("min_count") or 1)
    if count != 1:
        raise bad_request("kubenova's Compute API creates one server per request (min_count/max_count 1).")
    flavor = await find_flavor(caller, str(server["flavorRef"]))
    if flavor is None:
        raise bad_request(f"Flavor {server['flavorRef']} could not be found.")
    if server.get("key_name") and await caller.get("keypairs", str(server["key_name"]), project) is None:
        raise bad_request(f"Invalid key_name provided.")  # noqa: F541 - Nova's text
    hints = (body or {}).get("OS-SCH-HNT:scheduler_hints") or (body or {}).get("os:scheduler_hints")
    spec = views.server_spec(server, flavor=flavor["metadata"]["name"], hints=hints)
    group = (spec.get("schedulerHints") or {}).get("group")
    if group:
        spec["schedulerHints"]["group"] = await _group_name(caller, project, group)
    obj = await caller.create(
        "servers",
        {
            "apiVersion": API_VERSION,
            "kind": "Server",
            "metadata": {
                "name": views.kube_name(server["name"]),
                "namespace": project,
                "annotations": {views.USER_ANNOTATION: ctx.claims(request).user_id},
            },
            "spec": spec,
        },
    )
    ident = views.uid(obj)
    out: dict[str, Any] = {
        "id": ident,
        "links": views.link(ctx.compute_base(request), "servers", ident),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": "default"}],
        "adminPass": secrets.token_urlsafe(12),
    }
    return ctx.reply({"server": out}, 202)


async def _group_name(caller: Caller, project: str, ref: str) -> str:
    for g in await caller.list("servergroups", project):
        if views.uid(g) == ref or g["metadata"]["name"] == ref:
            return str(g["metadata"]["name"])
    raise bad_request(f"Invalid server group {ref}.")


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
        items = [views.server_brief(o, base) for o in objs]
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
        changes["description"] = new["description"]
    unknown = set(new) - {"name", "description", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig", "hostname"}
    if unknown:
        raise bad_request(f"Additional properties are not allowed ({', '.join(sorted(unknown))} were unexpected)")
    if changes:
        obj = await ctx.caller(request).patch(
            "servers", obj["metadata"]["name"], {"spec": changes}, obj["metadata"]["namespace"]
        )
    flavors = await flavors_by_name(ctx.caller(request))
    return ctx.reply({"server": _view(request, obj, flavors, show=True)})


def _check(obj: Mapping[str, Any], action: nova.Action) -> None:
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    try:
        nova.check(
            action,
            uuid=views.uid(obj),
            vm_state=str(status.get("vmState") or "building"),
            task_state=status.get("taskState"),
            locked=bool(spec.get("locked")),
        )
    except nova.ActionRefused as exc:
        raise NovaError(exc.code, exc.message) from None
    if status.get("backend"):  # what the operator's planner refuses for the backend, refused now
        backend = backends.of(status["backend"])
        why = backend.UNSUPPORTED.get(action.value)
        if why:
            refused = nova.not_supported(action, backend.NAME, why)
            raise NovaError(refused.code, refused.message)


@routes.delete(P + "/servers/{id}")
async def delete(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:servers:delete")
    obj = await find_server(request, request.match_info["id"])
    if (obj.get("spec") or {}).get("locked") and not ctx.claims(request).admin:
        raise NovaError(409, f"Instance {views.uid(obj)} is locked")
    await ctx.caller(request).delete("servers", obj["metadata"]["name"], obj["metadata"]["namespace"])
    return web.Response(status=204)


# Actions on the lasting state: the spec field each writes, and the Nova rule checked first.
STATE_ACTIONS: dict[str, tuple[nova.Action, str]] = {
    "os-stop": (nova.Action.STOP, "stopped"),
    "os-start": (nova.Action.START, "active"),
    "pause": (nova.Action.PAUSE, "paused"),
    "unpause": (nova.Action.UNPAUSE, "active"),
    "suspend": (nova.Action.SUSPEND, "suspended"),
    "resume": (nova.Action.RESUME, "active"),
    "shelve": (nova.Action.SHELVE, "shelved"),
    "shelveOffload": (nova.Action.SHELVE_OFFLOAD, "shelved_offloaded"),
    "unshelve": (nova.Action.UNSHELVE, "active"),
}
ONE_SHOT: dict[str, str] = {
    "reboot": "reboot",
    "migrate": "migrate",
    "os-migrateLive": "liveMigrate",
    "evacuate": "evacuate",
    "confirmResize": "confirmResize",
    "revertResize": "revertResize",
}
ONE_SHOT_RULES = {
    "migrate": nova.Action.MIGRATE,
    "os-migrateLive": nova.Action.LIVE_MIGRATE,
    "evacuate": nova.Action.EVACUATE,
    "confirmResize": nova.Action.CONFIRM_RESIZE,
    "revertResize": nova.Action.REVERT_RESIZE,
}
UNSUPPORTED = {"createImage", "os-resetState", "trigger_crash_dump", "changePassword"}


@routes.post(P + "/servers/{id}/action")
async def action(request: web.Request) -> web.Response:  # noqa: PLR0915 - a branch per Nova action
    body = await ctx.json_body(request)
    if not isinstance(body, Mapping) or len(body) != 1:
        raise bad_request("Malformed request body: give exactly one action.")
    ((name, arg),) = body.items()
    ctx.set_policy(request, f"os_compute_api:servers:{name}")
    obj = await find_server(request, request.match_info["id"])
    meta, spec = obj["metadata"], obj.get("spec") or {}
    caller = ctx.caller(request)
    patch: dict[str, Any] | None = None
    status = 202
    if name in STATE_ACTIONS:
        rule, state = STATE_ACTIONS[name]
        _check(obj, rule)
        patch = {"state": state}
    elif name == "lock":
        patch = {"locked": True}
        if isinstance(arg, Mapping) and arg.get("locked_reason"):
            patch["lockedReason"] = str(arg["locked_reason"])
    elif name == "unlock":
        patch = {"locked": False, "lockedReason": None}
    elif name == "resize":
        if not isinstance(arg, Mapping) or not arg.get("flavorRef"):
            raise bad_request("Invalid input for field/attribute resize. 'flavorRef' is a required property")
        _check(obj, nova.Action.RESIZE)
        flavor = await find_flavor(caller, str(arg["flavorRef"]))
        if flavor is None:
            raise bad_request("Invalid flavorRef provided.")
        if flavor["metadata"]["name"] == spec.get("flavor"):
            raise bad_request("When resizing, instances must change flavor!")
        patch = {"flavor": flavor["metadata"]["name"]}
    elif name == "rebuild":
        if not isinstance(arg, Mapping) or not arg.get("imageRef"):
            raise bad_request("Invalid input for field/attribute rebuild. 'imageRef' is a required property")
        _check(obj, nova.Action.REBUILD)
        patch = {"image": views.image_reference(str(arg["imageRef"]))}
        if arg.get("name"):
            patch["displayName"] = str(arg["name"])
        if "metadata" in arg and isinstance(arg["metadata"], Mapping):
            patch["metadata"] = {str(k): str(v) for k, v in arg["metadata"].items()}
    elif name == "rescue":
        _check(obj, nova.Action.RESCUE)
        patch = {"rescue": True}
        if isinstance(arg, Mapping) and arg.get("rescue_image_ref"):
            patch["rescueImage"] = views.image_reference(str(arg["rescue_image_ref"]))
        status = 200
    elif name == "unrescue":
        _check(obj, nova.Action.UNRESCUE)
        patch = {"rescue": False, "rescueImage": None}
    elif name in ONE_SHOT:
        return await _one_shot(request, obj, name, arg)
    elif name == "os-getConsoleOutput":
        return await _console_output(request, obj, arg)
    elif name in UNSUPPORTED:
        raise NovaError(501, f"The requested functionality is not supported: {name} (kubenova's Compute API).")
    else:
        raise bad_request(f"There is no such action: {name}")
    obj = await caller.patch("servers", meta["name"], {"spec": patch}, meta["namespace"])
    if name == "rebuild":
        flavors = await flavors_by_name(caller)
        return ctx.reply({"server": _view(request, obj, flavors, show=True)}, 202)
    if name == "rescue":
        return ctx.reply({"adminPass": secrets.token_urlsafe(12)}, status)
    return web.Response(status=status)


async def _one_shot(request: web.Request, obj: Mapping[str, Any], name: str, arg: Any) -> web.Response:
    meta = obj["metadata"]
    spec: dict[str, Any] = {"server": meta["name"], "action": ONE_SHOT[name]}
    if name == "reboot":
        kind = (arg or {}).get("type", "SOFT") if isinstance(arg, Mapping) else "SOFT"
        if str(kind).upper() not in ("SOFT", "HARD"):
            raise bad_request(f"Invalid input for field/attribute type. Value: {kind}.")
        spec["type"] = str(kind).upper()
        _check(obj, nova.Action.REBOOT_HARD if spec["type"] == "HARD" else nova.Action.REBOOT)
    else:
        _check(obj, ONE_SHOT_RULES[name])
        if isinstance(arg, Mapping) and arg.get("host"):
            spec["host"] = str(arg["host"])
    await ctx.caller(request).create(
        "serveractions",
        {
            "apiVersion": API_VERSION,
            "kind": "ServerAction",
            "metadata": {
                "name": f"{meta['name'][:40]}-{ONE_SHOT[name].lower()}-{secrets.token_hex(3)}",
                "namespace": meta["namespace"],
                "annotations": {views.USER_ANNOTATION: ctx.claims(request).user_id},
            },
            "spec": spec,
        },
    )
    if name == "confirmResize":
        return web.Response(status=204)
    if name == "evacuate" and not ctx.version(request).at_least("2.14"):
        return ctx.reply({"adminPass": secrets.token_urlsafe(12)}, 200)
    return web.Response(status=200 if name == "evacuate" else 202)


@routes.get(P + "/servers/{id}/os-instance-actions")
async def instance_actions(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-instance-actions:list")
    obj = await find_server(request, request.match_info["id"])
    items = views.instance_actions(obj, ctx.version(request))
    for a in items:
        a.pop("_record")
    return ctx.reply({"instanceActions": items})


@routes.get(P + "/servers/{id}/os-instance-actions/{request_id}")
async def instance_action(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-instance-actions:show")
    obj = await find_server(request, request.match_info["id"])
    version = ctx.version(request)
    for a in views.instance_actions(obj, version):
        rec = a.pop("_record")
        if a["request_id"] == request.match_info["request_id"]:
            a["events"] = views.instance_action_events(
                rec, version, host=(obj.get("status") or {}).get("host") if ctx.claims(request).admin else None
            )
            return ctx.reply({"instanceAction": a})
    raise NovaError(
        404, f"Action for request_id {request.match_info['request_id']} on instance {views.uid(obj)} not found"
    )


async def _console_output(request: web.Request, obj: Mapping[str, Any], arg: Any) -> web.Response:
    """The guest's console: a Pod's log, read as the caller (``pods/log`` in RBAC)."""
    ctx.set_policy(request, "os_compute_api:os-console-output")
    status = obj.get("status") or {}
    workload = status.get("workload") or {}
    if workload.get("kind") != "Pod":
        raise NovaError(501, "The requested functionality is not supported: the console of a VirtualMachine "
                             "(use virtctl console).")  # fmt: skip
    length = arg.get("length") if isinstance(arg, Mapping) else None
    try:
        tail = int(length) if length not in (None, -1, "-1") else None
    except (TypeError, ValueError):
        raise bad_request(f"Invalid input for field/attribute length. Value: {length}.") from None
    output = await ctx.caller(request).pod_log(str(workload.get("name")), obj["metadata"]["namespace"], tail_lines=tail)
    if output is None:
        raise NovaError(409, f"Instance {views.uid(obj)} is not ready: its console is not available yet.")
    return ctx.reply({"output": output})
