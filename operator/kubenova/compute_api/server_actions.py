"""``/servers/{id}/action`` and os-instance-actions: each action a write of the Server's spec
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
from kubenova.compute_api import consoles, server_networks, server_views, server_writes, views
from kubenova.compute_api import context as ctx
from kubenova.compute_api.errors import NovaError, bad_request
from kubenova.compute_api.servers import P, _view, find_flavor, find_server, flavors_by_name
from kubenova.nova import actions as nova

routes = web.RouteTableDef()


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
SOFT_DELETE_ONLY = {"restore", "forceDelete"}
UNSUPPORTED = {"os-resetState", "trigger_crash_dump", "changePassword"}


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
        patch.update(server_writes.rebuild_extras(arg, ctx.version(request)))
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
    elif name in ("addSecurityGroup", "removeSecurityGroup"):
        groups = server_networks.changed_groups(spec, name, arg, views.uid(obj))
        added = groups[-1] if name == "addSecurityGroup" else "default"  # default is made for whoever names it
        if added != "default" and await caller.get("securitygroups", added, meta["namespace"]) is None:
            raise NovaError(404, f"Unable to find security_group with name or id '{added}'")
        patch = {"securityGroups": groups}
    elif name == "createImage":
        return await _create_image(request, obj, arg)
    elif name == "os-getConsoleOutput":
        return await consoles.console_output(request, obj, arg)
    elif name in SOFT_DELETE_ONLY:
        # Nova allows these only on a SOFT_DELETED server; kubenova deletes at once (Nova's
        # reclaim_instance_interval=0), so no server is ever in that state: Nova's 409.
        state = str((obj.get("status") or {}).get("vmState") or "building")
        raise NovaError(409, f"Cannot '{name}' instance {views.uid(obj)} while it is in vm_state {state}")
    elif name in UNSUPPORTED:
        raise NovaError(501, f"The requested functionality is not supported: {name} (kubenova's Compute API).")
    else:
        raise bad_request(f"There is no such action: {name}")
    obj = await caller.patch("servers", meta["name"], {"spec": patch}, meta["namespace"])
    if name == "rebuild":
        flavors = await flavors_by_name(caller)
        view = server_writes.update_view(_view(request, obj, flavors, show=True), ctx.version(request), rebuild=True)
        if ctx.version(request).at_least("2.57"):  # Nova's rebuild answers the user data from 2.57
            view["user_data"] = (obj.get("spec") or {}).get("userData")
        view["adminPass"] = secrets.token_urlsafe(12)  # as the create's: Nova's enable_instance_password
        return ctx.reply({"server": view}, 202)
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


def _image_name(arg: Any) -> str:
    """An Image's object name from createImage's free-form name (a DNS subdomain: lowercase,
    anything else a dash), or Nova's 400."""
    name = arg.get("name") if isinstance(arg, Mapping) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise bad_request("Invalid input for field/attribute name. 'name' is a required property")
    slug = re.sub(r"[^a-z0-9.-]+", "-", name.strip().lower()).strip(".-")[:253]
    if not slug:
        raise bad_request(f"Invalid input for field/attribute name. Value: {name}.")
    return slug


async def _create_image(request: web.Request, obj: Mapping[str, Any], arg: Any) -> web.Response:
    """Nova's snapshot: a createImage ServerAction; the operator makes the Image. 202 with the
    image's id in the body from 2.45, a Location header before (servers.py _action_create_image).
    The id is this API's image id of the Image's name, which a later imageRef maps back to it."""
    _check(obj, nova.Action.CREATE_IMAGE)
    image = _image_name(arg)
    metadata = arg.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise bad_request("Invalid input for field/attribute metadata.")
    meta = obj["metadata"]
    spec = {"server": meta["name"], "action": "createImage", "imageName": image}
    if metadata:
        spec["imageMetadata"] = {str(k): str(v) for k, v in metadata.items()}
    await ctx.caller(request).create(
        "serveractions",
        {
            "apiVersion": API_VERSION,
            "kind": "ServerAction",
            "metadata": {
                "name": f"{meta['name'][:40]}-createimage-{secrets.token_hex(3)}",
                "namespace": meta["namespace"],
                "annotations": {views.USER_ANNOTATION: ctx.claims(request).user_id},
            },
            "spec": spec,
        },
    )
    image_id = views.image_id(image)
    if ctx.version(request).at_least("2.45"):
        return ctx.reply({"image_id": image_id}, 202)
    return web.Response(status=202, headers={"Location": f"{ctx.image_base(request)}/v2/images/{image_id}"})


@routes.get(P + "/servers/{id}/os-instance-actions")
async def instance_actions(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-instance-actions:list")
    obj = await find_server(request, request.match_info["id"])
    items = server_views.instance_actions(obj, ctx.version(request))
    for a in items:
        a.pop("_record")
    return ctx.reply({"instanceActions": items})


@routes.get(P + "/servers/{id}/os-instance-actions/{request_id}")
async def instance_action(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-instance-actions:show")
    obj = await find_server(request, request.match_info["id"])
    version = ctx.version(request)
    for a in server_views.instance_actions(obj, version):
        rec = a.pop("_record")
        if a["request_id"] == request.match_info["request_id"]:
            a["events"] = server_views.instance_action_events(
                rec, version, host=(obj.get("status") or {}).get("host") if ctx.claims(request).admin else None
            )
            return ctx.reply({"instanceAction": a})
    raise NovaError(
        404, f"Action for request_id {request.match_info['request_id']} on instance {views.uid(obj)} not found"
    )
