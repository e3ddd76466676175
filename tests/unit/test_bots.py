"""BotManager: its records stay equal to the store's, and a bot keeps one context across its runs."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from streambot.bots import BotManager
from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import ManualClock, SystemClock
from streambot.domain import BotId, BotState, Timeframe
from streambot.evaluator import StreamingEvaluator
from streambot.store.database import Store
from streambot.strategies.candles import Candle
from streambot.strategies.user import load_user_strategies
from streambot.strategies.warmup import CandleHistory
from tests.factories import entry_tier_fees

WARMS_UP = """
from streambot.strategies.base import StrategyParams, StrategySpec, WarmUpRequest


class Params(StrategyParams):
    fail_warm_up: bool = False


class WarmsUp:
    def __init__(self, params):
        self.params = params

    def on_tick(self, tick, ctx):
        return None

    def history_needed(self):
        return WarmUpRequest("1m", 5)

    def warm_up(self, history, ctx):
        if self.params.fail_warm_up:
            raise RuntimeError("no history for me")


SPEC = StrategySpec(name="warms_up", description="Warms up.", params_model=Params, factory=WarmsUp)
"""


async def one_minute_candles(product_id: str, timeframe: Timeframe, start: int, end: int) -> Sequence[Candle]:
    return [Candle(at, 60, 1.0, 1.0, 1.0, 1.0) for at in range(start, end, 60)]


@pytest.fixture
def user_strategies(tmp_path: Path) -> Iterator[None]:
    directory = tmp_path / "strategies"
    directory.mkdir()
    (directory / "warms_up.py").write_text(textwrap.dedent(WARMS_UP))
    load_user_strategies(directory)
    yield
    load_user_strategies(tmp_path / "no-such-dir")  # forget them again


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite+aiosqlite:///{(tmp_path / 'bots.db').as_posix()}", clock=SystemClock())
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def manager(store: Store, user_strategies: None) -> BotManager:
    clock = ManualClock()
    manager = BotManager(
        store,
        StreamingEvaluator(InProcessBus(clock), lambda *_: None, prices=PriceBoard(), clock=clock),
        InProcessBus(clock),
        ["BTC-USD"],
        history=CandleHistory(one_minute_candles, clock),
        fees=entry_tier_fees(clock),
        clock=clock,
    )
    await manager.load()
    return manager


async def create(manager: BotManager, strategy: str = "threshold", **params: object) -> BotId:
    record = await manager.create(
        name="b", strategy=strategy, product_id="BTC-USD", params=params, budget=Decimal(100)
    )
    return record.id


async def test_the_records_follow_every_write_and_a_failed_write_changes_nothing(
    manager: BotManager, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def in_step() -> None:
        assert await manager.list() == await store.list_bots()

    first, second = await create(manager), await create(manager)
    await in_step()
    await manager.update(first, {"name": "renamed", "budget": Decimal(50)})
    await in_step()
    await manager.start(first)
    await manager.set_streaming(first, False)
    await in_step()
    await manager.record_error(first, "it broke")
    await in_step()
    await manager.stop(first)
    await manager.delete(second)
    await in_step()

    before = await manager.get(first)

    async def refused(bot_id: int, **changes: object) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(store, "update_bot", refused)
    with pytest.raises(ConnectionError):
        await manager.update(first, {"name": "never stored"})
    assert await manager.get(first) == before
    monkeypatch.undo()
    await in_step()


async def test_start_answers_with_the_error_when_the_warm_up_fails(manager: BotManager, store: Store) -> None:
    bot_id = await create(manager, "warms_up", fail_warm_up=True)
    started = await manager.start(bot_id)
    assert started.state is BotState.ERROR
    assert started.error_reason == "warm-up failed: RuntimeError: no history for me"
    assert started == await store.get_bot(bot_id)
    assert manager.runtime(bot_id) is None


async def test_a_change_that_cannot_start_leaves_no_run_behind(manager: BotManager) -> None:
    bot_id = await create(manager, "warms_up")
    assert (await manager.start(bot_id)).state is BotState.RUNNING
    assert manager.runtime(bot_id) is not None

    changed = await manager.update(bot_id, {"params": {"fail_warm_up": True}})
    assert changed.state is BotState.ERROR
    assert manager.runtime(bot_id) is None  # the previous run does not trade on behind the error


async def test_a_new_run_keeps_the_context_so_an_order_in_flight_is_cleared_on_it(
    manager: BotManager,
) -> None:
    bot_id = await create(manager)
    position = manager.position(bot_id)  # before any run: where a fill would land
    await manager.start(bot_id)
    first = manager.runtime(bot_id)
    assert first is not None
    first.ctx.order_in_flight = True  # as the executor does when it takes a signal

    await manager.update(bot_id, {"budget": Decimal(200)})  # a running bot restarts at once
    second = manager.runtime(bot_id)
    assert second is not None
    assert second is not first
    assert second.ctx.budget == Decimal(200)
    assert second.ctx.order_in_flight  # the order is still out: no second one meanwhile
    first.ctx.order_in_flight = False  # the executor clears it on the runtime it was handed
    assert not second.ctx.order_in_flight
    assert second.ctx.position is position

    await manager.stop(bot_id)
    assert manager.position(bot_id) is position
