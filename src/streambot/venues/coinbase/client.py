"""Coinbase Advanced Trade REST (``/api/v3/brokerage``) behind the ``Exchange`` protocol.

The same client serves live trading (api.coinbase.com with a CDP key) and paper trading (the
simulator on loopback, no key). Responses are decoded with msgspec into private wire Structs that
keep money as strings, then mapped to domain types with ``Decimal``: Coinbase sends ``""`` for
"no value" in places, which a direct Decimal decode would reject.

Every request goes through a shared rate limiter (``ratelimit``) and a circuit breaker
(``breaker``). A 429 means the venue did not process the request, so any request, an order too,
is resent after the server's reset time (for up to ``rate_limit_budget`` seconds). Reads (GET) are
also retried a few times with jittered backoff on 5xx, timeouts and dropped connections. Writes
are otherwise sent once: a create-order call whose outcome cannot be known (timeout, dropped
connection, 5xx, unreadable 200 body) raises ``OrderOutcomeUnknown`` so the caller looks the
order up by ``client_order_id`` instead of sending it again. While the circuit is open nothing is
sent and calls raise ``CircuitOpen`` (an ``ExchangeError``), so no new entries are placed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import aiohttp
import msgspec

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
    Side,
)
from streambot.exchange import GRANULARITY_SECONDS, ExchangeError, OrderOutcomeUnknown
from streambot.strategies.candles import Candle
from streambot.venues.coinbase.auth import CdpSigner
from streambot.venues.coinbase.breaker import CircuitBreaker, CircuitOpen
from streambot.venues.coinbase.rate_limit import (
    DEFAULT_429_PAUSE_S,
    PRIVATE_PER_S,
    PUBLIC_PER_S,
    RateLimiter,
    reset_seconds,
)

log = logging.getLogger(__name__)

API_PREFIX: Final = "/api/v3/brokerage"
READ_ATTEMPTS: Final = 4
RETRY_BASE_S: Final = 0.25
RETRY_CAP_S: Final = 4.0
RATE_LIMIT_BUDGET_S: Final = 60.0
ACCOUNTS_PAGE: Final = 250
ORDERS_PAGE: Final = 100
FILLS_PAGE: Final = 100
CANDLES_PAGE: Final = 300  # documented max is 350, but a 2023 error text said "less than 300"
CANCEL_BATCH: Final = 100  # undocumented limit; nautilus_trader chunks by 100
# Ids per List Orders / List Fills request: ~47 URL bytes each keeps the query near 2.4 KB.
ORDER_IDS_PER_REQUEST: Final = 50
MAX_PAGES: Final = 100  # a cursor that never ends must not loop forever
ERROR_SNIPPET: Final = 200
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


# --- wire types --------------------------------------------------------------------------------


class _Amount(msgspec.Struct):
    value: str = "0"
    currency: str = ""


class _Account(msgspec.Struct):
    currency: str
    available_balance: _Amount = msgspec.field(default_factory=_Amount)
    hold: _Amount = msgspec.field(default_factory=_Amount)
    uuid: str = ""


class _AccountsPage(msgspec.Struct):
    accounts: list[_Account] = []
    has_next: bool = False
    cursor: str = ""


class _Product(msgspec.Struct):
    product_id: str
    base_increment: str
    quote_increment: str
    base_currency_id: str = ""
    quote_currency_id: str = ""
    base_min_size: str = "0"
    base_max_size: str = "0"
    quote_min_size: str = "0"
    quote_max_size: str = "0"
    trading_disabled: bool = False
    is_disabled: bool = False
    cancel_only: bool = False
    status: str = ""


class _Products(msgspec.Struct):
    products: list[_Product] = []


class _Level(msgspec.Struct):
    price: str
    size: str = "0"


class _Pricebook(msgspec.Struct):
    product_id: str
    bids: list[_Level] = []
    asks: list[_Level] = []
    time: str = ""


class _Pricebooks(msgspec.Struct):
    pricebooks: list[_Pricebook] = []


class _SuccessResponse(msgspec.Struct):
    order_id: str = ""
    client_order_id: str = ""


class _ErrorResponse(msgspec.Struct):
    error: str = ""
    message: str = ""
    error_details: str = ""
    preview_failure_reason: str = ""
    new_order_failure_reason: str = ""


class _CreateOrder(msgspec.Struct):
    success: bool
    success_response: _SuccessResponse | None = None
    error_response: _ErrorResponse | None = None
    failure_reason: str = ""
    order_id: str = ""  # deprecated top-level copy


class _Order(msgspec.Struct):
    order_id: str
    product_id: str
    side: str
    status: str
    client_order_id: str = ""
    filled_size: str = "0"
    average_filled_price: str = "0"
    filled_value: str = "0"
    total_fees: str = "0"
    created_time: str | None = None


class _OrderEnvelope(msgspec.Struct):
    order: _Order


class _OrdersPage(msgspec.Struct):
    orders: list[_Order] = []
    has_next: bool = False
    cursor: str = ""


class _Fill(msgspec.Struct):
    order_id: str
    product_id: str
    side: str
    price: str
    size: str
    trade_time: str
    trade_id: str = ""
    entry_id: str = ""
    commission: str = "0"
    size_in_quote: bool = False


class _FillsPage(msgspec.Struct):
    fills: list[_Fill] = []
    cursor: str = ""


class _CancelResult(msgspec.Struct):
    success: bool
    order_id: str = ""
    failure_reason: str = ""


class _CancelResults(msgspec.Struct):
    results: list[_CancelResult] = []


class _Candle(msgspec.Struct):
    start: str
    low: str
    high: str
    open: str
    close: str
    volume: str = "0"


class _Candles(msgspec.Struct):
    candles: list[_Candle] = []


class _ErrorItem(msgspec.Struct):
    id: str = ""
    message: str = ""


class _ErrorBody(msgspec.Struct):
    error: str = ""
    message: str = ""
    error_details: str = ""
    errors: list[_ErrorItem] = []  # the documented 429 body


_T = TypeVar("_T")


def _decode(body: bytes, type_: type[_T], what: str) -> _T:
    """Decode a response body into a wire Struct; a shape we cannot read is an ExchangeError."""
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.DecodeError as exc:
        raise ExchangeError(f"unreadable {what} response: {exc}", code="BAD_RESPONSE") from None


def _to_decimal(text: str | None, what: str = "value") -> Decimal:
    """Coinbase's decimal strings; ``""`` (no value) reads as zero."""
    if not text:
        return Decimal(0)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ExchangeError(f"{what} {text!r} is not a number", code="BAD_RESPONSE") from None
    if not value.is_finite():
        raise ExchangeError(f"{what} {text!r} is not a finite number", code="BAD_RESPONSE")
    return value


