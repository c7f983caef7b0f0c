"""Small helpers shared by the handlers."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
from lightkube import AsyncClient

from kubenova import config

log = logging.getLogger(__name__)


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


def soon(memo: kopf.Memo, key: str, work: Callable[[], Awaitable[None]]) -> None:
    """Run ``work`` once after ``settings.refresh_delay_seconds``, however often this is called
    for ``key`` meanwhile: a burst of changes to what a summary (a Host's usage, a Quota's) is
    computed from costs one status write, not one per change.

    ``work`` should read its inputs when it runs (kopf's indexes are live views), not capture them.
    """
    pending: dict[str, asyncio.Task[None]] = memo["refresh"]  # made in the global memo (operator.run)
    if key in pending:
        return

    async def run() -> None:
        try:
            await asyncio.sleep(settings(memo).refresh_delay_seconds)
            del pending[key]
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:  # the next change retries; an error here must not kill kopf's loop
            pending.pop(key, None)
            log.exception("refreshing %s failed", key)

    pending[key] = asyncio.create_task(run(), name=f"refresh-{key}")
