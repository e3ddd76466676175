"""Backtest results built by hand (the engine's output type), small or generated large."""

from __future__ import annotations

import random
from decimal import Decimal

from streambot.backtest.result import (
    BacktestFill,
    BacktestResult,
    BacktestTrade,
    BotResult,
    EquitySample,
    SkippedLine,
)

D = Decimal


def run(start: float = 0.0, end: float = 180.0, sample_s: float = 60.0, **kw: object) -> BacktestResult:
    result = BacktestResult(
        data=["ticks.jsonl"],
        candle_derived=False,
        products=["BTC-USD"],
        start=start,
        end=end,
        maker_fee_rate=D("0.006"),
        taker_fee_rate=D("0.012"),
        latency_ms=50.0,
        sample_s=sample_s,
    )
    for key, value in kw.items():
        setattr(result, key, value)
    return result


def trade(
    side: str,
    size: str,
    price: str,
    fee: str,
    realized: str = "0",
    time: float = 0.0,
    bot: str = "a",
    product_id: str = "BTC-USD",
) -> BacktestTrade:
    return BacktestTrade(
        bot=bot,
        product_id=product_id,
        side=side,
        size=D(size),
        price=D(price),
        quote=D(size) * D(price),
        fee=D(fee),
        realized_pnl=D(realized),
        time=time,
        reason="cross up" if side == "BUY" else "cross down",
        client_order_id=f"{bot}-{time}-{side}",
    )


def fill_of(t: BacktestTrade) -> BacktestFill:
    return BacktestFill(
        bot=t.bot,
        side=t.side,
        size=t.size,
        price=t.price,
        fee=t.fee,
        quote=t.quote,
        time=t.time,
        client_order_id=t.client_order_id,
        liquidity="TAKER",
    )


def point(time: float, equity: str, base: str = "0", price: str = "100") -> EquitySample:
    return EquitySample(time=time, equity=D(equity), position_base=D(base), price=D(price))


def bot(name: str = "a", budget: str = "1000", product_id: str = "BTC-USD", **kw: object) -> BotResult:
    result = BotResult(name=name, strategy="ema_cross", product_id=product_id, params={}, budget=D(budget))
    for key, value in kw.items():
        setattr(result, key, value)
    return result


def generated(bots: int = 1, points: int = 100_000, seed: int = 7, sample_s: float = 60.0) -> BacktestResult:
    """A seeded random walk per bot, a round trip every 500 points, and a few skipped lines."""
    rng = random.Random(seed)
    start = 1_767_225_600.0  # 2026-01-01 00:00 UTC
    result = run(
        start=start,
        end=start + (points - 1) * sample_s,
        sample_s=sample_s,
        ticks=points * 10,
        skipped=[SkippedLine("ticks.jsonl", 10 + i, "not JSON") for i in range(150)],
        products=[f"P{i}-USD" for i in range(bots)],
    )
    for b in range(bots):
        name = f"bot {b}"
        product = f"P{b}-USD"
        price = 100.0
        equity = 1000.0
        held = False
        entry = 0.0
        trades: list[BacktestTrade] = []
        curve: list[EquitySample] = []
        first = D("100.00")
        for i in range(points):
            t = start + i * sample_s
            step = rng.gauss(0, 0.002)
            price *= 1 + step
            if held:
                equity *= 1 + step
            if i % 500 == 100:
                held, entry = True, price
                trades.append(trade("BUY", "1", f"{price:.2f}", "0.12", time=t, bot=name, product_id=product))
            elif i % 500 == 400 and held:
                held = False
                pnl = price - entry - 0.24
                trades.append(
                    trade(
                        "SELL",
                        "1",
                        f"{price:.2f}",
                        "0.12",
                        f"{pnl:.2f}",
                        time=t,
                        bot=name,
                        product_id=product,
                    )
                )
            curve.append(point(t, f"{equity:.2f}", "1" if held else "0", f"{price:.2f}"))
        realized = sum((tr.realized_pnl for tr in trades), D(0))
        fees = sum((tr.fee for tr in trades), D(0))
        result.bots.append(
            bot(
                name,
                product_id=product,
                trades=trades,
                fills=[fill_of(tr) for tr in trades],
                equity=curve,
                realized_pnl=realized,
                fees=fees,
                first_price=first,
                last_price=curve[-1].price,
                orders=len(trades),
                signals=len(trades),
            )
        )
    return result
