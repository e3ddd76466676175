from __future__ import annotations

import asyncio
import contextlib

from streambot.alerts.manager import AlertManager
from streambot.alerts.rules import Readings, Rules
from streambot.bus import InProcessBus
from streambot.clock import ManualClock
from streambot.domain import BotId
from streambot.events import AlertRaised, Event, RiskHalted, RiskResumed


def reading(**changes: object) -> Readings:
    values: dict[str, object] = {
        "feed_state": "live",
        "evaluation_errors": 0,
        "cache_hits": 0,
        "cache_misses": 0,
        "breaker_state": "closed",
    }
    values.update(changes)
    return Readings(**values)  # type: ignore[arg-type]


def codes(rules: Rules, now: float, **changes: object) -> set[str]:
    return {c.code for c in rules.judge(reading(**changes), now)}


def test_feed_down_only_after_the_threshold_and_not_when_polling() -> None:
    rules = Rules(feed_down_after_s=30)
    assert codes(rules, 0, feed_state="reconnecting") == set()
    assert codes(rules, 29, feed_state="reconnecting") == set()
    assert codes(rules, 31, feed_state="stale") == set()  # a new state restarts the clock
    assert codes(rules, 62, feed_state="stale") == {"feed_down"}
    assert codes(rules, 100, feed_state="polling") == set()
    assert codes(rules, 200, feed_state="polling") == set()


def test_evaluation_errors_raise_then_clear_after_a_quiet_period() -> None:
    rules = Rules(error_quiet_s=60)
    assert codes(rules, 0, evaluation_errors=0) == set()
    assert codes(rules, 5, evaluation_errors=2) == {"evaluation_errors"}
    assert codes(rules, 30, evaluation_errors=2) == {"evaluation_errors"}
    assert codes(rules, 70, evaluation_errors=2) == set()


def test_cache_hit_rate_is_judged_on_recent_lookups() -> None:
    rules = Rules(min_cache_lookups=20, cache_window=3)
    assert codes(rules, 0, cache_hits=1000, cache_misses=0) == set()
    assert codes(rules, 5, cache_hits=1010, cache_misses=15) == {"cache_hit_rate"}
    assert codes(rules, 10, cache_hits=1200, cache_misses=15) == set()


def test_a_low_hit_rate_from_a_few_fills_is_not_a_flood() -> None:
    # A handful of bots trading: each fill invalidates the cache, so few lookups, many misses.
    rules = Rules(min_cache_lookups=20, min_cache_misses=10, cache_window=3)
    assert codes(rules, 0, cache_hits=0, cache_misses=0) == set()
    assert codes(rules, 5, cache_hits=14, cache_misses=7) == set()


def test_breaker_open_is_critical() -> None:
    (condition,) = Rules().judge(reading(breaker_state="open"), 0)
    assert condition.code == "breaker_open"
    assert condition.severity == "critical"


def test_the_manager_raises_once_clears_once_and_follows_halts() -> None:
    clock = ManualClock()
    bus = InProcessBus(clock)
    events: list[Event] = []
    bus.subscribe("alerts", events.append)
    current = reading()
    manager = AlertManager(bus, lambda: current, clock)
    clock.advance_by(1)
    current = reading(breaker_state="open")
    manager.check()
    manager.check()
    assert [e.topic for e in events] == ["alerts.raised"]
    assert isinstance(events[0], AlertRaised)
    assert events[0].code == "breaker_open"
    clock.advance_by(1)
    current = reading()
    manager.check()
    assert [e.topic for e in events] == ["alerts.raised", "alerts.cleared"]

    bus.publish(RiskHalted(scope="bot", bot_id=BotId(4), code="max_loss", reason="lost 10%"))
    manager.check()  # a halt is not cleared by the periodic check
    assert "halted.bot.4" in manager.active
    assert "HALTED" in manager.active["halted.bot.4"].message
    bus.publish(RiskResumed(scope="bot", bot_id=BotId(4), by="api"))
    assert "halted.bot.4" not in manager.active
    assert [e.topic for e in events][-2:] == ["alerts.raised", "alerts.cleared"]


async def test_the_manager_checks_on_its_clock_and_times_the_feed_down_alert() -> None:
    clock = ManualClock()
    bus = InProcessBus(clock)
    raised: list[AlertRaised] = []
    bus.subscribe(AlertRaised, raised.append)
    current = reading(feed_state="reconnecting")
    manager = AlertManager(bus, lambda: current, clock, rules=Rules(feed_down_after_s=30), interval=5)
    task = asyncio.get_running_loop().create_task(manager.run())
    await asyncio.sleep(0)  # the manager starts its first wait
    await clock.run_for(30)  # checks at 5, 10, ... 30 s: down since the first, 25 s at the last
    assert raised == []
    await clock.run_for(5)
    assert [e.code for e in raised] == ["feed_down"]
    assert raised[0].since == clock.time()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
