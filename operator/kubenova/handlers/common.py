"""Small helpers shared by the handlers: the time as status fields record it, and an index's
single value. The operator's shared state is :mod:`.state`.
"""

from __future__ import annotations

import datetime
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
