"""The machinery of the Server stream, as one component (:class:`ServerController`): the
per-server locks, the memory of what the operator wrote and saw (:class:`ServerCache`), and the
debounce that coalesces refreshes (:class:`Debounce`, also used by the Host, Quota and
ServerGroup status handlers). Kept in :class:`kubenova.handlers.state.OperatorState`; used by
:mod:`kubenova.handlers.servers` (the dispatcher) and the executor.

kubenova reconciles Servers from ``on.event`` handlers and writes through its own client, which
gives up kopf's own consistency tracking (for fewer writes per server); this module is what
takes its place, a small informer cache, workqueue and expectations.

The cache lets the operator read and reconcile only when something it does not know yet has
happened.

Three rules, all on equality of resourceVersions (they are opaque: never ordered here):

* **Echoes.** The executor acts on each state it writes at once (``Executor.advance``), so the
  watch event that echoes one of our own writes has nothing new: it is skipped.
* **Fresh bodies.** An event that is not an echo, arriving when the echo of our latest write has
  been seen, carries the newest state there is: it is used as it is, with no read. If our latest
  write's echo has not come yet, the event may predate that write (or batching may have folded
  the echo into it), so the Server is read from the API server instead.
* **Workload observations.** A Pod or VM event whose observation (Nova's view of it) is the one
  the Server last acted on changes nothing.

Between events, the latest body (from an event or from a write's response) serves workload
events, as an informer's cache would: a change made meanwhile arrives as its own event.
Profiled on a build of 1,000 servers, this halves the operator's API calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, MutableMapping
from typing import Any

from kubenova.backends.workload import Observation
from kubenova.handlers.common import lean

log = logging.getLogger(__name__)
ECHOES_KEPT = 16
WORKERS = 32
"""Servers reconciled at once from their events. The scheduler's decisions are one at a time
anyway; the rest of a step is mostly waiting for the API server."""


def encode(body: Mapping[str, Any]) -> str:
    """``body`` (a watch event's decoded JSON, or a part of one) as compact JSON."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class EncodedBodies(MutableMapping[str, dict[str, Any]]):
    """Bodies by key, kept as compact JSON and decoded (a fresh copy) when read. A decoded
    Server is several times its JSON in Python objects: kept for each of 10,000 servers, the
    bodies were most of the operator's memory; a decode costs microseconds, once per
    reconcile that uses one."""

    def __init__(self) -> None:
        self._json: dict[str, str] = {}

    def __getitem__(self, key: str) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self._json[key])
        return body

    def __setitem__(self, key: str, body: Mapping[str, Any]) -> None:
        self._json[key] = encode(body)

    def put_json(self, key: str, text: str) -> None:
        """Keep a body already encoded (by :func:`encode`)."""
        self._json[key] = text

    def __delitem__(self, key: str) -> None:
        del self._json[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json)

    def __len__(self) -> int:
        return len(self._json)


@dataclasses.dataclass
class ServerCache:
    written: dict[str, deque[str]] = dataclasses.field(default_factory=dict)
    """resourceVersions of our recent writes, by server key."""
    awaiting: dict[str, str] = dataclasses.field(default_factory=dict)
    """The resourceVersion of our latest write whose echo has not been seen yet."""
    bodies: EncodedBodies = dataclasses.field(default_factory=EncodedBodies)
    """The newest body known, by server key (:func:`lean`)."""
    observed: dict[str, Observation] = dataclasses.field(default_factory=dict)
    """The workload observation each server last acted on."""

    def wrote(self, key: str, body: dict[str, Any]) -> None:
        rv = body.get("metadata", {}).get("resourceVersion")
        self.bodies[key] = lean(body)
        if rv:
            self.written.setdefault(key, deque(maxlen=ECHOES_KEPT)).append(rv)
            self.awaiting[key] = rv

    def event(self, key: str, text: str) -> tuple[bool, dict[str, Any] | None]:
        """For a watch event's body, :func:`lean` and :func:`encode`d (as the work queue carried
        it; kept as it is): (True, None) if it is our echo (nothing to do); (False, body) if it is
        the newest state, to act on; (False, None) if the Server must be read."""
        body: dict[str, Any] = json.loads(text)
        rv = body.get("metadata", {}).get("resourceVersion")
        if rv and rv in self.written.get(key, ()):
            if self.awaiting.get(key) == rv:
                del self.awaiting[key]  # every earlier echo was before it in the stream
            return True, None
        if key in self.awaiting:
            return False, None
        self.bodies.put_json(key, text)
        return False, body

    def read(self, key: str, body: dict[str, Any] | None) -> None:
        """A body read from the API server: the newest, as of after all our writes."""
        self.awaiting.pop(key, None)
        if body is None:
            self.forget(key)
        else:
            self.bodies[key] = lean(body)

    def forget(self, key: str) -> None:
        for d in (self.written, self.awaiting, self.bodies, self.observed):
            d.pop(key, None)


