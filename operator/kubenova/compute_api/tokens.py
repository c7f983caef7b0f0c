"""Keystone tokens: opaque, encrypted and authenticated (Fernet), carrying the caller's Kubernetes
bearer token, who the API server says they are, the project (namespace) and the roles.

Nothing is stored: any replica holding the key reads any token, and a token dies at its expiry.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time

from cryptography.fernet import Fernet, InvalidToken

DEFAULT_TTL = 3600
"""Seconds a token lives, Keystone's default."""


class BadToken(Exception):
    """Not a token of this API's key, or expired: Keystone's 401."""


@dataclasses.dataclass(frozen=True)
class Claims:
    """What a token says."""

    bearer: str
    """The Kubernetes bearer token every call is made with."""
    user: str
    """The Kubernetes username."""
    user_id: str
    """The Kubernetes uid of the user, else the username."""
    project: str | None
    """The namespace the token is scoped to; None for an unscoped token."""
    roles: tuple[str, ...]
    """Nova's personas, derived from RBAC when the token was issued: reader, member, admin."""
    issued_at: int
    expires_at: int
    methods: tuple[str, ...] = ("password",)

    @property
    def admin(self) -> bool:
        return "admin" in self.roles


def new_key() -> str:
    return Fernet.generate_key().decode()


class Tokens:
    """Issues and reads tokens with one key (Fernet's 32 bytes, url-safe base64)."""

    def __init__(self, key: str | bytes, *, ttl: int = DEFAULT_TTL) -> None:
        self._fernet = Fernet(key)
        self.ttl = ttl

    def issue(self, claims: Claims) -> str:
        payload = dataclasses.asdict(claims)
        return self._fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def read(self, token: str, *, now: float | None = None) -> Claims:
        try:
            raw = self._fernet.decrypt(token.encode())
        except (InvalidToken, ValueError, TypeError) as exc:
            raise BadToken("The request you have made requires authentication.") from exc
        try:
            data = json.loads(raw)
            claims = Claims(
                bearer=data["bearer"],
                user=data["user"],
                user_id=data["user_id"],
                project=data["project"],
                roles=tuple(data["roles"]),
                issued_at=int(data["issued_at"]),
                expires_at=int(data["expires_at"]),
                methods=tuple(data.get("methods", ("password",))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadToken("The request you have made requires authentication.") from exc
        if (time.time() if now is None else now) >= claims.expires_at:
            raise BadToken("The request you have made requires authentication.")
        return claims


def audit_id(token: str) -> str:
    """A short, stable id of a token for Keystone's audit_ids (never the token itself)."""
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()[:16]).decode().rstrip("=")
