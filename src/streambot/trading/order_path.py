"""The order path: a strategy's signal → an order on the exchange → a booked trade, top to bottom.

Each step is published on the bus (``orders.<status>``) with its timestamp, so the dashboard can
show an order progressing and metrics can time every step:
  1. ``on_signal``, on the hot path: the guards (bot running, no order of the bot's with an unknown
     outcome, no order in flight, cooldown), cheap and synchronous; ``bots.signal`` tells the
     dashboard a decision reached the order path;
  2. ``decide``: no entry on a product held for a position mismatch, sizing onto the product's
     increments with Decimal, then every risk rule (memory);
  3. the intent is stored with a deterministic client_order_id *before* anything is sent, in one
     commit together with the risk verdict (``intent`` → ``risk_checked`` or ``rejected``);
  4. ``_submit``: the order is placed (``submitted``, then ``acknowledged``); an unknown outcome
     (timeout, 5xx, dropped connection) is stored as ``unknown`` and ``_resolve`` looks the order
     up by client_order_id, with backoff on the clock, until the exchange answers: found, it is
     acknowledged and followed like any other; not listed after a grace period, it was never
     placed (``failed``, NEVER_SUBMITTED). It is never sent again;
  5. ``_follow``: the order is followed to a final state; its fills are read back, deduplicated by
     trade_id, the trade is stored with every amount and the bot's position and P&L move
     (``Settler``, shared with reconciliation).
Whatever a crash interrupts, reconciliation finishes from the stored order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.domain import (
    BotId,
    BotState,
    ClientOrderId,
    ExchangeOrder,
    FeedState,
    OrderRecord,
    OrderRequest,
    OrderStatus,
    Product,
    ProductId,
    Side,
    Signal,
    Ticker,
    evolve,
    to_decimal,
)
from streambot.evaluator import BotRuntime
from streambot.events import FeedStateChanged, OrderUpdated, SignalRaised
from streambot.exchange import Exchange, ExchangeError, OrderOutcomeUnknown, request_sent
from streambot.observability.latency import LatencyStats
from streambot.risk.base import Intent, RiskContext, RiskRejection
from streambot.risk.engine import RiskEngine
from streambot.strategies.base import WHOLE_POSITION
from streambot.trading.balances import AccountBalances
from streambot.trading.fault_point import FaultPoint, kill_self_at
from streambot.trading.holds import ProductHolds
from streambot.trading.open_orders import OpenOrders
from streambot.trading.protocols import OrderStore, TradingStore
from streambot.trading.settlement import (
    FINAL_EXCHANGE_STATUSES,
    UNKNOWN_GRACE_S,
    OrderOwner,
    Settler,
)
from streambot.trading.sizing import size_intent

log = logging.getLogger(__name__)

UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"
ORDER_IN_FLIGHT = "ORDER_IN_FLIGHT"
# The same rejection again and again (a bot whose budget is spent signalling every tick) is stored
# once per this many seconds; the ones in between are only counted, as ignored signals.
_REPEAT_REJECTION_S = 30.0
_MAX_POLL_INTERVAL_S = 1.0
# Lookups of an order whose outcome is unknown: the first after this long, then twice as long each
# time, up to the maximum, until the exchange answers.
_LOOKUP_FIRST_S = 0.5
_LOOKUP_MAX_S = 30.0
_perf_ns = time.perf_counter_ns  # latency measurement only
_FORGET_AT = 64  # tasks tracked before the done ones are forgotten (at least)
# Starts a coroutine and returns the future of its outcome (``loop.create_task``'s shape).
Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Future[Any]"]
_STATUS_NAMES = {status: status.value for status in OrderStatus}  # an enum's .value is a slow read
_NOT_LISTED = object()  # a lookup's answer: the exchange has no such order
_NO_ANSWER = object()  # a lookup's answer: the lookup failed


@dataclass(frozen=True, slots=True)
class NotPlaced:
    """Why the exchange has no order: ``code`` for machines, ``message`` for people."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class Unanswered:
    """The create call's answer was lost: the exchange may or may not have the order."""

    reason: str


