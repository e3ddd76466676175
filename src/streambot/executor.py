"""Signal → order → trade record. Everything slow (database, REST) happens here, off the tick path.

Order of operations, each step published on the bus (``orders.<status>``) so the dashboard can show
an order progressing:
  1. guards on the hot path (bot running, no order in flight, cooldown) — cheap, synchronous;
  2. sizing to the product's rules with Decimal (never above budget or balance, never below the
     minimum, sells never above the position);
  3. the intent is stored with a deterministic client_order_id *before* anything is sent;
  4. the order is placed; an unknown outcome is resolved by looking the order up, never by resending;
  5. fills are read back, deduplicated by trade_id, and the trade is stored with every amount.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from streambot.bus import Bus
from streambot.domain import (
    BotId,
    BotState,
    ClientOrderId,
    ExchangeOrder,
    Fill,
    OrderRecord,
    OrderRequest,
    OrderStatus,
    Product,
    ProductId,
    Side,
    Signal,
    Ticker,
    Trade,
    round_down,
    to_decimal,
)
from streambot.evaluator import BotRuntime
from streambot.exchange.balances import BalanceCache
from streambot.exchange.base import Exchange, ExchangeError, OrderOutcomeUnknown

log = logging.getLogger(__name__)

_FINAL_EXCHANGE_STATUSES = frozenset({"FILLED", "CANCELLED", "EXPIRED", "FAILED"})
_HUNDRED = Decimal(100)


class OrderStore(Protocol):
    async def next_order_seq(self, bot_id: int) -> int: ...
    async def insert_order(self, order: OrderRecord) -> None: ...
    async def update_order(self, client_order_id: str, **changes: Any) -> OrderRecord: ...
    async def insert_fill(self, fill: Fill, *, bot_id: int, client_order_id: str) -> bool: ...
    async def upsert_trade(self, trade: Trade) -> Trade: ...


class Rejected(Exception):
    """The order was not placed; ``code`` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def now_utc() -> datetime:
    return datetime.now(UTC)


