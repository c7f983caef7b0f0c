"""Every ``@kopf.index`` function is async and answers a dict, ``{}`` included (see
:mod:`kubenova.handlers`: a sync one costs a thread hop per event; ``None`` keeps stale entries)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, cast

import kopf
import pytest

import kubenova.handlers  # noqa: F401  (registers every handler)
from kubenova import config
from kubenova.handlers import state

INDEXERS = list(kopf.get_default_registry()._indexing.get_all_handlers())

# The least each kind's body can be: nothing in spec or status, so every "not indexed" path runs.
EMPTY: dict[str, Any] = {
    "namespace": "ns",
    "name": "n",
    "uid": "u",
    "spec": {},
    "status": {},
    "meta": {"name": "n", "namespace": "ns"},
    "labels": {},
    "body": {"metadata": {"name": "n", "namespace": "ns", "labels": {}}, "spec": {}, "status": {}},
    "memo": kopf.Memo(state=state.make(config.Settings(), cast(Any, None))),
}


def test_there_are_no_change_handlers() -> None:
    """kubenova.operator.NoDiffBase keeps no diff base: a change handler would see no changes."""
    assert not list(kopf.get_default_registry()._changing.get_all_handlers())


def test_there_are_indexes() -> None:
    assert len(INDEXERS) >= 10


@pytest.mark.parametrize("handler", INDEXERS, ids=lambda h: str(h.id))
def test_index_function_is_async(handler: Any) -> None:
    assert inspect.iscoroutinefunction(handler.fn), f"{handler.id} runs in kopf's thread pool"


@pytest.mark.parametrize("handler", INDEXERS, ids=lambda h: str(h.id))
def test_index_function_answers_a_dict(handler: Any) -> None:
    result = asyncio.run(handler.fn(**EMPTY))
    assert isinstance(result, dict), f"{handler.id} answered {result!r}: kopf would keep the old entries"
