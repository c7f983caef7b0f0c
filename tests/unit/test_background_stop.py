"""The operator's background work stops at cleanup, in one place
(:meth:`kubenova.handlers.state.OperatorState.stop_background`), before the client closes: the
background tasks (the vanished sweeper) are cancelled and awaited, then the pending refreshes are
cancelled and none is taken after, so that nothing runs on over a closed client."""

from __future__ import annotations

import asyncio
from typing import cast

from kubenova import config
from kubenova.handlers import state
from kubenova.kube.servers import Client


def test_stopping_cancels_the_tasks_then_the_refreshes_and_takes_no_more() -> None:
    async def go() -> list[str]:
        st = state.make(config.Settings(refresh_delay_seconds=0.05), cast(Client, None))
        ran: list[str] = []

        async def work() -> None:
            ran.append("refreshed")

        async def sweeper() -> None:
            try:
                await asyncio.sleep(60)
            finally:
                st.refresh.soon("host/a", work)  # as a sweep that forgets a Server would
                ran.append("sweeper stopped")

        st.tasks.append(asyncio.create_task(sweeper()))
        await asyncio.sleep(0)  # the sweeper is waiting
        st.refresh.soon("quota/ns", work)
        pending = st.refresh.pending["quota/ns"]
        await st.stop_background()
        assert all(task.done() for task in st.tasks)
        st.refresh.soon("host/b", work)
        await asyncio.sleep(0.1)  # past the refreshes' delay
        assert pending.cancelled()
        assert not st.refresh.pending
        return ran

    assert asyncio.run(go()) == ["sweeper stopped"]
