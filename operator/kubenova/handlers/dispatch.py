"""kubenova's processing of one watch event: the kind's index functions, then its event handlers,
called directly, in place of kopf's per-event machinery.

kopf keeps what it does well: the watches (listing, resuming, backing off), the per-object queues
that fold a burst of events into the latest, peering, the admission server, startup and cleanup.
What kopf then does with each event is built for change handlers, daemons and timers: per-object
memories, a diff base, change detection, finalizer bookkeeping, progress storage, three loggers,
a cause, and for every handler a state, an outcome and a dozen keyword views. kubenova has none of
those: every resource handler of it is an ``on.event`` or ``index`` handler, level-triggered,
reading the object as it is. That machinery was most of the operator's CPU per Server built
(issue 13: about 2.5 ms per event, and a Server's build is about 9 events), around very little
kubenova logic.

A kind that has a change handler, a daemon or a timer, or a handler filtered by more than labels,
goes through kopf's own processing unchanged: :func:`plan` says which. What is kept of kopf's
semantics: index functions run first, an index function's exception drops the object's entries
from that index (as kopf's do), handlers run in registration order, a handler's exception is
logged and the others still run (kopf's ``errors`` default for event handlers is to ignore), and
no handler runs before every kind's first listing has been indexed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import kopf
from kopf._core.actions import execution
from kopf._core.reactor import processing

from kubenova.handlers.common import lean

log = logging.getLogger(__name__)

Processor = Callable[..., Awaitable[str | None]]

RELEASERS = 16
"""How many kept events go to their handlers at once when the first listings are indexed."""
FIRST = ("servers",)
"""Kinds whose kept events are handled before the others': a Server's event puts its body in the
Server cache, so its workload's event, after it, needs no read of the Server, and the workload's
event checks what the Server's asked of it (its security groups' labels) with no read of the Pod."""


@dataclass(frozen=True)
class Plan:
    """The handlers of one kind, in kopf's registration order; ``None`` from :func:`plan` when
    the kind needs kopf's own processing."""

    indexing: tuple[Any, ...]
    watching: tuple[Any, ...]


def plan(registry: kopf.OperatorRegistry, resource: kopf.Resource) -> Plan | None:
    if registry._changing.has_handlers(resource=resource) or registry._spawning.has_handlers(resource=resource):
        return None
    indexing = _for(registry._indexing.get_all_handlers(), resource)
    watching = _for(registry._watching.get_all_handlers(), resource)
    if not all(_simple(h) for h in (*indexing, *watching)):
        return None
    return Plan(indexing, watching)


def _for(handlers: Any, resource: kopf.Resource) -> tuple[Any, ...]:
    return tuple(h for h in handlers if h.selector is not None and h.selector.check(resource))


def _simple(handler: Any) -> bool:
    """Filtered by literal, present or absent labels only (what :func:`matches` decides)."""
    labels = handler.labels or {}
    return (
        not handler.annotations
        and handler.when is None
        and handler.field is None
        and handler.value is None
        and not any(callable(v) for v in labels.values())
    )


def matches(handler: Any, labels: Mapping[str, str]) -> bool:
    for key, want in (handler.labels or {}).items():
        if want is kopf.ABSENT:
            if key in labels:
                return False
        elif want is kopf.PRESENT:
            if key not in labels:
                return False
        elif labels.get(key) != want:
            return False
    return True


