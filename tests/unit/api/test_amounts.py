from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from streambot.api.schemas import Amount, Computed


class Row(BaseModel):
    hold: Amount
    size: Amount | None = None


def test_amounts_are_exact_and_in_plain_notation_in_json() -> None:
    row = Row(hold=Decimal("0.0000000000000000"), size=Decimal("0.0000001"))
    assert row.model_dump_json() == '{"hold":"0.0000000000000000","size":"0.0000001"}'
    # In Python they stay Decimals: nothing is rounded on the way.
    assert row.model_dump()["size"] == Decimal("0.0000001")


class Position(BaseModel):
    average_entry: Computed
    unrealized_pnl: Computed


def test_computed_amounts_drop_division_noise_but_keep_real_digits() -> None:
    # A buy of 0.69072474 for 125 (fee included), and the P&L of a sold share of it.
    row = Position(
        average_entry=Decimal("125") / Decimal("0.69072474"),
        unrealized_pnl=Decimal("-0.0000000000000001"),
    )
    assert row.model_dump_json() == '{"average_entry":"180.969339537483","unrealized_pnl":"0"}'
    assert Position(average_entry=Decimal("180.96934"), unrealized_pnl=Decimal("1E+3")).model_dump_json() == (
        '{"average_entry":"180.96934","unrealized_pnl":"1000"}'
    )
