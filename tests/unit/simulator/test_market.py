"""The simulator's price model: levels, rules, the walk, rolling figures, candles, external ticks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streambot.clock import ManualClock
from streambot.domain import DEFAULT_PRODUCTS, Product
from streambot.simulator.market import DRAW_BLOCK, HISTORY_MINUTES, MarketTick, SimMarket, spec_for

T0 = 1_800_000_000.0  # a fixed clock: the model never reads the real one when given ``now``

LEVELS = {
    "BTC-USD": Decimal(97000),
    "ETH-USD": Decimal(3600),
    "SOL-USD": Decimal(180),
    "XRP-USD": Decimal("2.3"),
    "DOGE-USD": Decimal("0.2"),
    "BONK-USD": Decimal("0.00002"),
    "AVNT-USD": Decimal("0.83"),
    "MOODENG-USD": Decimal("0.12"),
}


def market(*products: str, seed: int = 1, backfill: int = 120) -> SimMarket:
    return SimMarket(
        products or DEFAULT_PRODUCTS,
        clock=ManualClock(datetime.fromtimestamp(T0, UTC)),
        seed=seed,
        backfill_minutes=backfill,
    )


def on_increment(value: Decimal, increment: Decimal) -> bool:
    return value % increment == 0


def test_default_products_start_at_their_late_2026_levels() -> None:
    sim = market()
    assert sim.product_ids == DEFAULT_PRODUCTS
    for product_id, level in LEVELS.items():
        # The live walk starts where the seeded history is at that minute: near the product's level.
        price = sim.quote(product_id).price
        assert Decimal("0.8") < price / level < Decimal("1.25")
        assert sim.candles(product_id, 0, int(T0) - 60, 60, limit=1)[0].close == pytest.approx(
            price, rel=Decimal("0.01")
        )


def test_product_rules_are_coinbase_like_domain_products() -> None:
    sim = market("BTC-USD", "BONK-USD", "DOGE-USD")
    btc = sim.spec("BTC-USD").product()
    assert isinstance(btc, Product)
    assert (btc.base_currency, btc.quote_currency) == ("BTC", "USD")
    assert (btc.base_increment, btc.quote_increment) == (Decimal("0.00000001"), Decimal("0.01"))
    assert btc.quote_min_size == Decimal(1)
    assert btc.base_min_size <= btc.base_max_size
    bonk = sim.spec("BONK-USD").product()
    assert (bonk.base_increment, bonk.quote_increment) == (Decimal(1), Decimal("0.00000001"))
    assert [p.product_id for p in sim.products()] == ["BTC-USD", "BONK-USD", "DOGE-USD"]


def test_unknown_products_get_a_generic_level_and_rules() -> None:
    spec = spec_for("FOO-USD")
    assert spec.price == Decimal(1)
    assert spec.quote_increment == Decimal("0.0001")
    assert spec.base_increment > 0
    cross = spec_for("ETH-BTC")
    assert Decimal("0.02") < cross.price < Decimal("0.06")  # ETH/BTC from the two USD levels
    with pytest.raises(ValueError, match="BASE-QUOTE"):
        spec_for("BTCUSD")


def test_tick_rates_differ_per_product() -> None:
    assert spec_for("BTC-USD").tick_rate == 5.0
    assert spec_for("BONK-USD").tick_rate == 1.0
    sim = market("BTC-USD")
    intervals = [sim.next_interval("BTC-USD", scale=2.0) for _ in range(2000)]
    assert all(i > 0 for i in intervals)
    assert 0.07 < sum(intervals) / len(intervals) < 0.13  # ~1 / (5 ticks/s x 2)


def test_a_seeded_market_repeats_itself() -> None:
    def path(seed: int) -> list[MarketTick | None]:
        sim = market("BTC-USD", "BONK-USD", seed=seed)
        return [sim.step(p, T0 + i) for i in range(200) for p in ("BTC-USD", "BONK-USD")]

    assert path(5) == path(5)
    assert path(5) != path(6)


def test_the_walk_carries_on_smoothly_across_blocks_of_draws() -> None:
    # The walk is drawn DRAW_BLOCK ticks at a time: the next block starts where the last one ended,
    # and a second market with the same seed walks the very same path.
    one, two = market("ETH-USD", seed=8), market("ETH-USD", seed=8)
    spec = one.spec("ETH-USD")
    previous = one.quote("ETH-USD").price
    for i in range(DRAW_BLOCK * 2 + 10):
        tick = one.step("ETH-USD", T0 + i * 0.25)
        assert tick is not None
        assert tick == two.step("ETH-USD", T0 + i * 0.25)
        assert abs(tick.price - previous) / previous < Decimal("0.005")  # no jump between blocks
        assert on_increment(tick.price, spec.quote_increment)
        assert tick.best_bid < tick.best_ask
        assert tick.trade is not None
        assert tick.trade.size >= spec.base_increment
        assert on_increment(tick.trade.size, spec.base_increment)
        previous = tick.price
    assert Decimal("0.9") < previous / LEVELS["ETH-USD"] < Decimal("1.1")


def test_tick_figures_are_exact_decimals_written_on_the_increments() -> None:
    sim = market("BONK-USD", "BTC-USD")
    bonk = sim.step("BONK-USD", T0 + 1)
    btc = sim.step("BTC-USD", T0 + 1)
    assert bonk is not None
    assert btc is not None
    # As many places as the increment has: what the wire quantizes them to, exactly.
    assert bonk.best_bid.as_tuple().exponent == -8
    assert bonk.best_bid_quantity.as_tuple().exponent == 0
    assert btc.price.as_tuple().exponent == -2
    assert btc.best_ask_quantity.as_tuple().exponent == -8
    assert btc.volume_24h.as_tuple().exponent == -8
    assert btc.trade is not None
    assert btc.trade.price == btc.price
    assert btc.trade.trade_id == "1"
    assert sim.quote("BTC-USD") is btc  # the quote is the last tick, not a copy of it


@pytest.mark.parametrize("product_id", list(LEVELS))
def test_every_tick_has_a_sane_book_on_the_increments(product_id: str) -> None:
    sim = market(product_id)
    spec = sim.spec(product_id)
    opening = sim.quote(product_id).price
    for i in range(300):
        tick = sim.step(product_id, T0 + i * 0.2)
        assert tick is not None
        assert 0 < tick.best_bid < tick.best_ask
        assert tick.best_bid <= tick.price <= tick.best_ask
        assert on_increment(tick.best_bid, spec.quote_increment)
        assert on_increment(tick.best_ask, spec.quote_increment)
        assert tick.best_bid_quantity > 0
        assert tick.best_ask_quantity > 0
        assert on_increment(tick.best_bid_quantity, spec.base_increment)
        assert tick.low_24h <= tick.price <= tick.high_24h
        assert tick.low_52w <= tick.low_24h
        assert tick.high_24h <= tick.high_52w
        assert tick.trade is not None
        assert tick.trade.price == tick.price
        # A realistic spread: a few basis points at most.
        assert (tick.best_ask - tick.best_bid) / tick.price < Decimal("0.002")
    assert Decimal("0.9") < sim.quote(product_id).price / opening < Decimal("1.1")


def test_volume_grows_with_trades_and_the_percent_change_follows_the_open() -> None:
    sim = market("ETH-USD")
    first = sim.step("ETH-USD", T0 + 1)
    assert first is not None
    last = first
    for i in range(2, 50):
        tick = sim.step("ETH-USD", T0 + i)
        assert tick is not None
        last = tick
    assert last.volume_24h > first.volume_24h
    expected = ((last.price - last.open_24h) * 100 / last.open_24h).quantize(Decimal("0.00000001"))
    assert last.price_percent_change_24h == expected


def test_the_24h_window_rolls_over_minute_candles() -> None:
    sim = market("BTC-USD", backfill=0)
    sim.apply_external_tick("BTC-USD", "100", "99.99", "100.01", now=T0)
    sim.apply_external_tick("BTC-USD", "110", "109.99", "110.01", now=T0 + 3600)
    late = sim.apply_external_tick("BTC-USD", "120", "119.99", "120.01", now=T0 + 86_400 + 1800)
    assert late is not None
    # T0's minute left the window; the one an hour later is now its oldest.
    assert late.open_24h == Decimal(110)
    assert (late.low_24h, late.high_24h) == (Decimal(110), Decimal(120))


def test_candles_are_aggregated_newest_first_from_the_minutes() -> None:
    sim = market("BTC-USD", backfill=180)
    ones = sim.candles("BTC-USD", 0, 2**40, 60, limit=350)
    assert [c.start for c in ones] == sorted((c.start for c in ones), reverse=True)
    fives = sim.candles("BTC-USD", 0, 2**40, 300, limit=350)
    assert all(c.start % 300 == 0 for c in fives)
    newest_full = fives[1]
    members = [c for c in ones if newest_full.start <= c.start < newest_full.start + 300]
    assert len(members) == 5
    assert newest_full.high == max(c.high for c in members)
    assert newest_full.low == min(c.low for c in members)
    assert newest_full.open == members[-1].open
    assert newest_full.close == members[0].close
    assert newest_full.volume == sum(c.volume for c in members)
    assert len(sim.candles("BTC-USD", 0, 2**40, 300, limit=3)) == 3
    window = sim.candles("BTC-USD", newest_full.start, newest_full.start, 300)
    assert [c.start for c in window] == [newest_full.start]
    with pytest.raises(ValueError, match="multiple of 60"):
        sim.candles("BTC-USD", 0, 1, 90)


def test_the_candle_history_is_bounded() -> None:
    sim = market("BONK-USD", backfill=0)
    for minute in range(HISTORY_MINUTES + 50):
        sim.step("BONK-USD", T0 + minute * 60)
    # The live minutes kept are bounded; older ones are gone (before T0 is the seeded history).
    ones = sim.candles("BONK-USD", int(T0), 2**40, 60, limit=10_000)
    assert len(ones) == HISTORY_MINUTES


def test_external_ticks_take_over_and_stop_the_walk() -> None:
    sim = market("BTC-USD", "ETH-USD")
    heard: list[MarketTick] = []
    remove = sim.add_listener(heard.append)
    tick = sim.apply_external_tick("BTC-USD", 96123.45, 96123.44, 96123.46, now=T0 + 5)
    assert tick is not None
    # Floats from the feed become the decimals they were decoded from.
    assert (tick.price, tick.best_bid, tick.best_ask) == (
        Decimal("96123.45"),
        Decimal("96123.44"),
        Decimal("96123.46"),
    )
    assert sim.step("BTC-USD", T0 + 6) is None
    assert sim.quote("BTC-USD") == tick
    assert sim.step("ETH-USD", T0 + 6) is not None  # other products keep walking
    assert [t.product_id for t in heard] == ["BTC-USD", "ETH-USD"]
    remove()
    sim.apply_external_tick("BTC-USD", "96000", "95999", "96001", now=T0 + 7)
    assert len(heard) == 2
    assert sim.apply_external_tick("NOPE-USD", "1", "1", "1") is None


def test_external_figures_are_taken_on_the_product_increments() -> None:
    sim = market("BTC-USD")
    tick = sim.apply_external_tick(
        "BTC-USD",
        "100.004",
        "99.996",
        "100.016",
        now=T0,
        best_bid_quantity="0.123456789",
        best_ask_quantity=2,
    )
    assert tick is not None
    assert (tick.price, tick.best_bid, tick.best_ask) == (
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal("100.02"),
    )
    assert (tick.best_bid_quantity, tick.best_ask_quantity) == (Decimal("0.12345679"), Decimal(2))


def test_a_failing_listener_does_not_stop_the_others() -> None:
    sim = market("BTC-USD")
    heard: list[str] = []

    def broken(tick: MarketTick) -> None:
        raise RuntimeError("boom")

    sim.add_listener(broken)
    sim.add_listener(lambda tick: heard.append(tick.product_id))
    sim.step("BTC-USD", T0 + 1)
    assert heard == ["BTC-USD"]


def test_book_and_trades_surround_the_touch() -> None:
    sim = market("SOL-USD")
    for i in range(30):
        sim.step("SOL-USD", T0 + i)
    quote = sim.quote("SOL-USD")
    bids, asks = sim.book("SOL-USD", 5)
    assert bids[0] == (quote.best_bid, quote.best_bid_quantity)
    assert asks[0] == (quote.best_ask, quote.best_ask_quantity)
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    trades = sim.trades("SOL-USD", 10)
    assert len(trades) == 10
    assert trades[0].price == quote.price
    assert [int(t.trade_id) for t in trades] == sorted((int(t.trade_id) for t in trades), reverse=True)


def test_the_24h_figures_of_every_tick_are_those_of_its_minute_candles() -> None:
    sim = market("SOL-USD", backfill=1440)
    for i in range(400):
        now = T0 + i * 7.3
        tick = sim.step("SOL-USD", now)
        assert tick is not None
        minute = int(now // 60) * 60
        day = [c for c in sim.candles("SOL-USD", minute - 86_400 + 60, minute, 60, limit=2000)]
        assert tick.high_24h == max(c.high for c in day)
        assert tick.low_24h == min(c.low for c in day)
        assert tick.open_24h == day[-1].open
        assert tick.volume_24h == sum(c.volume for c in day)
        assert day[0].close == tick.price