def kwargs(raw_event: Mapping[str, Any], memo: Any, resource: kopf.Resource, indices: Any) -> dict[str, Any]:
    """What kubenova's handlers take by name (kopf's names), and every index."""
    body = raw_event["object"]
    meta = body.get("metadata") or {}
    return {
        **indices,
        "event": raw_event,
        "type": raw_event.get("type"),
        "body": body,
        "meta": meta,
        "spec": body.get("spec") or {},
        "status": body.get("status") or {},
        "uid": meta.get("uid"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": meta.get("labels") or {},
        "annotations": meta.get("annotations") or {},
        "memo": memo,
        "resource": resource,
        "logger": log,
    }


async def _call(fn: Any, kw: dict[str, Any]) -> Any:
    result = fn(**kw)
    return await result if inspect.isawaitable(result) else result


class Handling(NamedTuple):
    """What an event's handlers are called with, besides the event."""

    handlers: tuple[Any, ...]
    memobase: Any
    resource: kopf.Resource
    indexers: Any


Key = tuple[kopf.Resource, str]


class Dispatcher:
    """The processor kopf's watch streams call; see the module's docstring.

    Until every kind's first listing is indexed, an object's event is kept here, its newest only,
    as compact JSON without ``managedFields``, and kopf's worker returns at once (kopf has each
    such event wait in its worker, whole: a restart over 10,000 Servers and their Pods held them
    all, 740 MB after and 940 MB at the peak). Once every listing is in, :data:`RELEASERS` tasks
    hand the kept events to their handlers (one at a time, the restart took three times as
    long). An object's later event waits for its kept one to be handled, so each object's
    events still reach the handlers in order and one at a time, as in kopf."""

    def __init__(self, original: Processor) -> None:
        self.original = original
        self.plans: dict[kopf.Resource, Plan | None] = {}
        self._kept: dict[Key, tuple[Handling, str]] = {}
        self._handling: dict[Key, asyncio.Future[None]] = {}
        self._releasing: asyncio.Task[None] | None = None

    async def __call__(self, **kw: Any) -> str | None:
        registry, resource = kw["registry"], kw["resource"]
        if resource not in self.plans:
            self.plans[resource] = plan(registry, resource)
        found = self.plans[resource]
        if found is None:
            return await self.original(**kw)
        try:
            await self.process(found, **kw)
        except Exception:  # kopf's own processing logs and goes on too: a stream must not stop
            log.exception("processing an event of %s failed", resource)
        return None

    async def process(
        self,
        found: Plan,
        *,
        indexers: Any,
        memobase: Any,
        resource: kopf.Resource,
        raw_event: Mapping[str, Any],
        operator_indexed: Any = None,
        resource_indexed: Any = None,
        **_: Any,
    ) -> None:
        body = raw_event["object"]
        deleted = raw_event.get("type") == "DELETED"
        meta = body.get("metadata") or {}
        labels = meta.get("labels") or {}
        kw: dict[str, Any] | None = None
        if found.indexing:
            if deleted:
                indexers.discard(body=body)
            else:
                kw = kwargs(raw_event, memobase, resource, indexers.indices)
                outcomes = {}
                for handler in found.indexing:
                    if matches(handler, labels):
                        outcomes[handler.id] = await self._index(handler, kw)
                indexers.replace(body=body, outcomes=outcomes)
        if operator_indexed is not None and resource_indexed is not None:
            await operator_indexed.drop_toggle(resource_indexed)
        handlers = tuple(h for h in found.watching if matches(h, labels))
        if not handlers:
            return
        to = Handling(handlers, memobase, resource, indexers)
        key = (resource, str(meta.get("uid") or _name(body)))
        while (handling := self._handling.get(key)) is not None:
            await asyncio.shield(handling)  # its kept event first
        # As kopf: no handler runs before every kind's first listing is in the indexes.
        if key in self._kept or (operator_indexed is not None and not operator_indexed.is_on()):
            self._keep(key, to, raw_event, operator_indexed)
            return
        await self._handle(to, raw_event, kw)

    @staticmethod
    async def _handle(to: Handling, raw_event: Mapping[str, Any], kw: dict[str, Any] | None = None) -> None:
        kw = kw or kwargs(raw_event, to.memobase, to.resource, to.indexers.indices)
        for handler in to.handlers:
            try:
                await _call(handler.fn, kw)
            except Exception:
                log.exception("handler %s failed on %s %s", handler.id, to.resource.plural, _name(raw_event["object"]))

    def _keep(self, key: Key, to: Handling, raw_event: Mapping[str, Any], operator_indexed: Any) -> None:
        """Keep the object's newest event (the handlers are level-triggered: kopf's own queues
        fold a burst of an object's events into its latest too)."""
        event = {"type": raw_event.get("type"), "object": lean(raw_event["object"])}
        self._kept[key] = (to, json.dumps(event, separators=(",", ":")))
        if self._releasing is None:
            self._releasing = asyncio.create_task(self._release(operator_indexed), name="first-listings")

    async def _release(self, operator_indexed: Any) -> None:
        """The kept events, once every kind's first listing is indexed. One task waits on kopf's
        toggles: every object indexed notifies their condition, and kopf's way (each event
        waiting on it) woke N waiters N times for N objects at start-up (two fifths of a
        restart's CPU over 1,000 Servers, growing as the square)."""
        while True:
            if operator_indexed is not None:
                await operator_indexed.wait_for(True)
            self._kept = dict(sorted(self._kept.items(), key=_first))  # stable: in order within a kind
            await asyncio.gather(*(self._drain() for _ in range(RELEASERS)))
            if not self._kept:  # else some came after the last was taken (no await since)
                self._releasing = None
                return

    async def _drain(self) -> None:
        while self._kept:
            key = next(iter(self._kept))
            to, text = self._kept.pop(key)
            done = self._handling[key] = asyncio.get_running_loop().create_future()
            try:
                await self._handle(to, json.loads(text))
            finally:
                del self._handling[key]
                done.set_result(None)

    @staticmethod
    async def _index(handler: Any, kw: dict[str, Any]) -> execution.Outcome:
        try:
            return execution.Outcome(final=True, result=await _call(handler.fn, kw))
        except Exception as exc:
            log.exception("index %s failed on %s", handler.id, _name(kw["body"]))
            return execution.Outcome(final=True, exception=exc)


def _first(kept: tuple[Key, Any]) -> bool:
    return kept[0][0].plural not in FIRST


def _name(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name')}".lstrip("/")


def install() -> None:
    """Put the dispatcher in kopf's place; kopf reads ``processing.process_resource_event`` when
    it starts its watches (:func:`kopf.operator`). kopf is pinned (``pyproject.toml``): the
    names used here are its private ones, checked by ``tests/unit/test_dispatch.py``."""
    current = processing.process_resource_event
    if not isinstance(current, Dispatcher):
        processing.process_resource_event = Dispatcher(current)  # type: ignore[assignment]


__all__ = ["Dispatcher", "Plan", "install", "matches", "plan"]
