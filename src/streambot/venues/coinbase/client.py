"""Coinbase Advanced Trade REST (``/api/v3/brokerage``) behind the ``Exchange`` protocol.

The same client serves live trading (api.coinbase.com with a CDP key) and paper trading (the
simulator on loopback, no key). Bodies are decoded into the wire Structs of ``rest_messages`` and
mapped to domain types by ``parse``; this module is the transport: requests, paging, retries.

Every request goes through a shared rate limiter (``rate_limit``) and a circuit breaker
(``breaker``). A 429 means the venue did not process the request, so any request, an order too,
is resent after the server's reset time (for up to ``rate_limit_budget`` seconds). Reads (GET) are
also retried a few times with jittered backoff on 5xx, timeouts and dropped connections. Writes
are otherwise sent once: a create-order call whose outcome cannot be known (timeout, dropped
connection, 5xx, unreadable 200 body) raises ``OrderOutcomeUnknown`` so the caller looks the
order up by ``client_order_id`` instead of sending it again. While the circuit is open nothing is
sent and calls raise ``CircuitOpen`` (an ``ExchangeError``), so no new entries are placed.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Final, TypeVar
from urllib.parse import urlsplit

import aiohttp
import msgspec

from streambot.clock import Clock
from streambot.domain import (
    Balance,
    BestBidAsk,
    Candle,
    ClientOrderId,
    ExchangeOrder,
    ExchangeOrderStatus,
    FeeTier,
    Fill,
    OrderRequest,
    PlacedOrder,
    Product,
    ProductId,
    Timeframe,
)
from streambot.exchange import CircuitOpen, ExchangeError, OrderOutcomeUnknown
from streambot.venues.coinbase.auth import CdpSigner
from streambot.venues.coinbase.breaker import CircuitBreaker
from streambot.venues.coinbase.parse import (
    GRANULARITY,
    STATUS_FILTER,
    error_from_response,
    order_configuration,
    parse_accounts,
    parse_best_bid_ask,
    parse_cancel_results,
    parse_candles,
    parse_create_order,
    parse_fills,
    parse_order,
    parse_orders,
    parse_products,
    parse_transaction_summary,
)
from streambot.venues.coinbase.rate_limit import (
    DEFAULT_429_PAUSE_S,
    PRIVATE_PER_S,
    PUBLIC_PER_S,
    RateLimiter,
    reset_seconds,
)
from streambot.venues.coinbase.rest_messages import GRANULARITY_SECONDS, RestKeyPermissions, RestServerTime
from streambot.venues.coinbase.sent_trace import sent_trace

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
MAX_CANDLES_PAGE: Final = 350  # the documented limit (``streambot download`` pages at it)
CANCEL_BATCH: Final = 100  # undocumented limit; nautilus_trader chunks by 100
# Ids per List Orders / List Fills request: ~47 URL bytes each keeps the query near 2.4 KB.
ORDER_IDS_PER_REQUEST: Final = 50
MAX_PAGES: Final = 100  # a cursor that never ends must not loop forever

_T = TypeVar("_T")


def _rfc3339(at: datetime) -> str:
    """A query timestamp in UTC with a ``Z`` (naive datetimes are taken as UTC)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- the client ----------------------------------------------------------------------------------


