"""Bots as users manage them: stored records kept in step with the evaluator's running bots."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol

from streambot.bus import Bus
from streambot.domain import Balance, BotId, BotRecord, BotState, Fill, Position, Product, Side
from streambot.evaluator import BotRuntime, StreamingEvaluator
from streambot.strategies.base import (
    BotContext,
    Strategy,
    StrategyError,
    build,
    close_strategy,
    history_needed,
    validate_params,
    warm_up_bot,
)
from streambot.strategies.warmup import CandleHistory

log = logging.getLogger(__name__)


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
    async def get_bot(self, bot_id: int) -> BotRecord | None: ...
    async def list_bots(self) -> list[BotRecord]: ...
    async def update_bot(self, bot_id: int, **changes: Any) -> BotRecord | None: ...
    async def delete_bot(self, bot_id: int) -> bool: ...
    async def fills_for_bot(self, bot_id: int) -> list[Fill]: ...


class BotError(ValueError):
    """A request about a bot that cannot be honoured; ``field`` names the offending input."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def position_from_fills(fills: Sequence[Fill]) -> tuple[Position, float]:
    """A bot's position and the price of its last buy, replayed from its fills in trade order."""
    position = Position()
    last_buy_price = 0.0
    for fill in sorted(fills, key=lambda f: f.trade_time):
        position.apply_fill(fill.side, fill.size, fill.price * fill.size, fill.commission)
        if fill.side is Side.BUY:
            last_buy_price = float(fill.price)
    return position, last_buy_price


