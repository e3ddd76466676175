"""Coinbase's REST API under /api/v3/brokerage: accounts, products and market data, orders and fills.

Handlers read the market and the paper account; the bodies they answer with are in
rest_bodies.py. Create and cancel answer only once the change is saved (see ``save``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import orjson
from aiohttp import web

from streambot.clock import Clock
from streambot.simulator.channels import market_trade_json
from streambot.simulator.market import ProductSpec, SimMarket
from streambot.simulator.pieces import PieceFiller
from streambot.simulator.responses import ApiError, bad_request, json_response
from streambot.simulator.rest_bodies import (
    account_json,
    candle_json,
    fill_json,
    order_json,
    pricebook_json,
    product_json,
    rejection_json,
)
from streambot.simulator.wire import (
    decimal_text,
    on_increment,
    parse_rfc3339,
    rfc3339_micro,
    rfc3339_milli,
)
from streambot.venues.coinbase.rest_messages import GRANULARITY_SECONDS
from streambot.venues.matcher.engine import MatchingEngine
from streambot.venues.matcher.orders import ORDER_STATUSES, NewOrder

REST_PREFIX: Final = "/api/v3/brokerage"
MAX_CANDLES: Final = 350


# --- query and body parameters ---------------------------------------------------------------------


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if value <= 0:
        return default
    return min(max(value, low), high)


def _list_param(request: web.Request, *names: str) -> list[str]:
    """Repeated query keys (``?product_ids=A&product_ids=B``); commas are tolerated too."""
    values: list[str] = []
    for name in names:
        for raw in request.query.getall(name, []):
            values.extend(part.strip() for part in raw.split(",") if part.strip())
    return list(dict.fromkeys(values))


def _cursor_param(request: web.Request) -> int | None:
    raw = request.query.get("cursor")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request("cursor is invalid") from None


def _time_param(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return parse_rfc3339(raw)
    except ValueError:
        raise bad_request(f"{name} must be an RFC 3339 time, got {raw!r}") from None


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or not body:
        raise ApiError(400, "INVALID_ARGUMENT", "Bad Request")
    return body


def _new_order(body: Mapping[str, Any], client_order_id: str) -> NewOrder:
    product_id, side = body.get("product_id"), body.get("side")
    return NewOrder(
        client_order_id=client_order_id,
        product_id=product_id if isinstance(product_id, str) else "",
        side=side if isinstance(side, str) else "",
        order_configuration=body.get("order_configuration") or {},
    )


# --- the handlers ----------------------------------------------------------------------------------


# What the key that signed a request may do, set by the request gate. A typed key: a plain string
# key makes aiohttp warn (once, on the first request), which a test run treats as an error.
KEY_SCOPES: Final = web.RequestKey("key_scopes", frozenset[str])


class SimulatedRestApi:
    def __init__(
        self,
        market: SimMarket,
        book: MatchingEngine,
        save: Callable[[], Awaitable[None]],
        *,
        clock: Clock,
        max_candles: int = MAX_CANDLES,
        pieces: PieceFiller | None = None,
    ) -> None:
        self._clock = clock
        self._max_candles = max_candles
        self.market = market
        self.book = book
        self._save = save  # hands the account's changes on and waits until they are on disk
        self._pieces = pieces  # orders that fill in pieces over time (the partial_fills fault)

    def add_routes(self, app: web.Application) -> None:
        p = REST_PREFIX
        get: list[tuple[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
            (f"{p}/accounts", self._list_accounts),
            (f"{p}/accounts/{{account_uuid}}", self._get_account),
            (f"{p}/best_bid_ask", self._best_bid_ask),
            (f"{p}/product_book", self._product_book),
            (f"{p}/market/product_book", self._product_book),
            (f"{p}/time", self._time),
            (f"{p}/transaction_summary", self._transaction_summary),
            (f"{p}/key_permissions", self._key_permissions),
            (f"{p}/orders/historical/batch", self._list_orders),
            (f"{p}/orders/historical/fills", self._list_fills),
            (f"{p}/orders/historical/{{order_id}}", self._get_order),
        ]
        for prefix in (p, f"{p}/market"):
            get += [
                (f"{prefix}/products", self._list_products),
                (f"{prefix}/products/{{product_id}}", self._get_product),
                (f"{prefix}/products/{{product_id}}/candles", self._candles),
                (f"{prefix}/products/{{product_id}}/ticker", self._market_trades),
            ]
        for path, handler in get:
            app.router.add_get(path, handler, allow_head=False)
        app.router.add_post(f"{p}/orders", self._create_order)
        app.router.add_post(f"{p}/orders/preview", self._preview_order)
        app.router.add_post(f"{p}/orders/batch_cancel", self._cancel_orders)

    # --- accounts ------------------------------------------------------------------------------

    async def _list_accounts(self, request: web.Request) -> web.Response:
        limit = _int_param(request, "limit", 49, 1, 250)
        accounts = self.book.accounts()
        start = 0
        cursor = request.query.get("cursor")
        if cursor:
            start = next((i for i, a in enumerate(accounts) if a.uuid == cursor), -1)
            if start < 0:
                raise bad_request("cursor is invalid")
        page = accounts[start : start + limit]
        has_next = start + limit < len(accounts)
        return json_response(
            {
                "accounts": [account_json(a) for a in page],
                "has_next": has_next,
                "cursor": accounts[start + limit].uuid if has_next else "",
                "size": len(page),
            }
        )

    async def _get_account(self, request: web.Request) -> web.Response:
        account = self.book.account_by_uuid(request.match_info["account_uuid"])
        if account is None:
            raise ApiError(404, "NOT_FOUND", "Could not find users account information")
        return json_response({"account": account_json(account)})

    async def _transaction_summary(self, request: web.Request) -> web.Response:
        """The account's fee tier as Coinbase reports it: the simulator's configured rates."""
        book = self.book
        return json_response(
            {
                "total_volume": 0,
                "total_fees": 0,
                "fee_tier": {
                    "pricing_tier": "Simulated",
                    "usd_from": "0",
                    "usd_to": "10000",
                    "taker_fee_rate": decimal_text(book.taker_fee_rate),
                    "maker_fee_rate": decimal_text(book.maker_fee_rate),
                    "aop_from": "",
                    "aop_to": "",
                },
                "margin_rate": None,
                "goods_and_services_tax": None,
                "advanced_trade_only_volume": 0,
                "advanced_trade_only_fees": 0,
                "coinbase_pro_volume": 0,
                "coinbase_pro_fees": 0,
                "total_balance": "",
                "has_promo_fee": False,
            }
        )

    # --- products and market data --------------------------------------------------------------

    def _spec(self, product_id: str) -> ProductSpec:
        if product_id not in self.market:
            raise ApiError(404, "NOT_FOUND", "ProductID is invalid")
        return self.market.spec(product_id)

    def _product_json(self, spec: ProductSpec) -> dict[str, Any]:
        return product_json(spec, self.market.quote(spec.product_id))

    async def _list_products(self, request: web.Request) -> web.Response:
        wanted = _list_param(request, "product_ids")
        ids = [p for p in wanted if p in self.market] if wanted else list(self.market.product_ids)
        offset = _int_param(request, "offset", 0, 0, 1 << 30) if request.query.get("offset") else 0
        limit = _int_param(request, "limit", len(ids) or 1, 1, 1 << 30)
        page = ids[offset : offset + limit]
        return json_response(
            {"products": [self._product_json(self.market.spec(p)) for p in page], "num_products": len(page)}
        )

    async def _get_product(self, request: web.Request) -> web.Response:
        return json_response(self._product_json(self._spec(request.match_info["product_id"])))

    def _pricebook(self, product_id: str, levels: int) -> dict[str, Any]:
        tick = self.market.quote(product_id)
        if levels <= 1:
            bids = [(tick.best_bid, tick.best_bid_quantity)]
            asks = [(tick.best_ask, tick.best_ask_quantity)]
        else:
            bids, asks = self.market.book(product_id, levels)
        return pricebook_json(self.market.spec(product_id), bids, asks, tick.time)

    async def _best_bid_ask(self, request: web.Request) -> web.Response:
        wanted = _list_param(request, "product_ids") or list(self.market.product_ids)
        for product_id in wanted:
            self._spec(product_id)
        return json_response({"pricebooks": [self._pricebook(p, 1) for p in wanted]})

    async def _product_book(self, request: web.Request) -> web.Response:
        product_id = request.query.get("product_id", "")
        if not product_id:
            raise bad_request("product_id is required")
        spec = self._spec(product_id)
        levels = _int_param(request, "limit", 50, 1, 500)
        tick = self.market.quote(product_id)
        spread = tick.best_ask - tick.best_bid
        return json_response(
            {
                "pricebook": self._pricebook(product_id, levels),
                "last": on_increment(tick.price, spec.quote_increment),
                "mid_market": decimal_text(tick.mid),
                "spread_bps": decimal_text((spread * 10_000 / tick.mid).quantize(Decimal("0.0001"))),
                "spread_absolute": on_increment(spread, spec.quote_increment),
            }
        )

    async def _market_trades(self, request: web.Request) -> web.Response:
        spec = self._spec(request.match_info["product_id"])
        limit = _int_param(request, "limit", 100, 1, 1000)
        tick = self.market.quote(spec.product_id)
        trades = [
            {**market_trade_json(trade, spec, rfc3339_micro(trade.time)), "exchange": "coinbase"}
            for trade in self.market.trades(spec.product_id, limit)
        ]
        return json_response(
            {
                "trades": trades,
                "best_bid": on_increment(tick.best_bid, spec.quote_increment),
                "best_ask": on_increment(tick.best_ask, spec.quote_increment),
            }
        )

    async def _candles(self, request: web.Request) -> web.Response:
        spec = self._spec(request.match_info["product_id"])
        name = request.query.get("granularity", "")
        granularity = GRANULARITY_SECONDS.get(name)
        if granularity is None:
            raise bad_request(f"granularity must be one of {', '.join(GRANULARITY_SECONDS)}")
        limit = _int_param(request, "limit", MAX_CANDLES, 1, MAX_CANDLES)
        now = int(self._clock.time())
        try:
            end = int(request.query.get("end") or now)
            start = int(request.query.get("start") or end - granularity * limit)
        except ValueError:
            raise bad_request("start and end must be UNIX seconds") from None
        if start > end:
            raise bad_request("start must not be after end")
        if (end - start) // granularity > self._max_candles:
            raise bad_request(
                "start and end argument is invalid - "
                f"number of candles requested should be less than {self._max_candles}"
            )
        # The seeded history's numpy work in a thread (a page of daily candles is ~0.5 s of it);
        # the live minutes are merged here, on the loop that moves them.
        past = await asyncio.to_thread(
            self.market.history_buckets, spec.product_id, start, end, granularity, limit
        )
        candles = self.market.candles(spec.product_id, start, end, granularity, limit, past=past)
        return json_response({"candles": [candle_json(c, spec) for c in candles]})

    async def _key_permissions(self, request: web.Request) -> web.Response:
        """What the key that signed the request may do (set by the request gate)."""
        scopes = request.get(KEY_SCOPES, frozenset())
        return json_response(
            {
                "can_view": "view" in scopes,
                "can_trade": "trade" in scopes,
                "can_transfer": "transfer" in scopes,
                "portfolio_uuid": "00000000-0000-4000-8000-000000000001",
                "portfolio_type": "DEFAULT",
            }
        )

    async def _time(self, request: web.Request) -> web.Response:
        now = self._clock.time()
        return json_response(
            {"iso": rfc3339_milli(now), "epochSeconds": str(int(now)), "epochMillis": str(int(now * 1000))}
        )

    # --- orders --------------------------------------------------------------------------------

    async def _create_order(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        client_order_id = body.get("client_order_id")
        if not isinstance(client_order_id, str) or not client_order_id:
            raise bad_request("client_order_id is required")
        count, interval = self._pieces.pieces() if self._pieces is not None else (1, 0.0)
        result = self.book.place_order(
            _new_order(body, client_order_id), self._clock.time(), pieces=count, piece_interval=interval
        )
        await self._save()  # acknowledged orders are on disk: a crash right after cannot lose them
        if result.order is not None:
            order = result.order
            if self._pieces is not None:
                self._pieces.follow(order)
            return json_response(
                {
                    "success": True,
                    "failure_reason": "UNKNOWN_FAILURE_REASON",
                    "order_id": order.order_id,
                    "success_response": {
                        "order_id": order.order_id,
                        "product_id": order.product_id,
                        "side": order.side,
                        "client_order_id": order.client_order_id,
                    },
                    "order_configuration": order.configuration,
                }
            )
        rejection = result.rejection
        assert rejection is not None
        return json_response(
            {
                "success": False,
                "failure_reason": "UNKNOWN_FAILURE_REASON",
                "order_id": "",
                "error_response": rejection_json(rejection),
                "order_configuration": result.configuration,
            }
        )

    async def _preview_order(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        preview = self.book.preview_order(_new_order(body, ""))
        return json_response(
            {
                "order_total": decimal_text(preview.total),
                "commission_total": decimal_text(preview.commission),
                "errs": [preview.rejection.preview_failure_reason] if preview.rejection else [],
                "warning": [],
                "quote_size": decimal_text(preview.quote_size),
                "base_size": decimal_text(preview.base_size),
                "best_bid": decimal_text(preview.best_bid),
                "best_ask": decimal_text(preview.best_ask),
                "is_max": False,
                "order_margin_total": "",
                "leverage": "",
                "long_leverage": "",
                "short_leverage": "",
                "slippage": "0",
                "preview_id": self.book.new_id(),
            }
        )

    async def _get_order(self, request: web.Request) -> web.Response:
        order = self.book.get_order(request.match_info["order_id"])
        if order is None:
            raise ApiError(404, "NOT_FOUND", "order with this orderID was not found")
        return json_response({"order": order_json(order, self.book.user_id)})

    async def _list_orders(self, request: web.Request) -> web.Response:
        statuses = _list_param(request, "order_status")
        unknown = [s for s in statuses if s not in ORDER_STATUSES]
        if unknown:
            raise bad_request(f"invalid order_status {unknown[0]}")
        limit = _int_param(request, "limit", 100, 1, 1000)
        orders = self.book.list_orders(
            statuses=statuses,
            product_ids=_list_param(request, "product_ids", "product_id"),
            order_ids=_list_param(request, "order_ids"),
            created_from=_time_param(request, "start_date"),
            created_before=_time_param(request, "end_date"),
            before_sequence=_cursor_param(request),
            limit=limit + 1,  # one more than the page tells whether there is a next one
        )
        page, has_next = orders[:limit], len(orders) > limit
        return json_response(
            {
                "orders": [order_json(o, self.book.user_id) for o in page],
                "sequence": "0",
                "has_next": has_next,
                "cursor": str(orders[limit].sequence) if has_next else "",
            }
        )

    async def _list_fills(self, request: web.Request) -> web.Response:
        limit = _int_param(request, "limit", 100, 1, 1000)
        fills = self.book.list_fills(
            order_ids=_list_param(request, "order_ids", "order_id"),
            product_ids=_list_param(request, "product_ids", "product_id"),
            traded_from=_time_param(request, "start_sequence_timestamp"),
            traded_before=_time_param(request, "end_sequence_timestamp"),
            before_sequence=_cursor_param(request),
            limit=limit + 1,
        )
        page, has_next = fills[:limit], len(fills) > limit
        market, book = self.market, self.book
        return json_response(
            {
                "fills": [
                    fill_json(
                        f,
                        market.spec(f.product_id) if f.product_id in market else None,
                        book.user_id,
                        book.portfolio_id,
                    )
                    for f in page
                ],
                "cursor": str(fills[limit].sequence) if has_next else "",
            }
        )

    async def _cancel_orders(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        order_ids = body.get("order_ids")
        if not isinstance(order_ids, list) or not all(isinstance(i, str) for i in order_ids):
            raise bad_request("order_ids must be an array of strings")
        results = self.book.cancel_orders(order_ids, self._clock.time())
        await self._save()
        return json_response(
            {
                "results": [
                    {"success": r.success, "failure_reason": r.failure_reason, "order_id": r.order_id}
                    for r in results
                ]
            }
        )
