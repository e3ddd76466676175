"""The one way a reader builds a tick that did not come through the feed parser."""

from __future__ import annotations

from streambot.domain import Ticker

__all__ = ["TimedTick", "make_ticker"]

TimedTick = tuple[float, Ticker]
"""``(at, tick)``: the replay time the engine's ManualClock advances to, and the tick."""


def make_ticker(product_id: str, price: float, bid: float, ask: float, time: float) -> Ticker:
    """A Ticker as the parser would complete it, for data without 24 h statistics (zero), a
    receive time (0: nothing was received) or a sequence number (-1)."""
    return Ticker(
        product_id=product_id,
        price=price,
        best_bid=bid,
        best_ask=ask,
        volume_24h=0.0,
        low_24h=0.0,
        high_24h=0.0,
        price_change_pct_24h=0.0,
        time=time,
        received_ns=0,
        sequence=-1,
    )
