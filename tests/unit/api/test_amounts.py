from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from streambot.api.schemas import Amount


class Row(BaseModel):
    hold: Amount
    size: Amount | None = None


def test_amounts_are_exact_and_in_plain_notation_in_json() -> None:
    row = Row(hold=Decimal("0.0000000000000000"), size=Decimal("0.0000001"))
    assert row.model_dump_json() == '{"hold":"0.0000000000000000","size":"0.0000001"}'
    # In Python they stay Decimals: nothing is rounded on the way.
    assert row.model_dump()["size"] == Decimal("0.0000001")
