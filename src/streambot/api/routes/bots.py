"""Bots: create, read, update, delete, start, stop, and the live status of each."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Literal, NoReturn

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from streambot.api.budget import check_budget
from streambot.api.chart_indicators import ChartIndicator, chart_indicators
from streambot.api.closing import close_here, holding_text
from streambot.api.deps import BotIdPath, Bots, PageLimit, PageOffset, Platform, not_found, platform_of
from streambot.api.documented_errors import CONFLICT
from streambot.api.errors import unprocessable
from streambot.api.schemas import (
    BotCreate,
    BotOut,
    BotStatusOut,
    BotUpdate,
    BudgetLimitsOut,
    CloseOut,
    PositionSummaryOut,
    SignalOut,
)
from streambot.bots import BotError, BotManager
from streambot.config import Mode, Role
from streambot.domain import BotId, BotRecord, BotState, OrderRecord, to_decimal
from streambot.exchange import ExchangeError
from streambot.trading.pnl import bot_pnl

router = APIRouter(prefix="/bots", tags=["bots"])


async def bot_view(request: Request) -> Callable[[BotRecord], BotOut]:
    """How a bot is shown: a running bot that a risk limit halted (it or the account) says so."""
    risk = platform_of(request).trading.risk

    def view(record: BotRecord) -> BotOut:
        out = BotOut.of(record)
        if record.state is BotState.RUNNING:
            scope = risk.account if risk.account.halted else risk.bot(record.id)
            if scope.halted:
                who = "the account" if scope.bot_id is None else "this bot"
                return out.model_copy(
                    update={"state": BotState.HALTED.value, "error_reason": f"{who}: {scope.halt_reason}"}
                )
        return out

    return view


View = Annotated[Callable[[BotRecord], BotOut], Depends(bot_view)]


def _unprocessable(exc: BotError) -> NoReturn:
    raise unprocessable(("body", *exc.field.split(".")), str(exc)) from exc


@router.get("")
async def list_bots(bots: Bots, view: View, limit: PageLimit = 100, offset: PageOffset = 0) -> list[BotOut]:
    """Bots in id order; page with ``limit`` and ``offset``."""
    return [view(b) for b in (await bots.list())[offset : offset + limit]]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_bot(body: BotCreate, bots: Bots, p: Platform) -> BotOut:
    await check_budget(p, body.budget, body.product_id)
    try:
        record = await bots.create(
            name=body.name,
            strategy=body.strategy,
            product_id=body.product_id,
            params=body.params,
            budget=body.budget,
        )
    except BotError as exc:
        _unprocessable(exc)
    return BotOut.of(record)


@router.get("/budget-limits")
async def budget_limits(p: Platform) -> BudgetLimitsOut:
    """What a new budget is checked against: the configured maximum, and the cash per quote
    currency (a live budget may not exceed it; in paper mode it is shown as a guide)."""
    try:
        balances = await p.balances.balances()
        quotes = sorted({product.quote_currency for product in p.order_path.products.values()})
        cash: dict[str, Decimal] | None = {c: balances[c].available for c in quotes if c in balances}
    except ExchangeError:
        cash = None  # the form still checks the maximum; the server checks the balance (live)
    return BudgetLimitsOut(
        maximum=p.settings.max_bot_budget,
        cash_available=cash,
        checked_against_cash=p.settings.mode is Mode.LIVE,
    )


@router.get("/status/enhanced")
async def enhanced_status(
    bots: Bots,
    view: View,
    p: Platform,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
) -> list[BotStatusOut]:
    """Every bot with its state, position, P&L, last signal and evaluation figures (paged)."""
    out = []
    for record in (await bots.list())[offset : offset + limit]:
        runtime = bots.runtime(record.id)
        tick = p.prices.get(record.product_id)
        # At the last price, as /pnl, /positions, the equity curve and the risk limits value it:
        # the dashboard's bots table shows the same P&L as everything else.
        pnl = bot_pnl(
            record.id,
            record.name,
            record.product_id,
            record.budget,
            bots.position(record.id),
            to_decimal(tick.price) if tick is not None else None,
        )
        signal = runtime.last_signal if runtime else None
        out.append(
            BotStatusOut(
                **view(record).model_dump(),
                position=PositionSummaryOut(
                    base_size=pnl.base,
                    average_entry=pnl.average_entry,
                    cost=pnl.cost,
                    realized_pnl=pnl.realized,
                ),
                unrealized_pnl=pnl.unrealized,
                evaluations=runtime.evaluations if runtime else 0,
                signals=runtime.signals if runtime else 0,
                mean_eval_us=round(runtime.mean_eval_us, 3) if runtime else 0.0,
                tick_to_decision_p99_us=runtime.latency.percentile_us(99) if runtime else 0.0,
                last_signal=SignalOut(side=signal.side.value, reason=signal.reason, at=runtime.last_signal_at)
                if signal and runtime
                else None,
                last_price=tick.price if tick else None,
                break_even_price=bots.break_even_price(record.id),
            )
        )
    return out


@router.get("/{bot_id}")
async def get_bot(bot_id: BotIdPath, bots: Bots, view: View) -> BotOut:
    try:
        return view(await bots.get(BotId(bot_id)))
    except LookupError as exc:
        not_found(exc)


@router.get("/{bot_id}/indicators")
async def bot_indicators(bot_id: BotIdPath, bots: Bots) -> list[ChartIndicator]:
    """The indicators the bot's strategy trades on, with the bot's periods, for its chart."""
    try:
        record = await bots.get(BotId(bot_id))
    except LookupError as exc:
        not_found(exc)
    return chart_indicators(record.strategy, dict(record.params))


@router.patch("/{bot_id}")
async def update_bot(bot_id: BotIdPath, body: BotUpdate, bots: Bots, view: View, p: Platform) -> BotOut:
    # The manager looks the bot up first (LookupError) and then checks the changes (BotError).
    try:
        if body.budget is not None:
            await check_budget(p, body.budget, (await bots.get(BotId(bot_id))).product_id)
        record = await bots.update(BotId(bot_id), body.model_dump(exclude_unset=True))
    except LookupError as exc:
        not_found(exc)
    except BotError as exc:
        _unprocessable(exc)
    return view(record)


def _conflict(message: str) -> NoReturn:
    raise HTTPException(status.HTTP_409_CONFLICT, message)


async def _close(p: Platform, bots: BotManager, record: BotRecord, *, wait: bool) -> OrderRecord:
    """Sell the bot's whole position through the order path of the process that trades it; 409
    when there is nothing to sell or an order of the bot is under way, 422 when a risk rule
    refuses the sell."""
    if p.role is not Role.API:
        outcome = await close_here(bots, p.prices, p.order_path, record, wait=wait)
    elif (await p.bots.get(record.id)).state is BotState.RUNNING and not wait:
        # A worker runs it: that worker sells, through its order path and with its fencing token.
        outcome = await p.closes.ask(record.id)
    else:
        await _released_by_workers(p, record)
        outcome = await close_here(bots, p.prices, p.order_path, record, wait=wait)
    if outcome.refused == "unprocessable":
        raise unprocessable(("path", "bot_id"), outcome.message)
    if outcome.order is None:
        _conflict(outcome.message)
    return outcome.order


async def _released_by_workers(p: Platform, record: BotRecord) -> None:
    """A cluster's API process closes a stopped bot itself once no worker runs it, so two
    processes never trade one bot: a stopped bot is let go within a lease round, and its last
    order settles; 409 while a worker still holds it or an order of it is under way."""
    clock = p.clock
    deadline = clock.monotonic() + 2 * p.settings.bot_lease_renew_s + 1.0
    while True:
        holder = next(
            (lease.worker_id for lease in await p.store.bot_leases() if lease.bot_id == record.id), ""
        )
        unsettled = [o.client_order_id for o in await p.store.unresolved_orders() if o.bot_id == record.id]
        if not holder and not unsettled:
            # Its last fills are booked: the position read from them is the one to sell.
            await p.bots.rebook(record.id)
            return
        if clock.monotonic() >= deadline:
            _conflict(
                f"bot {record.id} is still held by cluster worker {holder}: close it again in a moment"
                if holder
                else f"bot {record.id}: its order {unsettled[0]} is not settled yet; close again once it is"
            )
        await clock.sleep(0.1)


@router.post("/{bot_id}/close", status_code=status.HTTP_202_ACCEPTED, responses=CONFLICT)
async def close_position(bot_id: BotIdPath, bots: Bots, p: Platform) -> CloseOut:
    """Market-sell the bot's whole position now (a force exit), through the order path and its
    risk rules for exits. 202 with the order's client_order_id once the order is stored; it is
    placed and settled in the background (follow it on /orders or the live push). A running bot
    keeps running: stop it first if it should not buy again. 409 when it holds nothing to close."""
    try:
        record = await bots.get(BotId(bot_id))
    except LookupError as exc:
        not_found(exc)
    order = await _close(p, bots, record, wait=False)
    return CloseOut(
        bot_id=record.id,
        client_order_id=order.client_order_id,
        status=order.status.value,
        base_size=order.base_size or 0,
        product_id=order.product_id,
    )


@router.delete("/{bot_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT)
async def delete_bot(
    bot_id: BotIdPath,
    bots: Bots,
    p: Platform,
    position: Annotated[
        Literal["close", "keep"] | None,
        Query(
            description="For a bot that holds a position: 'close' sells it first (the bot is deleted "
            "once the sell is settled), 'keep' keeps the coins in the account (listed by "
            "GET /api/v1/accounts/unassigned). Required when the bot holds a position."
        ),
    ] = None,
) -> Response:
    try:
        record = await bots.get(BotId(bot_id))
    except LookupError as exc:
        not_found(exc)
    if bots.holding(record.id):
        held = holding_text(bots, record.id, record.product_id)
        if position is None:
            _conflict(
                f"bot {record.id} holds {held}: delete with ?position=close to sell it first, or "
                "?position=keep to keep the coins in the account (they are then listed as unassigned "
                "holdings by GET /api/v1/accounts/unassigned)"
            )
        if position == "close":
            await bots.stop(record.id)  # no new buy while it closes
            order = await _close(p, bots, record, wait=True)
            if bots.holding(record.id):
                held = holding_text(bots, record.id, record.product_id)
                _conflict(
                    f"bot {record.id} was stopped but not deleted: its close {order.client_order_id} "
                    f"ended {order.status.value} and it still holds {held}"
                )
    await bots.delete(record.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{bot_id}/start")
async def start_bot(bot_id: BotIdPath, bots: Bots, view: View) -> BotOut:
    try:
        return view(await bots.start(BotId(bot_id)))
    except LookupError as exc:
        not_found(exc)


@router.post("/{bot_id}/stop")
async def stop_bot(bot_id: BotIdPath, bots: Bots) -> BotOut:
    try:
        return BotOut.of(await bots.stop(BotId(bot_id)))
    except LookupError as exc:
        not_found(exc)
