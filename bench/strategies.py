"""Strategy-framework figures for ``streambot bench``: indicators, mixed bots, shared handles.

Prints nothing and asserts nothing about time: it returns rows for a person (or a table) to read.
Ticks are built before any timing starts, so the figures are the strategies' and the hub's, not
the feed's.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from streambot.clock import SystemClock
from streambot.domain import BotId, Position, Side, Signal, Ticker, to_decimal
from streambot.strategies.base import BotContext, history_needed, warm_up_bot
from streambot.strategies.candles import Candle
from streambot.strategies.indicators import (
    BarStreamIndicator,
    IndicatorHub,
    RollingHigh,
    RollingLow,
    StreamIndicator,
    Vwap,
    atr,
    bollinger,
    ema,
    macd,
    rsi,
    sma,
    stochastic,
)
from streambot.strategies.registry import build

PRODUCT = "BTC-USD"
_ALL = Decimal(100)
_ZERO = Decimal(0)
Row = dict[str, float | str]

_clock = time.perf_counter_ns


def synthetic_ticks(
    count: int, *, seed: int = 1, start: float = 1_767_225_600.0, spacing: float = 0.5
) -> list[Ticker]:
    """A random walk of tickers on one product, ``spacing`` seconds apart (1m candle = 120 ticks)."""
    rng = random.Random(seed)
    price, volume = 97_000.0, 16_000.0
    ticks = []
    for i in range(count):
        price *= 1 + rng.gauss(0, 0.0004)
        volume += rng.random() * 0.5
        ticks.append(
            Ticker(
                product_id=PRODUCT,
                price=round(price, 2),
                best_bid=round(price - 0.01, 2),
                best_ask=round(price + 0.01, 2),
                volume_24h=volume,
                low_24h=price * 0.98,
                high_24h=price * 1.02,
                price_change_pct_24h=0.0,
                time=start + i * spacing,
                received_ns=0,
                sequence=i,
            )
        )
    return ticks


def synthetic_candles(count: int, *, end: float, seconds: int = 60, seed: int = 2) -> list[Candle]:
    """Closed candles ending where the ticks begin, as the exchange's candles endpoint returns."""
    rng = random.Random(seed)
    price = 97_000.0
    candles = []
    first = int(end) - int(end) % seconds - count * seconds
    for i in range(count):
        open_ = price
        price *= 1 + rng.gauss(0, 0.002)
        high, low = max(open_, price) * 1.0005, min(open_, price) * 0.9995
        candles.append(Candle(first + i * seconds, seconds, open_, high, low, price, rng.random() * 5))
    return candles


def _per_call_us(call: Callable[[float], Any], values: Sequence[float]) -> float:
    started = _clock()
    for value in values:
        call(value)
    return (_clock() - started) / len(values) / 1000.0


def indicator_rows(count: int = 10_000, seed: int = 7) -> list[Row]:
    """Mean time of one ``update`` (and one ``peek``) per indicator, on ``count`` prices."""
    rng = np.random.default_rng(seed)
    closes = (100 + np.cumsum(rng.normal(0, 1, count + 200))).tolist()
    history, values = closes[:200], closes[200:]
    rows: list[Row] = []

    def row(name: str, us: float) -> None:
        rows.append({"name": name, "value": round(us, 3), "unit": "µs", "target": "≤ 1 µs"})

    price_indicators: list[tuple[str, StreamIndicator[Any]]] = [
        ("EMA(21)", ema(21)),
        ("SMA(21)", sma(21)),
        ("RSI(14)", rsi(14)),
        ("MACD(12,26,9)", macd()),
        ("BBANDS(20,2)", bollinger()),
    ]
    for label, indicator in price_indicators:
        indicator.seed_prices(history)
        row(f"indicator update {label}", _per_call_us(indicator.update, values))
        row(f"indicator peek {label}", _per_call_us(indicator.peek, values))
    bar_indicators: list[tuple[str, BarStreamIndicator[Any]]] = [
        ("ATR(14)", atr(14)),
        ("STOCH(5,3,3)", stochastic()),
    ]
    for label, bar_indicator in bar_indicators:
        bar_indicator.seed([Candle(i, 60, c, c + 1, c - 1, c) for i, c in enumerate(history)])
        bar_update = bar_indicator.update

        def update_bar(close: float, update: Callable[[float, float, float], Any] = bar_update) -> None:
            update(close + 1.0, close - 1.0, close)

        row(f"indicator update {label}", _per_call_us(update_bar, values))
    for label, extreme in (("rolling high(50)", RollingHigh(50)), ("rolling low(50)", RollingLow(50))):
        extreme.seed_prices(history)
        row(f"indicator update {label}", _per_call_us(extreme.update, values))
    vwap = Vwap(50)
    vwap_update = vwap.update
    row("indicator update VWAP(50)", _per_call_us(lambda c: vwap_update(c, 1.5), values))
    return rows


