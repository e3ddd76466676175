"""Bots as users manage them: stored records kept in step with the evaluator's running bots."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.domain import (
    Balance,
    BotId,
    BotRecord,
    BotState,
    FeeTier,
    Fill,
    Position,
    Product,
    Signal,
    Ticker,
)
from streambot.evaluator import BotRuntime, StreamingEvaluator
from streambot.events import BotCreated, BotDeleted, BotStateChanged, BotUpdated
from streambot.strategies.base import BotContext, Strategy, close_strategy, history_needed, warm_up_bot
from streambot.strategies.registry import StrategyError, build, validate_params
from streambot.strategies.warmup import CandleHistory

log = logging.getLogger(__name__)


# A new bot as a user asks for it: ``POST /api/v1/bots`` and each entry of a backtest's ``--bots``
# file, validated alike (unknown fields refused). A comment, not a docstring: that would become
# the OpenAPI schema's description and change the dashboard's generated client.
class BotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    strategy: str
    product_id: str
    params: dict[str, Any] = Field(default_factory=dict)
    budget: Decimal = Field(gt=0, description="In the product's quote currency")


class BotStore(Protocol):
    async def create_bot(
        self,
        name: str,
        strategy: str,
        product_id: str,
        params: dict[str, Any],
        budget: Decimal,
        state: BotState = ...,
        streaming: bool = ...,
    ) -> BotRecord: ...
    async def list_bots(self) -> list[BotRecord]: ...
    async def update_bot(self, bot_id: int, **changes: Any) -> BotRecord | None: ...
    async def delete_bot(self, bot_id: int) -> bool: ...
    async def fills_for_bot(self, bot_id: int) -> list[Fill]: ...


class FeeRates(Protocol):
    """The account's fee tier as decisions see it now (``trading.fees.FeeSchedule``)."""

    @property
    def current(self) -> FeeTier: ...

    async def run(self) -> None:
        """Keep ``current`` up to date until cancelled."""
        ...


class ExitOnly:
    """The strategy of a bot run made only to sell its position (a close of a stopped bot): it
    never decides anything itself."""

    __slots__ = ()

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        return None


