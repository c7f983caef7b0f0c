"""A server's metadata and tags (``/servers/{id}/metadata``, ``/servers/{id}/tags``), each a
write of the Server's spec as the caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.compute_api import body_types, views
from kubenova.compute_api import context as ctx
from kubenova.compute_api.errors import NovaError, bad_request
from kubenova.compute_api.servers import P, find_server

routes = web.RouteTableDef()


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
    new = await ctx.keyed_body(request, "metadata")
    new = body_types.metadata("metadata", new)
    obj = await find_server(request, request.match_info["id"])
    merged = {} if request.method == "PUT" else _metadata(obj)
    merged.update(new)
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
    meta = await ctx.keyed_body(request, "meta")
    key = request.match_info["key"]
    if not isinstance(meta, Mapping) or list(meta) != [key]:
        raise bad_request("Request body and URI mismatch")
    value = body_types.metadata("meta", meta)[key]
    obj = await find_server(request, request.match_info["id"])
    await _patch_server(request, obj, {"metadata": {key: value}})
    return ctx.reply({"meta": {key: value}})


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
    new = await ctx.keyed_body(request, "tags")
    new = body_types.tags(body_types.array("tags", new))
    obj = await _patch_server(request, await find_server(request, request.match_info["id"]), {"tags": new})
    return ctx.reply({"tags": _tags(obj)})


@routes.put(P + "/servers/{id}/tags/{tag}")
async def add_tag(request: web.Request) -> web.Response:
    _tags_version(request)
    ctx.set_policy(request, "os_compute_api:os-server-tags:update")
    obj = await find_server(request, request.match_info["id"])
    tag = body_types.tags([request.match_info["tag"]])[0]
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
