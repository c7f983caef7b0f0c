"""One watch on Servers (or Pods) shared by a benchmark's phases: futures that resolve, with the
time (``time.perf_counter``) the watch saw it, when a named object reaches a condition."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from lightkube import ALL_NS, AsyncClient

Body = dict[str, Any] | None
Predicate = Callable[[Body], bool]


def status_is(value: str, flavor: str | None = None) -> Predicate:
    """The Server's Nova status is ``value`` (and, given, its placed flavor is ``flavor``)."""

    def pred(body: Body) -> bool:
        status = (body or {}).get("status") or {}
        if status.get("status") != value:
            return False
        return flavor is None or (status.get("flavor") or {}).get("originalName") == flavor

    return pred


def pod_running(body: Body) -> bool:
    return ((body or {}).get("status") or {}).get("phase") == "Running"


def gone(body: Body) -> bool:
    return body is None


class Watch:
    """Watches ``resource`` in ``namespace`` (None: all, and objects are keyed namespace/name)
    from :meth:`start` until :meth:`stop`."""

    def __init__(self, client: AsyncClient, resource: Any, namespace: str | None = None) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.bodies: dict[str, dict[str, Any]] = {}
        self._waiters: dict[str, list[tuple[Predicate, asyncio.Future[float]]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Watch:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0.5)  # the watch is open before the first create
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def until(self, name: str, pred: Predicate) -> asyncio.Future[float]:
        """A future of the time ``name`` first met ``pred`` from now on (at once if it does)."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if pred(self.bodies.get(name)):
            fut.set_result(time.perf_counter())
        else:
            self._waiters.setdefault(name, []).append((pred, fut))
        return fut

    async def _run(self) -> None:
        try:
            await self._watch()
        except Exception as exc:  # a waiter must not wait for a watch that died
            for waiters in self._waiters.values():
                for _, fut in waiters:
                    if not fut.done():
                        fut.set_exception(exc)
            raise

    async def _watch(self) -> None:
        async for kind, obj in self.client.watch(self.resource, namespace=self.namespace or ALL_NS):
            now = time.perf_counter()
            body: dict[str, Any] = obj if isinstance(obj, dict) else obj.to_dict()
            meta = body["metadata"]
            name: str = meta["name"] if self.namespace is not None else f"{meta.get('namespace')}/{meta['name']}"
            current: Body = None
            if kind == "DELETED":
                self.bodies.pop(name, None)
            else:
                self.bodies[name] = current = body
            waiters = self._waiters.get(name)
            if not waiters:
                continue
            keep = []
            for pred, fut in waiters:
                if fut.done():
                    continue
                if pred(current):
                    fut.set_result(now)
                else:
                    keep.append((pred, fut))
            self._waiters[name] = keep
