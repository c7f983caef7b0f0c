"""The aiohttp application of ``kubenova api``: routes under one base URL (``/identity``,
``/compute``, ``/image``), ``/healthz`` and ``/readyz``, and the middleware every request passes:
a request id, the token (Keystone's 401 without a valid one), the microversion (406 outside the
range) and errors written as Nova writes them, never a traceback."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kubenova.compute_api import (
    consoles,
    errors,
    flavors,
    hosts,
    hypervisor_extras,
    identity,
    images,
    keypairs,
    limits,
    microversions,
    migrations,
    server_actions,
    server_groups,
    server_metadata,
    servers,
    tenant_usage,
)
from kubenova.compute_api import context as ctx
from kubenova.compute_api.errors import NovaError
from kubenova.compute_api.tokens import BadToken, Tokens, new_key
from kubenova.kube.caller import Door, Refused

log = logging.getLogger("kubenova.compute_api")
MEDIA_TYPE = "application/vnd.openstack.compute+json"
UNEXPECTED = "Unexpected API Error. Please report this at https://github.com/kubenova and attach the log."
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

UNAUTHENTICATED = {
    "/",
    "/healthz",
    "/readyz",
    "/compute",
    "/compute/",
    "/compute/v2",
    "/compute/v2/",
    "/compute/v2.1",
    "/compute/v2.1/",
    "/image",
    "/image/",
    "/image/v2",
    "/image/v2/",
}


def compute_version(base: str, ident: str) -> dict[str, Any]:
    v21 = ident == "v2.1"
    return {
        "id": ident,
        "status": "CURRENT" if v21 else "SUPPORTED",
        "version": str(microversions.MAX) if v21 else "",
        "min_version": str(microversions.MIN) if v21 else "",
        "updated": "2013-07-23T11:33:21Z" if v21 else "2011-01-21T11:33:21Z",
        "links": [
            # Nova's v2.0 lives at /v2/ (its legacy URL); tempest follows each self link.
            {"rel": "self", "href": f"{base}/compute/{ident if v21 else 'v2'}/"},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
        ],
        "media-types": [{"base": "application/json", "type": f"{MEDIA_TYPE};version={ident[1:]}"}],
    }


async def compute_versions(request: web.Request) -> web.Response:
    base = ctx.base_url(request)
    return web.json_response({"versions": [compute_version(base, "v2.0"), compute_version(base, "v2.1")]})


async def compute_v21(request: web.Request) -> web.Response:
    return web.json_response({"version": compute_version(ctx.base_url(request), "v2.1")})


async def compute_v2(request: web.Request) -> web.Response:
    return web.json_response({"version": compute_version(ctx.base_url(request), "v2.0")})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def readyz(request: web.Request) -> web.Response:
    return web.Response(text="ready")


async def root(request: web.Request) -> web.Response:
    base = ctx.base_url(request)
    return web.json_response(
        {"services": {"identity": f"{base}/identity", "compute": f"{base}/compute", "image": f"{base}/image"}}
    )


def _unauthorized(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": {"code": 401, "title": "Unauthorized", "message": identity.UNAUTHORIZED}},
        status=401,
        headers={"WWW-Authenticate": f'Keystone uri="{ctx.base_url(request)}/identity"'},
    )


def _fault(code: int, message: str) -> web.Response:
    return web.json_response(errors.body(code, message), status=code)


def _from_refused(request: web.Request, exc: Refused) -> web.Response:
    if exc.code == 401:
        return _unauthorized(request)
    if exc.code == 403:
        policy = request.get(ctx.POLICY) or f"{request.method} {request.path}"
        return _fault(403, f"Policy doesn't allow {policy} to be performed.")
    if exc.code in (400, 422):
        return _fault(400, exc.message)
    if exc.code in (404, 409):
        return _fault(exc.code, exc.message)
    if exc.code == 429:
        return _fault(429, exc.message)
    log.warning("the API server answered %s: %s", exc.code, exc.message)
    return _fault(500, UNEXPECTED)


CONTENT_TYPES = {"application/json", MEDIA_TYPE}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_content_type(request: web.Request) -> None:
    """Nova's 415 for a Content-Type it does not read (``wsgi.Request.get_content_type``); none,
    an empty one and text/plain are read as JSON. Checked on every compute request, as Nova
    does, before the body or the route."""
    given = request.headers.get("Content-Type")
    if given is None:
        return
    media = given.split(";", 1)[0].strip().lower()
    if media and media != "text/plain" and media not in CONTENT_TYPES:
        raise NovaError(415, "Unsupported Content-Type")


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = f"req-{uuid.uuid4()}"
    ids = {"x-openstack-request-id": request_id, "x-compute-request-id": request_id}
    path = request.path
    compute = path.startswith("/compute/")
    try:
        if path.startswith(("/compute/v2.1/", "/image/v2/")) and path not in UNAUTHENTICATED:
            tok = request.headers.get("X-Auth-Token")
            if not tok:
                return _unauthorized(request)
            try:
                claims = ctx.tokens(request).read(tok)
            except BadToken:
                return _unauthorized(request)
            request[ctx.CLAIMS] = claims
            request[ctx.CALLER] = ctx.door(request).as_caller(claims.bearer)
        if compute:
            request[ctx.VERSION] = microversions.requested(request.headers)
            _check_content_type(request)
            if _CONTROL.search(request.path):
                # No Kubernetes name holds one, and the client to the API server refuses such a URL.
                raise errors.not_found("Resource", "with a control character in its id")
        response = await handler(request)
    except NovaError as exc:
        response = _fault(exc.code, exc.message)
    except Refused as exc:
        response = _from_refused(request, exc)
    except web.HTTPException as exc:
        if not compute and not path.startswith("/image/"):
            raise
        code = exc.status
        response = _fault(code, "The resource could not be found." if code == 404 else exc.reason)
    except Exception:
        log.exception("unexpected error in %s %s", request.method, path)
        response = _fault(500, UNEXPECTED)
    for k, v in ids.items():
        response.headers[k] = v
    if compute and ctx.VERSION in request:
        response.headers.update(microversions.response_headers(request[ctx.VERSION]))
    return response


def make_app(door: Door, tokens: Tokens, settings: ctx.Settings | None = None) -> web.Application:
    app = web.Application(middlewares=[middleware], client_max_size=1024 * 1024)
    app[ctx.DOOR] = door
    app[ctx.TOKENS] = tokens
    app[ctx.SETTINGS] = settings or ctx.Settings()
    app.router.add_get("/", root)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for p in ("/compute", "/compute/"):
        app.router.add_get(p, compute_versions)
    for p in ("/compute/v2.1", "/compute/v2.1/"):
        app.router.add_get(p, compute_v21)
    for p in ("/compute/v2", "/compute/v2/"):
        app.router.add_get(p, compute_v2)
    app.router.add_routes(identity.routes)
    app.router.add_routes(images.routes)
    app.router.add_routes(servers.routes)
    app.router.add_routes(server_actions.routes)
    app.router.add_routes(consoles.routes)
    app.router.add_routes(server_metadata.routes)
    app.router.add_routes(flavors.routes)
    app.router.add_routes(keypairs.routes)
    app.router.add_routes(limits.routes)
    app.router.add_routes(hypervisor_extras.routes)  # before hosts': /os-hypervisors/statistics is no id
    app.router.add_routes(hosts.routes)
    app.router.add_routes(server_groups.routes)
    app.router.add_routes(migrations.routes)
    app.router.add_routes(tenant_usage.routes)

    async def close(app: web.Application) -> None:
        await app[ctx.DOOR].close()

    app.on_cleanup.append(close)
    return app


def fernet_key() -> str:
    """``KUBENOVA_API_FERNET_KEY``, or the file ``KUBENOVA_API_FERNET_KEY_FILE`` (the chart's
    Secret), else a new key: tokens then die with the process, and replicas would not share them."""
    key = os.environ.get("KUBENOVA_API_FERNET_KEY")
    path = os.environ.get("KUBENOVA_API_FERNET_KEY_FILE")
    if not key and path:
        with open(path) as fh:
            key = fh.read().strip()
    if not key:
        log.warning("no KUBENOVA_API_FERNET_KEY: tokens are signed with a key of this process only")
        key = new_key()
    return key


def run(address: str, *, public_url: str | None = None, ttl: int | None = None) -> None:
    """Serve on ``address`` (HOST:PORT) until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per call to the API server otherwise
    host, _, port = address.rpartition(":")
    tokens = Tokens(fernet_key(), ttl=ttl or int(os.environ.get("KUBENOVA_API_TOKEN_TTL", "3600")))
    settings = ctx.Settings(public_url=public_url or os.environ.get("KUBENOVA_API_PUBLIC_URL") or None)

    async def build() -> web.Application:
        return make_app(Door(), tokens, settings)

    web.run_app(build(), host=host or "127.0.0.1", port=int(port), access_log=log, print=None)