def mixed_bot_specs(count: int) -> list[tuple[str, dict[str, Any]]]:
    """A spread of every built-in with varied parameters, about a third carrying exits."""
    kinds: list[Callable[[int], tuple[str, dict[str, Any]]]] = [
        lambda i: ("threshold", {"buy_dip_pct": 0.05 + (i % 7) * 0.01, "sell_rise_pct": 0.1}),
        lambda i: ("ema_crossover", {"fast": 5 + i % 10, "slow": 20 + i % 15}),
        lambda i: ("sma_crossover", {"fast": 5 + i % 5, "slow": 20 + i % 10}),
        lambda i: ("rsi_reversion", {"period": 10 + i % 8, "act_on": "tick" if i % 2 else "close"}),
        lambda i: ("macd_cross", {"fast": 8 + i % 5, "slow": 21 + i % 6}),
        lambda i: ("bollinger", {"period": 15 + i % 10, "mode": "breakout" if i % 2 else "reversion"}),
        lambda i: ("grid", {"range_pct": 0.5 + (i % 4) * 0.25, "levels": 8 + i % 5}),
        lambda i: ("dca", {"mode": "drop" if i % 2 else "time", "interval_minutes": 5}),
    ]
    specs = []
    for i in range(count):
        name, params = kinds[i % len(kinds)](i // len(kinds))
        if i % 3 == 0:
            params |= {"stop_loss_pct": 1.0, "trailing_stop_pct": 0.5}
        specs.append((name, params))
    return specs


def _contexts(specs: Sequence[tuple[str, dict[str, Any]]], hub: IndicatorHub | None) -> list[BotContext]:
    contexts = []
    for i in range(len(specs)):
        # Half the bots hold a position so that sell rules and exits are exercised too.
        position = Position(base=Decimal(1), cost=Decimal(97_000)) if i % 2 else Position()
        contexts.append(
            BotContext(
                bot_id=BotId(i + 1),
                product_id=PRODUCT,
                budget=Decimal(1000),
                position=position,
                hub=hub if hub is not None else IndicatorHub(),
                clock=SystemClock(),
            )
        )
    return contexts


def _through_evaluator(
    specs: Sequence[tuple[str, dict[str, Any]]],
    ticks: Sequence[Ticker],
    *,
    shared: bool,
    direct: bool = False,
) -> tuple[float, int]:
    """Mean µs per tick for these bots through the StreamingEvaluator, and the signals out.

    ``direct`` calls the strategies in a plain loop instead: their cost without the evaluator's
    per-bot bookkeeping (counters, error handling, and a timing sample on one tick in sixteen).
    """
    from streambot.bus import InProcessBus, PriceBoard
    from streambot.clock import SystemClock
    from streambot.evaluator import BotRuntime, StreamingEvaluator

    signals = 0

    def fill_at_once(bot: BotRuntime, signal: Signal, tick: Ticker) -> None:
        # Stands in for the executor: without fills, a bot repeats its signal on every tick.
        nonlocal signals
        signals += 1
        ctx = bot.ctx
        price = to_decimal(tick.price)
        share = (signal.budget_pct or _ALL) / _ALL
        if signal.side is Side.BUY:
            quote = ctx.budget * share
            ctx.position.apply_fill(Side.BUY, quote / price, quote, _ZERO)
        else:
            base = ctx.position.base * share
            ctx.position.apply_fill(Side.SELL, base, base * price, _ZERO)
        ctx.last_fill_price = tick.price

    evaluator = StreamingEvaluator(
        InProcessBus(SystemClock()), fill_at_once, prices=PriceBoard(), clock=SystemClock()
    )
    hub = evaluator.hub if shared else None
    history = synthetic_candles(300, end=ticks[0].time)
    for (name, params), ctx in zip(specs, _contexts(specs, hub), strict=True):
        strategy = build(name, params)
        if history_needed(strategy) is not None:
            warm_up_bot(strategy, ctx, history)
        evaluator.add(BotRuntime(ctx.bot_id, f"bench-{ctx.bot_id}", name, strategy, ctx))
    evaluate = evaluator.evaluate
    runtimes = evaluator.bots()
    gc.collect()
    started = _clock()
    if direct:
        for tick in ticks:
            for bot in runtimes:
                signal = bot.strategy.on_tick(tick, bot.ctx)
                if signal is not None:
                    fill_at_once(bot, signal, tick)
    else:
        for tick in ticks:
            evaluate(tick)
    elapsed = _clock() - started
    return elapsed / len(ticks) / 1000.0, signals


class _Idle:
    """A strategy that decides nothing: what the evaluator costs per bot by itself."""

    __slots__ = ()

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        return None


def _idle_through_evaluator(bots: int, ticks: Sequence[Ticker]) -> float:
    from streambot.bus import InProcessBus, PriceBoard
    from streambot.clock import SystemClock
    from streambot.evaluator import BotRuntime, StreamingEvaluator

    evaluator = StreamingEvaluator(
        InProcessBus(SystemClock()), lambda *_: None, prices=PriceBoard(), clock=SystemClock()
    )
    for ctx in _contexts([("idle", {})] * bots, None):
        evaluator.add(BotRuntime(ctx.bot_id, "idle", "idle", _Idle(), ctx))
    started = _clock()
    for tick in ticks:
        evaluator.evaluate(tick)
    return (_clock() - started) / len(ticks) / 1000.0


def _bound_bots(
    bots: int, ticks: Sequence[Ticker], *, shared: bool, params: dict[str, Any]
) -> tuple[list[Any], list[BotContext]]:
    """``bots`` identical ema_crossover bots bound to their (shared or own) indicators."""
    hub = IndicatorHub()
    contexts = _contexts([("ema_crossover", params)] * bots, hub if shared else None)
    strategies = []
    for ctx in contexts:
        strategy = build("ema_crossover", params)
        strategy.on_tick(ticks[0], ctx)  # binds it to its series
        strategies.append(strategy)
    return strategies, contexts


def _indicator_time_us(bots: int, ticks: Sequence[Ticker], *, shared: bool, params: dict[str, Any]) -> float:
    """Mean µs per tick spent keeping ``bots`` identical bots' indicators current.

    Advanced as the evaluator does it: each tick stream's hub once per tick (one hub for every
    bot when shared; a hub per bot when not).
    """
    strategies, contexts = _bound_bots(bots, ticks, shared=shared, params=params)
    hubs = list({id(ctx.hub): ctx.hub for ctx in contexts}.values())
    gc.collect()
    started = _clock()
    for tick in ticks[1:]:
        for hub in hubs:
            hub.on_tick(tick)
    elapsed = _clock() - started
    del strategies
    return elapsed / (len(ticks) - 1) / 1000.0


def _already_advanced_ns(bots: int, ticks: Sequence[Ticker], params: dict[str, Any]) -> float:
    """What each bot on a shared handle still pays per tick: finding its series already advanced."""
    strategies, contexts = _bound_bots(bots, ticks, shared=True, params=params)
    series_list = [ctx.hub.series(PRODUCT) for ctx in contexts]
    for tick in ticks[1:]:
        series_list[0].on_tick(tick)
    last = ticks[-1]
    rounds = max(1, 200_000 // bots)
    gc.collect()
    started = _clock()
    for _ in range(rounds):
        for series in series_list:
            if series.last_tick is not last:
                series.on_tick(last)
    elapsed = _clock() - started
    del strategies
    return elapsed / rounds / bots


def _method_call_ns(calls: int = 1_000_000) -> float:
    idle, ctx = _Idle(), _contexts([("idle", {})], None)[0]
    on_tick, tick = idle.on_tick, synthetic_ticks(1)[0]
    started = _clock()
    for _ in range(calls):
        on_tick(tick, ctx)
    return (_clock() - started) / calls


def run_strategy_benchmarks(ticks: int = 20_000) -> list[Row]:
    """Every figure the strategy framework's issue sets a target for, as rows of a table."""
    stream = synthetic_ticks(ticks)
    rows: list[Row] = [
        {
            "name": "calibration: one empty method call",
            "value": round(_method_call_ns(), 1),
            "unit": "ns",
            "target": "",
            "note": "to compare machines: a bot costs at least this per tick",
        }
    ]
    rows += indicator_rows()

    mixed = mixed_bot_specs(100)
    mixed_us, mixed_signals = _through_evaluator(mixed, stream, shared=True)
    rows.append(
        {
            "name": "100 mixed bots, one product, through the evaluator",
            "value": round(mixed_us, 2),
            "unit": "µs/tick",
            "target": "≤ 100 µs",
            "note": f"{mixed_signals} signals; shared hub",
        }
    )
    direct_us, _ = _through_evaluator(mixed, stream, shared=True, direct=True)
    rows.append(
        {
            "name": "100 mixed bots, one product, strategies alone (no evaluator)",
            "value": round(direct_us, 2),
            "unit": "µs/tick",
            "target": "",
        }
    )
    idle_us = _idle_through_evaluator(100, stream)
    rows.append(
        {
            "name": "100 idle bots through the evaluator (its own per-bot cost)",
            "value": round(idle_us, 2),
            "unit": "µs/tick",
            "target": "",
        }
    )

    params = {"fast": 12, "slow": 26}  # tick timeframe: indicators update on every tick
    one = _indicator_time_us(1, stream, shared=True, params=params)
    shared_1000 = _indicator_time_us(1000, stream, shared=True, params=params)
    unshared_1000 = _indicator_time_us(1000, stream[: max(2, ticks // 20)], shared=False, params=params)
    check_ns = _already_advanced_ns(1000, stream[:100], params)
    rows += [
        {
            "name": "indicator time, 1 ema_crossover bot",
            "value": round(one, 3),
            "unit": "µs/tick",
            "target": "",
        },
        {
            "name": "indicator time, 1,000 identical bots, shared handles",
            "value": round(shared_1000, 3),
            "unit": "µs/tick",
            "target": "≤ 2× one bot",
            "note": f"{shared_1000 / one:.2f}× one bot: the evaluator advances the shared handle once",
        },
        {
            "name": "shared handles: each bot's 'already advanced' check (evaluation, not indicators)",
            "value": round(check_ns, 1),
            "unit": "ns/tick",
            "target": "",
        },
        {
            "name": "indicator time, 1,000 identical bots, unshared",
            "value": round(unshared_1000, 3),
            "unit": "µs/tick",
            "target": "",
            "note": f"{unshared_1000 / one:.0f}× one bot",
        },
    ]
    identical = [("ema_crossover", params)] * 1000
    full_us, _ = _through_evaluator(identical, stream[: max(1, ticks // 10)], shared=True)
    rows.append(
        {
            "name": "1,000 identical ema_crossover bots through the evaluator, shared",
            "value": round(full_us, 2),
            "unit": "µs/tick",
            "target": "",
        }
    )
    return rows


if __name__ == "__main__":
    for result in run_strategy_benchmarks():
        print(result)
