"""Precision properties of sizing over random increments, sizes and prices (exact Decimal)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from streambot.domain import BotId, Position, Product, Side, Signal, round_down
from streambot.risk import exchange_rules
from streambot.risk.base import Intent, RiskContext, RiskLimits, RiskRejection
from streambot.trading.sizing import size_intent
from tests.unit.risk.support import BTC

increments = st.integers(min_value=0, max_value=10).map(lambda k: Decimal(1).scaleb(-k))
amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(1_000_000), places=8)
prices = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal(200_000), places=5)
percents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2)


@settings(max_examples=300)
@given(value=amounts, increment=increments)
def test_round_down_lands_on_the_increment_and_never_rounds_up(value: Decimal, increment: Decimal) -> None:
    rounded = round_down(value, increment)
    assert rounded <= value
    assert value - rounded < increment
    assert rounded % increment == 0


def _product(quote_inc: Decimal, base_inc: Decimal) -> Product:
    return replace(
        BTC,
        quote_increment=quote_inc,
        base_increment=base_inc,
        quote_min_size=quote_inc,
        base_min_size=base_inc,
        quote_max_size=Decimal(10**12),
        base_max_size=Decimal(10**12),
    )


@settings(max_examples=300)
@example(
    quote_inc=Decimal(1),
    base_inc=Decimal(1),
    budget=Decimal(10),
    held_cost=Decimal(0),
    available=Decimal(10),
    price=Decimal(1),
    pct=Decimal(100),
    limit=Decimal("0.5"),
)
@given(
    quote_inc=increments,
    base_inc=increments,
    budget=amounts,
    held_cost=amounts,
    available=amounts,
    price=prices,
    pct=percents,
    limit=st.none() | prices,
)
def test_buys_are_on_increments_within_budget_and_balance(
    quote_inc: Decimal,
    base_inc: Decimal,
    budget: Decimal,
    held_cost: Decimal,
    available: Decimal,
    price: Decimal,
    pct: Decimal,
    limit: Decimal | None,
) -> None:
    product = _product(quote_inc, base_inc)
    position = Position(base=Decimal(1), cost=held_cost)
    sized = size_intent(
        bot_id=BotId(1),
        signal=Signal(Side.BUY, "p", budget_pct=pct, limit_price=limit),
        product=product,
        price=price,
        budget=budget,
        position=position,
        available_quote=available,
    )
    if isinstance(sized, RiskRejection):
        assert sized.code in {exchange_rules.BELOW_MINIMUM, exchange_rules.INCREMENT}
        return
    assert sized.notional <= budget - held_cost
    assert sized.notional <= available
    if sized.quote_size is not None:
        assert sized.quote_size % quote_inc == 0
    else:
        assert sized.limit_price is not None
        assert sized.base_size is not None
        assert sized.limit_price % quote_inc == 0
        assert sized.base_size % base_inc == 0
    ctx = RiskContext(
        limits=RiskLimits(),
        now=0,
        product=product,
        budget=budget,
        position=position,
        available_quote=available,
    )
    # Sizing already refused what is below a minimum: the exchange rules accept the rest.
    assert exchange_rules.check(sized, ctx) is None


@settings(max_examples=300)
@given(base_inc=increments, held=amounts, selling=amounts, pct=percents, by_pct=st.booleans(), price=prices)
def test_sells_are_on_the_increment_and_never_above_the_position(
    base_inc: Decimal, held: Decimal, selling: Decimal, pct: Decimal, by_pct: bool, price: Decimal
) -> None:
    product = _product(Decimal("0.01"), base_inc)
    signal = Signal(Side.SELL, "p", budget_pct=pct) if by_pct else Signal(Side.SELL, "p", base_size=selling)
    position = Position(base=held, cost=held * price)
    sized = size_intent(
        bot_id=BotId(1),
        signal=signal,
        product=product,
        price=price,
        budget=Decimal(0),
        position=position,
    )
    if isinstance(sized, RiskRejection):
        wanted = held * pct / Decimal(100) if by_pct else min(selling, held)
        assert round_down(wanted, base_inc) < base_inc  # refused only when nothing is left to sell
        return
    assert isinstance(sized, Intent)
    assert sized.base_size is not None
    assert 0 < sized.base_size <= held
    assert sized.base_size % base_inc == 0
    ctx = RiskContext(limits=RiskLimits(), now=0, product=product, budget=Decimal(0), position=position)
    assert exchange_rules.check(sized, ctx) is None


@example(price=Decimal("NaN"))
@example(price=Decimal("-1"))
@example(price=Decimal("Infinity"))
@example(price=Decimal(0))
@given(price=st.sampled_from([Decimal("NaN"), Decimal("-Infinity"), Decimal("-0.01"), Decimal(0)]))
def test_no_intent_on_a_price_that_is_not_a_positive_number(price: Decimal) -> None:
    for side in Side:
        sized = size_intent(
            bot_id=BotId(1),
            signal=Signal(side, "p", budget_pct=Decimal(50)),
            product=BTC,
            price=price,
            budget=Decimal(1000),
            position=Position(base=Decimal(1), cost=Decimal(100)),
        )
        assert isinstance(sized, RiskRejection)
        assert sized.code == exchange_rules.INVALID_PRICE
