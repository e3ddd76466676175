from __future__ import annotations

import pytest

from streambot.domain import Candle, Timeframe
from streambot.strategies.candles import TIMEFRAME_SECONDS, CandleBuilder
from tests.unit.strategies.support import T0


def test_a_candle_closes_on_the_first_tick_of_the_next_minute() -> None:
    builder = CandleBuilder(60)
    assert builder.on_tick(100.0, T0 + 1, 1000.0) is None
    assert builder.on_tick(103.0, T0 + 20, 1000.5) is None
    assert builder.on_tick(98.0, T0 + 40, 1001.0) is None
    assert builder.on_tick(101.0, T0 + 59.9, 1001.0) is None
    forming = builder.forming
    assert forming is not None
    assert (forming.open, forming.high, forming.low, forming.close) == (
        100,
        103,
        98,
        101,
    )

    closed = builder.on_tick(102.0, T0 + 60, 1001.25)
    assert closed == Candle(T0, 60, 100.0, 103.0, 98.0, 101.0, 1.0)
    assert closed.end == T0 + 60
    assert builder.last_closed is closed
    assert list(builder.closed) == [closed]
    assert builder.closed_count == 1
    forming = builder.forming
    assert forming is not None
    assert forming.start == T0 + 60
    assert forming.open == 102.0
    assert forming.volume == pytest.approx(0.25)  # the increase that arrived with this tick


@pytest.mark.parametrize("timeframe", ["1m", "5m", "15m", "1h"])
def test_candles_start_on_their_interval_boundaries(timeframe: str) -> None:
    seconds = TIMEFRAME_SECONDS[timeframe]
    builder = CandleBuilder(seconds)
    builder.on_tick(1.0, T0 + seconds + 7.5, 0.0)
    forming = builder.forming
    assert forming is not None
    assert forming.start == T0 + seconds
    assert builder.on_tick(2.0, T0 + 2 * seconds - 0.001, 0.0) is None
    closed = builder.on_tick(3.0, T0 + 2 * seconds, 0.0)
    assert closed is not None
    assert closed.start == T0 + seconds
    assert closed.close == 2.0
    assert Timeframe(timeframe).seconds == seconds


def test_a_quiet_interval_makes_no_candle_and_a_late_tick_joins_the_forming_one() -> None:
    builder = CandleBuilder(60)
    builder.on_tick(100.0, T0, 0.0)
    closed = builder.on_tick(105.0, T0 + 300, 0.0)  # nothing for four minutes
    assert closed is not None
    assert closed.start == T0
    assert builder.on_tick(90.0, T0 + 250, 0.0) is None  # stamped before the forming candle
    forming = builder.forming
    assert forming is not None
    assert forming.start == T0 + 300
    assert forming.low == 90.0
    assert builder.closed_count == 1


def test_volume_counts_only_increases_of_the_rolling_24h_figure() -> None:
    builder = CandleBuilder(60)
    for time, volume in [(0, 500.0), (10, 501.0), (20, 499.0), (30, 499.5), (70, 499.5)]:
        closed = builder.on_tick(1.0, T0 + time, volume)
    assert closed is not None
    assert closed.volume == pytest.approx(1.5)


def test_seeding_merges_exchange_history_around_what_was_built() -> None:
    builder = CandleBuilder(60)
    history = [Candle(T0 + i * 60, 60, 1, 1, 1, float(i)) for i in range(10)]
    added = builder.seed(history[:5])
    assert [c.close for c in added] == [0, 1, 2, 3, 4]
    assert builder.closed_count == 5

    # Two candles built from ticks, then the exchange's answer overlaps and extends them.
    builder.on_tick(50.0, T0 + 5 * 60, 0.0)
    builder.on_tick(51.0, T0 + 6 * 60, 0.0)
    builder.on_tick(52.0, T0 + 7 * 60, 0.0)  # closes 6, forms 7
    added = builder.seed([*history, Candle(T0 + 7 * 60, 60, 9, 9, 9, 9.0)])
    # 5 and 6 were built here and are kept; 7 is the forming candle, never taken from history.
    assert added == []
    assert [c.close for c in builder.closed] == [0, 1, 2, 3, 4, 50, 51]
    assert builder.seed([Candle(T0, 300, 1, 1, 1, 1)]) == []  # another length: ignored
    with pytest.raises(ValueError, match="positive"):
        CandleBuilder(0)
