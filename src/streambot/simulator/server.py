"""Coinbase Advanced Trade on loopback: market-data WebSocket at ``/``, REST under /api/v3/brokerage.

One aiohttp server on one port, on the caller's event loop. Paper trading points the platform's
own Coinbase client here, so every shape on the wire follows Coinbase (see
shared/docs/coinbase-advanced-trade.md and the fixtures) rather than what would be convenient.

WebSocket fan-out: a tick's frame is JSON-encoded once and shared by every subscriber; only the
per-connection ``sequence_num`` is spliced in when the frame leaves. Each connection has a bounded
outbox drained by its own sender task, so a slow reader never stalls the market or the other
clients: when its outbox fills up the connection is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import ipaddress
import logging
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import jwt
import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from streambot.config import DEFAULT_PRODUCTS
from streambot.simulator.auth import AuthFailure, JwtVerifier
from streambot.simulator.channels import (
    EMPTY_POSITIONS,
    USER_SNAPSHOT_BATCH,
    book_diff,
    book_levels,
    l2_updates,
    market_trade_json,
    user_order_json,
)
from streambot.simulator.faults import AnyFault, FaultError, Faults
from streambot.simulator.market import Candle, MarketTick, MarketTrade, ProductSpec, SimMarket
from streambot.simulator.matching import (
    AMOUNT_QUANTUM,
    FILLED,
    ORDER_STATUSES,
    Account,
    Changes,
    MatchingEngine,
    NewOrder,
    Rejection,
    SimFill,
    SimOrder,
)
from streambot.simulator.persistence import PaperAccountStore
from streambot.simulator.ratelimit import PRIVATE_PER_SECOND, PUBLIC_PER_SECOND, Decision, RateLimiter
from streambot.simulator.replay import load_recording, replay_prices

log = logging.getLogger(__name__)

REST_PREFIX: Final = "/api/v3/brokerage"
SUPPORTED_CHANNELS: Final = frozenset(
    {"ticker", "ticker_batch", "heartbeats", "market_trades", "level2", "user"}
)
PRODUCT_CHANNELS: Final = ("ticker", "ticker_batch", "market_trades", "level2")
FRAME_CHANNELS: Final = {"level2": "l2_data"}  # subscription name -> envelope channel
ADMIN_PREFIX: Final = "/sim/"
LEVEL2_DEPTH: Final = 10
FIAT: Final = frozenset({"USD", "EUR", "GBP"})
GRANULARITIES: Final = {
    "ONE_MINUTE": 60,
    "FIVE_MINUTE": 300,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600,
    "TWO_HOUR": 7200,
    "FOUR_HOUR": 14400,
    "SIX_HOUR": 21600,
    "ONE_DAY": 86400,
}
MAX_CANDLES: Final = 350
ERROR_PRODUCT_IDS_NOT_ARRAY: Final = (
    "json: cannot unmarshal string into Go struct field RawControlMessage.product_ids of type []string"
)
_CLOSE_TIMEOUT: Final = 1.0


@dataclass(frozen=True)
class SimulatorConfig:
    products: tuple[str, ...] = DEFAULT_PRODUCTS
    seed: int | None = None
    starting_quote: Decimal = Decimal("10000")
    taker_fee_rate: Decimal = Decimal("0.006")
    maker_fee_rate: Decimal = Decimal("0.004")
    subscribe_timeout: float = 5.0
    heartbeat_interval: float = 1.0
    tick_rate_scale: float = 1.0  # multiplies every product's tick rate (tests and benchmarks speed it up)
    synthetic: bool = True  # False: prices only from apply_external_tick
    max_pending_frames: int = 4096  # a connection whose outbox holds more is too slow and is dropped
    # The paper account file (balances, holds, orders, fills); None keeps it in memory only.
    state_path: Path | None = None
    # API key name -> public (or private) key PEM / base64 Ed25519. Empty: no JWT checks at all.
    api_keys: Mapping[str, str] = field(default_factory=dict)
    rate_limits: bool = True  # 30 req/s per key (private), 10 req/s per IP (public), else 429
    private_rate: float = PRIVATE_PER_SECOND
    public_rate: float = PUBLIC_PER_SECOND
    faults: tuple[AnyFault, ...] = ()  # injected at start (``streambot simulate --fault``)
    price_file: Path | None = None  # recorded ticks to replay (JSON lines), see simulator/replay.py
    replay_speed: float = 1.0
    replay_loop: bool = True
    ticker_batch_interval: float = 5.0
    market_trades_interval: float = 0.25


# --- wire formatting -------------------------------------------------------------------------------


def decimal_text(value: Decimal) -> str:
    """Coinbase's number strings: fixed-point, trailing zeros trimmed (``15460``, ``0.00002``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def on_increment(value: Decimal, increment: Decimal) -> str:
    return decimal_text(value.quantize(increment))


def balance_text(value: Decimal) -> str:
    """Balances keep all 16 places, as Coinbase sends them (``242.2100000000000000``)."""
    return format(value.quantize(AMOUNT_QUANTUM), "f")


_second_cache: dict[int, str] = {}


def _utc_seconds(seconds: int, separator: str) -> str:
    key = seconds * 2 + (separator == "T")
    text = _second_cache.get(key)
    if text is None:
        if len(_second_cache) > 16:
            _second_cache.clear()
        text = time.strftime(f"%Y-%m-%d{separator}%H:%M:%S", time.gmtime(seconds))
        _second_cache[key] = text
    return text


