"""kubenova's event dispatcher (:mod:`kubenova.handlers.dispatch`) in kopf's place: every kind
kubenova watches takes it, and it keeps the parts of kopf's semantics kubenova's handlers rely on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import kopf
import pytest
from kopf._cogs.aiokits import aiotoggles
from kopf._core.engines.indexing import OperatorIndexers
from kopf._core.reactor import processing, running

import kubenova.handlers  # noqa: F401  (registers every handler)
from kubenova.handlers import dispatch

RESOURCE = kopf.Resource("example.com", "v1", "things")


def _kinds() -> list[kopf.Resource]:
    registry = kopf.get_default_registry()
    selectors = {h.selector for h in (*registry._indexing.get_all_handlers(), *registry._watching.get_all_handlers())}
    return sorted({kopf.Resource(s.group or "", s.version or "v1", s.plural or "") for s in selectors if s}, key=str)


@pytest.mark.parametrize("resource", _kinds(), ids=str)
def test_every_kind_kubenova_watches_is_dispatched_by_kubenova(resource: kopf.Resource) -> None:
    assert dispatch.plan(kopf.get_default_registry(), resource) is not None


def test_a_kind_with_a_change_handler_goes_through_kopf() -> None:
    registry = kopf.OperatorRegistry()
    kopf.on.create("example.com", "v1", "things", registry=registry)(_noop)
    assert dispatch.plan(registry, RESOURCE) is None


def test_a_handler_filtered_by_more_than_labels_goes_through_kopf() -> None:
    registry = kopf.OperatorRegistry()
    kopf.on.event("example.com", "v1", "things", when=lambda **_: True, registry=registry)(_noop)
    assert dispatch.plan(registry, RESOURCE) is None


def test_kopf_still_reads_the_processor_where_install_puts_it() -> None:
    """kopf's private names the dispatcher depends on (kopf is pinned): kopf.operator builds its
    watches' processor from ``processing.process_resource_event`` when it starts."""
    assert "processing.process_resource_event" in Path(running.__file__).read_text()
    before = processing.process_resource_event
    try:
        dispatch.install()
        dispatch.install()
        installed = processing.process_resource_event
        assert isinstance(installed, dispatch.Dispatcher)
        assert installed.original is before
    finally:
        processing.process_resource_event = before


async def _noop(**_: Any) -> None:
    return None


