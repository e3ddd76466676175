"""A threshold bot's levels and reasons: one arithmetic and one text for the strategy
(``threshold``) and for its group's price indexes (``threshold_index``), so both decide and
explain alike."""

from __future__ import annotations


def buy_factor(buy_dip_pct: float | None) -> float:
    """What the running high is multiplied by to get the dip's buy level; 0.0: no dip rule."""
    return 1.0 - buy_dip_pct / 100.0 if buy_dip_pct is not None else 0.0


def sell_factor(sell_rise_pct: float | None) -> float:
    """What the entry is multiplied by to get the rise's sell level; 0.0: no rise rule."""
    return 1.0 + sell_rise_pct / 100.0 if sell_rise_pct is not None else 0.0


def sell_above_reason(price: float, sell_above: float) -> str:
    return f"price {price:g} ≥ sell_above {sell_above:g}"


def rise_reason(price: float, entry: float) -> str:
    return f"price {price:g} is {(price / entry - 1) * 100:.2f}% above entry {entry:g}"


def buy_below_reason(price: float, buy_below: float) -> str:
    return f"price {price:g} ≤ buy_below {buy_below:g}"


def dip_reason(price: float, high: float) -> str:
    return f"price {price:g} dipped {(1 - price / high) * 100:.2f}% below its high {high:g}"
