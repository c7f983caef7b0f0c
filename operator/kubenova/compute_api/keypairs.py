"""``/os-keypairs``: list, show, create (generated or imported) and delete, each on the KeyPair
kind as the caller."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.api.common import API_VERSION
from kubenova.compute_api import context as ctx
from kubenova.compute_api import views
from kubenova.compute_api.errors import NovaError, bad_request
from kubenova.compute_api.servers import P

routes = web.RouteTableDef()
KEYPAIR_NAME = re.compile(r"^[a-zA-Z0-9 _.@-]+$")


@routes.get(P + "/os-keypairs")
async def keypairs(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-keypairs:index")
    v = ctx.version(request)
    objs = sorted(await ctx.caller(request).list("keypairs", ctx.project(request)), key=lambda o: o["metadata"]["name"])
    if v.at_least("2.35"):  # paging came with 2.35; before, Nova ignores limit and marker
        marker = request.query.get("marker")
        if marker:
            names = [views.keypair_view(o, v)["name"] for o in objs]
            if marker not in names:
                raise bad_request(f"Marker {marker} could not be found.")
            objs = objs[names.index(marker) + 1 :]
        limit = ctx.page_limit(request)
        objs = objs if limit is None else objs[:limit]
    return ctx.reply({"keypairs": [{"keypair": views.keypair_view(o, v)} for o in objs]})


@routes.get(P + "/os-keypairs/{name}")
async def keypair(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-keypairs:show")
    name = request.match_info["name"]
    obj = await ctx.caller(request).get("keypairs", views.object_name(name), ctx.project(request))
    if obj is None:
        raise NovaError(404, f"Keypair {name} not found for user {ctx.claims(request).user_id}")
    view = views.keypair_view(obj, ctx.version(request), user_id=ctx.claims(request).user_id, detail=True)
    return ctx.reply({"keypair": view})


@routes.delete(P + "/os-keypairs/{name}")
async def delete_keypair(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-keypairs:delete")
    name, project = request.match_info["name"], ctx.project(request)
    caller = ctx.caller(request)
    if await caller.get("keypairs", views.object_name(name), project) is None:
        raise NovaError(404, f"Keypair {name} not found for user {ctx.claims(request).user_id}")
    await caller.delete("keypairs", views.object_name(name), project)
    return web.Response(status=204 if ctx.version(request).at_least("2.2") else 202)


@routes.post(P + "/os-keypairs")
async def create_keypair(request: web.Request) -> web.Response:
    ctx.set_policy(request, "os_compute_api:os-keypairs:create")
    body = await ctx.json_body(request)
    kp = body.get("keypair") if isinstance(body, Mapping) else None
    if not isinstance(kp, Mapping) or not isinstance(kp.get("name"), str):
        raise bad_request("Invalid input for field/attribute keypair. 'name' is a required property")
    name = kp["name"]
    # Nova's rule (parameter_types.keypair_name_special_chars, 2.92's wider set at every
    # microversion): 1-255 of letters, digits, space, '_', '-', '.', '@'.
    if not KEYPAIR_NAME.match(name) or not name.strip() or len(name) > 255:
        raise bad_request(f"Invalid input for field/attribute name. Value: {name}. Not a valid keypair name")
    kube = views.object_name(name)
    version = ctx.version(request)
    kind = kp.get("type", "ssh") if version.at_least("2.2") else "ssh"
    public_key = kp.get("public_key")
    if not public_key and version.at_least("2.92"):
        raise bad_request("Invalid input for field/attribute keypair. 'public_key' is a required property")
    caller, project = ctx.caller(request), ctx.project(request)
    spec: dict[str, Any] = {"type": kind}
    if public_key:
        spec["publicKey"] = public_key
    if await caller.get("keypairs", kube, project) is not None:
        raise NovaError(409, f"Key pair '{name}' already exists.")
    meta = {"name": kube, "namespace": project, "annotations": views.name_annotations(name)}
    await caller.create("keypairs", {"apiVersion": API_VERSION, "kind": "Keypair", "metadata": meta, "spec": spec})
    obj = await _ready_keypair(request, kube, project)
    status = obj.get("status") or {}
    fault = status.get("fault")
    if fault:
        await caller.delete("keypairs", kube, project)
        raise bad_request(f"Keypair data is invalid: {fault.get('message', '')}")
    view = views.keypair_view(obj, version, user_id=ctx.claims(request).user_id)
    view["user_id"] = ctx.claims(request).user_id  # every microversion's create answers it
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