class BotManager:
    def __init__(
        self,
        store: BotStore,
        evaluator: StreamingEvaluator,
        bus: Bus,
        products: Sequence[str],
        rules: Mapping[str, Product] | None = None,
        history: CandleHistory | None = None,
        balances: Mapping[str, Balance] | None = None,
    ) -> None:
        self._store = store
        self._history = history
        # Every bot's ctx.balances: a read-only view of the account (the balance cache's latest).
        self._balances: Mapping[str, Balance] = balances if balances is not None else MappingProxyType({})
        self._evaluator = evaluator
        self._bus = bus
        self.products = tuple(products)
        self._rules = rules or {}
        # One hub for the live tick stream, advanced by the evaluator: bots with the same
        # indicator share one handle.
        self.hub = evaluator.hub
        self._positions: dict[BotId, tuple[Position, float]] = {}
        # Every stored bot, kept in step with each write made here (this manager is the one
        # writer of bots). Listing and looking up bots, which the dashboard does every few
        # seconds, then costs no database round trip: an aiosqlite query hops to its thread
        # and back, and a busy loop can keep that thread waiting for the GIL for milliseconds.
        self._records: dict[BotId, BotRecord] | None = None

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
        return validated.model_dump(mode="json")

    # --- lifecycle -------------------------------------------------------------------------

    async def load(self) -> None:
        """At start-up: rebuild every bot's position from its fills and resume the running ones."""
        for record in tuple((await self._known()).values()):
            self._positions[record.id] = position_from_fills(await self._store.fills_for_bot(record.id))
            if record.state is BotState.RUNNING:
                await self._activate(record)

    async def create(
        self, *, name: str, strategy: str, product_id: str, params: Mapping[str, Any] | None, budget: Decimal
    ) -> BotRecord:
        if not name.strip():
            raise BotError("name must not be empty", field="name")
        if budget <= 0:
            raise BotError("budget must be greater than 0", field="budget")
        full_params = self._check(strategy, product_id, params)
        await self._known()  # loaded before the write, so the new bot is remembered
        record = self._remember(
            await self._store.create_bot(name.strip(), strategy, product_id, full_params, budget)
        )
        self._bus.publish("bots.created", bot_id=record.id)
        log.info("🤖 Bot %s created: %s on %s", record.id, strategy, product_id)
        return record

    async def update(self, bot_id: BotId, changes: Mapping[str, Any]) -> BotRecord:
        record = await self._require(bot_id)
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
            await self._activate(updated)  # a new strategy or budget takes effect at once
        self._bus.publish("bots.updated", bot_id=bot_id)
        return updated

    async def delete(self, bot_id: BotId) -> None:
        await self._require(bot_id)
        runtime = self._evaluator.remove(bot_id)
        if runtime is not None:
            close_strategy(runtime.strategy)
        await self._store.delete_bot(bot_id)
        (await self._known()).pop(bot_id, None)
        self._positions.pop(bot_id, None)
        self._bus.publish("bots.deleted", bot_id=bot_id)

    async def start(self, bot_id: BotId) -> BotRecord:
        record = await self._require(bot_id)
        if record.state is BotState.HALTED:
            raise BotError("the bot is halted by a risk limit; lift the halt first", field="state")
        record = await self._set_state(record, BotState.RUNNING, "")
        await self._activate(record)
        log.info("🤖 Bot %s (%s) started on %s", record.id, record.name, record.product_id)
        return record

    async def stop(self, bot_id: BotId) -> BotRecord:
        record = await self._require(bot_id)
        runtime = self._evaluator.remove(bot_id)
        if runtime is not None:
            self._positions[bot_id] = (runtime.ctx.position, runtime.ctx.last_fill_price)
            close_strategy(runtime.strategy)
        record = await self._set_state(record, BotState.STOPPED, "")
        log.info("🤖 Bot %s (%s) stopped", record.id, record.name)
        return record

    async def set_streaming(self, bot_id: BotId, streaming: bool) -> BotRecord:
        """On: the bot decides on every tick. Off: on the latest price every few seconds."""
        await self._require(bot_id)
        updated = self._remember(await self._store.update_bot(bot_id, streaming=streaming))
        self._evaluator.set_streaming(bot_id, streaming)
        self._bus.publish("bots.updated", bot_id=bot_id)
        log.info("🤖 Bot %s streaming %s", bot_id, "on" if streaming else "off (polling every few seconds)")
        return updated

    async def record_error(self, bot_id: BotId, reason: str) -> None:
        """A strategy raised: the evaluator already took the bot out; remember why."""
        record = (await self._known()).get(bot_id)
        if record is not None:
            await self._set_state(record, BotState.ERROR, reason)

    async def get(self, bot_id: BotId) -> BotRecord:
        return await self._require(bot_id)

    async def list(self) -> list[BotRecord]:
        """Every bot, oldest first."""
        return sorted((await self._known()).values(), key=lambda record: record.id)

    def runtime(self, bot_id: BotId) -> BotRuntime | None:
        return self._evaluator.get(bot_id)

    def position(self, bot_id: BotId) -> Position:
        runtime = self._evaluator.get(bot_id)
        if runtime is not None:
            return runtime.ctx.position
        # setdefault: a fill booked for a stopped bot lands on the position kept here.
        return self._positions.setdefault(bot_id, (Position(), 0.0))[0]

    # --- internals -------------------------------------------------------------------------

    async def _known(self) -> dict[BotId, BotRecord]:
        if self._records is None:
            self._records = {record.id: record for record in await self._store.list_bots()}
        return self._records

    def _remember(self, record: BotRecord | None) -> BotRecord:
        assert record is not None, "a bot this manager knows vanished from the store"
        if self._records is not None:
            self._records[record.id] = record
        return record

    async def _require(self, bot_id: BotId) -> BotRecord:
        record = (await self._known()).get(bot_id)
        if record is None:
            raise LookupError(f"bot {bot_id} does not exist")
        return record

    async def _set_state(self, record: BotRecord, state: BotState, reason: str) -> BotRecord:
        updated = self._remember(await self._store.update_bot(record.id, state=state, error_reason=reason))
        self._bus.publish("bots.state", bot_id=record.id, state=state.value, reason=reason)
        return updated

    async def _activate(self, record: BotRecord) -> None:
        previous = self._evaluator.get(record.id)
        if previous is not None:
            position, last_fill = previous.ctx.position, previous.ctx.last_fill_price
            in_flight = previous.ctx.order_in_flight
        else:
            position, last_fill = self._positions.get(record.id, (Position(), 0.0))
            in_flight = False
        try:
            strategy = build(record.strategy, record.params)
            params = validate_params(record.strategy, record.params)
        except Exception as exc:
            # A stored bot whose strategy can no longer be built is an error state, not a crash.
            await self._set_state(record, BotState.ERROR, f"cannot build strategy: {exc}")
            log.error("❌ Bot %s cannot start: %s", record.id, exc)
            return
        ctx = BotContext(
            bot_id=record.id,
            product_id=record.product_id,
            budget=record.budget,
            position=position,
            order_in_flight=in_flight,
            last_fill_price=last_fill,
            params=params,
            balances=self._balances,
            hub=self.hub,
            min_base=rule.base_min_size if (rule := self._rules.get(record.product_id)) else Decimal(0),
        )
        try:
            await self._warm_up(record, strategy, ctx)
        except Exception as exc:
            # The user's warm_up raised: the bot cannot trust its indicators, so it does not run.
            close_strategy(strategy)
            await self._set_state(record, BotState.ERROR, f"warm-up failed: {type(exc).__name__}: {exc}")
            log.error("❌ Bot %s cannot start: its warm-up raised %s", record.id, exc)
            return
        if previous is not None:
            close_strategy(previous.strategy)
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

    async def _warm_up(self, record: BotRecord, strategy: Strategy, ctx: BotContext) -> None:
        """Seed the bot's indicators from the exchange's candles so it can trade on its first tick."""
        request = history_needed(strategy)
        if request is None or self._history is None:
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