class Executor:
    def __init__(
        self,
        *,
        bus: Bus,
        exchange: Exchange,
        store: OrderStore,
        balances: BalanceCache,
        instance_id: str,
        cooldown_s: float = 5.0,
        poll_interval: float = 0.05,
        fill_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus = bus
        self._exchange = exchange
        self._store = store
        self._balances = balances
        self._instance_id = instance_id
        self._cooldown_s = cooldown_s
        self._poll_interval = poll_interval
        self._fill_timeout = fill_timeout
        self._clock = clock
        self.products: dict[ProductId, Product] = {}
        self._last_order_at: dict[BotId, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.signals_ignored = 0
        self.orders_placed = 0
        self.orders_rejected = 0
        self.orders_filled = 0
        self.kill_switch = False

    # --- called on the hot path ------------------------------------------------------------

    def on_signal(self, bot: BotRuntime, signal: Signal, tick: Ticker) -> None:
        """Accept a decision and schedule the order; never blocks, never awaits."""
        ctx = bot.ctx
        if self.kill_switch or bot.state is not BotState.RUNNING or ctx.order_in_flight:
            self.signals_ignored += 1
            return
        last = self._last_order_at.get(bot.bot_id)
        if last is not None and self._clock() - last < self._cooldown_s:
            self.signals_ignored += 1
            return
        ctx.order_in_flight = True
        self._last_order_at[bot.bot_id] = self._clock()
        log.info("🤖 %s on %s: %s — %s", bot.name, tick.product_id, signal.side.value, signal.reason)
        task = asyncio.get_running_loop().create_task(self._execute(bot, signal, tick))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- off the hot path --------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait for every order under way (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _execute(self, bot: BotRuntime, signal: Signal, tick: Ticker) -> None:
        try:
            await self._place_and_settle(bot, signal, tick)
        except Exception:
            log.exception("❌ Order for bot %s failed unexpectedly", bot.bot_id)
        finally:
            bot.ctx.order_in_flight = False

    async def _place_and_settle(self, bot: BotRuntime, signal: Signal, tick: Ticker) -> None:
        product = self.products.get(bot.product_id)
        created = now_utc()
        try:
            if product is None:
                raise Rejected("UNKNOWN_PRODUCT", f"no trading rules known for {bot.product_id}")
            request_sizes = await self._size(bot, signal, tick, product)
        except Rejected as rejection:
            self._reject_unplaced(bot, signal, rejection)
            return

        seq = await self._store.next_order_seq(bot.bot_id)
        client_order_id = ClientOrderId(f"sb-{self._instance_id}-{bot.bot_id}-{seq}")
        request = OrderRequest(client_order_id, bot.product_id, signal.side, **request_sizes)
        record = OrderRecord(
            client_order_id=client_order_id,
            bot_id=bot.bot_id,
            product_id=bot.product_id,
            side=signal.side,
            status=OrderStatus.INTENT,
            reason=signal.reason,
            created_at=created,
            quote_size=request.quote_size,
            base_size=request.base_size,
            limit_price=request.limit_price,
        )
        await self._store.insert_order(record)
        self._publish(record, tick_price=tick.price)
        record = await self._transition(record, OrderStatus.RISK_CHECKED)
        record = await self._transition(record, OrderStatus.SUBMITTED, submitted_at=now_utc())

        try:
            placed = await self._exchange.place_order(request)
            order_id, error, message = placed.order_id, placed.error, placed.message
            success = placed.success
        except OrderOutcomeUnknown as exc:
            log.warning("Order %s outcome unknown (%s); looking it up", client_order_id, exc)
            found = await self._look_up(client_order_id, bot.product_id)
            success = found is not None
            order_id = found.order_id if found else ""
            error, message = ("", "") if found else ("UNKNOWN_OUTCOME", "the exchange never saw the order")
        except ExchangeError as exc:
            success, order_id, error, message = False, "", exc.code or f"HTTP_{exc.status}", str(exc)

        if not success:
            self.orders_rejected += 1
            status = OrderStatus.FAILED if error == "UNKNOWN_OUTCOME" else OrderStatus.REJECTED
            record = await self._transition(
                record, status, error=f"{error}: {message}".strip(": "), completed_at=now_utc()
            )
            log.error("❌ Order %s for %s rejected: %s %s", client_order_id, bot.name, error, message)
            return
        self.orders_placed += 1
        record = await self._transition(
            record, OrderStatus.ACKNOWLEDGED, exchange_order_id=order_id, acknowledged_at=now_utc()
        )
        await self._settle(bot, record)

    async def _settle(self, bot: BotRuntime, record: OrderRecord) -> None:
        """Follow the order to a final state, then book its fills and the trade."""
        deadline = self._clock() + self._fill_timeout
        order = await self._exchange.get_order(record.exchange_order_id)
        while order.status not in _FINAL_EXCHANGE_STATUSES and self._clock() < deadline:
            await asyncio.sleep(self._poll_interval)
            order = await self._exchange.get_order(record.exchange_order_id)

        fills = await self._exchange.list_fills(record.exchange_order_id) if order.filled_size > 0 else []
        for fill in fills:
            if await self._store.insert_fill(fill, bot_id=bot.bot_id, client_order_id=record.client_order_id):
                bot.ctx.position.apply_fill(fill.side, fill.size, fill.price * fill.size, fill.commission)
                bot.ctx.record_fill(fill)
        if fills:
            self._balances.invalidate()

        status = _our_status(order)
        record = await self._transition(
            record,
            status,
            filled_size=order.filled_size,
            average_price=order.average_filled_price,
            filled_value=order.filled_value,
            fees=order.total_fees,
            completed_at=now_utc() if status.is_final else None,
        )
        if order.filled_size > 0:
            await self._book_trade(bot, record, order)

    async def _book_trade(self, bot: BotRuntime, record: OrderRecord, order: ExchangeOrder) -> None:
        quote = order.filled_value or order.filled_size * order.average_filled_price
        fee = order.total_fees
        net = quote + fee if order.side is Side.BUY else quote - fee
        trade = await self._store.upsert_trade(
            Trade(
                bot_id=bot.bot_id,
                product_id=record.product_id,
                side=record.side,
                base_size=order.filled_size,
                price=order.average_filled_price,
                quote_amount=quote,
                fee=fee,
                net_total=net,
                status=record.status,
                client_order_id=record.client_order_id,
                exchange_order_id=record.exchange_order_id,
                reason=record.reason,
                created_at=record.created_at,
                filled_at=record.completed_at,
            )
        )
        self.orders_filled += 1
        self._bus.publish("trades.executed", trade=trade_to_dict(trade))
        product = self.products.get(trade.product_id)
        log.info(
            "✅ %s %s %s %s @ %s = %s %s (fee %s) — %s",
            bot.name,
            trade.side.value,
            _shown(trade.base_size, product.base_increment if product else None),
            trade.product_id.split("-")[0],
            _shown(trade.price, product.quote_increment if product else None),
            quote.quantize(Decimal("0.01")),
            trade.product_id.split("-")[-1],
            fee.quantize(Decimal("0.0001")),
            trade.reason,
        )

    async def _look_up(self, client_order_id: ClientOrderId, product_id: ProductId) -> ExchangeOrder | None:
        for attempt in range(5):
            try:
                return await self._exchange.find_order(client_order_id, product_id)
            except ExchangeError:
                await asyncio.sleep(0.2 * 2**attempt)
        return None

    async def _size(
        self, bot: BotRuntime, signal: Signal, tick: Ticker, product: Product
    ) -> dict[str, Decimal]:
        """Order sizes on the product's increments, within budget, balance and position."""
        if product.trading_disabled:
            raise Rejected("TRADING_DISABLED", f"trading is disabled on {product.product_id}")
        ctx = bot.ctx
        limit = round_down(signal.limit_price, product.quote_increment) if signal.limit_price else None
        sizes: dict[str, Decimal] = {"limit_price": limit} if limit is not None else {}
        if signal.side is Side.BUY:
            remaining = ctx.budget - ctx.position.cost
            if signal.quote_size is not None:
                quote = signal.quote_size
            elif signal.base_size is not None:
                quote = signal.base_size * (limit or to_decimal(tick.best_ask or tick.price))
            else:
                quote = ctx.budget * (signal.budget_pct or _HUNDRED) / _HUNDRED
            available = await self._balances.available(product.quote_currency)
            quote = min(quote, remaining, available)
            quote = round_down(quote, product.quote_increment)
            if quote < product.quote_min_size or quote <= 0:
                why = (
                    f"budget left {remaining.normalize()} {product.quote_currency}"
                    if remaining <= available
                    else f"available balance {available.normalize()} {product.quote_currency}"
                )
                raise Rejected(
                    "BELOW_MINIMUM",
                    f"buy of {quote.normalize()} {product.quote_currency} is below the minimum "
                    f"{product.quote_min_size.normalize()} ({why})",
                )
            if limit is not None:
                sizes["base_size"] = round_down(quote / limit, product.base_increment)
            else:
                sizes["quote_size"] = quote
            return sizes
        held = ctx.position.base
        if signal.base_size is not None:
            base = min(signal.base_size, held)
        else:
            base = held * (signal.budget_pct or _HUNDRED) / _HUNDRED
        base = round_down(base, product.base_increment)
        if base < product.base_min_size or base <= 0:
            raise Rejected(
                "BELOW_MINIMUM",
                f"sell of {base.normalize()} {product.base_currency} is below the minimum "
                f"{product.base_min_size.normalize()} (position {held.normalize()})",
            )
        sizes["base_size"] = base
        return sizes

    def _reject_unplaced(self, bot: BotRuntime, signal: Signal, rejection: Rejected) -> None:
        self.orders_rejected += 1
        log.warning("Signal of %s not traded: %s", bot.name, rejection)
        self._bus.publish(
            "orders.rejected",
            bot_id=bot.bot_id,
            product_id=bot.product_id,
            side=signal.side.value,
            reason=signal.reason,
            code=rejection.code,
            error=str(rejection),
        )

    async def _transition(self, record: OrderRecord, status: OrderStatus, **changes: Any) -> OrderRecord:
        changes = {k: v for k, v in changes.items() if v is not None}
        updated = await self._store.update_order(record.client_order_id, status=status, **changes)
        self._publish(updated)
        return updated

    def _publish(self, record: OrderRecord, **extra: Any) -> None:
        self._bus.publish(f"orders.{record.status.value}", order=order_to_dict(record), **extra)


def _shown(value: Decimal, increment: Decimal | None) -> Decimal:
    """For people: on the product's increment. Records keep the exchange's exact figures."""
    return (value.quantize(increment) if increment else value).normalize()


def _our_status(order: ExchangeOrder) -> OrderStatus:
    if order.status == "FILLED":
        return OrderStatus.FILLED
    if order.status in {"CANCELLED", "EXPIRED"}:
        return OrderStatus.CANCELLED
    if order.status == "FAILED":
        return OrderStatus.FAILED
    return OrderStatus.PARTIALLY_FILLED if order.filled_size > 0 else OrderStatus.ACKNOWLEDGED


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, OrderStatus | Side | BotState):
        return value.value
    return value


def order_to_dict(record: OrderRecord) -> dict[str, object]:
    return {name: _plain(getattr(record, name)) for name in OrderRecord.__dataclass_fields__}


def trade_to_dict(trade: Trade) -> dict[str, object]:
    return {name: _plain(getattr(trade, name)) for name in Trade.__dataclass_fields__}