class OrderPath:
    def __init__(
        self,
        *,
        bus: Bus,
        exchange: Exchange,
        store: OrderStore,
        balances: AccountBalances,
        risk: RiskEngine,
        open_orders: OpenOrders,
        settler: Settler,
        holds: ProductHolds,
        products: Mapping[ProductId, Product],
        clock: Clock,
        instance_id: str,
        cooldown_s: float = 5.0,
        poll_interval: float = 0.05,
        fill_timeout: float = 10.0,
        unknown_grace_s: float = UNKNOWN_GRACE_S,
        fault_point: FaultPoint | None = None,
        spawn: Spawn | None = None,
    ) -> None:
        self._bus = bus
        # How an order's coroutine is started: a task of the running loop, unless the caller
        # steps coroutines itself (a replay's ManualClock.spawn: no task per order).
        self._start = spawn
        self._fault_point = fault_point  # a test facility: see trading/fault_point.py
        self._exchange = exchange
        self._store = store
        self._balances = balances
        self.risk = risk
        self.open_orders = open_orders
        self.settler = settler
        self.holds = holds
        self.products = products
        # The feed's state as its events tell it (in a cluster they come from the feed process):
        # until the first one, the feed is still connecting and entries wait (risk: stale price).
        self._feed_state = FeedState.CONNECTING
        self._clock = clock
        self._instance_id = instance_id
        self._cooldown_s = cooldown_s
        self._poll_interval = poll_interval
        self._fill_timeout = fill_timeout
        self._unknown_grace_s = unknown_grace_s
        self._closing = asyncio.Event()
        self._last_order_at: dict[BotId, float] = {}
        self._last_rejection: dict[BotId, tuple[str, float]] = {}
        self._last_unknown_notice: dict[BotId, float] = {}
        self._last_exchange_notice: dict[BotId, float] = {}
        self.suspended = ""  # why this process places no orders at all (it lost its lease)
        self._tasks: set[asyncio.Future[Any]] = set()  # under way, and some done not forgotten yet
        self._forget_at = _FORGET_AT
        self.in_flight: set[str] = set()
        self.signals_ignored = 0
        self.orders_placed = 0
        self.orders_rejected = 0
        self.by_status: dict[str, int] = {}
        # Latency of each step, from the decision (signal) to the step.
        self.step_latency: dict[str, LatencyStats] = {
            status.value: LatencyStats(1024)
            for status in (
                OrderStatus.RISK_CHECKED,
                OrderStatus.SUBMITTED,
                OrderStatus.ACKNOWLEDGED,
                OrderStatus.FILLED,
            )
        }
        # The same recorders by status, so a step's is found without reading an enum's .value.
        steps = self.step_latency
        self._step_by_status = {s: steps[name] for s, name in _STATUS_NAMES.items() if name in steps}
        bus.subscribe(OrderUpdated, self._count_status)
        bus.subscribe(FeedStateChanged, self._on_feed_state)

    @property
    def orders_filled(self) -> int:
        return self.settler.trades_booked

    # --- 1. guards, on the hot path ------------------------------------------------------------

    def on_signal(self, bot: BotRuntime, signal: Signal, tick: Ticker) -> None:
        """Accept a decision and schedule the order; never blocks, never awaits."""
        decided_ns = _perf_ns()
        ctx = bot.ctx
        if bot.state is not BotState.RUNNING or self.suspended:
            self.signals_ignored += 1
            return
        now = self._clock.monotonic()
        unknown = self.open_orders.unknown_order(bot.bot_id, bot.product_id)
        if unknown is not None:
            self.signals_ignored += 1
            self._explain_unknown(bot, unknown, now)
            return
        if ctx.order_in_flight:
            self.signals_ignored += 1
            return
        last = self._last_order_at.get(bot.bot_id)
        if last is not None and now - last < self._cooldown_s:
            self.signals_ignored += 1
            return
        ctx.order_in_flight = True
        self._last_order_at[bot.bot_id] = now
        self._bus.publish(
            SignalRaised(
                bot_id=bot.bot_id,
                product_id=tick.product_id,
                side=signal.side,
                reason=signal.reason,
                price=tick.price,
            )
        )
        if log.isEnabledFor(logging.INFO):  # its arguments are read only for a log that shows it
            log.info("🤖 %s on %s: %s — %s", bot.name, tick.product_id, signal.side.value, signal.reason)
        self._spawn(self._execute(bot, signal, tick, decided_ns))

    def suspend(self, reason: str) -> None:
        """Place no more orders from this process (another may be trading on its database)."""
        self.suspended = reason

    def resume(self) -> None:
        """Place orders again (a cluster worker that hears from Redis again)."""
        self.suspended = ""

    def _explain_unknown(self, bot: BotRuntime, client_order_id: str, now: float) -> None:
        last = self._last_unknown_notice.get(bot.bot_id)
        if last is None or now - last >= _REPEAT_REJECTION_S:
            self._last_unknown_notice[bot.bot_id] = now
            log.warning(
                "⏸️ %s places no new order on %s: order %s has an unknown outcome and is being looked up",
                bot.name,
                bot.product_id,
                client_order_id,
            )

    async def drain(self) -> None:
        """Wait for every order under way (tests; shutdown through ``close``)."""
        while self._under_way():
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _under_way(self) -> set[asyncio.Future[Any]]:
        """The tracked tasks not done yet, the done ones forgotten."""
        self._tasks = {task for task in self._tasks if not task.done()}
        return self._tasks

    async def abandon(self) -> None:
        """Cancel every order under way and wait for them to unwind: a replay whose data ended
        has no market left for them to meet."""
        for task in list(self._tasks):
            task.cancel()
        await self.drain()

    async def close(self) -> None:
        """Shutdown: stop looking up orders with an unknown outcome (they stay ``unknown``, and
        reconciliation resolves them at the next start), then wait for the rest."""
        self._closing.set()
        await self.drain()

    async def _execute(self, bot: BotRuntime, signal: Signal, tick: Ticker, decided_ns: int) -> None:
        try:
            await self._place_and_settle(bot, signal, tick, decided_ns)
        except ExchangeError as exc:
            # The exchange down or refusing (5xx, 429, circuit open) while sizing read the balances
            # or the order was followed: expected in an outage, so one line, not a traceback. An
            # order already stored is finished by reconciliation.
            now = self._clock.monotonic()
            if now - self._last_exchange_notice.get(bot.bot_id, -_REPEAT_REJECTION_S) >= _REPEAT_REJECTION_S:
                self._last_exchange_notice[bot.bot_id] = now  # once a while, not once a tick
                log.warning("⚠️ Signal of %s not carried through: %s", bot.name, exc)
        except Exception:
            log.exception("❌ Order for bot %s failed unexpectedly", bot.bot_id)
        finally:
            bot.ctx.order_in_flight = False

    # --- 2. sizing and risk --------------------------------------------------------------------

    def risk_context(self, bot: BotRuntime, tick: Ticker, available: Decimal | None) -> RiskContext:
        bot_id = bot.bot_id
        now = self._clock.time()
        return RiskContext(
            limits=self.risk.limits,
            now=now,
            product=self.products.get(bot.product_id),
            budget=bot.ctx.budget,
            position=bot.ctx.position,
            open_buy_notional=self.open_orders.open_buy_notional(bot_id),
            open_sell_base=self.open_orders.open_sell_base(bot_id),
            available_quote=available,
            price_time=tick.time,
            feed_state=self._feed_state,
            # The scopes the risk engine binds before its rules run, given here so that no
            # default (fresh) scope states are made just to be replaced.
            account=self.risk.account,
            bot=self.risk.bot(bot_id),
            trades_last_hour=self.open_orders.sent_last_hour(bot_id, now),
        )

    async def decide(self, bot: BotRuntime, signal: Signal, tick: Ticker) -> Intent | RiskRejection:
        """Sizing and every risk rule: the order to place, or why not."""
        product = self.products.get(bot.product_id)
        if product is None:
            return RiskRejection("UNKNOWN_PRODUCT", f"No trading rules are known for {bot.product_id}.")
        hold = self.holds.held(product.product_id) if signal.side is Side.BUY else None
        if hold is not None:
            return RiskRejection(
                hold.code,
                f"Entries on {product.product_id} are halted ({hold.reason}); a person acknowledges it "
                "through POST /api/v1/risk/acknowledge.",
            )
        available: Decimal | None = None
        if signal.side is Side.BUY:
            available = await self._balances.available(product.quote_currency)
        price = to_decimal(tick.best_ask or tick.price) if signal.side is Side.BUY else to_decimal(tick.price)
        ctx = self.risk_context(bot, tick, available)
        sized = size_intent(
            bot_id=bot.bot_id,
            signal=signal,
            product=product,
            price=price,
            budget=ctx.budget,
            position=ctx.position,
            open_buy_notional=ctx.open_buy_notional,
            open_sell_base=ctx.open_sell_base,
            available_quote=available,
        )
        if isinstance(sized, RiskRejection):
            return self.risk.check_unsized(Intent(bot.bot_id, bot.product_id, signal.side, price), ctx, sized)
        rejection = self.risk.check(sized, ctx)
        return rejection if rejection is not None else sized

    # --- 3. the intent, stored before anything is sent ---------------------------------------

    async def _place_and_settle(self, bot: BotRuntime, signal: Signal, tick: Ticker, decided_ns: int) -> None:
        created = self._clock.now()
        verdict = await self.decide(bot, signal, tick)
        checked_at = self._clock.now()
        if isinstance(verdict, RiskRejection) and self._repeated(bot.bot_id, verdict):
            return
        make = self._record_maker(bot, signal, verdict, created=created, checked_at=checked_at)

        # The one durable write before the order leaves: a crash after it is reconciled.
        record = await self._store.insert_order_with_seq(bot.bot_id, make)
        self.settler.publish(
            evolve(record, status=OrderStatus.INTENT, risk_checked_at=None), tick_price=tick.price
        )
        self.settler.publish(record)
        if isinstance(verdict, RiskRejection):
            self.orders_rejected += 1
            log.warning("Signal of %s not traded: %s", bot.name, verdict)
            return
        self._observe(OrderStatus.RISK_CHECKED, decided_ns)
        if self._fault_point is FaultPoint.AFTER_INTENT_COMMIT:
            kill_self_at(self._fault_point)
        await self._submit(bot, record, verdict, decided_ns)

    def _repeated(self, bot_id: BotId, rejection: RiskRejection) -> bool:
        now = self._clock.monotonic()
        last = self._last_rejection.get(bot_id)
        if last is not None and last[0] == rejection.code and now - last[1] < _REPEAT_REJECTION_S:
            self.signals_ignored += 1
            return True
        self._last_rejection[bot_id] = (rejection.code, now)
        return False

    def _record_maker(
        self,
        bot: BotRuntime,
        signal: Signal,
        verdict: Intent | RiskRejection,
        *,
        created: datetime,
        checked_at: datetime,
    ) -> Callable[[int], OrderRecord]:
        """How the order is stored, given the bot's next sequence number (the store assigns it in
        the same transaction, so the client_order_id is deterministic and never reused)."""
        prefix = f"sb-{self._instance_id}-{bot.bot_id}-"

        def make(seq: int) -> OrderRecord:
            # Built whole at once (no copy): the record a rejection or a checked intent leaves.
            rejection = verdict if isinstance(verdict, RiskRejection) else None
            intent = None if isinstance(verdict, RiskRejection) else verdict
            return OrderRecord(
                client_order_id=ClientOrderId(f"{prefix}{seq}"),
                bot_id=bot.bot_id,
                product_id=bot.product_id,
                side=signal.side,
                status=OrderStatus.RISK_CHECKED if rejection is None else OrderStatus.REJECTED,
                reason=signal.reason,
                created_at=created,
                risk_checked_at=checked_at,
                quote_size=intent.quote_size if intent is not None else None,
                base_size=intent.base_size if intent is not None else None,
                limit_price=intent.limit_price if intent is not None else None,
                error_code=rejection.code if rejection is not None else "",
                error=rejection.message if rejection is not None else "",
                completed_at=checked_at if rejection is not None else None,
            )

        return make

    # --- a person's exit: sell the bot's whole position now ---------------------------------

    async def exit_position(
        self, bot: BotRuntime, tick: Ticker, reason: str, *, wait: bool = False
    ) -> OrderRecord | RiskRejection:
        """A market sell of everything the bot holds, asked for by a person (``close``), through
        the same sizing, risk rules (those for exits), stored intent and settlement as a
        strategy's sell; whether the bot runs or not, with no cooldown. The stored order, or why
        none was placed (another order of the bot under way, or a risk rule's refusal, stored
        too). ``wait``: return once the order is settled, not as soon as it is stored."""
        ctx = bot.ctx
        if ctx.order_in_flight:
            return RiskRejection(
                ORDER_IN_FLIGHT, "An order of this bot is under way; close again once it is done."
            )
        ctx.order_in_flight = True
        try:
            signal = Signal(Side.SELL, reason, budget_pct=WHOLE_POSITION)
            verdict = await self.decide(bot, signal, tick)
            now = self._clock.now()
            make = self._record_maker(bot, signal, verdict, created=now, checked_at=now)
            record = await self._store.insert_order_with_seq(bot.bot_id, make)
            self.settler.publish(record)
        except BaseException:
            ctx.order_in_flight = False
            raise
        if isinstance(verdict, RiskRejection):
            ctx.order_in_flight = False
            self.orders_rejected += 1
            log.warning("Close of %s not traded: %s", bot.name, verdict)
            return verdict
        log.info("🤖 %s on %s: SELL — %s", bot.name, bot.product_id, reason)
        self._last_order_at[bot.bot_id] = self._clock.monotonic()
        submit = self._submit_exit(bot, record, verdict)
        if wait:
            await submit
        else:
            self._spawn(submit)
        return record

    async def _submit_exit(self, bot: BotRuntime, record: OrderRecord, intent: Intent) -> None:
        try:
            await self._submit(bot, record, intent, _perf_ns())
        except Exception:
            log.exception("❌ Close of bot %s failed unexpectedly", bot.bot_id)
        finally:
            bot.ctx.order_in_flight = False

    # --- 4. placed, and its outcome ------------------------------------------------------------

    async def _submit(self, bot: BotRuntime, record: OrderRecord, intent: Intent, decided_ns: int) -> None:
        client_order_id = record.client_order_id
        request = OrderRequest(
            client_order_id,
            record.product_id,
            record.side,
            quote_size=record.quote_size,
            base_size=record.base_size,
            limit_price=record.limit_price,
        )
        self.in_flight.add(client_order_id)
        self.open_orders.add(record, intent.price)
        self.open_orders.record_sent(bot.bot_id, self._clock.time())
        submitted: OrderRecord | None = None

        def written() -> None:
            # ``submitted`` is published, not stored: the stored risk_checked order already makes
            # a crash from here on harmless, and one commit fewer keeps the order path short. It
            # is published when the venue's client has written the request (``request_sent``,
            # called inside the create call), or when the call ended without it (refused before
            # sending, or a venue without such a hook). Published from the call itself, the order
            # needs no task of its own beside the one placing it.
            nonlocal submitted
            if submitted is None:
                sent_ns = _perf_ns()
                submitted = evolve(record, status=OrderStatus.SUBMITTED, submitted_at=self._clock.now())
                self._observe(OrderStatus.SUBMITTED, decided_ns, sent_ns)
                self.settler.publish(submitted)

        try:
            asking = request_sent.set(written)
            try:
                placed = await self._place(request)
            except Exception:
                written()  # it may have left: said as when it answers
                raise
            finally:
                request_sent.reset(asking)
            written()
            assert submitted is not None
            record = submitted
            if self._fault_point is FaultPoint.AFTER_SEND and isinstance(placed, str):
                kill_self_at(self._fault_point)
            if isinstance(placed, str):
                self._observe(OrderStatus.ACKNOWLEDGED, decided_ns)  # the exchange's answer
            if isinstance(placed, NotPlaced):
                self.orders_rejected += 1
                self.open_orders.remove(client_order_id)
                record = await self.settler.transition(
                    record,
                    OrderStatus.REJECTED,
                    submitted_at=record.submitted_at,
                    error_code=placed.code,
                    error=placed.message,
                    completed_at=self._clock.now(),
                )
                log.error("❌ Order %s for %s rejected: %s", client_order_id, bot.name, placed)
                return
            if isinstance(placed, Unanswered):
                record = await self._resolve(record, bot.name, placed)
                if record.status is not OrderStatus.ACKNOWLEDGED:
                    return
                self._observe(OrderStatus.ACKNOWLEDGED, decided_ns)
            else:
                record = await self.settler.transition(
                    record,
                    OrderStatus.ACKNOWLEDGED,
                    submitted_at=record.submitted_at,
                    exchange_order_id=placed,
                    acknowledged_at=self._clock.now(),
                )
            self.orders_placed += 1
            record = await self.follow(record, OrderOwner(bot.ctx, bot.name))
            if record.status is OrderStatus.FILLED:
                self._observe(OrderStatus.FILLED, decided_ns)
        finally:
            self.in_flight.discard(client_order_id)

    async def _place(self, request: OrderRequest) -> str | NotPlaced | Unanswered:
        """The exchange's order id, why there is none, or that nobody knows yet. Sent once."""
        try:
            placed = await self._exchange.place_order(request)
        except OrderOutcomeUnknown as exc:
            return Unanswered(str(exc))
        except ExchangeError as exc:
            return NotPlaced(exc.code or f"HTTP_{exc.status}", str(exc))
        if not placed.success:
            return NotPlaced(placed.error or "REJECTED", placed.message or "the exchange refused the order")
        return placed.order_id

    # --- 4b. an unknown outcome, looked up until the exchange answers ---------------------------

    async def _resolve(self, record: OrderRecord, name: str, unanswered: Unanswered) -> OrderRecord:
        """``unknown`` until the exchange answers: ``acknowledged`` when it lists the order,
        ``failed`` (NEVER_SUBMITTED) when it still does not after the grace period. Stays
        ``unknown`` when the order path closes first; reconciliation resolves it then."""
        client_order_id = record.client_order_id
        sent_at = record.submitted_at or self._clock.now()
        record = await self.settler.transition(
            record,
            OrderStatus.UNKNOWN,
            submitted_at=sent_at,
            error_code=UNKNOWN_OUTCOME,
            error=unanswered.reason,
        )
        log.warning(
            "⚠️ Order %s for %s: outcome unknown (%s); looking it up by client_order_id",
            client_order_id,
            name,
            unanswered.reason,
        )
        wait, lookups = _LOOKUP_FIRST_S, 0
        while await self._pause(wait):
            wait = min(wait * 2, _LOOKUP_MAX_S)
            lookups += 1
            found = await self._look_up(client_order_id, record.product_id, lookups)
            if isinstance(found, ExchangeOrder):
                log.info("🔎 Order %s found on the exchange after %d lookups", client_order_id, lookups)
                return await self.settler.transition(
                    record,
                    OrderStatus.ACKNOWLEDGED,
                    exchange_order_id=found.order_id,
                    acknowledged_at=self._clock.now(),
                    error_code="",
                    error="",
                )
            if (
                found is _NOT_LISTED
                and (self._clock.now() - sent_at).total_seconds() >= self._unknown_grace_s
            ):
                log.error("❌ Order %s for %s never reached the exchange", client_order_id, name)
                return await self.settler.never_submitted(record)
        return record

    async def _look_up(
        self, client_order_id: ClientOrderId, product_id: ProductId, lookups: int
    ) -> ExchangeOrder | object:
        """The order, ``_NOT_LISTED`` when the exchange positively does not have it, or
        ``_NO_ANSWER`` when the lookup itself failed."""
        try:
            found = await self._exchange.find_order(client_order_id, product_id)
        except ExchangeError as exc:
            if lookups & (lookups - 1) == 0:  # 1st, 2nd, 4th, 8th… failure: the log stays readable
                log.warning("Lookup %d of order %s failed (%s); trying again", lookups, client_order_id, exc)
            return _NO_ANSWER
        return _NOT_LISTED if found is None else found

    async def _pause(self, seconds: float) -> bool:
        """Wait on the clock; False (at once) when the order path is closing."""
        if self._closing.is_set():
            return False
        sleeping = asyncio.ensure_future(self._clock.sleep(seconds))
        closing = asyncio.ensure_future(self._closing.wait())
        await asyncio.wait({sleeping, closing}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeping, closing):
            task.cancel()
        return not self._closing.is_set()

    # --- 5. fills, trade, position and P&L -----------------------------------------------------

    async def follow(self, record: OrderRecord, owner: OrderOwner) -> OrderRecord:
        """Follow the order to a final state (or the timeout: reconciliation takes over), then book it."""
        deadline = self._clock.monotonic() + self._fill_timeout
        interval = self._poll_interval
        order = await self._exchange.get_order(record.exchange_order_id)
        while order.status not in FINAL_EXCHANGE_STATUSES and self._clock.monotonic() < deadline:
            await self._clock.sleep(interval)
            # A market order is final within a poll or two; a resting limit order may wait for
            # the whole timeout, and polled at the first pace it would spend ~200 of the REST
            # budget every other request shares. Backing off, it spends ~15.
            interval = min(interval * 2, _MAX_POLL_INTERVAL_S)
            order = await self._exchange.get_order(record.exchange_order_id)
        record = await self.settler.settle(record, order, owner)
        if order.filled_size > 0:
            # Read the balances the fill changed now, so the next buy's risk check need not wait
            # for a REST round trip (and a rate-limit token) between its decision and its order.
            # The refresh itself is the task: no task of ours around it to wait on it.
            self._balances.invalidate()
            self._track(self._balances.refresh(), _refreshed)
        return record

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        start = self._start
        self._track(start(coro) if start is not None else asyncio.get_running_loop().create_task(coro))

    def _track(
        self, task: asyncio.Future[Any], done: Callable[[asyncio.Future[Any]], object] | None = None
    ) -> None:
        # Done tasks are forgotten in batches, not each by a done callback of its own: a callback
        # costs a loop callback per order (the replay's orders finish outside the loop), and
        # ``drain`` forgets them anyway. The set stays within twice what is under way.
        tasks = self._tasks
        tasks.add(task)
        if len(tasks) >= self._forget_at:
            self._forget_at = max(_FORGET_AT, 2 * len(self._under_way()))
        if done is not None:
            task.add_done_callback(done)

    # --- metrics -----------------------------------------------------------------------------

    def _observe(self, status: OrderStatus, decided_ns: int, at_ns: int | None = None) -> None:
        self._step_by_status[status].record((_perf_ns() if at_ns is None else at_ns) - decided_ns)

    def _on_feed_state(self, event: FeedStateChanged) -> None:
        self._feed_state = event.state

    def _count_status(self, event: OrderUpdated) -> None:
        status = _STATUS_NAMES[event.order.status]
        self.by_status[status] = self.by_status.get(status, 0) + 1


