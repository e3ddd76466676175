"""The backtest engine: the live order path on a ManualClock against the matcher."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from streambot.backtest import engine as engine_module
from streambot.backtest.engine import Backtest, BacktestConfig, BotFileError
from streambot.backtest.result import BacktestResult
from streambot.backtest.sources.ticks import make_ticker
from streambot.bots import BotCreate
from streambot.domain import Product, Ticker
from streambot.risk.base import RiskLimits

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z

BTC = Product(
    product_id="BTC-USD",
    base_currency="BTC",
    quote_currency="USD",
    base_increment=Decimal("0.00000001"),
    quote_increment=Decimal("0.01"),
    base_min_size=Decimal("0.00000001"),
    base_max_size=Decimal(3400),
    quote_min_size=Decimal(1),
    quote_max_size=Decimal(150_000_000),
)


def quote(at: float, price: float, spread: float = 0.01) -> tuple[float, Ticker]:
    return at, make_ticker("BTC-USD", price, round(price - spread, 2), round(price + spread, 2), at)


def threshold_bot(name: str = "dip", **params: object) -> BotCreate:
    return BotCreate(
        name=name,
        strategy="threshold",
        product_id="BTC-USD",
        params={"buy_below": 99.0, "sell_above": 105.0, "buy_dip_pct": None, "sell_rise_pct": None, **params},
        budget=Decimal(1000),
    )


# One buy signal at 98.5, one sell signal at 106; 10 s apart, so the 5 s cooldown never binds.
PRICES = [100.0, 98.5, 98.0, 101.0, 106.0, 107.0, 104.0]
TICKS = [quote(T0 + 10 * i, price) for i, price in enumerate(PRICES)]


async def replay(
    ticks: list[tuple[float, Ticker]], bots: list[BotCreate], **config: object
) -> BacktestResult:
    backtest = await Backtest.open(bots, {"BTC-USD": BTC}, start=ticks[0][0], config=BacktestConfig(**config))  # type: ignore[arg-type]
    await backtest.run(ticks)
    await backtest.finish()
    return backtest.result(data=["test"], candle_derived=False, skipped=[], elapsed_s=1.0)


async def test_an_order_executes_on_the_first_quote_at_or_after_decision_plus_latency() -> None:
    result = await replay(TICKS, [threshold_bot()], latency_s=0.05)
    bot = result.bots[0]
    assert [(f.side, f.time) for f in bot.fills] == [("BUY", T0 + 20), ("SELL", T0 + 50)]
    buy, sell = bot.fills
    assert buy.price == Decimal("98.01")  # the ask of the quote the order met, not the decision's
    assert sell.price == Decimal("106.99")  # the bid of the quote after the sell decision
    assert buy.liquidity == sell.liquidity == "TAKER"
    assert buy.fee == pytest.approx(buy.quote * Decimal("0.012"), rel=Decimal("1e-6"))


async def test_without_latency_the_order_meets_the_decision_quote() -> None:
    result = await replay(TICKS, [threshold_bot()], latency_s=0.0)
    buy, sell = result.bots[0].fills
    assert (buy.time, buy.price) == (T0 + 10, Decimal("98.51"))
    assert (sell.time, sell.price) == (T0 + 40, Decimal("105.99"))


async def test_realized_pnl_fees_and_trades_add_up() -> None:
    result = await replay(TICKS, [threshold_bot()])
    bot = result.bots[0]
    buy, sell = bot.fills
    cost = buy.quote + buy.fee
    assert bot.realized_pnl == sell.quote - sell.fee - cost
    assert bot.fees == buy.fee + sell.fee
    assert [t.side for t in bot.trades] == ["BUY", "SELL"]
    assert bot.trades[1].realized_pnl == bot.realized_pnl
    assert bot.position_base == 0
    assert bot.unrealized_pnl == 0
    assert bot.orders == 2
    assert bot.signals == 2
    assert bot.equity[0].equity == Decimal(1000)
    assert bot.equity[-1].equity == Decimal(1000) + bot.realized_pnl


async def test_the_same_run_gives_the_same_digest_and_another_run_another() -> None:
    first = await replay(TICKS, [threshold_bot(), threshold_bot("second", buy_below=98.2)])
    again = await replay(TICKS, [threshold_bot(), threshold_bot("second", buy_below=98.2)])
    other = await replay(TICKS, [threshold_bot()], latency_s=0.0)
    assert first.digest == again.digest
    assert first.digest != other.digest


async def test_an_open_position_is_marked_at_the_last_price() -> None:
    result = await replay(TICKS[:4], [threshold_bot()])
    bot = result.bots[0]
    assert bot.position_base > 0
    assert bot.last_price == Decimal("101.0")
    assert bot.unrealized_pnl == bot.position_base * Decimal("101.0") - (
        bot.fills[0].quote + bot.fills[0].fee
    )


async def test_risk_rules_apply_as_in_live_trading() -> None:
    limits = RiskLimits(max_order_notional=Decimal(100))  # the 250 buy is over it
    result = await replay(TICKS, [threshold_bot()], limits=limits)
    bot = result.bots[0]
    assert bot.fills == []
    assert bot.rejected == 1


async def test_an_order_still_travelling_when_the_data_ends_is_not_executed() -> None:
    result = await replay(TICKS[:2], [threshold_bot()])  # the buy decision is on the last tick
    assert result.bots[0].fills == []


@pytest.mark.parametrize(
    ("bot", "message"),
    [
        (BotCreate(name="x", strategy="nope", product_id="BTC-USD", budget=Decimal(1)), "bots[0].strategy: "),
        (
            BotCreate(
                name="x",
                strategy="ema_crossover",
                product_id="BTC-USD",
                params={"fast": 30, "slow": 20},
                budget=Decimal(1),
            ),
            "bots[0].params",
        ),
        (
            BotCreate(name="x", strategy="threshold", product_id="ETH-USD", budget=Decimal(1)),
            "bots[0].product_id: ",
        ),
    ],
)
async def test_a_bot_the_platform_refuses_is_named_with_the_reason(bot: BotCreate, message: str) -> None:
    with pytest.raises(BotFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        await replay(TICKS, [bot])


async def test_archiving_done_orders_and_equity_during_the_replay_changes_nothing_in_the_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A price swinging through both thresholds: a buy and a sell every swing, for 4,000 ticks.
    ticks = [quote(T0 + i, round(102 + 5 * math.sin(i / 15), 2)) for i in range(4000)]
    bots = [threshold_bot(), threshold_bot("late", buy_below=98.0, sell_above=106.0)]
    monkeypatch.setattr(engine_module, "_YIELD_EVERY", 64)
    monkeypatch.setattr(engine_module, "_EQUITY_KEPT", 3)
    archived = await replay(ticks, bots)
    monkeypatch.setattr(engine_module, "_EQUITY_KEPT", 1 << 30)
    monkeypatch.setattr(Backtest, "_archive", lambda self: None)
    kept = await replay(ticks, bots)
    assert sum(len(bot.trades) for bot in kept.bots) > 50
    assert archived == kept
