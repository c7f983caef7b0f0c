"""What every handler reads off a request: the app's door to Kubernetes and token key, the
caller (their claims and a client carrying their bearer token), the public URLs, the
microversion. Handlers raise :class:`~kubenova.compute_api.errors.NovaError`; the middleware in
:mod:`kubenova.compute_api.app` writes it as Nova does."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from kubenova.compute_api.errors import NovaError, bad_request
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


def _no_constant(word: str) -> Any:
    raise ValueError(word)  # NaN and Infinity are not JSON (RFC 8259): int(inf) would raise later


async def json_body(request: web.Request) -> Any:
    """The request's JSON, or Nova's 400 ``Malformed request body`` for what is not JSON: not
    UTF-8, not parsed, NaN or Infinity, or nested past what the parser recurses through."""
    if not request.can_read_body:
        return None
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise NovaError(400, "Malformed request body") from None


KUBE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
"""A valid Kubernetes object name: an id or name the API may look up as one."""


async def keyed_body(request: web.Request, key: str) -> Any:
    """The request body's ``key`` member, or Nova's 400 for a body without it."""
    body = await json_body(request)
    if not isinstance(body, Mapping) or key not in body:
        raise bad_request(f"Invalid input for field/attribute {key}. '{key}' is a required property")
    return body[key]


def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    if data is None:
        return web.Response(status=status, headers=headers)
    return web.json_response(data, status=status, headers=headers)


_DIGITS = re.compile(r"^[0-9]+$")


def page_limit(request: web.Request) -> int | None:
    """The ``limit`` query parameter: None, or a count (Nova's 400 for anything else, -1 too)."""
    text = request.query.get("limit")
    if not text:
        return None
    if not _DIGITS.match(text):
        raise bad_request(
            f"Invalid input for query parameters limit. Value: {text}. '{text}' does not match '^[0-9]*$'"
        )
    return int(text)
