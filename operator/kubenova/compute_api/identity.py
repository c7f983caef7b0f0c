"""A Keystone v3 subset: who you are is who you are in Kubernetes.

``POST /v3/auth/tokens`` takes a Kubernetes bearer token as the password of the password method
(so tempest and clouds.yaml work) or as the token method's id; the API server's TokenReview says
whose it is, the scope's project is a namespace, and the roles are Nova's personas derived from
what RBAC allows there (SelfSubjectAccessReviews made as the caller). The answer is a Fernet
token (:mod:`.tokens`) and a catalog of identity, compute and image only, so clients skip
Neutron and Cinder.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from kubenova.compute_api import context as ctx
from kubenova.compute_api.tokens import BadToken, Claims, audit_id
from kubenova.kube.caller import Caller, Refused

DOMAIN = {"id": "default", "name": "Default"}
UNAUTHORIZED = "The request you have made requires authentication."

routes = web.RouteTableDef()


def keystone_error(code: int, title: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "title": title, "message": message}}, status=code)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def version_doc(base: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/identity/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }


@routes.get("/identity")
@routes.get("/identity/")
async def versions(request: web.Request) -> web.Response:
    return web.json_response({"versions": {"values": [version_doc(ctx.base_url(request))]}}, status=300)


@routes.get("/identity/v3")
@routes.get("/identity/v3/")
async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": version_doc(ctx.base_url(request))})


def catalog(base: str, region: str) -> list[dict[str, Any]]:
    def entry(kind: str, name: str, url: str) -> dict[str, Any]:
        return {
            "type": kind,
            "name": name,
            "id": kind,
            "endpoints": [
                {
                    "id": f"{kind}-{interface}",
                    "interface": interface,
                    "region": region,
                    "region_id": region,
                    "url": url,
                }
                for interface in ("public", "internal", "admin")
            ],
        }

    return [
        entry("identity", "keystone", f"{base}/identity"),
        entry("compute", "nova", f"{base}/compute/v2.1"),
        entry("image", "glance", f"{base}/image"),
    ]


async def roles_of(caller: Caller, namespace: str | None) -> tuple[str, ...]:
    """Nova's personas from RBAC: reader (may list Servers in the project), member (may create
    them), admin (may change Hosts, which are cluster-scoped and Nova's admin's)."""
    probes = [caller.can("update", "hosts")]
    if namespace:
        probes += [caller.can("list", "servers", namespace), caller.can("create", "servers", namespace)]
    answers = await asyncio.gather(*probes)
    admin = answers[0]
    reader = admin or (len(answers) > 1 and answers[1])
    member = admin or (len(answers) > 2 and answers[2])
    roles = []
    if admin:
        roles.append("admin")
    if member:
        roles.append("member")
    if reader:
        roles.append("reader")
    return tuple(roles)


def _scope(body: dict[str, Any]) -> str | None:
    scope = body.get("scope")
    if not isinstance(scope, dict):
        return None
    proj = scope.get("project")
    if not isinstance(proj, dict):
        return None
    name = proj.get("name") or proj.get("id")
    return str(name) if name else None


def _bearer(request: web.Request, auth: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    identity = auth.get("identity") or {}
    methods = tuple(identity.get("methods") or ())
    if "password" in methods:
        user = (identity.get("password") or {}).get("user") or {}
        pw = user.get("password")
        return (str(pw), methods) if pw else None
    if "token" in methods:
        tok = (identity.get("token") or {}).get("id") or request.headers.get("X-Auth-Token")
        if not tok:
            return None
        try:
            return ctx.tokens(request).read(str(tok)).bearer, methods  # a token of ours, re-scoped
        except BadToken:
            return str(tok), methods  # a Kubernetes bearer token
    return None


def token_body(claims: Claims, token: str, base: str, region: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "methods": list(claims.methods),
        "expires_at": iso(claims.expires_at),
        "issued_at": iso(claims.issued_at),
        "audit_ids": [audit_id(token)],
        "user": {"id": claims.user_id, "name": claims.user, "domain": DOMAIN, "password_expires_at": None},
        "roles": [{"id": r, "name": r} for r in claims.roles],
        "is_domain": False,
    }
    if claims.project:
        body["project"] = {"id": claims.project, "name": claims.project, "domain": DOMAIN}
        body["catalog"] = catalog(base, region)
    return body


@routes.post("/identity/v3/auth/tokens")
async def issue(request: web.Request) -> web.Response:
    try:
        data = await request.json()
        auth = data["auth"]
        assert isinstance(auth, dict)
    except Exception:
        return keystone_error(400, "Bad Request", "Expecting to find auth in request body.")
    found = _bearer(request, auth)
    if found is None:
        return keystone_error(401, "Unauthorized", UNAUTHORIZED)
    bearer, methods = found
    door = ctx.door(request)
    try:
        who = await door.review(bearer)
    except Refused as exc:
        return keystone_error(503, "Service Unavailable", f"The token could not be checked: {exc.message}")
    if who is None:
        return keystone_error(401, "Unauthorized", UNAUTHORIZED)
    namespace = _scope(auth)
    caller = door.as_caller(bearer)
    try:
        roles = await roles_of(caller, namespace)
    except Refused as exc:
        return keystone_error(401, "Unauthorized", exc.message or UNAUTHORIZED)
    if namespace and "reader" not in roles:
        return keystone_error(401, "Unauthorized", f"User {who.username} has no access to project {namespace}.")
    now = int(time.time())
    claims = Claims(
        bearer=bearer,
        user=who.username,
        user_id=who.uid or who.username,
        project=namespace,
        roles=roles,
        issued_at=now,
        expires_at=now + ctx.tokens(request).ttl,
        methods=methods,
    )
    token = ctx.tokens(request).issue(claims)
    settings = request.app[ctx.SETTINGS]
    return web.json_response(
        {"token": token_body(claims, token, ctx.base_url(request), settings.region)},
        status=201,
        headers={"X-Subject-Token": token},
    )


def _authenticated(request: web.Request) -> Claims | None:
    tok = request.headers.get("X-Auth-Token")
    if not tok:
        return None
    try:
        return ctx.tokens(request).read(tok)
    except BadToken:
        return None


@routes.get("/identity/v3/auth/tokens")
async def validate(request: web.Request) -> web.Response:
    if _authenticated(request) is None:
        return keystone_error(401, "Unauthorized", UNAUTHORIZED)
    subject = request.headers.get("X-Subject-Token", "")
    try:
        claims = ctx.tokens(request).read(subject)
    except BadToken:
        return keystone_error(404, "Not Found", f"Could not find token: {audit_id(subject)}.")
    body = token_body(claims, subject, ctx.base_url(request), request.app[ctx.SETTINGS].region)
    return web.json_response({"token": body}, headers={"X-Subject-Token": subject})


@routes.delete("/identity/v3/auth/tokens")
async def revoke(request: web.Request) -> web.Response:
    # Tokens are stateless: there is nothing to revoke; the Kubernetes token stays valid.
    if _authenticated(request) is None:
        return keystone_error(401, "Unauthorized", UNAUTHORIZED)
    return web.Response(status=204)


def project_view(name: str, base: str) -> dict[str, Any]:
    return {
        "id": name,
        "name": name,
        "domain_id": "default",
        "description": f"The Kubernetes namespace {name}",
        "enabled": True,
        "is_domain": False,
        "parent_id": "default",
        "tags": [],
        "options": {},
        "links": {"self": f"{base}/identity/v3/projects/{name}"},
    }


async def _visible_projects(request: web.Request, claims: Claims) -> list[str]:
    caller = ctx.door(request).as_caller(claims.bearer)
    names = await caller.namespaces() if claims.admin else None
    if names is None:
        names = [claims.project] if claims.project else []
    return sorted(names)


@routes.get("/identity/v3/projects")
@routes.get("/identity/v3/auth/projects")
async def projects(request: web.Request) -> web.Response:
    claims = _authenticated(request)
    if claims is None:
        return keystone_error(401, "Unauthorized", UNAUTHORIZED)
    names = await _visible_projects(request, claims)
    wanted = request.query.get("name")
    if wanted:
        names = [n for n in names if n == wanted]
    base = ctx.base_url(request)
    return web.json_response(
        {
            "projects": [project_view(n, base) for n in names],
            "links": {"self": str(request.url), "next": None, "previous": None},
        }
    )


@routes.get("/identity/v3/projects/{id}")
async def project(request: web.Request) -> web.Response:
    claims = _authenticated(request)
    if claims is None:
        return keystone_error(401, "Unauthorized", UNAUTHORIZED)
    name = request.match_info["id"]
    if name not in await _visible_projects(request, claims):
        return keystone_error(404, "Not Found", f"Could not find project: {name}.")
    return web.json_response({"project": project_view(name, ctx.base_url(request))})


@routes.get("/identity/v3/users/{id}")
async def user(request: web.Request) -> web.Response:
    claims = _authenticated(request)
    if claims is None:
        return keystone_error(401, "Unauthorized", UNAUTHORIZED)
    ident = request.match_info["id"]
    if ident not in (claims.user_id, claims.user):
        return keystone_error(404, "Not Found", f"Could not find user: {ident}.")
    return web.json_response(
        {"user": {"id": claims.user_id, "name": claims.user, "domain_id": "default", "enabled": True}}
    )