class CoinbaseRest:
    """``Exchange`` over Coinbase Advanced Trade REST (or the simulator speaking it)."""

    def __init__(
        self,
        base_url: str,
        *,
        clock: Clock,
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
        # The API's own address (…/api/v3/brokerage, as Coinbase's docs and the simulator's start
        # line print it) names the same server: taken as its host, not prefixed twice.
        root = base_url.rstrip("/").removesuffix(API_PREFIX)
        parts = urlsplit(root)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be http(s)://host[:port], not {base_url!r}")
        self.base_url = root
        self._host = parts.netloc
        self._path_prefix = parts.path + API_PREFIX
        if (api_key is None) != (api_secret is None):
            raise ValueError("api_key and api_secret go together")
        self._clock = clock
        self._signer = CdpSigner(api_key, api_secret, clock=clock) if api_key and api_secret else None
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._read_attempts = max(1, read_attempts)
        self._random = random.Random()
        # Shared by every caller of this client (pass the same ones to share across clients).
        self.private_limiter = private_limiter or RateLimiter("private", PRIVATE_PER_S, clock=clock)
        self.public_limiter = public_limiter or RateLimiter("public", PUBLIC_PER_S, clock=clock)
        self.breaker = breaker or CircuitBreaker(clock=clock)
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

    async def candles(
        self, product_id: ProductId, timeframe: Timeframe, start: int, end: int, *, page: int = CANDLES_PAGE
    ) -> list[Candle]:
        """Candles of ``timeframe`` starting in ``[start, end)`` (UNIX seconds), oldest first.

        Ranges longer than one request allows (``page`` candles, at most 350) are fetched in pages;
        intervals without trades have no candle. Without a key the public ``/market`` endpoint
        answers (its own, looser rate limit), so candles need no account.
        """
        granularity = GRANULARITY.get(timeframe)
        if granularity is None:
            raise ExchangeError(
                f"timeframe must be one of {', '.join(GRANULARITY)}, not {timeframe!r}",
                code="INVALID_REQUEST",
            )
        seconds = GRANULARITY_SECONDS[granularity]
        if start >= end:
            return []
        found: dict[int, Candle] = {}
        page = max(1, min(page, MAX_CANDLES_PAGE))
        path = f"/products/{product_id}/candles"
        if self._signer is None:
            path = "/market" + path
        page_start = start
        while page_start < end:
            # Inclusive end on the wire: stop one second short so pages do not overlap.
            page_end = min(end, page_start + page * seconds)
            params = [
                ("start", str(page_start)),
                ("end", str(page_end - 1)),
                ("granularity", granularity),
                ("limit", str(page)),
            ]
            body = await self._get(path, params)
            for candle in parse_candles(body, seconds):
                if start <= candle.start < end:
                    found[candle.start] = candle
            page_start = page_end
        return [found[at] for at in sorted(found)]

    async def key_permissions(self) -> RestKeyPermissions:
        """What the API key may do (view, trade, transfer): checked before trading live."""
        body = await self._get("/key_permissions", [])
        try:
            return msgspec.json.decode(body, type=RestKeyPermissions)
        except msgspec.DecodeError as exc:
            raise ExchangeError(f"GET /key_permissions: unreadable answer ({exc})") from None

    async def server_time(self) -> float:
        """The exchange's clock in UNIX seconds (public ``/time``): a 401 may be this machine's clock."""
        body = await self._get("/time", [])
        try:
            return float(msgspec.json.decode(body, type=RestServerTime).epochSeconds)
        except (msgspec.DecodeError, ValueError) as exc:
            raise ExchangeError(f"GET /time: unreadable answer ({exc})") from None

    async def accounts(self) -> list[Balance]:
        return [b async for page in self._pages("/accounts", [], ACCOUNTS_PAGE, parse_accounts) for b in page]

    async def fee_tier(self) -> FeeTier:
        """The account's fee tier (``GET /transaction_summary``), spot products."""
        return parse_transaction_summary(await self._get("/transaction_summary", [("product_type", "SPOT")]))

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
        statuses: Sequence[ExchangeOrderStatus] = (),
        order_ids: Sequence[str] = (),
        since: datetime | None = None,
    ) -> list[ExchangeOrder]:
        """Every order matching the filters (all pages), e.g. ``statuses=[OPEN]`` to reconcile.

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
        statuses: Sequence[ExchangeOrderStatus],
        order_ids: Sequence[str],
        since: datetime | None,
    ) -> list[ExchangeOrder]:
        base = [("product_ids", p) for p in product_ids]
        base += [("order_status", STATUS_FILTER[s]) for s in dict.fromkeys(statuses)]
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
                await self._clock.sleep(self._backoff(attempt))
                continue
            if status < 400:
                return body
            if status >= 500 and not last:
                log.debug("%s: HTTP %d, retrying", what, status)
                await self._clock.sleep(self._backoff(attempt))
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
        deadline = self._clock.monotonic() + self._rate_limit_budget
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
            wait = reset_seconds(headers, self._clock.time()) or DEFAULT_429_PAUSE_S
            limiter.pause(wait, f"HTTP 429 on {what}")
            if self._clock.monotonic() + wait > deadline:
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
            session = self._session = aiohttp.ClientSession(trace_configs=[sent_trace()])
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
    (re.compile(r"^/market/products/[^/]+/candles$"), "/market/products/{product_id}/candles"),
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
