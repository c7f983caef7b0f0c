"""A read-only Image v2 (Glance) API over the Image kind, enough for ``server create --image``,
``image list/show``, ``server show`` and Terraform.

Images (``compute.kubenova.io`` Images, cluster-scoped like Glance's catalog) are read with the
caller's credentials and shown as Glance does (:mod:`kubenova.compute_api.image_views`), filtered
by Glance's visibility for the token's project. A Server may also name a plain container
reference that no Image has (kubenova's container backend): ``?name=<reference>`` and
``GET /v2/images/<id>`` answer for such a reference too (visibility public, no owner), and the
list shows the references the project's Servers run, so every server's image can be looked up.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kubenova.compute_api import context as ctx
from kubenova.compute_api import image_views, views

routes = web.RouteTableDef()


def version_doc(base: str) -> dict[str, Any]:
    return {"id": "v2.16", "status": "CURRENT", "links": [{"rel": "self", "href": f"{base}/image/v2/"}]}


@routes.get("/image")
@routes.get("/image/")
async def versions(request: web.Request) -> web.Response:
    return web.json_response({"versions": [version_doc(ctx.base_url(request))]}, status=300)


@routes.get("/image/v2")
@routes.get("/image/v2/")
async def version(request: web.Request) -> web.Response:
    return web.json_response({"versions": [version_doc(ctx.base_url(request))]})


def _looks_like_reference(text: str) -> bool:
    """A name that is a container reference with a tag, digest or registry path (``nginx:1.27``,
    ``quay.io/x/y``): a bare word is an image name that no Image has, so it is not found (a
    shelved server's ``<name>-shelved`` snapshot, say, which kubenova does not make)."""
    return bool(text) and " " not in text and len(text) <= 1024 and any(c in text for c in ":/@")


def _not_found(ident: str) -> web.Response:
    msg = f"No image found with ID {ident}"
    return web.Response(status=404, text=f"<html><body><h1>404 Not Found</h1>{msg}</body></html>")


async def _images(request: web.Request) -> list[dict[str, Any]]:
    return await ctx.caller(request).list("images")


@routes.get("/image/v2/images")
async def images(request: web.Request) -> web.Response:
    base = ctx.image_base(request)
    claims = ctx.claims(request)
    project = ctx.project(request)
    objs = await _images(request)
    out = image_views.listed(objs, project, admin=claims.admin, query=request.query)
    named = {str(o["metadata"]["name"]) for o in objs}
    if request.query.get("visibility") in (None, "all", "public"):
        # Plain references (no Image of that name): the one asked for, or those servers run.
        name, ids = request.query.get("name"), request.query.get("id", "")
        if ids.startswith("in:"):
            refs = [views.image_reference(i) for i in ids[3:].split(",") if i]
        elif name:
            refs = [name] if _looks_like_reference(name) else []
        else:
            servers = await ctx.caller(request).list("servers", project)
            refs = sorted({str(s["spec"]["image"]) for s in servers if (s.get("spec") or {}).get("image")})
        out += [views.image_view(r, base) for r in refs if r not in named and not r.startswith(views.IMAGE_PREFIX)]
    return web.json_response({"images": out, "first": "/v2/images", "schema": "/v2/schemas/images"})


@routes.get("/image/v2/images/{id}")
async def image(request: web.Request) -> web.Response:
    ident = request.match_info["id"]
    claims = ctx.claims(request)
    project = ctx.project(request)
    for obj in await _images(request):
        if image_views.matches(obj, ident):
            if not image_views.visible(obj, project, admin=claims.admin):
                return _not_found(ident)
            return web.json_response(image_views.glance_view(obj))
    if not ident.startswith(views.IMAGE_PREFIX):
        return _not_found(ident)
    return web.json_response(views.image_view(views.image_reference(ident), ctx.image_base(request)))
