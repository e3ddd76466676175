"""The seam to the venue. Implemented over Coinbase REST (live, and paper against the simulator)."""

from __future__ import annotations

from typing import Final, Protocol

from streambot.domain import (
    Balance,
    BestBidAsk,
    ClientOrderId,
    ExchangeOrder,
    Fill,
    OrderRequest,
    PlacedOrder,
    Product,
    ProductId,
)

GRANULARITY_SECONDS: Final[dict[str, int]] = {
    "ONE_MINUTE": 60,
    "FIVE_MINUTE": 300,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600,
    "TWO_HOUR": 7200,
    "SIX_HOUR": 21600,
    "ONE_DAY": 86400,
}
"""The candles endpoint's ``granularity`` values and their length in seconds, as documented
(``FOUR_HOUR`` appears only in third-party lists, so neither the client nor the simulator uses it)."""


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


class Exchange(Protocol):
    async def products(self, product_ids: list[ProductId] | None = None) -> list[Product]: ...

    async def best_bid_ask(self, product_ids: list[ProductId]) -> list[BestBidAsk]: ...

    async def accounts(self) -> list[Balance]: ...

    async def place_order(self, request: OrderRequest) -> PlacedOrder: ...

    async def get_order(self, order_id: str) -> ExchangeOrder: ...

    async def find_order(self, client_order_id: ClientOrderId, product_id: ProductId) -> ExchangeOrder | None:
        """The order created with this client_order_id, or None when the venue never saw it."""
        ...

    async def list_fills(self, order_id: str) -> list[Fill]: ...

    async def cancel_orders(self, order_ids: list[str]) -> dict[str, bool]: ...

    async def close(self) -> None: ...
