"""Builders shared by the strategy tests: ticks at a chosen time, contexts, candle feeds."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from msgspec.structs import replace

from streambot.clock import ManualClock
from streambot.domain import BotId, Position, Signal, Ticker
from streambot.strategies.base import BotContext, Strategy
from streambot.strategies.indicators import IndicatorHub
from tests.factories import tick

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, a whole hour


def tick_at(price: float, time: float, *, volume_24h: float = 1000.0, product_id: str = "BTC-USD") -> Ticker:
    return replace(tick(product_id, price), time=time, volume_24h=volume_24h)


def context(
    holding: Decimal = Decimal(0),
    entry: float = 100.0,
    *,
    hub: IndicatorHub | None = None,
    product_id: str = "BTC-USD",
) -> BotContext:
    return BotContext(
        bot_id=BotId(1),
        product_id=product_id,
        budget=Decimal(1000),
        position=Position(base=holding, cost=holding * Decimal(repr(entry))),
        last_fill_price=entry if holding else 0.0,
        hub=hub if hub is not None else IndicatorHub(),
        clock=ManualClock(),
    )


def feed_ticks(
    strategy: Strategy, ctx: BotContext, prices: Iterable[float], start: float = T0
) -> list[Signal]:
    """One tick per second; returns the signals."""
    signals = []
    for i, price in enumerate(prices):
        signal = strategy.on_tick(tick_at(price, start + i), ctx)
        if signal is not None:
            signals.append(signal)
    return signals


def feed_closes(
    strategy: Strategy, ctx: BotContext, closes: Iterable[float], start: float = T0, seconds: int = 60
) -> list[Signal | None]:
    """One tick per candle, so each candle closes at that price when the next tick arrives.

    Entry ``i`` of the result is what the strategy said on the tick that closed candle ``i - 1``.
    """
    return [strategy.on_tick(tick_at(price, start + i * seconds + 1), ctx) for i, price in enumerate(closes)]
