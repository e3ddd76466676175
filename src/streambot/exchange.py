"""The seam to the venue, in domain types only.

Implemented over Coinbase REST (``venues.coinbase``: live, and paper against the simulator); the
in-process matcher (``venues.matcher``) is the backtests' venue. ``venues.factory`` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Protocol

from streambot.domain import (
    Balance,
    BestBidAsk,
    Candle,
    ClientOrderId,
    ExchangeOrder,
    FeeTier,
    Fill,
    OrderRequest,
    PlacedOrder,
    Product,
    ProductId,
    Timeframe,
)

# Who wants to know the moment a request has left: the order path sets a callback in the context
# its create-order call runs in, and a venue that sends over the network calls it once the request
# is written to the socket (an aiohttp trace hook in venues/coinbase/sent_trace.py). ``submitted``
# is then the time the order was sent, not the time the call began or was answered.
request_sent: ContextVar[Callable[[], None] | None] = ContextVar("request_sent", default=None)


class ExchangeError(Exception):
    """The venue answered with an error (after any retries that were safe to make)."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class OrderOutcomeUnknown(ExchangeError):
    """A create-order call may or may not have reached the venue (timeout, 5xx, dropped socket).

    Resolve it by looking the order up by its client_order_id; never by sending it again blindly.
    """


class CircuitOpen(ExchangeError):
    """The venue has been failing, so the call was not sent (a clear "no", never an unknown outcome)."""


class Exchange(Protocol):
    async def products(self, product_ids: list[ProductId] | None = None) -> list[Product]: ...

    async def best_bid_ask(self, product_ids: list[ProductId]) -> list[BestBidAsk]: ...

    async def candles(
        self, product_id: ProductId, timeframe: Timeframe, start: int, end: int
    ) -> list[Candle]:
        """Closed and current candles starting in ``[start, end)`` (UNIX seconds), oldest first."""
        ...

    async def accounts(self) -> list[Balance]: ...

    async def fee_tier(self) -> FeeTier:
        """The account's maker and taker fee rates."""
        ...

    async def place_order(self, request: OrderRequest) -> PlacedOrder: ...

    async def get_order(self, order_id: str) -> ExchangeOrder: ...

    async def find_order(self, client_order_id: ClientOrderId, product_id: ProductId) -> ExchangeOrder | None:
        """The order created with this client_order_id, or None when the venue never saw it."""
        ...

    async def list_fills(self, order_id: str) -> list[Fill]: ...

    async def cancel_orders(self, order_ids: list[str]) -> dict[str, bool]: ...

    async def close(self) -> None: ...
