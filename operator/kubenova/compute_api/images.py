"""A read-only Image v2 (Glance) shim, enough for ``server create --image``, ``server show``
and Terraform.

There is no Image kind yet (it is being added in parallel), so this is a minimal view: an image
is a container image reference. ``GET /v2/images`` lists the images the project's Servers run;
``?name=<reference>`` and ``GET /v2/images/{id}`` answer for any reference, so a client may name
an image that no server runs yet. Ids are :func:`kubenova.compute_api.views.image_id`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kubenova.compute_api import context as ctx
from kubenova.compute_api import views

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
    return bool(text) and " " not in text and len(text) <= 1024


@routes.get("/image/v2/images")
async def images(request: web.Request) -> web.Response:
    base = ctx.image_base(request)
    name = request.query.get("name")
    if name:
        refs = [name] if _looks_like_reference(name) else []
    else:
        servers = await ctx.caller(request).list("servers", ctx.project(request))
        refs = sorted({str((s.get("spec") or {}).get("image")) for s in servers if (s.get("spec") or {}).get("image")})
    ids = request.query.get("id", "")
    if ids.startswith("in:"):
        refs = [views.image_reference(i) for i in ids[3:].split(",") if i]
    return web.json_response(
        {"images": [views.image_view(r, base) for r in refs], "first": "/v2/images", "schema": "/v2/schemas/images"}
    )


@routes.get("/image/v2/images/{id}")
async def image(request: web.Request) -> web.Response:
    ident = request.match_info["id"]
    if not ident.startswith(views.IMAGE_PREFIX):
        msg = f"No image found with ID {ident}"
        return web.Response(status=404, text=f"<html><body><h1>404 Not Found</h1>{msg}</body></html>")
    return web.json_response(views.image_view(views.image_reference(ident), ctx.image_base(request)))
