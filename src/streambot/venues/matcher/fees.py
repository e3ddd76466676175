"""Money as the matcher computes it: amounts to Coinbase's 16 decimal places, and fees.

Fees are a rate of the value traded: the taker rate for an order that takes liquidity (a market
order, a limit order that crosses), the maker rate for a resting order that fills later.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Context, Decimal
from typing import Final

AMOUNT_QUANTUM: Final = Decimal("0.0000000000000001")  # Coinbase's 16 decimal places
PRECISION: Final = 50
MAX_PRICE: Final = Decimal("1e15")
# The arithmetic of amounts: the default context at PRECISION digits, passed to each operation
# rather than entered as a local context (which costs more than the operation it wraps).
AMOUNTS: Final = Context(prec=PRECISION)
_ONE: Final = Decimal(1)


def quantize_amount(value: Decimal) -> Decimal:
    return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_DOWN, context=AMOUNTS)


def fee_on(value: Decimal, rate: Decimal) -> Decimal:
    """The fee on ``value`` traded at ``rate``, rounded down to an amount."""
    return AMOUNTS.multiply(value, rate).quantize(AMOUNT_QUANTUM, rounding=ROUND_DOWN, context=AMOUNTS)


def value_of_quote_spend(spend: Decimal, rate: Decimal) -> Decimal:
    """What a buy of ``spend`` quote, fee included (``size_inclusive_of_fees``), trades for."""
    spent = AMOUNTS.divide(spend, AMOUNTS.add(_ONE, rate))
    return spent.quantize(AMOUNT_QUANTUM, rounding=ROUND_DOWN, context=AMOUNTS)


def buy_hold(base: Decimal, price: Decimal, taker_rate: Decimal) -> Decimal:
    """The quote a buy of ``base`` at ``price`` holds: at the taker rate, as it may fill as taker."""
    value = AMOUNTS.multiply(base, price)
    return value + fee_on(value, taker_rate)
