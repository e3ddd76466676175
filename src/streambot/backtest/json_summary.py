"""The ``--json`` object: one line, the same bytes for the same run but for its timing fields
(``ticks_per_s``, ``elapsed_s``), whatever process or compression the data came in (so the paths
given are not part of it: the report names them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streambot.backtest.metrics import plain, run_json
from streambot.backtest.result import BacktestResult

TIMING_FIELDS = ("ticks_per_s", "elapsed_s")


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def json_summary(result: BacktestResult) -> dict[str, object]:
    report: dict[str, Any] = run_json(result)
    fills = sorted(
        (fill for bot in result.bots for fill in bot.fills), key=lambda f: (f.time, f.client_order_id)
    )
    return {
        "ticks": result.ticks,
        "skipped": [{"file": s.file, "line": s.line, "reason": s.reason} for s in result.skipped],
        "orders": sum(bot.orders for bot in result.bots),
        "rejected": sum(bot.rejected for bot in result.bots),
        "fills": [
            {
                "bot": f.bot,
                "side": f.side,
                "size": plain(f.size),
                "price": plain(f.price),
                "fee": plain(f.fee),
                "time": iso(f.time),
                "liquidity": f.liquidity,
                "client_order_id": f.client_order_id,
            }
            for f in fills
        ],
        "bots": [
            figures | {"signals": bot.signals, "orders": bot.orders, "rejected": bot.rejected}
            for figures, bot in zip(report["bots"], result.bots, strict=True)
        ],
        "total": report["total"],
        "digest": result.digest,
        "candle_derived": result.candle_derived,
        "products": result.products,
        "start": iso(result.start),
        "end": iso(result.end),
        "fees": {"maker": plain(result.maker_fee_rate), "taker": plain(result.taker_fee_rate)},
        "latency_ms": result.latency_ms,
        "ticks_per_s": round(result.ticks / result.elapsed_s) if result.elapsed_s > 0 else 0,
        "elapsed_s": round(result.elapsed_s, 3),
    }
