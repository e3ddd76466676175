"""A fill: part (or all) of an order traded at one price."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from streambot.domain import slot_init


@slot_init
@dataclass(frozen=True, slots=True)
class SimFill:
    sequence: int
    entry_id: str
    trade_id: str
    order_id: str
    product_id: str
    side: str
    price: Decimal
    size: Decimal
    commission: Decimal
    liquidity_indicator: str  # MAKER | TAKER
    size_in_quote: bool
    time: float
