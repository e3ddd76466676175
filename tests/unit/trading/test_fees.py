"""The fee tier: break-even arithmetic, Coinbase's transaction_summary, a daily refresh on the clock."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from streambot.clock import ManualClock
from streambot.domain import COINBASE_ENTRY_TIER, FeeSource, FeeTier
from streambot.exchange import ExchangeError
from streambot.trading.fees import DAY_S, FeeSchedule
from streambot.venues.coinbase.parse import parse_transaction_summary

SUMMARY = b"""{"total_volume": 1000, "total_fees": 25, "fee_tier": {"pricing_tier": "<$10k", "usd_from": "0",
"usd_to": "10,000", "taker_fee_rate": "0.0080", "maker_fee_rate": "0.0040", "aop_from": "", "aop_to": ""},
"margin_rate": {"value": "0"}, "goods_and_services_tax": null, "advanced_trade_only_volume": 1000,
"advanced_trade_only_fees": 25, "coinbase_pro_volume": 0, "coinbase_pro_fees": 0, "total_balance": "",
"has_promo_fee": false}"""


def test_the_entry_tier_breaks_even_at_a_rise_that_pays_both_taker_fees() -> None:
    tier = COINBASE_ENTRY_TIER
    assert (tier.maker_fee_rate, tier.taker_fee_rate) == (Decimal("0.006"), Decimal("0.012"))
    assert tier.round_trip_pct == Decimal("2.4")
    assert round(tier.break_even_rise_pct, 4) == Decimal("2.4291")
    # Bought 1 at 100 with a 1.2 % fee (cost 101.2): selling at break-even nets exactly the cost.
    price = tier.break_even_price(Decimal("101.2"))
    assert price * (1 - tier.taker_fee_rate) == Decimal("101.2")


def test_transaction_summary_reads_the_fee_tier() -> None:
    tier = parse_transaction_summary(SUMMARY)
    assert tier == FeeTier(Decimal("0.0040"), Decimal("0.0080"), FeeSource.EXCHANGE)
    with pytest.raises(ExchangeError):
        parse_transaction_summary(b'{"fee_tier": {"taker_fee_rate": "", "maker_fee_rate": ""}}')
    with pytest.raises(ExchangeError):
        parse_transaction_summary(b'{"fee_tier": {"taker_fee_rate": "12", "maker_fee_rate": "6"}}')


async def test_the_schedule_refreshes_daily_and_keeps_the_last_tier_when_a_read_fails() -> None:
    clock = ManualClock()
    answers: list[FeeTier | Exception] = [
        FeeTier(Decimal("0.004"), Decimal("0.008")),
        ExchangeError("down"),
        FeeTier(Decimal("0.0025"), Decimal("0.005")),
    ]
    reads = 0

    async def read() -> FeeTier:
        nonlocal reads
        answer = answers[reads]
        reads += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    fees = FeeSchedule(read, initial=COINBASE_ENTRY_TIER, source=FeeSource.EXCHANGE, clock=clock)
    assert fees.current is COINBASE_ENTRY_TIER  # until the first read
    await fees.refresh()
    assert fees.current == FeeTier(Decimal("0.004"), Decimal("0.008"), FeeSource.EXCHANGE)
    runner = asyncio.get_running_loop().create_task(fees.run())
    await asyncio.sleep(0)  # the task starts its first day's sleep now
    try:
        await clock.run_for(DAY_S - 1)
        assert reads == 1
        await clock.run_for(2)
        assert reads == 2  # the failed read keeps the last tier
        assert fees.current.taker_fee_rate == Decimal("0.008")
        await clock.run_for(DAY_S)
        assert reads == 3
        assert fees.current.taker_fee_rate == Decimal("0.005")
        assert fees.refreshed_at == clock.time() - 1  # read a day after the failed one
    finally:
        runner.cancel()