class BotError(ValueError):
    """A request about a bot that cannot be honoured; ``field`` names the offending input."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class BotManager:
    def __init__(
        self,
        store: BotStore,
        evaluator: StreamingEvaluator,
        bus: Bus,
        products: Sequence[str],
        rules: Mapping[str, Product] | None = None,
        balances: Mapping[str, Balance] | None = None,
        *,
        history: CandleHistory,
        fees: FeeRates,
        clock: Clock,
        runs_bots: bool = True,
    ) -> None:
        self._store = store
        # False in a cluster's API process: it keeps the records (start, stop, edit) and the
        # workers run the bots; a start there only checks that the strategy builds.
        self._runs_bots = runs_bots
        self.fees = fees
        self._clock = clock
        self._history = history
        # Every bot's ctx.balances: a read-only view of the account (the balance cache's latest).
        self._balances: Mapping[str, Balance] = balances if balances is not None else MappingProxyType({})
        self._evaluator = evaluator
        self._bus = bus
        self.products = tuple(products)
        self._rules = rules or {}
        # Every stored bot, kept in step with each write made here (this manager is the one
        # writer of bots), so listing and looking up bots costs no database round trip: an
        # aiosqlite query hops to its thread and back, and a busy loop can keep that thread
        # waiting for the GIL for milliseconds. Filled by ``load``.
        self._records: dict[BotId, BotRecord] = {}
        # Each bot's context for its whole life, not one per run: its position, last fill and
        # order in flight carry over a restart or a change of parameters, and the executor,
        # which clears the in-flight flag on the runtime it was handed, reaches the new run too.
        self._contexts: dict[BotId, BotContext] = {}

    # --- validation ------------------------------------------------------------------------

    def _check(self, strategy: str, product_id: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        if product_id not in self.products:
            raise BotError(
                f"unknown product {product_id!r}; this platform trades {', '.join(self.products)}",
                field="product_id",
            )
        try:
            validated = validate_params(strategy, params)
        except StrategyError as exc:
            raise BotError(str(exc), field=exc.field) from exc
        if not validated.allow_below_fee:
            self._check_fees(validated.take_profits())
        return validated.model_dump(mode="json")

    def _check_fees(self, take_profits: Sequence[tuple[str, float]]) -> None:
        """Refuse a planned profit that fees eat: a rise at or below break-even loses money on every sell."""
        tier = self.fees.current
        break_even = tier.break_even_rise_pct
        for name, pct in take_profits:
            if Decimal(str(pct)) <= break_even:
                raise BotError(
                    f"params.{name}: a take-profit of {pct:.4g}% is below the round-trip fee: "
                    f"{tier.round_trip_pct:.2f}% ({tier.taker_fee_rate * 100:.2f}% taker on the buy and "
                    f"on the sell, {tier.source} fee tier), so the break-even is a rise of "
                    f"{break_even:.2f}% and every such sell loses money; set it above {break_even:.2f}% "
                    "or set params.allow_below_fee to true",
                    field=f"params.{name}",
                )

    # --- lifecycle -------------------------------------------------------------------------

    async def load(self, *, activate: bool = True) -> None:
        """At start-up: every bot, its position rebuilt from its fills, the running ones resumed
        (unless ``activate`` is False: a cluster worker runs only the bots it owns, ``adopt``)."""
        self._records = {record.id: record for record in await self._store.list_bots()}
        for record in tuple(self._records.values()):
            await self._replay_fills(self._context(record))
            if activate and record.state is BotState.RUNNING:
                await self._activate(record)

    async def _replay_fills(self, ctx: BotContext) -> None:
        """The position rebuilt from the stored fills: the same booking as a fill that lands live,
        replayed in trade order, from nothing (a fill booked while the context waited for the
        lock is among those read)."""
        async with ctx.booking:
            ctx.rebuild(sorted(await self._store.fills_for_bot(ctx.bot_id), key=lambda f: f.trade_time))

    async def adopt(self, bot_id: BotId) -> BotRecord | None:
        """A cluster worker takes the bot over: its record and position read afresh from the store
        (another worker traded it until now), then it runs here if it is running."""
        record = next((r for r in await self._store.list_bots() if r.id == bot_id), None)
        if record is None:
            self.forget(bot_id)
            return None
        self._retire(bot_id)
        self._records[bot_id] = record
        self._contexts.pop(bot_id, None)
        await self._replay_fills(self._context(record))
        if record.state is BotState.RUNNING:
            return await self._activate(record)
        return record

    async def reload(self, bot_id: BotId) -> None:
        """A bot running here was edited in another process: its new record takes effect at once,
        on the same context (an order of it under way books its fill there)."""
        record = next((r for r in await self._store.list_bots() if r.id == bot_id), None)
        if record is None:
            self.forget(bot_id)
            return
        self._records[bot_id] = record
        if record.state is BotState.RUNNING and self._evaluator.get(bot_id) is not None:
            await self._activate(record)

    def drop(self, bot_id: BotId) -> None:
        """A cluster worker gives the bot up: it stops running here (its record stays)."""
        self._retire(bot_id)

    async def refresh(self, bot_id: BotId) -> None:
        """Read the bot's record again: another process of the cluster changed it."""
        record = next((r for r in await self._store.list_bots() if r.id == bot_id), None)
        if record is None:
            self.forget(bot_id)
        else:
            self._records[bot_id] = record
            self._context(record)

    async def rebook(self, bot_id: BotId) -> None:
        """Rebuild the bot's position from its stored fills: another process of the cluster booked
        one (reconciliation on the worker holding the account's duties; the API shows positions)."""
        ctx = self._contexts.get(bot_id)
        if ctx is not None:
            await self._replay_fills(ctx)

    def forget(self, bot_id: BotId) -> None:
        self._retire(bot_id)
        self._records.pop(bot_id, None)
        self._contexts.pop(bot_id, None)

    async def create(
        self, *, name: str, strategy: str, product_id: str, params: Mapping[str, Any] | None, budget: Decimal
    ) -> BotRecord:
        if not name.strip():
            raise BotError("name must not be empty", field="name")
        if budget <= 0:
            raise BotError("budget must be greater than 0", field="budget")
        full_params = self._check(strategy, product_id, params)
        record = self._remember(
            await self._store.create_bot(name.strip(), strategy, product_id, full_params, budget)
        )
        self._context(record)
        self._bus.publish(BotCreated(bot_id=record.id))
        log.info("🤖 Bot %s created: %s on %s", record.id, strategy, product_id)
        return record

    async def update(self, bot_id: BotId, changes: Mapping[str, Any]) -> BotRecord:
        record = self._require(bot_id)
        if "budget" in changes and changes["budget"] is not None and changes["budget"] <= 0:
            raise BotError("budget must be greater than 0", field="budget")
        if changes.get("params") is not None:
            changes = {
                **changes,
                "params": self._check(record.strategy, record.product_id, changes["params"]),
            }
        updated = self._remember(
            await self._store.update_bot(bot_id, **{k: v for k, v in changes.items() if v is not None})
        )
        if updated.state is BotState.RUNNING:
            updated = await self._activate(updated)  # a new strategy or budget takes effect at once
        self._bus.publish(BotUpdated(bot_id=bot_id))
        return updated

    async def delete(self, bot_id: BotId) -> None:
        self._require(bot_id)
        self._retire(bot_id)
        await self._store.delete_bot(bot_id)
        self._records.pop(bot_id, None)
        self._contexts.pop(bot_id, None)
        self._bus.publish(BotDeleted(bot_id=bot_id))

    async def start(self, bot_id: BotId) -> BotRecord:
        """Run the bot; the record returned is in error if its strategy cannot be built or warmed up."""
        record = await self._set_state(self._require(bot_id), BotState.RUNNING, "")
        record = await self._activate(record)
        if record.state is BotState.RUNNING:
            log.info("🤖 Bot %s (%s) started on %s", record.id, record.name, record.product_id)
        return record

    async def stop(self, bot_id: BotId) -> BotRecord:
        record = self._require(bot_id)
        self._retire(bot_id)
        record = await self._set_state(record, BotState.STOPPED, "")
        log.info("🤖 Bot %s (%s) stopped", record.id, record.name)
        return record

    async def set_streaming(self, bot_id: BotId, streaming: bool) -> BotRecord:
        """On: the bot decides on every tick. Off: on the latest price every few seconds."""
        self._require(bot_id)
        updated = self._remember(await self._store.update_bot(bot_id, streaming=streaming))
        self._evaluator.set_streaming(bot_id, streaming)
        self._bus.publish(BotUpdated(bot_id=bot_id))
        log.info("🤖 Bot %s streaming %s", bot_id, "on" if streaming else "off (polling every few seconds)")
        return updated

    async def record_error(self, bot_id: BotId, reason: str) -> None:
        """A strategy raised: the evaluator already took the bot out; remember why."""
        record = self._records.get(bot_id)
        if record is not None:
            await self._set_state(record, BotState.ERROR, reason)

    async def get(self, bot_id: BotId) -> BotRecord:
        return self._require(bot_id)

    async def list(self) -> list[BotRecord]:
        """Every bot, oldest first."""
        return sorted(self._records.values(), key=lambda record: record.id)

    def runtime(self, bot_id: BotId) -> BotRuntime | None:
        return self._evaluator.get(bot_id)

    def context(self, bot_id: BotId) -> BotContext | None:
        """The bot's context, running or not; None for a bot this platform does not have."""
        return self._contexts.get(bot_id)

    def holding(self, bot_id: BotId) -> bool:
        """Whether the bot holds a position it could sell (dust below the minimum is no position)."""
        ctx = self._contexts.get(bot_id)
        return ctx is not None and ctx.holding

    def exit_runtime(self, bot_id: BotId) -> BotRuntime:
        """The bot's run to hand the order path for a close: its running one, or, for a bot that
        is not running, one that trades nothing by itself, on the same context (its position)."""
        record = self._require(bot_id)
        running = self._evaluator.get(bot_id)
        if running is not None:
            return running
        return BotRuntime(
            bot_id=record.id,
            name=record.name,
            strategy_name=record.strategy,
            strategy=ExitOnly(),
            ctx=self._context(record),
            state=record.state,
        )

    def break_even_price(self, bot_id: BotId) -> Decimal | None:
        """The price at which selling the bot's whole position gets back what it cost, buy and sell
        fees included (taker both ways); None while it holds nothing it could sell."""
        if not self.holding(bot_id):
            return None
        return self.fees.current.break_even_price(self._contexts[bot_id].position.average_entry)

    def position(self, bot_id: BotId) -> Position:
        """The bot's position, running or not: a fill booked for a stopped bot lands on it."""
        ctx = self._contexts.get(bot_id)
        # A bot deleted while its order was out: the late fill has no position to move.
        return ctx.position if ctx is not None else Position()

    # --- internals -------------------------------------------------------------------------

    def _remember(self, record: BotRecord | None) -> BotRecord:
        assert record is not None, "a bot this manager knows vanished from the store"
        self._records[record.id] = record
        return record

    def _require(self, bot_id: BotId) -> BotRecord:
        record = self._records.get(bot_id)
        if record is None:
            raise LookupError(f"bot {bot_id} does not exist")
        return record

    def _context(self, record: BotRecord) -> BotContext:
        ctx = self._contexts.get(record.id)
        if ctx is None:
            rule = self._rules.get(record.product_id)
            ctx = self._contexts[record.id] = BotContext(
                bot_id=record.id,
                product_id=record.product_id,
                budget=record.budget,
                balances=self._balances,
                hub=self._evaluator.hub,
                clock=self._clock,
                min_base=rule.base_min_size if rule is not None else Decimal(0),
            )
        return ctx

    async def _set_state(self, record: BotRecord, state: BotState, reason: str) -> BotRecord:
        updated = self._remember(await self._store.update_bot(record.id, state=state, error_reason=reason))
        self._bus.publish(BotStateChanged(bot_id=record.id, state=state, reason=reason))
        return updated

    def _retire(self, bot_id: BotId) -> None:
        """Take the bot's run out of the evaluator; its context (position and all) stays."""
        runtime = self._evaluator.remove(bot_id)
        if runtime is not None:
            close_strategy(runtime.strategy)

    async def _activate(self, record: BotRecord) -> BotRecord:
        """Run ``record``'s bot in place of its current run, if any; returns its record as it now
        stands: in error, and not running at all, when the new run cannot start."""
        try:
            strategy = build(record.strategy, record.params)
            params = validate_params(record.strategy, record.params)
        except Exception as exc:
            # A stored bot whose strategy can no longer be built is an error state, not a crash.
            log.error("❌ Bot %s cannot start: %s", record.id, exc)
            return await self._fail(record, f"cannot build strategy: {exc}")
        ctx = self._context(record)
        ctx.budget, ctx.params = record.budget, params
        if not self._runs_bots:
            close_strategy(strategy)  # it builds; a worker runs it
            return record
        try:
            await self._warm_up(record, strategy, ctx)
        except Exception as exc:
            # The user's warm_up raised: the bot cannot trust its indicators, so it does not run.
            close_strategy(strategy)
            log.error("❌ Bot %s cannot start: its warm-up raised %s", record.id, exc)
            return await self._fail(record, f"warm-up failed: {type(exc).__name__}: {exc}")
        previous = self._evaluator.get(record.id)
        self._evaluator.add(
            BotRuntime(
                bot_id=record.id,
                name=record.name,
                strategy_name=record.strategy,
                strategy=strategy,
                ctx=ctx,
                state=BotState.RUNNING,
                streaming=record.streaming,
            )
        )
        if previous is not None:
            close_strategy(previous.strategy)
        return record

    async def _fail(self, record: BotRecord, reason: str) -> BotRecord:
        self._retire(record.id)  # a bot in error does not trade, not even on its previous run
        return await self._set_state(record, BotState.ERROR, reason)

    async def _warm_up(self, record: BotRecord, strategy: Strategy, ctx: BotContext) -> None:
        """Seed the bot's indicators from the exchange's candles so it can trade on its first tick."""
        request = history_needed(strategy)
        if request is None:
            return
        try:
            candles = await self._history.closed_candles(record.product_id, request)
        except Exception as exc:
            # No history is a slow start, not a reason to stay stopped: the candles built from
            # ticks get the indicators ready in time.
            log.warning(
                "⚠️ Bot %s starts without warm-up: the exchange's candles are unavailable (%s)",
                record.id,
                exc or type(exc).__name__,
            )
            return
        warm_up_bot(strategy, ctx, candles)
        log.info(
            "🤖 Bot %s warmed up on %d %s candles of %s",
            record.id,
            len(candles),
            request.timeframe,
            record.product_id,
        )