def _to_datetime(text: str | None) -> datetime | None:
    """RFC 3339 with up to 9 fraction digits; None for null/empty."""
    if not text:
        return None
    try:
        return msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        raise ExchangeError(f"timestamp {text!r} is not RFC 3339", code="BAD_RESPONSE") from None


def _rfc3339(at: datetime) -> str:
    """A query timestamp in UTC with a ``Z`` (naive datetimes are taken as UTC)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _to_side(text: str) -> Side:
    try:
        return Side(text.upper())
    except ValueError:
        raise ExchangeError(f"unknown order side {text!r}", code="BAD_RESPONSE") from None


def _product_from_wire(p: _Product) -> Product:
    base, _, quote = p.product_id.partition("-")
    return Product(
        product_id=p.product_id,
        base_currency=p.base_currency_id or base,
        quote_currency=p.quote_currency_id or quote,
        base_increment=_to_decimal(p.base_increment, "base_increment"),
        quote_increment=_to_decimal(p.quote_increment, "quote_increment"),
        base_min_size=_to_decimal(p.base_min_size, "base_min_size"),
        base_max_size=_to_decimal(p.base_max_size, "base_max_size"),
        quote_min_size=_to_decimal(p.quote_min_size, "quote_min_size"),
        quote_max_size=_to_decimal(p.quote_max_size, "quote_max_size"),
        trading_disabled=(
            p.trading_disabled or p.is_disabled or p.cancel_only or p.status not in ("", "online")
        ),
    )


def _order_from_wire(o: _Order) -> ExchangeOrder:
    return ExchangeOrder(
        order_id=o.order_id,
        client_order_id=ClientOrderId(o.client_order_id),
        product_id=o.product_id,
        side=_to_side(o.side),
        status=o.status,
        filled_size=_to_decimal(o.filled_size, "filled_size"),
        average_filled_price=_to_decimal(o.average_filled_price, "average_filled_price"),
        filled_value=_to_decimal(o.filled_value, "filled_value"),
        total_fees=_to_decimal(o.total_fees, "total_fees"),
        created_time=_to_datetime(o.created_time),
    )


def _fill_from_wire(f: _Fill) -> Fill:
    price = _to_decimal(f.price, "fill price")
    size = _to_decimal(f.size, "fill size")
    if f.size_in_quote and price:
        # Fill.size is in base currency everywhere in the platform.
        size = size / price
    trade_time = _to_datetime(f.trade_time)
    if trade_time is None:
        raise ExchangeError(f"fill {f.trade_id or f.entry_id} has no trade_time", code="BAD_RESPONSE")
    return Fill(
        trade_id=f.trade_id or f.entry_id,
        order_id=f.order_id,
        product_id=f.product_id,
        side=_to_side(f.side),
        price=price,
        size=size,
        commission=_to_decimal(f.commission, "commission"),
        trade_time=trade_time,
    )


def _best_bid_ask_from_wire(book: _Pricebook) -> BestBidAsk:
    return BestBidAsk(
        product_id=book.product_id,
        bid=_to_decimal(book.bids[0].price, "bid") if book.bids else Decimal(0),
        ask=_to_decimal(book.asks[0].price, "ask") if book.asks else Decimal(0),
        time=_to_datetime(book.time) or _EPOCH,
    )


def _balance_from_wire(account: _Account) -> Balance:
    return Balance(
        currency=account.currency,
        available=_to_decimal(account.available_balance.value, "available_balance"),
        hold=_to_decimal(account.hold.value, "hold"),
    )


def _placed_from_wire(created: _CreateOrder, client_order_id: ClientOrderId) -> PlacedOrder:
    if created.success:
        ok = created.success_response or _SuccessResponse()
        order_id = ok.order_id or created.order_id
        return PlacedOrder(True, order_id, ClientOrderId(ok.client_order_id or client_order_id))
    err = created.error_response or _ErrorResponse()
    reason = err.error or created.failure_reason or "UNKNOWN_FAILURE_REASON"
    message = err.message or err.error_details or err.new_order_failure_reason or err.preview_failure_reason
    return PlacedOrder(False, "", client_order_id, error=reason, message=message)


# --- response bodies → domain (pure; the client and the tests use these) ------------------------


def parse_products(body: bytes) -> list[Product]:
    """``GET /products``: ``{"products": [...], "num_products": n}``."""
    return [_product_from_wire(p) for p in _decode(body, _Products, "products").products]


def parse_best_bid_ask(body: bytes) -> list[BestBidAsk]:
    return [_best_bid_ask_from_wire(b) for b in _decode(body, _Pricebooks, "best_bid_ask").pricebooks]


def parse_accounts(body: bytes) -> tuple[list[Balance], str]:
    """One page of accounts and the cursor of the next page ("" when this was the last)."""
    page = _decode(body, _AccountsPage, "accounts")
    return [_balance_from_wire(a) for a in page.accounts], page.cursor if page.has_next else ""


def parse_candles(body: bytes, seconds: int) -> list[Candle]:
    """``GET /products/{id}/candles`` (newest first on the wire) as Candles, oldest first."""
    out: list[Candle] = []
    for c in _decode(body, _Candles, "candles").candles:
        try:
            start = int(c.start)
        except ValueError:
            raise ExchangeError(
                f"candle start {c.start!r} is not UNIX seconds", code="BAD_RESPONSE"
            ) from None
        out.append(
            Candle(
                start=start,
                seconds=seconds,
                open=float(_to_decimal(c.open, "candle open")),
                high=float(_to_decimal(c.high, "candle high")),
                low=float(_to_decimal(c.low, "candle low")),
                close=float(_to_decimal(c.close, "candle close")),
                volume=float(_to_decimal(c.volume, "candle volume")),
            )
        )
    out.sort(key=lambda candle: candle.start)
    return out


def parse_create_order(body: bytes, client_order_id: ClientOrderId) -> PlacedOrder:
    return _placed_from_wire(_decode(body, _CreateOrder, "create order"), client_order_id)


def parse_order(body: bytes) -> ExchangeOrder:
    return _order_from_wire(_decode(body, _OrderEnvelope, "get order").order)


def parse_orders(body: bytes) -> tuple[list[ExchangeOrder], str]:
    """One page of List Orders and the cursor of the next page ("" when this was the last)."""
    page = _decode(body, _OrdersPage, "list orders")
    return [_order_from_wire(o) for o in page.orders], page.cursor if page.has_next else ""


def parse_fills(body: bytes) -> tuple[list[Fill], str]:
    """One page of List Fills and the next cursor (List Fills has no has_next: "" ends it).

    A fill flagged ``size_in_quote`` carries its size in quote currency (ccxt reads Coinbase so, and
    a captured fill's commission is exactly the fee rate times its size); it is converted to base.
    """
    page = _decode(body, _FillsPage, "list fills")
    return [_fill_from_wire(f) for f in page.fills], page.cursor


def parse_cancel_results(body: bytes) -> dict[str, bool]:
    """order id → cancelled? (failures such as UNKNOWN_CANCEL_ORDER read as False)."""
    return {r.order_id: r.success for r in _decode(body, _CancelResults, "cancel orders").results}


def error_from_response(status: int, body: bytes, what: str) -> ExchangeError:
    """An HTTP error as ExchangeError: the status, the body's error code, a one-line message."""
    code = ""
    try:
        err = msgspec.json.decode(body, type=_ErrorBody)
    except msgspec.DecodeError:
        # Coinbase has answered POST /orders with an HTML page; keep a short, single-line piece.
        text = " ".join(body[:ERROR_SNIPPET].decode("utf-8", "replace").split())
    else:
        code = err.error or (err.errors[0].id if err.errors else "")
        if err.errors:
            text = "; ".join(f"{e.id}: {e.message}" for e in err.errors)
        else:
            text = err.message or err.error_details or err.error
    return ExchangeError(f"{what}: HTTP {status} {text}".rstrip(), status=status, code=code)


def order_configuration(request: OrderRequest) -> dict[str, dict[str, Any]]:
    """The one-key ``order_configuration`` for a request (limit GTC when limit_price is set)."""
    if request.limit_price is not None:
        if request.base_size is None:
            raise ExchangeError("a limit order needs base_size", code="INVALID_REQUEST")
        return {
            "limit_limit_gtc": {
                "base_size": _text(request.base_size),
                "limit_price": _text(request.limit_price),
                "post_only": False,
            }
        }
    if (request.quote_size is None) == (request.base_size is None):
        raise ExchangeError(
            "a market order needs exactly one of quote_size, base_size", code="INVALID_REQUEST"
        )
    if request.quote_size is not None:
        return {"market_market_ioc": {"quote_size": _text(request.quote_size)}}
    assert request.base_size is not None
    return {"market_market_ioc": {"base_size": _text(request.base_size)}}


def _text(value: Decimal) -> str:
    """Plain notation: ``Decimal("1E-8")`` must go out as ``0.00000001``."""
    return format(value, "f")


# --- the client ----------------------------------------------------------------------------------


class CoinbaseRest:
    """``Exchange`` over Coinbase Advanced Trade REST (or the simulator speaking it)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        read_attempts: int = READ_ATTEMPTS,
        private_limiter: RateLimiter | None = None,
        public_limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        rate_limit_budget: float = RATE_LIMIT_BUDGET_S,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be http(s)://host[:port], not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._host = parts.netloc
        self._path_prefix = parts.path + API_PREFIX
        if (api_key is None) != (api_secret is None):
            raise ValueError("api_key and api_secret go together")
        self._signer = CdpSigner(api_key, api_secret) if api_key and api_secret else None
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._read_attempts = max(1, read_attempts)
        self._random = random.Random()
        # Shared by every caller of this client (pass the same ones to share across clients).
        self.private_limiter = private_limiter or RateLimiter("private", PRIVATE_PER_S)
        self.public_limiter = public_limiter or RateLimiter("public", PUBLIC_PER_S)
        self.breaker = breaker or CircuitBreaker()
        self._rate_limit_budget = rate_limit_budget
        self.requests: dict[tuple[str, int], int] = {}  # (endpoint, HTTP status or 0) → count
        self.rate_limited = 0  # 429 answers received

    def __repr__(self) -> str:
        return f"CoinbaseRest({self.base_url!r}, authenticated={self._signer is not None})"

    @property
    def ws_jwt_factory(self) -> Callable[[], str] | None:
        """Mints a fresh token per WebSocket subscribe frame; None without a key."""
        return self._signer.ws_jwt if self._signer is not None else None

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    # --- Exchange -------------------------------------------------------------------------------

    async def products(self, product_ids: list[ProductId] | None = None) -> list[Product]:
        params = [("product_ids", p) for p in product_ids or ()]
        return parse_products(await self._get("/products", params))

    async def best_bid_ask(self, product_ids: list[ProductId]) -> list[BestBidAsk]:
        return parse_best_bid_ask(await self._get("/best_bid_ask", [("product_ids", p) for p in product_ids]))

    async def candles(self, product_id: ProductId, granularity: str, start: int, end: int) -> list[Candle]:
        """Candles starting in ``[start, end)`` (UNIX seconds), oldest first.

        ``granularity`` is Coinbase's enum (``ONE_MINUTE``, ``FIVE_MINUTE``, ...). Ranges longer
        than one request allows are fetched in pages; intervals without trades have no candle.
        """
        seconds = GRANULARITY_SECONDS.get(granularity)
        if seconds is None:
            raise ExchangeError(
                f"granularity must be one of {', '.join(GRANULARITY_SECONDS)}, not {granularity!r}",
                code="INVALID_REQUEST",
            )
        if start >= end:
            return []
        found: dict[int, Candle] = {}
        page_start = start
        while page_start < end:
            # Inclusive end on the wire: stop one second short so pages do not overlap.
            page_end = min(end, page_start + CANDLES_PAGE * seconds)
            params = [
                ("start", str(page_start)),
                ("end", str(page_end - 1)),
                ("granularity", granularity),
                ("limit", str(CANDLES_PAGE)),
            ]
            body = await self._get(f"/products/{product_id}/candles", params)
            for candle in parse_candles(body, seconds):
                if start <= candle.start < end:
                    found[candle.start] = candle
            page_start = page_end
        return [found[at] for at in sorted(found)]

    async def accounts(self) -> list[Balance]:
        return [b async for page in self._pages("/accounts", [], ACCOUNTS_PAGE, parse_accounts) for b in page]

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        """Market IOC, or limit GTC when ``limit_price`` is set. Sent once (see module docs)."""
        client_order_id = request.client_order_id
        payload = {
            "client_order_id": client_order_id,
            "product_id": request.product_id,
            "side": request.side.value,
            "order_configuration": order_configuration(request),
        }
        what = f"create order {client_order_id}"
        try:
            status, body, _ = await self._request("POST", "/orders", None, msgspec.json.encode(payload))
        except CircuitOpen:
            raise  # never sent: a clear "no", not an unknown outcome
        except ExchangeError as exc:
            raise OrderOutcomeUnknown(f"{what}: {exc}", status=exc.status, code=exc.code) from exc
        if status >= 500:
            raise OrderOutcomeUnknown(str(error_from_response(status, body, what)), status=status)
        if status >= 400:
            # Including a 429 that outlasted the rate-limit budget: the venue did not take it.
            raise error_from_response(status, body, what)
        try:
            placed = parse_create_order(body, client_order_id)
        except ExchangeError as exc:
            # A 200 we cannot read may well be an accepted order.
            raise OrderOutcomeUnknown(f"{what}: {exc}", status=status) from None
        if placed.success and not placed.order_id:
            raise OrderOutcomeUnknown(f"{what}: accepted without an order id", status=status)
        if not placed.success:
            log.info("Order %s refused: %s %s", client_order_id, placed.error, placed.message)
        return placed

    async def list_orders(
        self,
        *,
        product_ids: Sequence[ProductId] = (),
        statuses: Sequence[str] = (),
        order_ids: Sequence[str] = (),
        since: datetime | None = None,
    ) -> list[ExchangeOrder]:
        """Every order matching the filters (all pages), e.g. ``statuses=["OPEN"]`` to reconcile.

        ``order_ids`` go out ``ORDER_IDS_PER_REQUEST`` at a time (one request each, usually one
        page), so the URL stays short; ``since`` is ``start_date`` (orders created at or after it).
        """
        if order_ids:
            found: list[ExchangeOrder] = []
            for chunk in _chunks(list(dict.fromkeys(order_ids)), ORDER_IDS_PER_REQUEST):
                found += await self._list_orders_pages(product_ids, statuses, chunk, since)
            return found
        return await self._list_orders_pages(product_ids, statuses, (), since)

    async def _list_orders_pages(
        self,
        product_ids: Sequence[ProductId],
        statuses: Sequence[str],
        order_ids: Sequence[str],
        since: datetime | None,
    ) -> list[ExchangeOrder]:
        base = [("product_ids", p) for p in product_ids] + [("order_status", s) for s in statuses]
        base += [("order_ids", i) for i in order_ids]
        if since is not None:
            base.append(("start_date", _rfc3339(since)))
        pages = self._pages("/orders/historical/batch", base, ORDERS_PAGE, parse_orders)
        return [order async for page in pages for order in page]

    async def get_order(self, order_id: str) -> ExchangeOrder:
        if not order_id:
            raise ExchangeError("get_order needs an order id", code="INVALID_REQUEST")
        return parse_order(await self._get(f"/orders/historical/{order_id}", []))

    async def find_order(self, client_order_id: ClientOrderId, product_id: ProductId) -> ExchangeOrder | None:
        pages = self._pages(
            "/orders/historical/batch", [("product_ids", product_id)], ORDERS_PAGE, parse_orders
        )
        async with aclosing(pages):  # stops paging at the first match
            async for page in pages:
                for order in page:
                    if order.client_order_id == client_order_id:
                        return order
        return None

    async def list_fills(
        self,
        order_id: str = "",
        *,
        order_ids: Sequence[str] = (),
        product_ids: Sequence[ProductId] = (),
        since: datetime | None = None,
    ) -> list[Fill]:
        """The fills of one order, or of many (``order_ids``, sent in chunks like ``list_orders``).

        ``since`` is ``start_sequence_timestamp``. Oldest first; every page is read.
        """
        ids = list(dict.fromkeys([order_id, *order_ids] if order_id else order_ids))
        if not ids and not product_ids and since is None:
            raise ExchangeError("list_fills needs an order id or a filter", code="INVALID_REQUEST")
        fills: list[Fill] = []
        for chunk in _chunks(ids, ORDER_IDS_PER_REQUEST) or [[]]:
            base = [("order_ids", i) for i in chunk] + [("product_ids", p) for p in product_ids]
            if since is not None:
                base.append(("start_sequence_timestamp", _rfc3339(since)))
            async for page in self._pages("/orders/historical/fills", base, FILLS_PAGE, parse_fills):
                fills.extend(page)
        fills.sort(key=lambda f: f.trade_time)
        return fills

    async def cancel_orders(self, order_ids: list[str]) -> dict[str, bool]:
        """order id → cancelled?, in batches the venue accepts. Cancels are safe to resend."""
        if not order_ids:
            return {}
        outcome = dict.fromkeys(order_ids, False)
        for batch in _chunks(order_ids, CANCEL_BATCH):
            status, body, _ = await self._request(
                "POST", "/orders/batch_cancel", None, msgspec.json.encode({"order_ids": batch})
            )
            if status >= 400:
                raise error_from_response(status, body, "cancel orders")
            outcome.update(parse_cancel_results(body))
        return outcome

    # --- HTTP -----------------------------------------------------------------------------------

    async def _pages(
        self,
        path: str,
        params: Sequence[tuple[str, str]],
        page_size: int,
        parse: Callable[[bytes], tuple[list[_T], str]],
    ) -> AsyncGenerator[list[_T], None]:
        """Each page of a cursor-paged read; a cursor that repeats or never ends stops it."""
        cursor = ""
        for _ in range(MAX_PAGES):
            query = [*params, ("limit", str(page_size))]
            if cursor:
                query.append(("cursor", cursor))
            items, next_cursor = parse(await self._get(path, query))
            yield items
            if not next_cursor or next_cursor == cursor:
                return
            cursor = next_cursor
        log.warning("GET %s: stopped after %d pages", path, MAX_PAGES)

    async def _get(self, path: str, params: Sequence[tuple[str, str]]) -> bytes:
        """A read, retried on 5xx / timeouts / dropped connections with jittered backoff.

        429s were already waited out (and resent) by ``_request``; an open circuit fails at once.
        """
        what = f"GET {path}"
        for attempt in range(self._read_attempts):
            last = attempt == self._read_attempts - 1
            try:
                status, body, _ = await self._request("GET", path, params, None)
            except CircuitOpen:
                raise
            except ExchangeError:
                if last:
                    raise
                await asyncio.sleep(self._backoff(attempt))
                continue
            if status < 400:
                return body
            if status >= 500 and not last:
                log.debug("%s: HTTP %d, retrying", what, status)
                await asyncio.sleep(self._backoff(attempt))
                continue
            raise error_from_response(status, body, what)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _request(
        self, method: str, path: str, params: Sequence[tuple[str, str]] | None, data: bytes | None
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """One request through the circuit breaker and the rate limiter.

        A 429 means the venue did not process the request, so it is resent (orders too) once the
        server's reset time has passed, for up to ``rate_limit_budget`` seconds in all: a request
        is never dropped because of rate limiting, only after that long of it.
        """
        what = f"{method} {path}"
        endpoint = endpoint_label(path)
        limiter = self.public_limiter if _is_public(path) and self._signer is None else self.private_limiter
        deadline = time.monotonic() + self._rate_limit_budget
        breaker = self.breaker
        while True:
            breaker.before_call(what)
            settled = False
            try:
                await limiter.acquire()
                try:
                    status, body, headers = await self._send(method, path, params, data)
                except ExchangeError as exc:
                    self._count(endpoint, 0)
                    breaker.record_failure(str(exc))
                    settled = True
                    raise
                self._count(endpoint, status)
                limiter.observe(headers)
                if status >= 500:
                    breaker.record_failure(f"{what}: HTTP {status}")
                else:
                    breaker.record_success()  # 4xx and 429 are answers from a live venue
                settled = True
            finally:
                if not settled:
                    breaker.abandon()
            if status != 429:
                return status, body, headers
            self.rate_limited += 1
            wait = reset_seconds(headers) or DEFAULT_429_PAUSE_S
            limiter.pause(wait, f"HTTP 429 on {what}")
            if time.monotonic() + wait > deadline:
                return status, body, headers

    def _count(self, endpoint: str, status: int) -> None:
        key = (endpoint, status)
        self.requests[key] = self.requests.get(key, 0) + 1

    async def _send(
        self, method: str, path: str, params: Sequence[tuple[str, str]] | None, data: bytes | None
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """One HTTP exchange. Transport failures become ``ExchangeError`` (status 0)."""
        session = self._session
        if session is None or session.closed:
            session = self._session = aiohttp.ClientSession()
            self._own_session = True
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self._signer is not None:
            token = self._signer.rest_jwt(method, self._host, self._path_prefix + path)
            headers["Authorization"] = f"Bearer {token}"
        url = self.base_url + API_PREFIX + path
        try:
            async with session.request(
                method,
                url,
                params=list(params) if params else None,
                data=data,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                return response.status, await response.read(), response.headers
        except TimeoutError:
            raise ExchangeError(f"{method} {path}: timed out", code="TIMEOUT") from None
        except aiohttp.ClientError as exc:
            raise ExchangeError(f"{method} {path}: {type(exc).__name__}: {exc}", code="CONNECTION") from None

    def _backoff(self, attempt: int) -> float:
        return self._random.uniform(0.0, min(RETRY_CAP_S, RETRY_BASE_S * 2**attempt))


_PUBLIC_PREFIXES: Final = ("/market/", "/time")
_ENDPOINT_PATTERNS: Final = (
    (re.compile(r"^/products/[^/]+/candles$"), "/products/{product_id}/candles"),
    (re.compile(r"^/products/[^/]+/ticker$"), "/products/{product_id}/ticker"),
    (re.compile(r"^/products/[^/]+$"), "/products/{product_id}"),
    (re.compile(r"^/orders/historical/(?!batch$|fills$)[^/]+$"), "/orders/historical/{order_id}"),
    (re.compile(r"^/accounts/[^/]+$"), "/accounts/{account_uuid}"),
)


def _chunks(items: list[_T], size: int) -> list[list[_T]]:
    return [items[first : first + size] for first in range(0, len(items), size)]


def _is_public(path: str) -> bool:
    return path.startswith(_PUBLIC_PREFIXES)


def endpoint_label(path: str) -> str:
    """The path with ids replaced by placeholders: a metric label of bounded cardinality."""
    for pattern, label in _ENDPOINT_PATTERNS:
        if pattern.match(path):
            return label
    return path
