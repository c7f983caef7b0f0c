"""Errors as Nova writes them: ``{<name>: {"code": N, "message": "..."}}`` with Nova's names
(``nova/api/openstack/wsgi.py`` ``Fault``), never a traceback."""

from __future__ import annotations

from typing import Any

FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


class NovaError(Exception):
    """An answer other than success, with Nova's status and text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def body(code: int, message: str) -> dict[str, Any]:
    return {FAULT_NAMES.get(code, "computeFault"): {"code": code, "message": message}}


def not_found(what: str, ident: str) -> NovaError:
    return NovaError(404, f"{what} {ident} could not be found.")


def policy(action: str) -> NovaError:
    """Nova's 403 for what RBAC refuses (nova/exception.py PolicyNotAuthorized)."""
    return NovaError(403, f"Policy doesn't allow {action} to be performed.")


def bad_request(message: str) -> NovaError:
    return NovaError(400, message)


def unsupported(what: str) -> NovaError:
    return NovaError(501, f"{what} is not supported by kubenova's Compute API.")