def _refreshed(refresh: asyncio.Future[Any]) -> None:
    """A refresh after a fill failed: said once here; the next decision asks again."""
    if not refresh.cancelled() and (exc := refresh.exception()) is not None:
        log.warning("Balances not refreshed after a fill: %s", exc)


def assemble_order_path(
    *,
    bus: Bus,
    exchange: Exchange,
    store: TradingStore,
    balances: AccountBalances,
    risk: RiskEngine,
    holds: ProductHolds,
    products: Mapping[ProductId, Product],
    clock: Clock,
    instance_id: str,
    cooldown_s: float = 5.0,
    fill_timeout: float = 10.0,
    unknown_grace_s: float = UNKNOWN_GRACE_S,
    fault_point: FaultPoint | None = None,
    spawn: Spawn | None = None,
) -> OrderPath:
    """An order path with its own open orders and settlement, both reachable from it
    (``order_path.open_orders``, ``order_path.settler``) for the parts that share them."""
    open_orders = OpenOrders()
    settler = Settler(
        bus=bus,
        exchange=exchange,
        store=store,
        open_orders=open_orders,
        risk=risk,
        products=products,
        clock=clock,
    )
    return OrderPath(
        bus=bus,
        exchange=exchange,
        store=store,
        balances=balances,
        risk=risk,
        open_orders=open_orders,
        settler=settler,
        holds=holds,
        products=products,
        clock=clock,
        instance_id=instance_id,
        cooldown_s=cooldown_s,
        fill_timeout=fill_timeout,
        unknown_grace_s=unknown_grace_s,
        fault_point=fault_point,
        spawn=spawn,
    )
