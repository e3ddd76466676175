"""Every bus event survives msgspec encoding unchanged, so a Redis Streams bus can carry it."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from streambot.domain import BotId, BotState, FeedState, ProductId, Side
from streambot.events import (
    EVENT_TYPES,
    AlertCleared,
    AlertRaised,
    AnyEvent,
    BacktestUpdated,
    BotCreated,
    BotDeleted,
    BotStateChanged,
    BotUpdated,
    CloseAnswered,
    CloseRequested,
    Event,
    ExchangeActivityFlagged,
    FeedGapDetected,
    FeedStateChanged,
    KillSwitchChanged,
    OptimizationProgressed,
    OrderUpdated,
    PositionMismatchAcknowledged,
    PositionMismatchFound,
    RiskHalted,
    RiskResumed,
    SignalRaised,
    TradeBooked,
    UserUpdatesLost,
)
from tests.factories import order_record, trade_record

EXAMPLES: list[Event] = [
    FeedStateChanged(state=FeedState.STALE, reason="no frame for 3s", since=1.5, ts=2.0),
    FeedGapDetected(kind="sequence", expected=5, got=9, channel="ticker", ts=2.0),
    SignalRaised(
        bot_id=BotId(3), product_id=ProductId("BTC-USD"), side=Side.SELL, reason="cross", price=101.25
    ),
    BotCreated(bot_id=BotId(1)),
    BotUpdated(bot_id=BotId(1)),
    BotDeleted(bot_id=BotId(1)),
    BotStateChanged(bot_id=BotId(2), state=BotState.HALTED, reason="max loss"),
    OrderUpdated(order=order_record(status="intent"), tick_price=100.5),
    OrderUpdated(order=order_record(status="rejected", error_code="MAX_ORDER_NOTIONAL")),
    TradeBooked(trade=trade_record()),
    RiskHalted(scope="account", bot_id=None, code="daily_loss", reason="lost 5%"),
    RiskResumed(scope="bot:4", bot_id=BotId(4), by="api"),
    KillSwitchChanged(scope="account", bot_id=None, on=True, reason="panic"),
    PositionMismatchFound(
        asset="BTC",
        product_ids=[ProductId("BTC-USD")],
        expected=Decimal("0.5"),
        actual=Decimal("0.45"),
        difference=Decimal("-0.05"),
    ),
    PositionMismatchAcknowledged(product_id=ProductId("BTC-USD"), by="ops"),
    ExchangeActivityFlagged(
        kind="order", product_id=ProductId("BTC-USD"), exchange_order_id="x-1", client_order_id="", detail="d"
    ),
    AlertRaised(code="feed_down", severity="critical", message="m", since=1.0),
    AlertCleared(code="feed_down", severity="critical", message="m", since=1.0),
    BacktestUpdated(backtest_id=3, state="running", ticks=65_536, at=1_767_225_600.5, ticks_per_s=210_000),
    BacktestUpdated(backtest_id=4, state="failed", error="the data holds no ticks"),
    OptimizationProgressed(
        optimization_id="opt-1", status="running", trials=3, trials_target=20, best_value=1.5
    ),
    CloseRequested(request_id="r-1", bot_id=BotId(4)),
    CloseAnswered(request_id="r-1", bot_id=BotId(4), worker_id="worker-a", order=order_record()),
    CloseAnswered(
        request_id="r-2", bot_id=BotId(4), worker_id="worker-a", refused="conflict", message="no position"
    ),
    UserUpdatesLost(reason="sequence gap 4 → 9"),
]


def test_every_event_type_has_an_example() -> None:
    assert {type(e) for e in EXAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_events_round_trip_through_msgspec(event: Event) -> None:
    data = msgspec.json.encode(event)
    assert msgspec.json.decode(data, type=type(event)) == event
    again = msgspec.json.decode(data, type=AnyEvent)  # tagged: the type travels with it
    assert type(again) is type(event)
    assert again == event
    assert again.topic == event.topic


def test_topics_are_those_the_dashboard_knows() -> None:
    assert [e.topic for e in EXAMPLES] == [
        "feed.state",
        "feed.gap",
        "bots.signal",
        "bots.created",
        "bots.updated",
        "bots.deleted",
        "bots.state",
        "orders.intent",
        "orders.rejected",
        "trades.executed",
        "risk.halted",
        "risk.resumed",
        "risk.kill_switch",
        "risk.position_mismatch",
        "risk.position_mismatch_acknowledged",
        "risk.exchange_activity",
        "alerts.raised",
        "alerts.cleared",
        "backtests.running",
        "backtests.failed",
        "optimizations.progress",
        "cluster.close_requested",
        "cluster.close_answered",
        "cluster.close_answered",
        "cluster.user_gap",
    ]


def test_events_are_frozen() -> None:
    event = BotCreated(bot_id=BotId(1))
    with pytest.raises(AttributeError):
        event.bot_id = BotId(2)  # type: ignore[misc]
