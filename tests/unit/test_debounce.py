"""The refresh debounce (Host usage, Quota, ServerGroup statuses): a burst is one run, and a run
that failed (the API server restarting) is retried, since no later change may come to retry it."""

from __future__ import annotations

import asyncio

import pytest

from kubenova.handlers import server_controller
from kubenova.handlers.server_controller import Debounce


def test_a_burst_of_requests_is_one_run() -> None:
    async def go() -> int:
        runs = 0

        async def work() -> None:
            nonlocal runs
            runs += 1

        d = Debounce(0)
        for _ in range(5):
            d.soon("host/a", work)
        await asyncio.wait_for(asyncio.gather(*d.pending.values()), 5)
        return runs

    assert asyncio.run(go()) == 1


def test_a_failed_run_is_retried_until_it_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_controller, "RETRY_FIRST", 0.01)

    async def go() -> int:
        calls = 0
        done = asyncio.Event()

        async def work() -> None:
            nonlocal calls
            calls += 1
            if calls < 3:
                raise ConnectionError("kube-apiserver is restarting")
            done.set()

        d = Debounce(0)
        d.soon("host/a", work)
        await asyncio.wait_for(done.wait(), 5)
        return calls

    assert asyncio.run(go()) == 3


def test_a_closed_debounce_cancels_what_is_pending_and_takes_no_more() -> None:
    async def go() -> list[str]:
        ran: list[str] = []
        d = Debounce(0.05)

        async def work() -> None:
            ran.append("ran")

        d.soon("a", work)
        task = d.pending["a"]
        d.close()
        d.soon("b", work)
        await asyncio.sleep(0.1)
        assert task.cancelled()
        assert not d.pending
        return ran

    assert asyncio.run(go()) == []


def test_with_an_interval_a_key_runs_at_most_once_per_interval_and_nothing_asked_is_lost() -> None:
    """A usage summary: the first change after a quiet spell runs after the delay; changes while
    it runs, or within the interval after, run once when the interval ends; then the key is free."""

    async def go() -> list[str]:
        ran: list[str] = []
        d = Debounce(0, interval=0.1)
        during = asyncio.Event()

        async def first() -> None:
            ran.append("first")
            d.soon("host/a", later)  # a change while it runs
            during.set()

        async def later() -> None:
            ran.append("later")

        d.soon("host/a", first)
        await asyncio.wait_for(during.wait(), 1)
        for _ in range(5):
            d.soon("host/a", later)  # within the interval: no run before it ends
        await asyncio.sleep(0.05)
        assert ran == ["first"]
        await asyncio.wait_for(asyncio.gather(*d.pending.values()), 1)
        assert not d.pending
        d.soon("host/a", later)  # quiet since: after the delay again
        await asyncio.wait_for(asyncio.gather(*d.pending.values()), 1)
        return ran

    assert asyncio.run(go()) == ["first", "later", "later"]


def test_without_an_interval_a_key_asked_for_while_it_runs_runs_again_after_and_never_overlaps() -> None:
    """A refresh asked for while its key's work runs (a claim's retry that finds a server still
    waiting) runs once more, after the delay, never beside the run in progress."""

    async def go() -> list[str]:
        ran: list[str] = []
        running = 0
        d = Debounce(0.01)

        async def work() -> None:
            nonlocal running
            running += 1
            assert running == 1, "two runs of one key at once"
            ran.append("run")
            if len(ran) == 1:
                for _ in range(3):
                    d.soon("claim/a", work)
            await asyncio.sleep(0.02)
            running -= 1

        d.soon("claim/a", work)
        while d.pending:
            await asyncio.wait_for(asyncio.gather(*d.pending.values()), 1)
        return ran

    assert asyncio.run(go()) == ["run", "run"]
