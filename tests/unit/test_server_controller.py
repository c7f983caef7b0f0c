"""The Server controller: its cache (echoes skipped, fresh bodies used, stale ones read
again) and its per-server locks."""

from __future__ import annotations

import asyncio
from typing import Any

from kubenova.backends.workload import Observation
from kubenova.handlers.common import lean
from kubenova.handlers.server_controller import KeyedLocks, ServerCache, Wanted, WorkQueue, encode


def body(rv: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": rv}, "status": status}


def test_a_first_event_is_used_as_it_is() -> None:
    cache = ServerCache()
    assert cache.event("ns/a", encode(body("1"))) == (False, body("1"))
    assert cache.bodies["ns/a"] == body("1")


def test_our_own_writes_echo_and_are_skipped() -> None:
    cache = ServerCache()
    cache.wrote("ns/a", body("2", status="BUILD"))
    cache.wrote("ns/a", body("3", status="ACTIVE"))
    assert cache.event("ns/a", encode(body("2"))) == (True, None)  # an earlier echo: still awaiting 3
    assert "ns/a" in cache.awaiting
    assert cache.event("ns/a", encode(body("3"))) == (True, None)
    assert "ns/a" not in cache.awaiting
    assert cache.event("ns/a", encode(body("4", status="SHUTOFF"))) == (False, body("4", status="SHUTOFF"))


def test_an_event_before_our_latest_echo_may_be_stale_so_the_server_is_read() -> None:
    cache = ServerCache()
    cache.wrote("ns/a", body("5"))
    assert cache.event("ns/a", encode(body("4"))) == (False, None)
    cache.read("ns/a", body("6"))
    assert "ns/a" not in cache.awaiting
    assert cache.bodies["ns/a"] == body("6")
    assert cache.event("ns/a", encode(body("7"))) == (False, body("7"))


def test_a_server_gone_is_forgotten() -> None:
    cache = ServerCache()
    cache.wrote("ns/a", body("1"))
    cache.observed["ns/a"] = Observation(exists=True)
    cache.read("ns/a", None)
    assert not cache.bodies
    assert not cache.written
    assert not cache.awaiting
    assert not cache.observed


def test_the_cache_keeps_no_managed_fields() -> None:
    cache = ServerCache()
    full = {"metadata": {"resourceVersion": "1", "managedFields": [{"manager": "kubectl"}]}, "spec": {}}
    cache.wrote("ns/b", full)
    cache.read("ns/c", full)
    assert all("managedFields" not in b["metadata"] for b in cache.bodies.values())
    assert full["metadata"]["managedFields"]  # the caller's body is left as it was


def test_lean_drops_managed_fields_and_copies_nothing_else() -> None:
    full = {"metadata": {"resourceVersion": "1", "managedFields": [{"manager": "kubectl"}]}, "spec": {}}
    assert lean(full) == {"metadata": {"resourceVersion": "1"}, "spec": {}}
    assert full["metadata"]["managedFields"]  # the caller's body is left as it was
    plain = body("1")
    assert lean(plain) is plain  # nothing to drop: no copy
    assert encode(lean(full)) == '{"metadata":{"resourceVersion":"1"},"spec":{}}'


def test_a_servers_lock_is_one_at_a_time_and_kept_only_while_used() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def hold(who: str, pause: float) -> None:
        async with locks["ns/a"]:
            order.append(f"{who} in")
            await asyncio.sleep(pause)
            order.append(f"{who} out")

    async def main() -> None:
        first = asyncio.create_task(hold("first", 0.02))
        await asyncio.sleep(0)
        second = asyncio.create_task(hold("second", 0))
        cancelled = asyncio.create_task(hold("cancelled", 0))
        await asyncio.sleep(0.005)
        assert len(locks) == 1
        cancelled.cancel()
        await asyncio.gather(first, second, cancelled, return_exceptions=True)

    asyncio.run(main())
    assert order == ["first in", "first out", "second in", "second out"]
    assert len(locks) == 0  # a deleted server leaves no lock behind


def test_the_work_queue_runs_each_server_once_at_a_time_with_its_newest_events() -> None:
    queue = WorkQueue(workers=2)
    runs: list[tuple[str, Any, Any]] = []
    started = asyncio.Event()
    release = asyncio.Event()

    def run(key: str) -> Any:
        async def go(wanted: Wanted) -> None:
            runs.append((key, wanted.event_body, wanted.seen()))
            if key == "ns/a" and len(runs) == 1:
                started.set()
                await release.wait()

        return go

    async def main() -> None:
        queue.add("ns/a", Wanted(run("ns/a"), encode({"v": 1})))
        await started.wait()
        # While ns/a runs, two more events of it fold into one run after, with the newest of each.
        queue.add("ns/a", Wanted(run("ns/a"), encode({"v": 2}), encode({"pod": 1})))
        queue.add("ns/a", Wanted(run("ns/a"), encode({"v": 3})))
        queue.add("ns/b", Wanted(run("ns/b")))
        queue.add("ns/b", Wanted(run("ns/b"), workload=None))  # its workload is gone
        assert queue.depth() == 2
        release.set()
        await asyncio.wait_for(queue.join(), 5)
        await queue.close()

    asyncio.run(main())
    assert sorted(runs, key=lambda r: (r[0], str(r[1]))) == [
        ("ns/a", encode({"v": 1}), None),
        ("ns/a", encode({"v": 3}), {"pod": 1}),
        ("ns/b", None, None),
    ]


def test_a_failed_run_does_not_stop_the_queue() -> None:
    queue = WorkQueue(workers=1)
    done: list[str] = []

    async def fail(wanted: Wanted) -> None:
        raise RuntimeError("the API server is restarting")

    async def ok(wanted: Wanted) -> None:
        done.append("ok")

    async def main() -> None:
        queue.add("ns/a", Wanted(fail))
        queue.add("ns/b", Wanted(ok))
        await asyncio.wait_for(queue.join(), 5)
        await queue.close()

    asyncio.run(main())
    assert done == ["ok"]


def test_a_workload_event_folded_with_a_server_event_still_asks_for_its_reconcile() -> None:
    async def run(wanted: Wanted) -> None:
        pass

    workload = Wanted(run, None, encode({"pod": "Running"}), other=True)
    echo = Wanted(run, encode({"metadata": {"resourceVersion": "7"}}))
    folded = workload.merged(echo)
    assert folded.other  # our echo in the same reconcile must not end it
    assert folded.seen() == {"pod": "Running"}
    assert folded.event_body == encode({"metadata": {"resourceVersion": "7"}})
    assert not echo.merged(Wanted(run, encode({}))).other


def test_a_deleted_servers_waiting_reconcile_is_dropped_and_its_key_can_come_back() -> None:
    queue = WorkQueue(workers=1)
    ran: list[Any] = []
    gate = asyncio.Event()

    async def block(wanted: Wanted) -> None:
        await gate.wait()

    async def record(wanted: Wanted) -> None:
        ran.append(wanted.event_body)

    async def main() -> None:
        queue.add("ns/busy", Wanted(block))  # the one worker is busy meanwhile
        queue.add("ns/a", Wanted(record, encode({"v": 1})))
        queue.discard("ns/a")  # deleted
        queue.add("ns/a", Wanted(record, encode({"v": 2})))  # a new Server of that name
        assert queue.depth() == 2
        gate.set()
        await asyncio.wait_for(queue.join(), 5)
        await queue.close()

    asyncio.run(main())
    assert ran == [encode({"v": 2})]


def test_an_events_json_is_kept_as_it_came() -> None:
    cache = ServerCache()
    text = encode(body("1", state="ACTIVE"))
    assert cache.event("ns/a", text) == (False, body("1", state="ACTIVE"))
    assert cache.bodies["ns/a"] == body("1", state="ACTIVE")
    assert cache.bodies._json["ns/a"] is text


def test_placed_servers_are_reconciled_before_unplaced_ones() -> None:
    queue = WorkQueue(workers=1)
    order: list[str] = []
    gate = asyncio.Event()

    async def block(wanted: Wanted) -> None:
        await gate.wait()

    def record(key: str) -> Any:
        async def go(wanted: Wanted) -> None:
            order.append(key)

        return go

    async def main() -> None:
        queue.add("ns/busy", Wanted(block))
        queue.add("ns/new-1", Wanted(record("ns/new-1")))
        queue.add("ns/new-2", Wanted(record("ns/new-2")))
        queue.add("ns/running-pod", Wanted(record("ns/running-pod"), placed=True))
        queue.add("ns/new-2", Wanted(record("ns/new-2"), placed=True))  # placed meanwhile: moves up
        gate.set()
        await asyncio.wait_for(queue.join(), 5)
        await queue.close()

    asyncio.run(main())
    assert order == ["ns/running-pod", "ns/new-2", "ns/new-1"]
