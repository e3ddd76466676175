"""Money as the matcher computes it: amounts to Coinbase's 16 decimal places, and fees.

Fees are a rate of the value traded: the taker rate for an order that takes liquidity (a market
order, a limit order that crosses), the maker rate for a resting order that fills later.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Final

AMOUNT_QUANTUM: Final = Decimal("0.0000000000000001")  # Coinbase's 16 decimal places
PRECISION: Final = 50
MAX_PRICE: Final = Decimal("1e15")


def quantize_amount(value: Decimal) -> Decimal:
    with localcontext() as context:
        context.prec = PRECISION
        return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_DOWN)


def fee_on(value: Decimal, rate: Decimal) -> Decimal:
    """The fee on ``value`` traded at ``rate``, rounded down to an amount."""
    with localcontext() as context:
        context.prec = PRECISION
        return quantize_amount(value * rate)


def value_of_quote_spend(spend: Decimal, rate: Decimal) -> Decimal:
    """What a buy of ``spend`` quote, fee included (``size_inclusive_of_fees``), trades for."""
    with localcontext() as context:
        context.prec = PRECISION
        return quantize_amount(spend / (1 + rate))


def buy_hold(base: Decimal, price: Decimal, taker_rate: Decimal) -> Decimal:
    """The quote a buy of ``base`` at ``price`` holds: at the taker rate, as it may fill as taker."""
    with localcontext() as context:
        context.prec = PRECISION
        value = base * price
    return value + fee_on(value, taker_rate)
