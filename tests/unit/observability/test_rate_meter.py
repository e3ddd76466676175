from __future__ import annotations

import pytest

from streambot.clock import ManualClock
from streambot.observability.rates import RateMeter


def test_the_first_read_is_the_average_since_start_not_zero() -> None:
    clock = ManualClock()
    clock.advance_by(10.0)
    meter = RateMeter(clock, started_at=0.0)
    assert meter.update(100) == pytest.approx(10.0)


def test_later_reads_measure_the_last_window_and_hold_between_windows() -> None:
    clock = ManualClock()
    clock.advance_by(10.0)
    meter = RateMeter(clock, started_at=0.0, min_window=3600.0)
    first = meter.update(100)
    assert first == pytest.approx(10.0)
    # Within the window the figure holds rather than jumping on a few events.
    clock.advance_by(60.0)
    assert meter.update(5000) == first
    # Once the window has passed, the rate is that of the window.
    clock.advance_by(3540.0)
    assert meter.update(5000 + 3600 * 2) == pytest.approx((5000 + 7200 - 100) / 3600.0)
