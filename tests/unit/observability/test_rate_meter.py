from __future__ import annotations

import time

import pytest

from streambot.observability.summary import RateMeter


def test_the_first_read_is_the_average_since_start_not_zero() -> None:
    meter = RateMeter(started_at=time.monotonic() - 10.0)
    assert meter.update(100) == pytest.approx(10.0, rel=0.05)


def test_later_reads_measure_the_last_window_and_hold_between_windows() -> None:
    meter = RateMeter(started_at=time.monotonic() - 10.0, min_window=3600.0)
    first = meter.update(100)
    assert first == pytest.approx(10.0, rel=0.05)
    # Within the window the figure holds rather than jumping on a few events.
    assert meter.update(5000) == first
