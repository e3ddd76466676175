"""Typed bus events become the same event frames the dashboard has always received."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from enum import Enum

from streambot.api.live.frames import event_bot_id, event_data, event_frame
from streambot.domain import BotId, FeedState, OrderStatus, ProductId, Side
from streambot.events import (
    AlertRaised,
    FeedGapDetected,
    FeedStateChanged,
    KillSwitchChanged,
    OrderUpdated,
    SignalRaised,
    TradeBooked,
)
from tests.factories import order_record, trade_record


def as_before(record: object) -> dict[str, object]:
    """How the publishers flattened an order or a trade before events were typed."""

    def plain(value: object) -> object:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, OrderStatus | Side):
            return value.value
        return value

    assert dataclasses.is_dataclass(record)
    return {f.name: plain(getattr(record, f.name)) for f in dataclasses.fields(record)}


def test_an_order_frame_carries_the_flattened_order_and_the_tick_price_of_an_intent() -> None:
    intent = order_record(status="intent")
    assert event_data(OrderUpdated(order=intent, tick_price=100.5)) == {
        "order": as_before(intent),
        "tick_price": 100.5,
    }
    filled = order_record(status="filled", filled_size=Decimal("0.5"))
    assert event_data(OrderUpdated(order=filled)) == {"order": as_before(filled)}
    assert event_bot_id(event_data(OrderUpdated(order=filled))) == 1


def test_a_trade_frame_carries_the_flattened_trade() -> None:
    trade = trade_record(bot_id=4)
    data = event_data(TradeBooked(trade=trade))
    assert data == {"trade": as_before(trade)}
    assert event_bot_id(data) == 4


def test_frames_are_byte_for_byte_as_before() -> None:
    signal = SignalRaised(
        bot_id=BotId(3), product_id=ProductId("BTC-USD"), side=Side.SELL, reason="cross", price=101.25
    )
    assert event_frame(9, signal.topic, 2.5, event_data(signal)) == (
        '{"type":"event","id":9,"topic":"bots.signal","ts":2.5,"data":'
        '{"bot_id":3,"product_id":"BTC-USD","side":"SELL","reason":"cross","price":101.25}}'
    )
    state = FeedStateChanged(state=FeedState.STALE, reason="no frame for 3s", since=1.5)
    assert event_frame(1, state.topic, 2.0, event_data(state)) == (
        '{"type":"event","id":1,"topic":"feed.state","ts":2.0,"data":'
        '{"state":"stale","reason":"no frame for 3s","since":1.5}}'
    )
    gap = FeedGapDetected(kind="heartbeat", expected=4, got=7, channel="heartbeats")
    assert json.loads(event_frame(2, gap.topic, 2.0, event_data(gap)))["data"] == {
        "kind": "heartbeat",
        "expected": 4,
        "got": 7,
        "channel": "heartbeats",
    }
    switch = KillSwitchChanged(scope="account", bot_id=None, on=True, reason="")
    assert event_data(switch) == {"scope": "account", "bot_id": None, "on": True, "reason": ""}
    alert = AlertRaised(code="feed_down", severity="critical", message="m", since=1.0)
    assert event_data(alert) == {"code": "feed_down", "severity": "critical", "message": "m", "since": 1.0}


def test_enums_in_frames_are_their_values() -> None:
    data = event_data(FeedStateChanged(state=FeedState.LIVE, reason="", since=0.0))
    assert type(data["state"]) is str
    assert not isinstance(data["state"], Enum)