def _event(kind: str, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": labels or {}}
    return {"type": kind, "object": {"metadata": meta, "spec": {"size": 1}, "status": {}}}


def _run(registry: kopf.OperatorRegistry, indexers: OperatorIndexers, *events: dict[str, Any]) -> None:
    async def fallback(**_: Any) -> None:
        raise AssertionError("went to kopf's processing")

    dispatcher = dispatch.Dispatcher(fallback)

    async def go() -> None:
        for event in events:
            await dispatcher(registry=registry, resource=RESOURCE, raw_event=event, indexers=indexers, memobase="memo")

    asyncio.run(go())


def test_indexes_first_then_handlers_in_order_with_labels_and_failures() -> None:
    registry = kopf.OperatorRegistry()
    calls: list[tuple[str, Any]] = []

    @kopf.index("example.com", "v1", "things", id="sizes", registry=registry)
    async def sizes(*, name: str, spec: Any, **_: Any) -> dict[str, int]:
        return {name: spec["size"]}

    @kopf.index("example.com", "v1", "things", id="broken", registry=registry)
    async def broken(*, name: str, **_: Any) -> dict[str, int]:
        if name == "b":
            raise RuntimeError("index failure")
        return {name: 1}

    @kopf.on.event("example.com", "v1", "things", registry=registry)
    async def first(**kw: Any) -> None:
        sizes = {k: list(v) for k, v in kw["sizes"].items()}
        calls.append(("first", (kw["name"], sizes, kw["memo"], kw["type"])))
        raise RuntimeError("a failing handler does not stop the next")

    @kopf.on.event("example.com", "v1", "things", labels={"pick": kopf.PRESENT, "skip": kopf.ABSENT}, registry=registry)
    async def second(*, name: str, **_: Any) -> None:
        calls.append(("second", name))

    indexers = OperatorIndexers()
    indexers.ensure(registry._indexing.get_all_handlers())
    _run(
        registry,
        indexers,
        _event("ADDED", "a", {"pick": "1"}),
        _event("ADDED", "b", {"pick": "1", "skip": "1"}),
    )
    assert calls == [
        ("first", ("a", {"a": [1]}, "memo", "ADDED")),
        ("second", "a"),
        ("first", ("b", {"a": [1], "b": [1]}, "memo", "ADDED")),
    ]
    assert "b" not in indexers.indices["broken"]  # its index function failed: no entries
    assert list(indexers.indices["broken"]["a"]) == [1]

    _run(registry, indexers, _event("DELETED", "a"))
    assert "a" not in indexers.indices["sizes"]
    assert "a" not in indexers.indices["broken"]


def test_events_before_every_first_listing_are_kept_compactly_newest_only_and_in_order() -> None:
    """Until every kind's first listing is indexed, kopf's workers do not wait with the events:
    each object's newest is kept as JSON without managedFields. Once every listing is in, the
    kept events go to their handlers; an object's next event waits for its kept one."""
    registry = kopf.OperatorRegistry()
    seen: list[tuple[str, str, bool]] = []
    gate = asyncio.Event()

    @kopf.on.event("example.com", "v1", "things", registry=registry)
    async def handler(*, name: str, type: str, meta: Any, **_: Any) -> None:
        seen.append((name, type, "managedFields" in meta))
        if name == "b" and type == "ADDED":
            await gate.wait()  # b's kept event is being handled when b's next event comes

    async def fallback(**_: Any) -> None:
        raise AssertionError("went to kopf's processing")

    async def go() -> None:
        dispatcher = dispatch.Dispatcher(fallback)
        indexed = aiotoggles.ToggleSet(all)
        listing = await indexed.make_toggle(False)  # another kind's first listing, not over yet
        indexers = OperatorIndexers()

        async def send(event: dict[str, Any]) -> None:
            await dispatcher(
                registry=registry, resource=RESOURCE, raw_event=event, indexers=indexers, memobase="m",
                operator_indexed=indexed,
            )  # fmt: skip

        a = _event("ADDED", "a")
        a["object"]["metadata"]["managedFields"] = [{"manager": "kubectl"}]
        for event in (a, _event("MODIFIED", "a"), _event("ADDED", "b")):
            await asyncio.wait_for(send(event), 1)  # returns at once: nothing waits in kopf's worker
        assert seen == []  # none before every listing is indexed
        await indexed.drop_toggle(listing)
        await asyncio.sleep(0.01)
        assert seen == [("a", "MODIFIED", False), ("b", "ADDED", False)]
        later = asyncio.create_task(send(_event("MODIFIED", "b")))
        await asyncio.sleep(0.01)
        assert not later.done()  # waits for b's kept event
        gate.set()
        await asyncio.wait_for(later, 1)
        assert dispatcher._releasing is None
        assert not dispatcher._kept
        assert not dispatcher._handling

    asyncio.run(go())
    assert seen == [("a", "MODIFIED", False), ("b", "ADDED", False), ("b", "MODIFIED", False)]


def test_kept_events_of_servers_are_handled_before_the_others() -> None:
    """After a restart a Server's event fills the Server cache and says what its Pod must carry,
    so its Pod's event, handled after it, reads neither the Server nor the Pod."""
    registry = kopf.OperatorRegistry()
    seen: list[str] = []
    servers, pods = kopf.Resource("compute.kubenova.io", "v1", "servers"), kopf.Resource("", "v1", "pods")

    @kopf.on.event("compute.kubenova.io", "v1", "servers", registry=registry)
    @kopf.on.event("", "v1", "pods", registry=registry)
    async def handler(*, name: str, resource: kopf.Resource, **_: Any) -> None:
        seen.append(f"{resource.plural}/{name}")

    async def go() -> None:
        dispatcher = dispatch.Dispatcher(_noop)
        indexed = aiotoggles.ToggleSet(all)
        listing = await indexed.make_toggle(False)
        indexers = OperatorIndexers()
        for resource, name in ((pods, "a"), (servers, "a"), (pods, "b"), (servers, "b")):
            await dispatcher(
                registry=registry, resource=resource, raw_event=_event("ADDED", name), indexers=indexers,
                memobase="m", operator_indexed=indexed,
            )  # fmt: skip
        await indexed.drop_toggle(listing)
        await asyncio.sleep(0.01)

    asyncio.run(go())
    assert seen == ["servers/a", "servers/b", "pods/a", "pods/b"]