def rfc3339_nano(ns: int) -> str:
    """Go's RFC3339Nano: up to 9 fraction digits, trailing zeros trimmed, ``Z``."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = _utc_seconds(seconds, "T")
    if not nanos:
        return base + "Z"
    return f"{base}.{nanos:09d}".rstrip("0") + "Z"


def rfc3339_micro(timestamp: float) -> str:
    """REST order/fill times: six fraction digits (``2023-11-26T10:19:47.423220Z``)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_milli(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def go_time_string(ns: int, monotonic: float) -> str:
    """Go's ``time.Time.String()`` with its monotonic reading, as heartbeats carry it."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = _utc_seconds(seconds, " ")
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{base}{fraction} +0000 UTC m=+{monotonic:.9f}"


def ticker_event_item(tick: MarketTick, spec: ProductSpec) -> dict[str, str]:
    quote, base = spec.quote_increment, spec.base_increment
    return {
        "type": "ticker",
        "product_id": tick.product_id,
        "price": on_increment(tick.price, quote),
        "volume_24_h": on_increment(tick.volume_24h, base),
        "low_24_h": on_increment(tick.low_24h, quote),
        "high_24_h": on_increment(tick.high_24h, quote),
        "low_52_w": on_increment(tick.low_52w, quote),
        "high_52_w": on_increment(tick.high_52w, quote),
        "price_percent_chg_24_h": decimal_text(tick.price_percent_change_24h),
        "best_bid": on_increment(tick.best_bid, quote),
        "best_bid_quantity": on_increment(tick.best_bid_quantity, base),
        "best_ask": on_increment(tick.best_ask, quote),
        "best_ask_quantity": on_increment(tick.best_ask_quantity, base),
    }


def _envelope_head(channel: str, ns: int) -> bytes:
    return (
        b'{"channel":"'
        + channel.encode()
        + b'","client_id":"","timestamp":"'
        + rfc3339_nano(ns).encode()
        + b'","sequence_num":'
    )


def _error_frame(message: str) -> bytes:
    return orjson.dumps({"type": "error", "message": message})


# --- WebSocket connections -------------------------------------------------------------------------


class _Connection:
    """One client socket: its subscriptions, sequence counter and bounded outbox."""

    __slots__ = (
        "dropped",
        "faults",
        "max_pending",
        "outbox",
        "sender",
        "sequence",
        "subscribed",
        "subscriptions",
        "transport",
        "wake",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        max_pending: int,
        faults: Faults | None = None,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.max_pending = max_pending
        self.faults = faults if faults is not None else Faults()
        self.sequence = 0
        # (head, tail, due): an enveloped frame gets its sequence_num spliced between head and
        # tail; tail None means a flat frame (errors) that carries no sequence_num; due is the
        # monotonic time it may leave (0: at once), set while a latency fault runs.
        self.outbox: deque[tuple[bytes, bytes | None, float]] = deque()
        self.wake = asyncio.Event()
        self.subscriptions: dict[str, list[str]] = {}
        self.subscribed = False
        self.dropped = False
        self.sender: asyncio.Task[None] | None = None

    def send(self, head: bytes, tail: bytes | None) -> None:
        if self.dropped:
            return
        faults = self.faults
        if faults.silence_until and faults.silenced():
            return  # a silent server sends nothing, and numbers nothing it did not send
        if len(self.outbox) >= self.max_pending:
            self.drop("it does not read fast enough")
            return
        delay = faults.latency() if faults.latency_until else 0.0
        self.outbox.append((head, tail, time.monotonic() + delay if delay else 0.0))
        self.wake.set()

    def drop(self, reason: str) -> None:
        if self.dropped:
            return
        self.dropped = True
        self.outbox.clear()
        log.warning("Dropping a simulator WebSocket client: %s", reason)
        # Abort rather than close: a close handshake would queue behind the backlog it cannot drain.
        if isinstance(self.transport, asyncio.WriteTransport):
            self.transport.abort()
        elif self.transport is not None:
            self.transport.close()

    async def run_sender(self) -> None:
        ws, outbox = self.ws, self.outbox
        try:
            while not self.dropped:
                await self.wake.wait()
                self.wake.clear()
                while outbox:
                    head, tail, due = outbox[0]
                    if due:
                        wait = due - time.monotonic()
                        if wait > 0:
                            await asyncio.sleep(wait)
                            continue  # the outbox may have been cleared meanwhile
                    outbox.popleft()
                    if tail is None:
                        data = head
                    else:
                        data = b"".join((head, str(self.sequence).encode(), tail))
                        self.sequence += 1
                    await ws.send_frame(data, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError) as exc:
            # The peer went away mid-send; the receive loop notices and cleans up.
            log.debug("Simulator WebSocket sender stopped: %s", exc)


def _go_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _ControlError(Exception):
    """A subscribe/unsubscribe frame Coinbase would answer with a flat error frame."""


def _parse_control(data: str | bytes) -> tuple[str, str, list[str], str | None]:
    """(type, channel, product_ids, jwt) of a client frame, or the error Coinbase's Go server gives."""
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise _ControlError("failure to subscribe") from None
    if not isinstance(message, dict):
        raise _ControlError(
            f"json: cannot unmarshal {_go_kind(message)} into Go value of type RawControlMessage"
        )
    for name in ("type", "channel", "jwt"):
        value = message.get(name)
        if value is not None and not isinstance(value, str):
            raise _ControlError(
                f"json: cannot unmarshal {_go_kind(value)} into Go struct field "
                f"RawControlMessage.{name} of type string"
            )
    raw_ids = message.get("product_ids")
    if raw_ids is None:
        product_ids: list[str] = []
    elif isinstance(raw_ids, list):
        for item in raw_ids:
            if not isinstance(item, str):
                raise _ControlError(
                    f"json: cannot unmarshal {_go_kind(item)} into Go struct field "
                    "RawControlMessage.product_ids of type string"
                )
        product_ids = raw_ids
    else:
        raise _ControlError(
            f"json: cannot unmarshal {_go_kind(raw_ids)} into Go struct field "
            "RawControlMessage.product_ids of type []string"
        )
    return message.get("type") or "", message.get("channel") or "", product_ids, message.get("jwt") or None


# --- REST helpers ----------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def _json(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


RATE_LIMITED_BODY: Final = {"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]}
_STATUS_TEXT: Final = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_STATUS_CODES: Final = {500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE"}
# Every kind a client parser can trip on: a cut-off frame, not JSON at all, JSON of the wrong shape.
MALFORMED_FRAMES: Final = (
    b'{"channel":"ticker","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":',
    b"<html><body>502 Bad Gateway</body></html>",
    b'{"channel":"ticker","events":"not-a-list","sequence_num":"x"}',
    b"[1, 2, 3]",
)


def _fault_response(status: int, html: bool, limit: int, until: float) -> web.Response:
    """What an injected HTTP failure answers: Coinbase's 429 with its headers, or a 5xx."""
    headers: dict[str, str] = {}
    if status == 429:
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(until) + 1),
        }
    if html:
        text = _STATUS_TEXT[status]
        page = (
            f"<html><head><title>{status} {text}</title></head><body><h1>{status} {text}</h1></body></html>\n"
        )
        return web.Response(text=page, status=status, content_type="text/html", headers=headers)
    if status == 429:
        return _json(RATE_LIMITED_BODY, status, headers)
    message = _STATUS_TEXT[status].lower()
    return _json({"error": _STATUS_CODES[status], "error_details": message, "message": message}, status)


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


def _token_subject(request: web.Request) -> str | None:
    """The key name of an (unverified) bearer token: who to count a request against when the
    simulator checks no signatures."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None


def _error_response(status: int, error: str, message: str) -> web.Response:
    return _json({"error": error, "error_details": message, "message": message}, status)


def _bad_request(message: str) -> _ApiError:
    return _ApiError(400, "INVALID_ARGUMENT", message)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad_request(f"{name} must be an integer") from None
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
        raise _bad_request("cursor is invalid") from None


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or not body:
        raise _ApiError(400, "INVALID_ARGUMENT", "Bad Request")
    return body


# --- the simulator ---------------------------------------------------------------------------------


class Simulator:
    """The market, the paper account and the server that exposes both the way Coinbase does."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.market = SimMarket(config.products, seed=config.seed)
        self.book = MatchingEngine(
            self.market.products(),
            starting_balances={"USD": config.starting_quote},
            taker_fee_rate=config.taker_fee_rate,
            maker_fee_rate=config.maker_fee_rate,
            seed=config.seed,
            now=time.time(),
        )
        for product_id in self.market.product_ids:
            tick = self.market.quote(product_id)
            self.book.update_market(product_id, tick.best_bid, tick.best_ask, tick.time)
        self.port = 0
        self.host = "127.0.0.1"
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connections: set[_Connection] = set()
        self._subscribers: dict[str, dict[str, set[_Connection]]] = {
            channel: {p: set() for p in self.market.product_ids} for channel in PRODUCT_CHANNELS
        }
        self._ticker_subscribers = self._subscribers["ticker"]
        self._heartbeat_subscribers: set[_Connection] = set()
        self._user_subscribers: set[_Connection] = set()
        self._heartbeat_counter = 0
        self._monotonic_start = time.monotonic()
        # Per product: the book level2 subscribers were last told about, ticker_batch's pending
        # products, market_trades' pending trades.
        self._l2_books: dict[str, dict[tuple[str, str], str]] = {}
        self._batch_pending: set[str] = set()
        self._trades_pending: dict[str, list[MarketTrade]] = {}
        self.faults = Faults()
        self.faults.bind(self)
        self._private_limiter = RateLimiter(config.private_rate)
        self._public_limiter = RateLimiter(config.public_rate)
        self._verifier = JwtVerifier(config.api_keys)
        self._store = PaperAccountStore(config.state_path) if config.state_path is not None else None
        self._closing: set[asyncio.Task[None]] = set()
        # Registered for the simulator's whole life: the paper account must follow external ticks
        # even before ``start`` (subscribers only exist while it runs).
        self.market.add_listener(self._on_tick)

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        return f"ws://{self._url_host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind (port 0: any free port) and start ticking."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        ticks = load_recording(self.config.price_file) if self.config.price_file is not None else None
        if self._store is not None:
            await self._open_account(self._store)
        runner = web.AppRunner(
            self._build_app(), access_log=None, handler_cancellation=True, shutdown_timeout=_CLOSE_TIMEOUT
        )
        await runner.setup()
        sock = _bind(host, port)
        try:
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self.host, self.port = host, sock.getsockname()[1]
        self._monotonic_start = time.monotonic()
        loop = asyncio.get_running_loop()
        if ticks is not None:
            for product_id in {t.product_id for t in ticks}:
                first = next(t for t in ticks if t.product_id == product_id)
                if product_id in self.market:  # stop the walk before it ticks once
                    self.market.apply_external_tick(product_id, first.price, first.best_bid, first.best_ask)
            replay = replay_prices(self.market, ticks, self.config.replay_speed, self.config.replay_loop)
            self._tasks.append(loop.create_task(replay, name="simulator-replay"))
        if self.config.synthetic:
            self._tasks.append(loop.create_task(self._run_market(), name="simulator-market"))
        self._tasks.append(loop.create_task(self._run_heartbeats(), name="simulator-heartbeats"))
        self._tasks.append(loop.create_task(self._run_batches(), name="simulator-batches"))
        for fault in self.config.faults:
            self.faults.apply(fault)
        log.debug("Simulator bound to %s", self.rest_url)

    async def _open_account(self, store: PaperAccountStore) -> None:
        saved = await store.open()
        if saved is None:
            self.book.take_changes()
            await store.save(self.book.all_state())
            log.info("💾 New paper account in %s", store.path)
            return
        self.book.restore(
            saved.accounts,
            saved.orders,
            saved.fills,
            order_sequence=saved.order_sequence,
            fill_sequence=saved.fill_sequence,
        )
        open_orders = sum(1 for o in saved.orders if o.status == "OPEN")
        log.info(
            "💾 Paper account restored from %s: %d orders (%d open), %d fills",
            store.path,
            len(saved.orders),
            open_orders,
            len(saved.fills),
        )

    async def stop(self) -> None:
        """Close every socket and cancel every task of the simulator."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(
            *(self._close(conn) for conn in tuple(self._connections)), return_exceptions=True
        )
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        store, self._store = self._store, None
        if store is not None:
            self._commit(store)
            await store.close()

    async def _close(self, conn: _Connection) -> None:
        try:
            await asyncio.wait_for(
                conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"simulator stopping"), _CLOSE_TIMEOUT
            )
        except (TimeoutError, ConnectionError, RuntimeError):
            conn.drop("the simulator is stopping")

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate_middleware, self._errors_middleware])
        app.router.add_get("/sim/faults", self._admin_list_faults, allow_head=False)
        app.router.add_post("/sim/faults", self._admin_inject_fault)
        app.router.add_delete("/sim/faults", self._admin_clear_faults)
        p = REST_PREFIX
        get: list[tuple[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
            ("/", self._handle_ws),
            (f"{p}/accounts", self._list_accounts),
            (f"{p}/accounts/{{account_uuid}}", self._get_account),
            (f"{p}/best_bid_ask", self._best_bid_ask),
            (f"{p}/product_book", self._product_book),
            (f"{p}/market/product_book", self._product_book),
            (f"{p}/time", self._time),
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
        return app

    @web.middleware
    async def _gate_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """What stands between a client and a REST handler: injected faults, the rate limit and
        JWT checks, in the order a real request meets them. Admin and WebSocket paths pass."""
        path = request.path
        if path.startswith(ADMIN_PREFIX):
            if not _is_loopback(request.remote):
                return _error_response(403, "PERMISSION_DENIED", "the simulator admin API is loopback only")
            return await handler(request)
        if not path.startswith(REST_PREFIX):
            return await handler(request)
        public = path.startswith(f"{REST_PREFIX}/market/") or path == f"{REST_PREFIX}/time"
        delay = self.faults.latency() if self.faults.latency_until else 0.0
        if delay:
            await asyncio.sleep(delay)
        injected = self.faults.http_error() if self.faults.http_error_until else None
        if injected is not None:
            fault, until = injected
            limit = self.config.public_rate if public else self.config.private_rate
            return _fault_response(fault.status, fault.html, int(limit), until)
        key_name: str | None = None
        if not public and self._verifier.enabled:
            try:
                key_name = self._verify_rest(request)
            except AuthFailure as exc:
                log.info("Simulator refused a REST request to %s: %s", path, exc)
                return web.Response(status=401, text="Unauthorized\n")
        decision: Decision | None = None
        if self.config.rate_limits:
            if public:
                decision = self._public_limiter.take(request.remote or "")
            else:
                decision = self._private_limiter.take(
                    key_name or _token_subject(request) or request.remote or ""
                )
            if not decision.allowed:
                return _json(RATE_LIMITED_BODY, 429, decision.headers())
        response = await handler(request)
        if decision is not None:
            response.headers.update(decision.headers())
        return response

    def _verify_rest(self, request: web.Request) -> str:
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthFailure("no bearer token")
        hosts = {request.host, "api.coinbase.com"}
        return self._verifier.verify(token.strip(), uri=(request.method, request.path, hosts))

    # --- admin: fault injection --------------------------------------------------------------

    async def _admin_list_faults(self, request: web.Request) -> web.Response:
        return _json({"faults": self.faults.active()})

    async def _admin_inject_fault(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error_response(400, "INVALID_ARGUMENT", "the body must be a JSON object")
        if not isinstance(body, dict):
            return _error_response(400, "INVALID_ARGUMENT", "the body must be a JSON object")
        try:
            injected = self.faults.inject(body)
        except FaultError as exc:
            return _error_response(400, "INVALID_ARGUMENT", str(exc))
        return _json({"injected": injected, "faults": self.faults.active()})

    async def _admin_clear_faults(self, request: web.Request) -> web.Response:
        return _json({"cleared": self.faults.clear(), "faults": []})

    # FaultTarget: what the instant faults do to the open sockets.

    def fault_drop_connections(self, code: int | None) -> int:
        connections = tuple(self._connections)
        for conn in connections:
            if code is None:
                conn.drop("fault injected: drop_connections")
            else:
                conn.dropped = True
                conn.outbox.clear()
                task = asyncio.get_running_loop().create_task(
                    self._close_with(conn, code), name="simulator-fault-close"
                )
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        return len(connections)

    async def _close_with(self, conn: _Connection, code: int) -> None:
        try:
            await asyncio.wait_for(conn.ws.close(code=code, message=b"fault injected"), _CLOSE_TIMEOUT)
        except (TimeoutError, ConnectionError, RuntimeError):
            if conn.transport is not None:
                conn.transport.close()

    def fault_skip_sequence(self, count: int) -> int:
        for conn in self._connections:
            conn.sequence += count
        return len(self._connections)

    def fault_send_malformed(self, count: int) -> int:
        for conn in self._connections:
            for index in range(count):
                conn.send(MALFORMED_FRAMES[index % len(MALFORMED_FRAMES)], None)
        return len(self._connections)

    @web.middleware
    async def _errors_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except _ApiError as exc:
            return _error_response(exc.status, exc.error, exc.message)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            codes = {404: "NOT_FOUND", 405: "UNIMPLEMENTED", 413: "INVALID_ARGUMENT"}
            return _error_response(exc.status, codes.get(exc.status, "INVALID_ARGUMENT"), exc.reason)
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception:
            log.exception("Simulator request %s %s failed", request.method, request.path)
            return _error_response(500, "INTERNAL", "internal error")

    # --- market ticks --------------------------------------------------------------------------

    async def _run_market(self) -> None:
        """Ticks every product at its own (Poisson) rate until cancelled."""
        loop = asyncio.get_running_loop()
        market, scale = self.market, self.config.tick_rate_scale
        now = loop.time()
        schedule = [(now + market.next_interval(p, scale), i, p) for i, p in enumerate(market.product_ids)]
        heapq.heapify(schedule)
        burst = 0
        while schedule:
            due, index, product_id = schedule[0]
            delay = due - loop.time()
            if delay > 0:
                burst = 0
                await asyncio.sleep(delay)
                continue
            heapq.heappop(schedule)
            if market.step(product_id, time.time()) is None:
                continue  # follows an external feed from now on
            now = loop.time()
            # After a stall, resume from now instead of replaying every missed tick at once.
            heapq.heappush(
                schedule, (max(due, now - 1.0) + market.next_interval(product_id, scale), index, product_id)
            )
            burst += 1
            if burst >= 100:
                burst = 0
                await asyncio.sleep(0)

    def _on_tick(self, tick: MarketTick) -> None:
        product_id = tick.product_id
        fills = self.book.update_market(
            product_id,
            tick.best_bid,
            tick.best_ask,
            tick.time,
            bid_size=tick.best_bid_quantity,
            ask_size=tick.best_ask_quantity,
            last=tick.price,
        )
        if fills:
            log.info("Simulator filled %d resting order(s) on %s", len(fills), product_id)
        if self.book.has_changes:  # fills, or a stop that triggered and now rests
            self._commit()
        if self._subscribers["ticker_batch"].get(product_id):
            self._batch_pending.add(product_id)
        if tick.trade is not None and self._subscribers["market_trades"].get(product_id):
            self._trades_pending.setdefault(product_id, []).append(tick.trade)
        if self._subscribers["level2"].get(product_id):
            self._send_l2_update(product_id)
        subscribers = self._ticker_subscribers.get(product_id)
        if not subscribers:
            return
        item = orjson.dumps(ticker_event_item(tick, self.market.spec(product_id)))
        head = _envelope_head("ticker", time.time_ns())
        tail = b',"events":[{"type":"update","tickers":[' + item + b"]}]}"
        for conn in subscribers:
            conn.send(head, tail)

    def _commit(self, store: PaperAccountStore | None = None) -> asyncio.Future[None] | None:
        """Hand what the paper account changed to the ``user`` channel and to the state file.
        Returns the save to await (create/cancel answer only once it is on disk)."""
        changes = self.book.take_changes()
        if not changes:
            return None
        if changes.orders and self._user_subscribers:
            self._send_user_update(changes)
        store = store or self._store
        return store.save(changes) if store is not None else None

    def _send_user_update(self, changes: Changes) -> None:
        portfolio = self.book.portfolio_id
        for conn in self._user_subscribers:
            wanted = conn.subscriptions.get("user") or []
            orders = [o for o in changes.orders if not wanted or o.product_id in wanted]
            if not orders:
                continue
            items = [user_order_json(o, portfolio, rfc3339_micro(o.created_time)) for o in orders]
            event = {"type": "update", "orders": items, "positions": EMPTY_POSITIONS}
            conn.send(_envelope_head("user", time.time_ns()), b',"events":[' + orjson.dumps(event) + b"]}")

    def _l2_book(self, product_id: str) -> dict[tuple[str, str], str]:
        bids, asks = self.market.book(product_id, LEVEL2_DEPTH)
        return book_levels(bids, asks, self.market.spec(product_id))

    def _send_l2_update(self, product_id: str) -> None:
        before = self._l2_books.get(product_id)
        after = self._l2_book(product_id)
        self._l2_books[product_id] = after
        if before is None:
            return
        rows = book_diff(before, after)
        if not rows:
            return
        event = {
            "type": "update",
            "product_id": product_id,
            "updates": l2_updates(rows, rfc3339_micro(time.time())),
        }
        head = _envelope_head("l2_data", time.time_ns())
        tail = b',"events":[' + orjson.dumps(event) + b"]}"
        for conn in self._subscribers["level2"][product_id]:
            conn.send(head, tail)

    async def _run_batches(self) -> None:
        """``market_trades`` every ~250 ms and ``ticker_batch`` every 5 s, for what changed."""
        loop = asyncio.get_running_loop()
        trades_every = self.config.market_trades_interval
        batch_every = self.config.ticker_batch_interval
        next_batch = loop.time() + batch_every
        while True:
            await asyncio.sleep(trades_every)
            if self._trades_pending:
                pending, self._trades_pending = self._trades_pending, {}
                for product_id, trades in pending.items():
                    self._send_trades(product_id, trades, "update")
            if loop.time() >= next_batch:
                next_batch = loop.time() + batch_every
                pending_products, self._batch_pending = self._batch_pending, set()
                for product_id in pending_products:
                    self._send_ticker_batch(product_id, "update")

    def _send_trades(
        self, product_id: str, trades: list[MarketTrade], kind: str, only: _Connection | None = None
    ) -> None:
        spec = self.market.spec(product_id)
        items = [market_trade_json(t, spec, rfc3339_micro(t.time)) for t in trades]
        event = {"type": kind, "trades": items}
        head = _envelope_head("market_trades", time.time_ns())
        tail = b',"events":[' + orjson.dumps(event) + b"]}"
        for conn in (only,) if only is not None else self._subscribers["market_trades"][product_id]:
            conn.send(head, tail)

    def _send_ticker_batch(self, product_id: str, kind: str, only: _Connection | None = None) -> None:
        item = ticker_event_item(self.market.quote(product_id), self.market.spec(product_id))
        for name in ("best_bid", "best_bid_quantity", "best_ask", "best_ask_quantity"):
            del item[name]  # ticker_batch carries no best bid/ask (Coinbase's docs)
        head = _envelope_head("ticker_batch", time.time_ns())
        tail = b',"events":[{"type":"' + kind.encode() + b'","tickers":[' + orjson.dumps(item) + b"]}]}"
        for conn in (only,) if only is not None else self._subscribers["ticker_batch"][product_id]:
            conn.send(head, tail)

    async def _run_heartbeats(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.heartbeat_interval
        next_at = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at = max(next_at + interval, loop.time())
            self._heartbeat_counter += 1
            if not self._heartbeat_subscribers:
                continue
            ns = time.time_ns()
            event = {
                "current_time": go_time_string(ns, time.monotonic() - self._monotonic_start),
                "heartbeat_counter": self._heartbeat_counter,
            }
            head = _envelope_head("heartbeats", ns)
            tail = b',"events":[' + orjson.dumps(event) + b"]}"
            for conn in self._heartbeat_subscribers:
                conn.send(head, tail)

    # --- WebSocket -----------------------------------------------------------------------------

    async def _handle_ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(timeout=_CLOSE_TIMEOUT, compress=False, max_msg_size=1 << 20)
        if not ws.can_prepare(request):
            return web.Response(
                status=426,
                text="streambot simulator: WebSocket market data here, REST under /api/v3/brokerage\n",
            )
        await ws.prepare(request)
        conn = _Connection(ws, request.transport, self.config.max_pending_frames, self.faults)
        self._connections.add(conn)
        conn.sender = asyncio.create_task(conn.run_sender(), name="simulator-ws-sender")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.subscribe_timeout
        try:
            while not conn.dropped:
                # A tiny floor still reads a frame already waiting: after a stall of the loop, a
                # subscribe that arrived in time must not be discarded for being read late.
                timeout = None if conn.subscribed else max(deadline - loop.time(), 0.001)
                try:
                    message = await ws.receive(timeout=timeout)
                except TimeoutError:
                    if loop.time() >= deadline:
                        await self._close_unsubscribed(conn)
                        break
                    continue
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self._on_client_frame(conn, message.data)
                elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
        finally:
            self._forget(conn)
            conn.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await conn.sender
            if not ws.closed and not conn.dropped:
                with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
                    await asyncio.wait_for(ws.close(), _CLOSE_TIMEOUT)
        return ws

    async def _close_unsubscribed(self, conn: _Connection) -> None:
        log.info(
            "Closing a simulator WebSocket client that sent no subscribe within %ss",
            self.config.subscribe_timeout,
        )
        conn.dropped = True  # the sender must not write after the close frame
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await conn.ws.send_frame(_error_frame("subscribe or unsubscribe required"), WSMsgType.TEXT)
            await asyncio.wait_for(
                conn.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"subscribe required"),
                _CLOSE_TIMEOUT,
            )

    def _forget(self, conn: _Connection) -> None:
        self._connections.discard(conn)
        self._heartbeat_subscribers.discard(conn)
        self._user_subscribers.discard(conn)
        for channel in PRODUCT_CHANNELS:
            for product_id in conn.subscriptions.get(channel, ()):
                self._subscribers[channel].get(product_id, set()).discard(conn)
        conn.subscriptions.clear()

    def _on_client_frame(self, conn: _Connection, data: str | bytes) -> None:
        try:
            kind, channel, product_ids, token = _parse_control(data)
            if kind not in ("subscribe", "unsubscribe"):
                raise _ControlError("subscribe or unsubscribe required")
            if channel not in SUPPORTED_CHANNELS:
                # Coinbase answers an unknown channel like a bad credential.
                raise _ControlError("authentication failure")
            if self._verifier.enabled and (token is not None or channel == "user"):
                try:
                    self._verifier.verify(token or "")
                except AuthFailure as exc:
                    log.info("Simulator refused a %s %s frame: %s", kind, channel, exc)
                    raise _ControlError("authentication failure") from None
            if kind == "subscribe":
                self._subscribe(conn, channel, product_ids)
            else:
                self._unsubscribe(conn, channel, product_ids)
        except _ControlError as exc:
            conn.send(_error_frame(str(exc)), None)

    def _subscribe(self, conn: _Connection, channel: str, product_ids: list[str]) -> None:
        if channel == "heartbeats":
            conn.subscriptions["heartbeats"] = ["heartbeats"]
            self._heartbeat_subscribers.add(conn)
            conn.subscribed = True
            self._send_subscriptions(conn)
            return
        wanted = list(dict.fromkeys(product_ids))
        if channel == "user":
            self._subscribe_user(conn, wanted)
            return
        if not wanted or any(p not in self.market for p in wanted):
            raise _ControlError("failure to subscribe")
        subscribed = conn.subscriptions.setdefault(channel, [])
        for product_id in wanted:
            if product_id not in subscribed:
                subscribed.append(product_id)
            self._subscribers[channel][product_id].add(conn)
        conn.subscribed = True
        # Snapshot before the ack, the order Coinbase was seen to use.
        if channel == "ticker":
            items = b",".join(
                orjson.dumps(ticker_event_item(self.market.quote(p), self.market.spec(p))) for p in wanted
            )
            conn.send(
                _envelope_head("ticker", time.time_ns()),
                b',"events":[{"type":"snapshot","tickers":[' + items + b"]}]}",
            )
        elif channel == "ticker_batch":
            for product_id in wanted:
                self._send_ticker_batch(product_id, "snapshot", only=conn)
        elif channel == "market_trades":
            for product_id in wanted:
                self._send_trades(product_id, self.market.trades(product_id, 50), "snapshot", only=conn)
        else:  # level2
            for product_id in wanted:
                book = self._l2_books.get(product_id)
                if book is None:
                    book = self._l2_books[product_id] = self._l2_book(product_id)
                rows = [(side, price, qty) for (side, price), qty in book.items()]
                event = {
                    "type": "snapshot",
                    "product_id": product_id,
                    "updates": l2_updates(rows, rfc3339_micro(time.time())),
                }
                conn.send(
                    _envelope_head("l2_data", time.time_ns()), b',"events":[' + orjson.dumps(event) + b"]}"
                )
        self._send_subscriptions(conn)

    def _subscribe_user(self, conn: _Connection, product_ids: list[str]) -> None:
        """All products when none are named; OPEN orders as snapshots of up to 50, the last one
        shorter (an empty one when the count is a multiple of 50), then the ack."""
        conn.subscriptions["user"] = product_ids
        self._user_subscribers.add(conn)
        conn.subscribed = True
        portfolio = self.book.portfolio_id
        orders = [
            o
            for o in self.book.list_orders(statuses=["OPEN"])
            if not product_ids or o.product_id in product_ids
        ]
        orders.reverse()  # oldest first
        for start in range(0, len(orders) + 1, USER_SNAPSHOT_BATCH):
            batch = orders[start : start + USER_SNAPSHOT_BATCH]
            event = {
                "type": "snapshot",
                "orders": [user_order_json(o, portfolio, rfc3339_micro(o.created_time)) for o in batch],
                "positions": EMPTY_POSITIONS,
            }
            conn.send(_envelope_head("user", time.time_ns()), b',"events":[' + orjson.dumps(event) + b"]}")
        self._send_subscriptions(conn)

    def _unsubscribe(self, conn: _Connection, channel: str, product_ids: list[str]) -> None:
        current = conn.subscriptions.get(channel)
        if current is not None:
            removed = (
                current
                if (channel in ("heartbeats", "user") or not product_ids)
                else [p for p in current if p in product_ids]
            )
            if channel in self._subscribers:
                for product_id in removed:
                    self._subscribers[channel].get(product_id, set()).discard(conn)
            remaining = [p for p in current if p not in removed]
            if remaining:
                conn.subscriptions[channel] = remaining
            else:
                del conn.subscriptions[channel]
                if channel == "heartbeats":
                    self._heartbeat_subscribers.discard(conn)
                elif channel == "user":
                    self._user_subscribers.discard(conn)
        self._send_subscriptions(conn)

    def _send_subscriptions(self, conn: _Connection) -> None:
        event = orjson.dumps([{"subscriptions": conn.subscriptions}])
        conn.send(_envelope_head("subscriptions", time.time_ns()), b',"events":' + event + b"}")

    # --- REST: accounts ------------------------------------------------------------------------

    def _account_json(self, account: Account) -> dict[str, Any]:
        currency = account.currency
        return {
            "uuid": account.uuid,
            "name": f"{currency} Wallet",
            "currency": currency,
            "available_balance": {"value": balance_text(account.available), "currency": currency},
            "default": True,
            "active": True,
            "created_at": rfc3339_milli(account.created_at),
            "updated_at": rfc3339_milli(account.updated_at),
            "deleted_at": None,
            "type": "ACCOUNT_TYPE_FIAT" if currency in FIAT else "ACCOUNT_TYPE_CRYPTO",
            "ready": True,
            "hold": {"value": balance_text(account.hold), "currency": currency},
        }

    async def _list_accounts(self, request: web.Request) -> web.Response:
        limit = _int_param(request, "limit", 49, 1, 250)
        accounts = self.book.accounts()
        start = 0
        cursor = request.query.get("cursor")
        if cursor:
            start = next((i for i, a in enumerate(accounts) if a.uuid == cursor), -1)
            if start < 0:
                raise _bad_request("cursor is invalid")
        page = accounts[start : start + limit]
        has_next = start + limit < len(accounts)
        return _json(
            {
                "accounts": [self._account_json(a) for a in page],
                "has_next": has_next,
                "cursor": accounts[start + limit].uuid if has_next else "",
                "size": len(page),
            }
        )

    async def _get_account(self, request: web.Request) -> web.Response:
        account = self.book.account_by_uuid(request.match_info["account_uuid"])
        if account is None:
            raise _ApiError(404, "NOT_FOUND", "Could not find users account information")
        return _json({"account": self._account_json(account)})

    # --- REST: products and market data --------------------------------------------------------

    def _spec(self, product_id: str) -> ProductSpec:
        if product_id not in self.market:
            raise _ApiError(404, "NOT_FOUND", "ProductID is invalid")
        return self.market.spec(product_id)

    def _product_json(self, spec: ProductSpec) -> dict[str, Any]:
        tick = self.market.quote(spec.product_id)
        quote = spec.quote_increment
        return {
            "product_id": spec.product_id,
            "price": on_increment(tick.price, quote),
            "price_percentage_change_24h": decimal_text(tick.price_percent_change_24h),
            "volume_24h": on_increment(tick.volume_24h, spec.base_increment),
            "volume_percentage_change_24h": "0",
            "base_increment": decimal_text(spec.base_increment),
            "quote_increment": decimal_text(quote),
            "quote_min_size": decimal_text(spec.quote_min_size),
            "quote_max_size": decimal_text(spec.quote_max_size),
            "base_min_size": decimal_text(spec.base_min_size),
            "base_max_size": decimal_text(spec.base_max_size),
            "base_name": spec.base_name,
            "quote_name": spec.quote_name,
            "watched": False,
            "is_disabled": False,
            "new": False,
            "status": "online",
            "cancel_only": False,
            "limit_only": False,
            "post_only": False,
            "trading_disabled": False,
            "auction_mode": False,
            "product_type": "SPOT",
            "quote_currency_id": spec.quote_currency,
            "base_currency_id": spec.base_currency,
            "fcm_trading_session_details": None,
            "mid_market_price": "",
            "alias": "",
            "alias_to": [],
            "base_display_symbol": spec.base_currency,
            "quote_display_symbol": spec.quote_currency,
        }

    async def _list_products(self, request: web.Request) -> web.Response:
        wanted = _list_param(request, "product_ids")
        ids = [p for p in wanted if p in self.market] if wanted else list(self.market.product_ids)
        offset = _int_param(request, "offset", 0, 0, 1 << 30) if request.query.get("offset") else 0
        limit = _int_param(request, "limit", len(ids) or 1, 1, 1 << 30)
        page = ids[offset : offset + limit]
        return _json(
            {"products": [self._product_json(self.market.spec(p)) for p in page], "num_products": len(page)}
        )

    async def _get_product(self, request: web.Request) -> web.Response:
        return _json(self._product_json(self._spec(request.match_info["product_id"])))

    def _pricebook(self, product_id: str, levels: int) -> dict[str, Any]:
        spec = self.market.spec(product_id)
        tick = self.market.quote(product_id)
        if levels <= 1:
            bids = [(tick.best_bid, tick.best_bid_quantity)]
            asks = [(tick.best_ask, tick.best_ask_quantity)]
        else:
            bids, asks = self.market.book(product_id, levels)

        def rows(side: list[tuple[Decimal, Decimal]]) -> list[dict[str, str]]:
            return [
                {
                    "price": on_increment(price, spec.quote_increment),
                    "size": on_increment(size, spec.base_increment),
                }
                for price, size in side
            ]

        return {
            "product_id": product_id,
            "bids": rows(bids),
            "asks": rows(asks),
            "time": rfc3339_micro(tick.time),
        }

    async def _best_bid_ask(self, request: web.Request) -> web.Response:
        wanted = _list_param(request, "product_ids") or list(self.market.product_ids)
        for product_id in wanted:
            self._spec(product_id)
        return _json({"pricebooks": [self._pricebook(p, 1) for p in wanted]})

    async def _product_book(self, request: web.Request) -> web.Response:
        product_id = request.query.get("product_id", "")
        if not product_id:
            raise _bad_request("product_id is required")
        spec = self._spec(product_id)
        levels = _int_param(request, "limit", 50, 1, 500)
        tick = self.market.quote(product_id)
        spread = tick.best_ask - tick.best_bid
        return _json(
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
            {
                "trade_id": trade.trade_id,
                "product_id": trade.product_id,
                "price": on_increment(trade.price, spec.quote_increment),
                "size": on_increment(trade.size, spec.base_increment),
                "time": rfc3339_micro(trade.time),
                "side": trade.side,
                "exchange": "coinbase",
            }
            for trade in self.market.trades(spec.product_id, limit)
        ]
        return _json(
            {
                "trades": trades,
                "best_bid": on_increment(tick.best_bid, spec.quote_increment),
                "best_ask": on_increment(tick.best_ask, spec.quote_increment),
            }
        )

    async def _candles(self, request: web.Request) -> web.Response:
        spec = self._spec(request.match_info["product_id"])
        name = request.query.get("granularity", "")
        granularity = GRANULARITIES.get(name)
        if granularity is None:
            raise _bad_request(f"granularity must be one of {', '.join(GRANULARITIES)}")
        limit = _int_param(request, "limit", MAX_CANDLES, 1, MAX_CANDLES)
        now = int(time.time())
        try:
            end = int(request.query.get("end") or now)
            start = int(request.query.get("start") or end - granularity * limit)
        except ValueError:
            raise _bad_request("start and end must be UNIX seconds") from None
        if start > end:
            raise _bad_request("start must not be after end")
        if (end - start) // granularity > MAX_CANDLES:
            raise _bad_request(
                "start and end argument is invalid - "
                f"number of candles requested should be less than {MAX_CANDLES}"
            )
        candles = self.market.candles(spec.product_id, start, end, granularity, limit)
        return _json({"candles": [self._candle_json(c, spec) for c in candles]})

    @staticmethod
    def _candle_json(candle: Candle, spec: ProductSpec) -> dict[str, str]:
        quote = spec.quote_increment
        return {
            "start": str(candle.start),
            "low": on_increment(candle.low, quote),
            "high": on_increment(candle.high, quote),
            "open": on_increment(candle.open, quote),
            "close": on_increment(candle.close, quote),
            "volume": on_increment(candle.volume, spec.base_increment),
        }

    async def _time(self, request: web.Request) -> web.Response:
        now = time.time()
        return _json(
            {"iso": rfc3339_milli(now), "epochSeconds": str(int(now)), "epochMillis": str(int(now * 1000))}
        )

    # --- REST: orders --------------------------------------------------------------------------

    def _order_json(self, order: SimOrder) -> dict[str, Any]:
        return {
            "order_id": order.order_id,
            "product_id": order.product_id,
            "user_id": self.book.user_id,
            "order_configuration": order.configuration,
            "side": order.side,
            "client_order_id": order.client_order_id,
            "status": order.status,
            "time_in_force": order.time_in_force,
            "created_time": rfc3339_micro(order.created_time),
            "completion_percentage": decimal_text(order.completion_percentage),
            "filled_size": decimal_text(order.filled_size),
            "average_filled_price": decimal_text(order.average_filled_price),
            "fee": "",
            "number_of_fills": str(order.number_of_fills),
            "filled_value": decimal_text(order.filled_value),
            "pending_cancel": False,
            "size_in_quote": order.size_in_quote,
            "total_fees": decimal_text(order.total_fees),
            "size_inclusive_of_fees": order.size_in_quote,
            "total_value_after_fees": decimal_text(order.total_value_after_fees),
            "trigger_status": order.trigger_status,
            "order_type": order.order_type,
            "reject_reason": "REJECT_REASON_UNSPECIFIED",
            "settled": order.status == FILLED,
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": order.cancel_message,
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": decimal_text(order.hold),
            "is_liquidation": False,
            "last_fill_time": rfc3339_micro(order.last_fill_time)
            if order.last_fill_time is not None
            else None,
            "edit_history": [],
            "leverage": "",
            "margin_type": "UNKNOWN_MARGIN_TYPE",
        }

    def _fill_json(self, fill: SimFill) -> dict[str, Any]:
        spec = self.market.spec(fill.product_id) if fill.product_id in self.market else None
        price = on_increment(fill.price, spec.quote_increment) if spec else decimal_text(fill.price)
        return {
            "entry_id": fill.entry_id,
            "trade_id": fill.trade_id,
            "order_id": fill.order_id,
            "trade_time": rfc3339_micro(fill.time),
            "trade_type": "FILL",
            "price": price,
            # Coinbase reports a quote-sized order's fill size in the quote currency.
            "size": decimal_text(fill.size * fill.price if fill.size_in_quote else fill.size),
            "commission": decimal_text(fill.commission),
            "product_id": fill.product_id,
            "sequence_timestamp": rfc3339_micro(fill.time),
            "liquidity_indicator": fill.liquidity_indicator,
            "size_in_quote": fill.size_in_quote,
            "user_id": self.book.user_id,
            "side": fill.side,
            "retail_portfolio_id": self.book.portfolio_id,
        }

    @staticmethod
    def _new_order(body: Mapping[str, Any], client_order_id: str) -> NewOrder:
        product_id, side = body.get("product_id"), body.get("side")
        return NewOrder(
            client_order_id=client_order_id,
            product_id=product_id if isinstance(product_id, str) else "",
            side=side if isinstance(side, str) else "",
            order_configuration=body.get("order_configuration") or {},
        )

    async def _create_order(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        client_order_id = body.get("client_order_id")
        if not isinstance(client_order_id, str) or not client_order_id:
            raise _bad_request("client_order_id is required")
        result = self.book.place_order(self._new_order(body, client_order_id), time.time())
        saved = self._commit()
        if saved is not None:
            await saved  # acknowledged orders are on disk: a crash right after cannot lose them
        if result.order is not None:
            order = result.order
            return _json(
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
        return _json(
            {
                "success": False,
                "failure_reason": "UNKNOWN_FAILURE_REASON",
                "order_id": "",
                "error_response": self._rejection_json(rejection),
                "order_configuration": result.configuration,
            }
        )

    @staticmethod
    def _rejection_json(rejection: Rejection) -> dict[str, str]:
        return {
            "error": rejection.error,
            "message": rejection.message,
            "error_details": "",
            "preview_failure_reason": rejection.preview_failure_reason,
        }

    async def _preview_order(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        preview = self.book.preview_order(self._new_order(body, ""))
        return _json(
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
            raise _ApiError(404, "NOT_FOUND", "order with this orderID was not found")
        return _json({"order": self._order_json(order)})

    async def _list_orders(self, request: web.Request) -> web.Response:
        statuses = _list_param(request, "order_status")
        unknown = [s for s in statuses if s not in ORDER_STATUSES]
        if unknown:
            raise _bad_request(f"invalid order_status {unknown[0]}")
        limit = _int_param(request, "limit", 100, 1, 1000)
        orders = self.book.list_orders(
            statuses=statuses,
            product_ids=_list_param(request, "product_ids", "product_id"),
            order_ids=_list_param(request, "order_ids"),
            before_sequence=_cursor_param(request),
        )
        page, has_next = orders[:limit], len(orders) > limit
        return _json(
            {
                "orders": [self._order_json(o) for o in page],
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
            before_sequence=_cursor_param(request),
        )
        page, has_next = fills[:limit], len(fills) > limit
        return _json(
            {
                "fills": [self._fill_json(f) for f in page],
                "cursor": str(fills[limit].sequence) if has_next else "",
            }
        )

    async def _cancel_orders(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        order_ids = body.get("order_ids")
        if not isinstance(order_ids, list) or not all(isinstance(i, str) for i in order_ids):
            raise _bad_request("order_ids must be an array of strings")
        results = self.book.cancel_orders(order_ids, time.time())
        saved = self._commit()
        if saved is not None:
            await saved
        return _json(
            {
                "results": [
                    {"success": r.success, "failure_reason": r.failure_reason, "order_id": r.order_id}
                    for r in results
                ]
            }
        )


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(host: str, port: int, config: SimulatorConfig) -> None:
    """Run the simulator until cancelled (``streambot simulate``)."""
    simulator = Simulator(config)
    await simulator.start(host, port)
    log.info(
        "🔗 Simulator running: WebSocket %s, REST %s%s (%d products)",
        simulator.ws_url,
        simulator.rest_url,
        REST_PREFIX,
        len(simulator.market.product_ids),
    )
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()
