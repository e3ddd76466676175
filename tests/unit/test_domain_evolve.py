"""``domain.evolve``: dataclasses.replace for the order path's frozen records, faster."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from streambot.domain import BotId, ClientOrderId, OrderRecord, OrderStatus, Side, evolve

RECORD = OrderRecord(
    ClientOrderId("sb-1"),
    BotId(1),
    "BTC-USD",
    Side.BUY,
    OrderStatus.INTENT,
    "why",
    datetime(2026, 1, 1, tzinfo=UTC),
)


def test_evolve_gives_what_replace_gives_and_leaves_the_original() -> None:
    changes: dict[str, Any] = {"status": OrderStatus.FILLED, "filled_size": Decimal("0.5")}
    assert evolve(RECORD, **changes) == replace(RECORD, **changes)
    assert RECORD.status is OrderStatus.INTENT


def test_evolve_refuses_a_field_the_record_does_not_have() -> None:
    with pytest.raises(TypeError, match="no field 'colour'"):
        evolve(RECORD, colour="red")
