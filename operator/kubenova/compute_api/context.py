"""What every handler reads off a request: the app's door to Kubernetes and token key, the
caller (their claims and a client carrying their bearer token), the public URLs, the
microversion. Handlers raise :class:`~kubenova.compute_api.errors.NovaError`; the middleware in
:mod:`kubenova.compute_api.app` writes it as Nova does."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aiohttp import web

from kubenova.compute_api.errors import NovaError
from kubenova.compute_api.microversions import MIN, Version
from kubenova.compute_api.tokens import Claims, Tokens
from kubenova.kube.caller import Caller, Door


@dataclasses.dataclass
class Settings:
    public_url: str | None = None
    """The base URL clients reach (the catalog's); None: the request's own scheme and host."""
    region: str = "RegionOne"


DOOR: web.AppKey[Door] = web.AppKey("door", Door)
TOKENS: web.AppKey[Tokens] = web.AppKey("tokens", Tokens)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
CLAIMS: web.RequestKey[Claims] = web.RequestKey("claims", Claims)
CALLER: web.RequestKey[Caller] = web.RequestKey("caller", Caller)
VERSION: web.RequestKey[Version] = web.RequestKey("version", Version)
POLICY: web.RequestKey[str] = web.RequestKey("policy", str)


def door(request: web.Request) -> Door:
    return request.app[DOOR]


def tokens(request: web.Request) -> Tokens:
    return request.app[TOKENS]


def base_url(request: web.Request) -> str:
    """The public base URL: the catalog's endpoints are under it."""
    configured = request.app[SETTINGS].public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


def compute_base(request: web.Request) -> str:
    return base_url(request) + "/compute"


def image_base(request: web.Request) -> str:
    return base_url(request) + "/image"


def claims(request: web.Request) -> Claims:
    return request[CLAIMS]


def caller(request: web.Request) -> Caller:
    return request[CALLER]


def project(request: web.Request) -> str:
    """The namespace of the token; an unscoped token cannot use the compute API."""
    p = claims(request).project
    if not p:
        raise NovaError(401, "The request you have made requires authentication (a project-scoped token).")
    return p


def version(request: web.Request) -> Version:
    value: Version = request.get(VERSION, MIN)
    return value


def set_policy(request: web.Request, name: str) -> None:
    """The Nova policy a refusal by RBAC is reported under (``os_compute_api:servers:create``)."""
    request[POLICY] = name


async def json_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    try:
        return await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise NovaError(400, "Malformed request body") from None


def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    if data is None:
        return web.Response(status=status, headers=headers)
    return web.json_response(data, status=status, headers=headers)
