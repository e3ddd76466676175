"""A loss on the feed process's user channel is announced on the bus, not reconciled there; the
worker holding the account reconciles once per announcement (those during a run queue one more),
the others not at all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from streambot.bus import InProcessBus
from streambot.clock import ManualClock
from streambot.cluster.user_gaps import UserGapFollower, announce_user_gap
from streambot.events import UserUpdatesLost


async def test_only_the_account_holder_reconciles_once_per_announcement() -> None:
    bus = InProcessBus(ManualClock())
    heard: list[UserUpdatesLost] = []
    bus.subscribe(UserUpdatesLost, heard.append)
    release = asyncio.Event()
    runs = {"holder": 0, "other": 0}

    def reconcile(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            runs[name] += 1
            await release.wait()

        return run

    holder = UserGapFollower(bus, holds_account=lambda: True, reconcile=reconcile("holder"))
    other = UserGapFollower(bus, holds_account=lambda: False, reconcile=reconcile("other"))
    tasks = [asyncio.ensure_future(holder.run()), asyncio.ensure_future(other.run())]
    try:
        await announce_user_gap(bus, "sequence gap 4 → 9")
        for _ in range(5):
            await asyncio.sleep(0)
        assert [e.reason for e in heard] == ["sequence gap 4 → 9"]
        assert runs == {"holder": 1, "other": 0}
        # Three more while the first runs: one more run, not three.
        for n in range(3):
            await announce_user_gap(bus, f"reconnected {n}")
        release.set()
        for _ in range(10):
            await asyncio.sleep(0)
        assert runs == {"holder": 2, "other": 0}
        assert holder.reconciliations == 2
    finally:
        for task in tasks:
            task.cancel()