class KeyedLocks:
    """One lock per key, held only while someone holds or waits for it: ``async with
    locks[key]:``. A plain ``defaultdict(asyncio.Lock)`` kept a lock for every server that ever
    existed, for the life of the process (a create-and-delete loop grew it without end)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __getitem__(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self._held(key)

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def _held(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclasses.dataclass
class ServerController:
    """The Server stream's state: its locks, its cache, and the maintenance it has seen."""

    cache: ServerCache = dataclasses.field(default_factory=ServerCache)
    locks: KeyedLocks = dataclasses.field(default_factory=KeyedLocks)
    queue: WorkQueue = dataclasses.field(default_factory=lambda: WorkQueue(WORKERS))
    """The servers waiting for a reconcile their events asked for."""
    """One per server key: one reconcile (or ServerAction) of a server at a time."""
    maintenance: dict[str, str | None] = dataclasses.field(default_factory=dict)
    """The maintenance each Host asked for when last seen (only a change reconciles its servers)."""


NOT_GIVEN: Any = object()
"""``Wanted.workload`` when no workload event asked for the reconcile (its workload is read)."""


@dataclasses.dataclass(slots=True)
class Wanted:
    """A reconcile a server waits for, with the newest of what its events carried."""

    run: Callable[[Wanted], Awaitable[None]]
    event_body: str | None = None
    """The newest Server event's body (:func:`lean`, :func:`encode`d), if an event asked."""
    workload: Any = NOT_GIVEN
    """The newest workload event's body (encoded; ``None``: the workload is gone)."""
    other: bool = False
    """Asked for by something other than the Server's own event (its workload, its root disk):
    a Server event folded in that is only our echo must not cancel the reconcile."""
    placed: bool = False
    """The server is placed (or being deleted): its reconcile goes before the unplaced ones."""

    def seen(self) -> dict[str, Any] | None:
        """The workload as its newest event carried it; None: to be read (none came, or it is gone)."""
        if self.workload is NOT_GIVEN or self.workload is None:
            return None
        body: dict[str, Any] = json.loads(self.workload)
        return body

    def merged(self, newer: Wanted) -> Wanted:
        return Wanted(
            newer.run,
            newer.event_body if newer.event_body is not None else self.event_body,
            newer.workload if newer.workload is not NOT_GIVEN else self.workload,
            self.other or newer.other,
            self.placed or newer.placed,
        )


