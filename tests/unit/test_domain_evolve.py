"""``domain.evolve``: dataclasses.replace for the order path's frozen records, faster."""

from __future__ import annotations

import inspect
from dataclasses import FrozenInstanceError, dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from streambot.domain import BotId, ClientOrderId, OrderRecord, OrderStatus, Side, evolve, slot_init

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


def test_evolve_with_other_changes_or_the_same_in_another_order_gives_what_replace_gives() -> None:
    stamp = datetime(2026, 1, 2, tzinfo=UTC)
    cases: list[dict[str, Any]] = [
        {"status": OrderStatus.SUBMITTED, "submitted_at": stamp},
        {"submitted_at": stamp, "status": OrderStatus.SUBMITTED},
        {"error_code": "X", "error": "why", "completed_at": stamp},
        {},
    ]
    for changes in cases:
        assert evolve(RECORD, **changes) == replace(RECORD, **changes)


def test_slot_init_takes_the_arguments_and_defaults_dataclass_would_and_stays_frozen() -> None:
    @slot_init
    @dataclass(frozen=True, slots=True)
    class Made:
        name: str
        size: Decimal
        note: str = ""
        price: Decimal | None = None

    @dataclass(frozen=True, slots=True)
    class Plain:
        name: str
        size: Decimal
        note: str = ""
        price: Decimal | None = None

    made = Made("a", Decimal(1), price=Decimal(2))
    assert (made.name, made.size, made.note, made.price) == ("a", Decimal(1), "", Decimal(2))
    assert made == Made(name="a", size=Decimal(1), note="", price=Decimal(2))
    assert hash(made) == hash(Made("a", Decimal(1), "", Decimal(2)))
    assert inspect.signature(Made).parameters.keys() == inspect.signature(Plain).parameters.keys()
    with pytest.raises(FrozenInstanceError):
        made.note = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Made("a")  # type: ignore[call-arg]


def test_slot_init_refuses_a_field_it_cannot_write_as_dataclass_would() -> None:
    with pytest.raises(TypeError, match="not a plain field"):

        @slot_init
        @dataclass(frozen=True, slots=True)
        class Listed:
            items: list[int] = field(default_factory=list)
