"""A close asked by the API process is answered by the worker that owns the bot, and only by it;
no answer within the timeout is a conflict saying so, and a close that raised is answered too."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from streambot.bus import InProcessBus
from streambot.clock import ManualClock
from streambot.cluster.remote_close import CloseCommands, CloseOutcome
from streambot.domain import BotId
from tests.factories import order_record


async def test_the_owner_answers_with_its_order_the_others_stay_silent() -> None:
    clock = ManualClock()
    bus = InProcessBus(clock)  # one bus stands for the event stream every process reads
    api, owner, other = (CloseCommands(bus, clock, timeout_s=5.0) for _ in range(3))
    asked: list[tuple[str, BotId]] = []

    def closer(name: str) -> Callable[[BotId], Awaitable[CloseOutcome]]:
        async def close(bot_id: BotId) -> CloseOutcome:
            asked.append((name, bot_id))
            if bot_id == BotId(8):
                return CloseOutcome(refused="conflict", message="bot 8 has no position to close")
            if bot_id == BotId(9):
                raise RuntimeError("store away")
            return CloseOutcome(order=order_record(bot_id=int(bot_id), status="intent"))

        return close

    serving = [
        asyncio.ensure_future(owner.serve("worker-a", lambda b: b != BotId(5), closer("a"))),
        asyncio.ensure_future(other.serve("worker-b", lambda b: False, closer("b"))),
    ]
    await asyncio.sleep(0)
    try:
        sold = await api.ask(BotId(7))
        assert sold.order is not None
        assert sold.order.bot_id == 7
        assert sold.refused == ""
        refused = await api.ask(BotId(8))
        assert refused == CloseOutcome(refused="conflict", message="bot 8 has no position to close")
        failed = await api.ask(BotId(9))
        assert failed.refused == "conflict"
        assert "the close failed: store away" in failed.message
        assert asked == [("a", BotId(7)), ("a", BotId(8)), ("a", BotId(9))]

        unanswered = asyncio.ensure_future(api.ask(BotId(5)))  # nobody owns it
        for _ in range(5):  # it asked and its timer runs
            await asyncio.sleep(0)
        assert not unanswered.done()
        await clock.run_until(clock.monotonic() + 5.0)
        outcome = await unanswered
        assert outcome.order is None
        assert outcome.refused == "conflict"
        assert "no cluster worker answered the close within 5s" in outcome.message
        assert api.unanswered == 1
        assert owner.served == 3
        assert other.served == 0
    finally:
        for task in serving:
            task.cancel()
