"""Small helpers shared by the handlers."""

from __future__ import annotations

import datetime
from typing import Any

import kopf
from lightkube import AsyncClient

from kubenova import config


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def client(memo: kopf.Memo) -> AsyncClient:
    c: AsyncClient = memo["client"]
    return c


def settings(memo: kopf.Memo) -> config.Settings:
    s: config.Settings = memo["settings"]
    return s


def first(index: kopf.Index[Any, Any], key: Any) -> Any | None:
    """The single value an index holds for ``key``, or None."""
    if key not in index:
        return None
    for value in index[key]:
        return value
    return None
