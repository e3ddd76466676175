"""Each risk rule on its own: what it refuses, with which code, and a sentence a person can read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streambot.domain import Position, Side
from streambot.risk import (
    bot_budget,
    daily_loss,
    drawdown,
    exchange_rules,
    halted,
    kill_switch,
    loss_cooldown,
    max_order_notional,
    max_position,
    stale_price,
    trade_rate,
)
from streambot.risk.base import Intent
from streambot.risk.engine import RULES
from streambot.risk.state import ScopeState
from tests.unit.risk.support import BOT, BTC, NOW, buy, context, sell


def held(base: str, cost: str) -> Position:
    return Position(base=Decimal(base), cost=Decimal(cost))


def test_everything_within_limits_passes_every_rule() -> None:
    for rule in RULES:
        assert rule.check(buy(), context()) is None, rule.__name__


def test_kill_switch_stops_entries_and_exits_globally_and_per_bot() -> None:
    account = ScopeState(kill_switch=True, kill_reason="market chaos")
    rejection = kill_switch.check(sell(), context(account=account, position=held("1", "1")))
    assert rejection is not None
    assert rejection.code == "KILL_SWITCH"
    assert "market chaos" in rejection.message
    bot = ScopeState(bot_id=BOT, kill_switch=True)
    assert kill_switch.check(buy(), context(bot=bot)) is not None


def test_halted_refuses_entries_but_lets_exits_out_unless_configured() -> None:
    account = ScopeState(halted=True, halt_code="DAILY_LOSS_LIMIT", halt_reason="lost 10% today")
    rejection = halted.check(buy(), context(account=account))
    assert rejection is not None
    assert rejection.code == "HALTED"
    assert "lost 10% today" in rejection.message
    assert "resumed through the API" in rejection.message
    assert halted.check(sell(), context(account=account)) is None
    strict = context(account=account, limits={"halt_allows_exits": False})
    assert halted.check(sell(), strict) is not None
    assert halted.check(buy(), context(bot=ScopeState(bot_id=BOT, halted=True))) is not None


def test_stale_price_and_feed_not_live_block_entries_only() -> None:
    old = context(price_time=NOW - 31)
    rejection = stale_price.check(buy(), old)
    assert rejection is not None
    assert rejection.code == "STALE_PRICE"
    assert "31s old" in rejection.message
    assert stale_price.check(sell(), old) is None
    reconnecting = stale_price.check(buy(), context(feed_state="reconnecting"))
    assert reconnecting is not None
    assert reconnecting.code == "FEED_NOT_LIVE"


def test_max_order_notional_counts_base_orders_at_their_limit_price() -> None:
    limits = {"max_order_notional": Decimal(500)}
    assert max_order_notional.check(buy("500"), context(limits=limits)) is None
    rejection = max_order_notional.check(buy("500.01"), context(limits=limits))
    assert rejection is not None
    assert rejection.code == "MAX_ORDER_NOTIONAL"
    assert "500.01" in rejection.message
    limit_buy = Intent(BOT, "BTC-USD", Side.BUY, Decimal(1), base_size=Decimal(2), limit_price=Decimal(300))
    assert max_order_notional.check(limit_buy, context(limits=limits)) is not None


def test_budget_counts_what_is_held_and_what_is_being_bought() -> None:
    ctx = context(position=held("0.01", "600"), open_buy_notional=Decimal(300))
    assert bot_budget.check(buy("100"), ctx) is None
    rejection = bot_budget.check(buy("100.01"), ctx)
    assert rejection is not None
    assert rejection.code == "BUDGET_EXCEEDED"
    assert "100.00 left" in rejection.message
    assert bot_budget.check(sell(), ctx) is None


def test_max_position_per_bot_and_product() -> None:
    ctx = context(
        position=held("0.01", "900"), budget=Decimal(10_000), limits={"max_position_notional": Decimal(1000)}
    )
    assert max_position.check(buy("100"), ctx) is None
    rejection = max_position.check(buy("101"), ctx)
    assert rejection is not None
    assert rejection.code == "MAX_POSITION"


def test_daily_loss_and_drawdown_measure_account_equity() -> None:
    day = ScopeState(day_start_equity=Decimal(1000), equity_peak=Decimal(1000))
    assert daily_loss.check(buy(), context(account=day, equity=Decimal("900.01"))) is None
    rejection = daily_loss.check(buy(), context(account=day, equity=Decimal(900)))
    assert rejection is not None
    assert rejection.code == "DAILY_LOSS_LIMIT"
    assert "lost 100.00 today (10.00% of 1,000.00)" in rejection.message
    assert "daily loss limit of 10%" in rejection.message
    peak = ScopeState(day_start_equity=Decimal(700), equity_peak=Decimal(1000))
    assert drawdown.check(buy(), context(account=peak, equity=Decimal("750.01"))) is None
    down = drawdown.check(buy(), context(account=peak, equity=Decimal(750)))
    assert down is not None
    assert down.code == "MAX_DRAWDOWN"
    assert "250.00 (25.00%) below its peak of 1,000.00" in down.message
    assert "maximum drawdown of 25%" in down.message
    assert drawdown.check(sell(), context(account=peak, equity=Decimal(750))) is None


def test_cooldown_after_a_loss() -> None:
    bot = ScopeState(bot_id=BOT, last_loss_at=datetime.fromtimestamp(NOW - 10, UTC))
    rejection = loss_cooldown.check(buy(), context(bot=bot, limits={"loss_cooldown_s": 60.0}))
    assert rejection is not None
    assert rejection.code == "LOSS_COOLDOWN"
    assert loss_cooldown.check(buy(), context(bot=bot, limits={"loss_cooldown_s": 5.0})) is None


def test_trades_per_hour() -> None:
    ctx = context(trades_last_hour=3, limits={"max_trades_per_hour": 3})
    rejection = trade_rate.check(buy(), ctx)
    assert rejection is not None
    assert rejection.code == "MAX_TRADES_PER_HOUR"
    assert trade_rate.check(sell(), ctx) is None


@pytest.mark.parametrize(
    ("intent", "ctx_changes", "code"),
    [
        (buy("100.001"), {}, "INVALID_INCREMENT"),
        (buy("0.99"), {}, "BELOW_MINIMUM"),
        (buy("2000000"), {"available_quote": Decimal(10**9)}, "ABOVE_MAXIMUM"),
        (buy("100"), {"available_quote": Decimal("99.99")}, "INSUFFICIENT_BALANCE"),
        (sell("0.000000001"), {"position": Position(base=Decimal(1))}, "INVALID_INCREMENT"),
        (sell("0.000001"), {"position": Position(base=Decimal(1))}, "BELOW_MINIMUM"),
        (sell("0.002"), {"position": Position(base=Decimal("0.0019"))}, "ABOVE_POSITION"),
        (
            sell("0.002"),
            {"position": Position(base=Decimal("0.003")), "open_sell_base": Decimal("0.002")},
            "ABOVE_POSITION",
        ),
        (buy("100"), {"product": None}, "UNKNOWN_PRODUCT"),
    ],
)
def test_exchange_rules(intent: Intent, ctx_changes: dict[str, object], code: str) -> None:
    rejection = exchange_rules.check(intent, context(**ctx_changes))
    assert rejection is not None
    assert rejection.code == code
    assert rejection.message.endswith(".")


def test_trading_disabled() -> None:
    from dataclasses import replace

    rejection = exchange_rules.check(buy(), context(product=replace(BTC, trading_disabled=True)))
    assert rejection is not None
    assert rejection.code == "TRADING_DISABLED"
