"""Who gets which channel: subscriptions, their snapshots and acks, and the fan-out of updates.

A tick's frame is JSON-encoded once and shared by every subscriber (see channels.py for the
split envelope); ``ticker_batch`` and ``market_trades`` collect what changed and go out on their
own timers, heartbeats on theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import orjson

from streambot.clock import Clock
from streambot.simulator.channels import (
    EMPTY_POSITIONS,
    USER_SNAPSHOT_BATCH,
    book_diff,
    book_levels,
    envelope_head,
    event_tail,
    l2_updates,
    market_trade_json,
    ticker_event_item,
    tickers_tail,
    user_order_json,
)
from streambot.simulator.connection import Connection
from streambot.simulator.control import ControlError
from streambot.simulator.market import MarketTick, MarketTrade, SimMarket
from streambot.simulator.wire import go_time_string, rfc3339_micro
from streambot.venues.matcher.changes import Changes
from streambot.venues.matcher.engine import MatchingEngine
from streambot.venues.matcher.orders import OPEN, SimOrder

SUPPORTED_CHANNELS: Final = frozenset(
    {"ticker", "ticker_batch", "heartbeats", "market_trades", "level2", "user"}
)
PRODUCT_CHANNELS: Final = ("ticker", "ticker_batch", "market_trades", "level2")
LEVEL2_DEPTH: Final = 10


class ChannelFanout:
    def __init__(
        self,
        market: SimMarket,
        book: MatchingEngine,
        *,
        heartbeat_interval: float,
        ticker_batch_interval: float,
        market_trades_interval: float,
        clock: Clock,
    ) -> None:
        self._clock = clock
        self.market = market
        self.book = book
        self.heartbeat_interval = heartbeat_interval
        self.ticker_batch_interval = ticker_batch_interval
        self.market_trades_interval = market_trades_interval
        self._subscribers: dict[str, dict[str, set[Connection]]] = {
            channel: {p: set() for p in market.product_ids} for channel in PRODUCT_CHANNELS
        }
        self._ticker_subscribers = self._subscribers["ticker"]
        self._heartbeat_subscribers: set[Connection] = set()
        self._user_subscribers: set[Connection] = set()
        self._heartbeat_counter = 0
        self.monotonic_start = clock.monotonic()  # heartbeats' m=+ reading counts from here
        # Per product: the book level2 subscribers were last told about, ticker_batch's pending
        # products, market_trades' pending trades.
        self._l2_books: dict[str, dict[tuple[str, str], str]] = {}
        self._batch_pending: set[str] = set()
        self._trades_pending: dict[str, list[MarketTrade]] = {}

    # --- subscriptions -------------------------------------------------------------------------

    def subscribe(self, conn: Connection, channel: str, product_ids: list[str]) -> None:
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
            raise ControlError("failure to subscribe")
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
            conn.send(envelope_head("ticker", self._time_ns()), tickers_tail("snapshot", items))
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
                    "updates": l2_updates(rows, rfc3339_micro(self._clock.time())),
                }
                conn.send(envelope_head("l2_data", self._time_ns()), event_tail(event))
        self._send_subscriptions(conn)

    def _subscribe_user(self, conn: Connection, product_ids: list[str]) -> None:
        """All products when none are named; OPEN orders as snapshots of up to 50, the last one
        shorter (an empty one when the count is a multiple of 50), then the ack."""
        conn.subscriptions["user"] = product_ids
        self._user_subscribers.add(conn)
        conn.subscribed = True
        orders = self.book.list_orders(statuses=[OPEN], product_ids=product_ids)
        orders.reverse()  # oldest first
        for start in range(0, len(orders) + 1, USER_SNAPSHOT_BATCH):
            self._send_user_orders(conn, "snapshot", orders[start : start + USER_SNAPSHOT_BATCH])
        self._send_subscriptions(conn)

    def unsubscribe(self, conn: Connection, channel: str, product_ids: list[str]) -> None:
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

    def forget(self, conn: Connection) -> None:
        """Every subscription of a connection that has gone."""
        self._heartbeat_subscribers.discard(conn)
        self._user_subscribers.discard(conn)
        for channel in PRODUCT_CHANNELS:
            for product_id in conn.subscriptions.get(channel, ()):
                self._subscribers[channel].get(product_id, set()).discard(conn)
        conn.subscriptions.clear()

    def _send_subscriptions(self, conn: Connection) -> None:
        conn.send(
            envelope_head("subscriptions", self._time_ns()), event_tail({"subscriptions": conn.subscriptions})
        )

    # --- updates -------------------------------------------------------------------------------

    def on_tick(self, tick: MarketTick) -> None:
        product_id = tick.product_id
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
        self._broadcast(subscribers, "ticker", tickers_tail("update", item))

    def send_user_update(self, changes: Changes) -> None:
        for conn in self._user_subscribers:
            wanted = conn.subscriptions.get("user") or []
            orders = [o for o in changes.orders if not wanted or o.product_id in wanted]
            if orders:
                self._send_user_orders(conn, "update", orders)

    def _send_user_orders(self, conn: Connection, kind: str, orders: list[SimOrder]) -> None:
        portfolio = self.book.portfolio_id
        event = {
            "type": kind,
            "orders": [user_order_json(o, portfolio, rfc3339_micro(o.created_time)) for o in orders],
            "positions": EMPTY_POSITIONS,
        }
        conn.send(envelope_head("user", self._time_ns()), event_tail(event))

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
            "updates": l2_updates(rows, rfc3339_micro(self._clock.time())),
        }
        self._broadcast(self._subscribers["level2"][product_id], "l2_data", event_tail(event))

    async def run_batches(self) -> None:
        """``market_trades`` every ~250 ms and ``ticker_batch`` every 5 s, for what changed."""
        clock = self._clock
        trades_every = self.market_trades_interval
        batch_every = self.ticker_batch_interval
        next_batch = clock.monotonic() + batch_every
        while True:
            await clock.sleep(trades_every)
            if self._trades_pending:
                pending, self._trades_pending = self._trades_pending, {}
                for product_id, trades in pending.items():
                    self._send_trades(product_id, trades, "update")
            if clock.monotonic() >= next_batch:
                next_batch = clock.monotonic() + batch_every
                pending_products, self._batch_pending = self._batch_pending, set()
                for product_id in pending_products:
                    self._send_ticker_batch(product_id, "update")

    def _send_trades(
        self, product_id: str, trades: list[MarketTrade], kind: str, only: Connection | None = None
    ) -> None:
        spec = self.market.spec(product_id)
        items = [market_trade_json(t, spec, rfc3339_micro(t.time)) for t in trades]
        event = {"type": kind, "trades": items}
        targets = (only,) if only is not None else self._subscribers["market_trades"][product_id]
        self._broadcast(targets, "market_trades", event_tail(event))

    def _send_ticker_batch(self, product_id: str, kind: str, only: Connection | None = None) -> None:
        item = ticker_event_item(self.market.quote(product_id), self.market.spec(product_id))
        for name in ("best_bid", "best_bid_quantity", "best_ask", "best_ask_quantity"):
            del item[name]  # ticker_batch carries no best bid/ask (Coinbase's docs)
        targets = (only,) if only is not None else self._subscribers["ticker_batch"][product_id]
        self._broadcast(targets, "ticker_batch", tickers_tail(kind, orjson.dumps(item)))

    async def run_heartbeats(self) -> None:
        clock = self._clock
        interval = self.heartbeat_interval
        next_at = clock.monotonic() + interval
        while True:
            await clock.sleep(max(0.0, next_at - clock.monotonic()))
            next_at = max(next_at + interval, clock.monotonic())
            self._heartbeat_counter += 1
            if not self._heartbeat_subscribers:
                continue
            ns = self._time_ns()
            event = {
                "current_time": go_time_string(ns, clock.monotonic() - self.monotonic_start),
                "heartbeat_counter": self._heartbeat_counter,
            }
            head = envelope_head("heartbeats", ns)
            tail = event_tail(event)
            for conn in self._heartbeat_subscribers:
                conn.send(head, tail)

    def _broadcast(self, targets: Iterable[Connection], channel: str, tail: bytes) -> None:
        head = envelope_head(channel, self._time_ns())
        for conn in targets:
            conn.send(head, tail)

    def _time_ns(self) -> int:
        """The envelope's ``timestamp``: the clock's UNIX time in nanoseconds."""
        return round(self._clock.time() * 1_000_000_000)
