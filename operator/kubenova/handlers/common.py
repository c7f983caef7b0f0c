"""Small helpers shared by the handlers: the time as status fields record it, an index's
single value, a body without what no handler reads. The operator's shared state is :mod:`.state`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import kopf


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def first(index: kopf.Index[Any, Any], key: Any) -> Any | None:
    """The single value an index holds for ``key``, or None."""
    if key not in index:
        return None
    for value in index[key]:
        return value
    return None


def lean(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """``body`` without ``metadata.managedFields``: the API server's record of who set which
    field, which no handler reads, and about half of a Server's or a Pod's body. A body that has
    none is returned itself, not a copy: what this returns is to be read (encoded, kept as
    JSON), never changed."""
    meta = body.get("metadata")
    if not meta or "managedFields" not in meta:
        return body
    return {**body, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
