"""Coinbase Advanced Trade on loopback: market-data WebSocket at ``/``, REST under /api/v3/brokerage.

One aiohttp server on one port, on the caller's event loop. Paper trading points the platform's
own Coinbase client here, so every shape on the wire follows Coinbase (see
shared/docs/coinbase-advanced-trade.md and the fixtures) rather than what would be convenient.

This module puts the parts together and runs them: the market and its clock, the paper account
and its file, the WebSocket endpoint (websocket.py, fanout.py), the REST API (rest.py), the fault
admin (admin.py) and what guards them (middleware.py).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from streambot.clock import Clock, SystemClock
from streambot.domain import COINBASE_ENTRY_TIER, DEFAULT_PRODUCTS
from streambot.simulator.admin import FaultAdmin
from streambot.simulator.auth import JwtVerifier
from streambot.simulator.connection import CLOSE_TIMEOUT
from streambot.simulator.fanout import ChannelFanout
from streambot.simulator.faults import AnyFault, Faults
from streambot.simulator.market import MarketTick, SimMarket
from streambot.simulator.middleware import RequestGate, errors_middleware
from streambot.simulator.persistence import PaperAccountStore, open_account
from streambot.simulator.pieces import PieceFiller
from streambot.simulator.ratelimit import PRIVATE_PER_SECOND, PUBLIC_PER_SECOND
from streambot.simulator.replay import load_recording, replay_prices
from streambot.simulator.rest import REST_PREFIX, SimulatedRestApi
from streambot.simulator.websocket import WebSocketEndpoint
from streambot.venues.matcher.engine import MatchingEngine

__all__ = ["REST_PREFIX", "Simulator", "SimulatorConfig", "serve"]

log = logging.getLogger(__name__)

_SYSTEM_CLOCK: Final = SystemClock()  # a server on loopback runs on real time unless told otherwise


@dataclass(frozen=True)
class SimulatorConfig:
    products: tuple[str, ...] = DEFAULT_PRODUCTS
    seed: int | None = None
    starting_quote: Decimal = Decimal("10000")
    # Coinbase's entry tier (the lowest volume): 1.20 % taker, 0.60 % maker.
    taker_fee_rate: Decimal = COINBASE_ENTRY_TIER.taker_fee_rate
    maker_fee_rate: Decimal = COINBASE_ENTRY_TIER.maker_fee_rate
    subscribe_timeout: float = 5.0
    heartbeat_interval: float = 1.0
    tick_rate_scale: float = 1.0  # multiplies every product's tick rate (tests and benchmarks speed it up)
    synthetic: bool = True  # False: prices only from apply_external_tick
    max_pending_frames: int = 4096  # a connection whose outbox holds more is too slow and is dropped
    # The paper account file (balances, holds, orders, fills); None keeps it in memory only.
    state_path: Path | None = None
    # API key name -> public (or private) key PEM / base64 Ed25519. Empty: no JWT checks at all.
    api_keys: Mapping[str, str] = field(default_factory=dict)
    # API key name -> what it may do ("view", "trade", "transfer"); a key not named may view and trade.
    key_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    rate_limits: bool = True  # 30 req/s per key (private), 10 req/s per IP (public), else 429
    private_rate: float = PRIVATE_PER_SECOND
    public_rate: float = PUBLIC_PER_SECOND
    faults: tuple[AnyFault, ...] = ()  # injected at start (``streambot simulate --fault``)
    price_file: Path | None = None  # recorded ticks to replay (JSON lines), see simulator/replay.py
    replay_speed: float = 1.0
    replay_loop: bool = True
    ticker_batch_interval: float = 5.0
    # Coinbase documents 350 candles per request but has answered "should be less than 300":
    # 300 here rehearses that answer.
    max_candles_per_request: int = 350
    market_trades_interval: float = 0.25
    # Finish a create or cancel whose client went away (timeout, dropped connection), as Coinbase
    # does; False cancels it with the request (aiohttp's default).
    finish_abandoned_requests: bool = True


class Simulator:
    """The market, the paper account and the server that exposes both the way Coinbase does."""

    def __init__(self, config: SimulatorConfig, clock: Clock = _SYSTEM_CLOCK) -> None:
        self.config = config
        self.clock = clock
        self.market = SimMarket(config.products, clock=clock, seed=config.seed)
        self.book = MatchingEngine(
            self.market.products(),
            starting_balances={"USD": config.starting_quote},
            taker_fee_rate=config.taker_fee_rate,
            maker_fee_rate=config.maker_fee_rate,
            seed=config.seed,
            now=clock.time(),
        )
        for product_id in self.market.product_ids:
            tick = self.market.quote(product_id)
            self.book.update_market(product_id, tick.best_bid, tick.best_ask, tick.time)
        self.port = 0
        self.host = "127.0.0.1"
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.faults = Faults(clock)
        verifier = JwtVerifier(config.api_keys, clock=clock, scopes=config.key_scopes)
        self._fanout = ChannelFanout(
            self.market,
            self.book,
            heartbeat_interval=config.heartbeat_interval,
            ticker_batch_interval=config.ticker_batch_interval,
            market_trades_interval=config.market_trades_interval,
            clock=clock,
        )
        self._ws = WebSocketEndpoint(
            self._fanout,
            verifier,
            self.faults,
            clock=clock,
            subscribe_timeout=config.subscribe_timeout,
            max_pending_frames=config.max_pending_frames,
        )
        self.faults.bind(self._ws)
        self._gate = RequestGate(
            self.faults,
            verifier,
            clock=clock,
            rate_limits=config.rate_limits,
            private_rate=config.private_rate,
            public_rate=config.public_rate,
            finish_abandoned=config.finish_abandoned_requests,
        )
        self._pieces = PieceFiller(self.book, self.faults, self._save, clock=clock)
        self._rest = SimulatedRestApi(
            self.market,
            self.book,
            self._save,
            clock=clock,
            max_candles=config.max_candles_per_request,
            pieces=self._pieces,
        )
        self._admin = FaultAdmin(self.faults, self.stats)
        self.ticks = 0  # every tick of the market, its own or an external one
        self._store = PaperAccountStore(config.state_path) if config.state_path is not None else None
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
        return len(self._ws.connections)

    @property
    def rate_limited(self) -> int:
        """429s the simulator's own rate limit answered (injected ``http_error`` ones excluded)."""
        return self._gate.rate_limited

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind (port 0: any free port) and start ticking."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        ticks = load_recording(self.config.price_file) if self.config.price_file is not None else None
        if self._store is not None:
            await open_account(self._store, self.book)
        runner = web.AppRunner(
            self._build_app(), access_log=None, handler_cancellation=True, shutdown_timeout=CLOSE_TIMEOUT
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
        self._fanout.monotonic_start = self.clock.monotonic()
        loop = asyncio.get_running_loop()
        if ticks is not None:
            for product_id in {t.product_id for t in ticks}:
                first = next(t for t in ticks if t.product_id == product_id)
                if product_id in self.market:  # stop the walk before it ticks once
                    self.market.apply_external_tick(product_id, first.price, first.best_bid, first.best_ask)
            replay = replay_prices(
                self.market, ticks, self.config.replay_speed, self.config.replay_loop, clock=self.clock
            )
            self._tasks.append(loop.create_task(replay, name="simulator-replay"))
        if self.config.synthetic:
            self._tasks.append(loop.create_task(self._run_market(), name="simulator-market"))
        self._tasks.append(loop.create_task(self._fanout.run_heartbeats(), name="simulator-heartbeats"))
        self._tasks.append(loop.create_task(self._fanout.run_batches(), name="simulator-batches"))
        for fault in self.config.faults:
            self.faults.apply(fault)
        self._pieces.resume()  # orders cut off between two pieces by the last stop or crash
        log.debug("Simulator bound to %s", self.rest_url)

    async def stop(self) -> None:
        """Close every socket and cancel every task of the simulator."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._gate.finish()
        await self._pieces.close()  # after the last create: the pieces still to come stay stored
        await self._ws.close_all()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        store, self._store = self._store, None
        if store is not None:
            self._commit(store)
            await store.close()

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate.middleware, errors_middleware])
        self._admin.add_routes(app)
        app.router.add_get("/", self._ws.handle, allow_head=False)
        self._rest.add_routes(app)
        return app

    # --- market ticks and the paper account ----------------------------------------------------

    async def _run_market(self) -> None:
        """Ticks every product at its own (Poisson) rate until cancelled."""
        clock = self.clock
        market, scale = self.market, self.config.tick_rate_scale
        now = clock.monotonic()
        schedule = [(now + market.next_interval(p, scale), i, p) for i, p in enumerate(market.product_ids)]
        heapq.heapify(schedule)
        burst = 0
        while schedule:
            due, index, product_id = schedule[0]
            delay = due - clock.monotonic()
            if delay > 0:
                burst = 0
                await clock.sleep(delay)
                continue
            heapq.heappop(schedule)
            if market.step(product_id, clock.time()) is None:
                continue  # follows an external feed from now on
            now = clock.monotonic()
            # After a stall, resume from now instead of replaying every missed tick at once.
            heapq.heappush(
                schedule, (max(due, now - 1.0) + market.next_interval(product_id, scale), index, product_id)
            )
            burst += 1
            if burst >= 100:
                burst = 0
                await asyncio.sleep(0)

    def stats(self) -> dict[str, Any]:
        """What ``/sim/stats`` answers: counters a test or a benchmark reads from another process."""
        return {
            "ticks": self.ticks,
            "rate_limited": self.rate_limited,
            "connections": self.connection_count,
            "rss_bytes": resident_bytes(),
        }

    def _on_tick(self, tick: MarketTick) -> None:
        self.ticks += 1
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
        self._fanout.on_tick(tick)

    def _commit(self, store: PaperAccountStore | None = None) -> asyncio.Future[None] | None:
        """Hand what the paper account changed to the ``user`` channel and to the state file.
        Returns the save to await (create/cancel answer only once it is on disk)."""
        changes = self.book.take_changes()
        if not changes:
            return None
        if changes.orders:
            self._fanout.send_user_update(changes)
        store = store or self._store
        return store.save(changes) if store is not None else None

    async def _save(self) -> None:
        saved = self._commit()
        if saved is not None:
            await saved


def resident_bytes() -> int:
    """This process's resident set size (Linux /proc; 0 where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


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
    simulator = Simulator(config, SystemClock())
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
