"""Small builders of domain objects shared by tests."""

from __future__ import annotations

import time

from streambot.domain import Ticker


def tick(product_id: str = "BTC-USD", price: float = 100.0, *, seq: int = 0, spread: float = 0.01) -> Ticker:
    return Ticker(
        product_id=product_id,
        price=price,
        best_bid=price - spread,
        best_ask=price + spread,
        volume_24h=1000.0,
        low_24h=price * 0.9,
        high_24h=price * 1.1,
        price_change_pct_24h=0.5,
        time=time.time(),
        received_ns=time.perf_counter_ns(),
        sequence=seq,
    )