class WorkQueue:
    """Servers waiting for a reconcile: each at most once, in the order they first asked, run
    by at most ``workers`` tasks at a time; a server asking again while it is being reconciled
    is run again after (client-go's workqueue, which controller-runtime's reconcilers share).
    Placed servers go first: their steps are short and end builds (the Pod running makes a
    server ACTIVE), while each unplaced one waits for the scheduler's lock. In one order, a
    thousand new Servers held every worker at the lock and the first ACTIVE came after the
    last placement.

    A watch event's handler only adds its server and returns. When each handler reconciled in
    place, 10,000 Servers applied at once were 10,000 handlers waiting for the scheduler's
    lock, each with its event's whole body and a kopf worker: 520 MB. Waiting here, a server
    is a key and the newest of its events, as JSON."""

    def __init__(self, workers: int) -> None:
        self.size = workers
        self._waiting: dict[str, Wanted] = {}
        self._again: dict[str, Wanted] = {}
        self._running: set[str] = set()
        self._keys: asyncio.PriorityQueue[tuple[int, int, str]] = asyncio.PriorityQueue()
        """(0 placed, 1 not; arrival; key). A key may be in it twice, or after it was discarded:
        the entry that finds nothing waiting is skipped."""
        self._arrivals = itertools.count()
        self._workers: list[asyncio.Task[None]] = []

    def add(self, key: str, wanted: Wanted) -> None:
        if key in self._running:
            self._again[key] = self._again[key].merged(wanted) if key in self._again else wanted
        elif key in self._waiting:
            waiting = self._waiting[key]
            self._waiting[key] = waiting.merged(wanted)
            if wanted.placed and not waiting.placed:
                self._put(key, wanted)  # it moves up
        else:
            self._waiting[key] = wanted
            self._put(key, wanted)
            if len(self._workers) < self.size:
                self._workers.append(asyncio.create_task(self._work(), name=f"reconcile-{len(self._workers)}"))

    def _put(self, key: str, wanted: Wanted) -> None:
        self._keys.put_nowait((0 if wanted.placed else 1, next(self._arrivals), key))

    def discard(self, key: str) -> None:
        """Forget what ``key`` waits for (its Server is gone); a run in progress goes on."""
        self._again.pop(key, None)
        self._waiting.pop(key, None)  # its key stays in the asyncio queue, skipped when it comes out

    def depth(self) -> int:
        """Servers waiting or being reconciled."""
        return len(self._waiting) + len(self._running)

    async def join(self) -> None:
        """Until nothing waits or runs."""
        await self._keys.join()

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()

    async def _work(self) -> None:
        while True:
            _, _, key = await self._keys.get()
            wanted = self._waiting.pop(key, None)
            if wanted is None:  # discarded
                self._keys.task_done()
                continue
            self._running.add(key)
            try:
                await wanted.run(wanted)
            except Exception:  # the run retries what it must; a worker must not die of it
                log.exception("reconciling server %s failed", key)
            finally:
                self._running.discard(key)
                again = self._again.pop(key, None)
                if again is not None:
                    self._waiting[key] = again
                    self._put(key, again)
                self._keys.task_done()


RETRY_FIRST = 0.5
RETRY_MAX = 30.0
"""Seconds before retrying a failed refresh: doubling from RETRY_FIRST up to RETRY_MAX."""


class Debounce:
    """Work run once after a delay, however often it is asked for meanwhile: a burst of changes
    to what a summary (a Host's usage, a Quota's) is computed from costs one status write, not
    one per change.

    A key's work never runs twice at once: what is asked for while it runs, or within the
    ``interval`` after (the delay, without one), runs once when that ends. With an interval, a
    key's work runs at most once per interval: a build spreads its servers over the hosts, so a
    delay alone gathered little, about one Host write per Server (issue 13), each re-validated,
    stored and sent to every watcher by the API server."""

    def __init__(self, delay: float, interval: float = 0.0) -> None:
        self.delay = delay
        self.interval = interval
        self.pending: dict[str, asyncio.Task[None]] = {}
        """Keys whose work is waiting, running, or in the interval after its run."""
        self._again: dict[str, Callable[[], Awaitable[None]]] = {}
        """Keys asked for again while pending: the newest work, run when the interval ends."""
        self.closed = False

    def close(self) -> None:
        """The operator is stopping: cancel what is pending, and take no more work."""
        self.closed = True
        for task in self.pending.values():
            task.cancel()
        self.pending.clear()
        self._again.clear()

    def soon(self, key: str, work: Callable[[], Awaitable[None]], *, failures: int = 0) -> None:
        """Run ``work`` once after the delay, however often this is called for ``key`` meanwhile.
        ``work`` should read its inputs when it runs (kopf's indexes are live views), not capture them.

        A failed run (the API server restarting) is retried with a growing delay: no later change
        may come to retry it, and the summary would stay stale (the chaos test found a Host's
        usage counting a released claim for good after a kube-apiserver restart)."""
        if self.closed:
            return
        if key in self.pending:
            self._again[key] = work
            return
        delay = self.delay if not failures else min(RETRY_MAX, max(self.delay, RETRY_FIRST) * 2 ** (failures - 1))
        after = self.interval or self.delay

        async def run() -> None:
            job = work
            try:
                await asyncio.sleep(delay)
                while True:
                    self._again.pop(key, None)
                    await job()
                    await asyncio.sleep(after)
                    if key not in self._again:
                        break
                    job = self._again[key]
                del self.pending[key]  # no await since the check: nothing asked for is lost
            except asyncio.CancelledError:
                raise
            except Exception:  # an error here must not kill kopf's loop
                self.pending.pop(key, None)
                log.exception("refreshing %s failed (attempt %d); retrying", key, failures + 1)
                self.soon(key, self._again.pop(key, job), failures=failures + 1)

        self.pending[key] = asyncio.create_task(run(), name=f"refresh-{key}")
