from __future__ import annotations

from streambot.alerts.manager import AlertManager
from streambot.alerts.rules import Readings, Rules
from streambot.bus import InProcessBus
from streambot.clock import ManualClock
from streambot.domain import BotId
from streambot.events import AlertRaised, Event, RiskHalted, RiskResumed


def reading(now: float, **changes: object) -> Readings:
    values: dict[str, object] = {
        "now": now,
        "feed_state": "live",
        "evaluation_errors": 0,
        "cache_hits": 0,
        "cache_misses": 0,
        "breaker_state": "closed",
    }
    values.update(changes)
    return Readings(**values)  # type: ignore[arg-type]


def codes(rules: Rules, r: Readings) -> set[str]:
    return {c.code for c in rules.judge(r)}


def test_feed_down_only_after_the_threshold_and_not_when_polling() -> None:
    rules = Rules(feed_down_after_s=30)
    assert codes(rules, reading(0, feed_state="reconnecting")) == set()
    assert codes(rules, reading(29, feed_state="reconnecting")) == set()
    assert codes(rules, reading(31, feed_state="stale")) == set()  # a new state restarts the clock
    assert codes(rules, reading(62, feed_state="stale")) == {"feed_down"}
    assert codes(rules, reading(100, feed_state="polling")) == set()
    assert codes(rules, reading(200, feed_state="polling")) == set()


def test_evaluation_errors_raise_then_clear_after_a_quiet_period() -> None:
    rules = Rules(error_quiet_s=60)
    assert codes(rules, reading(0, evaluation_errors=0)) == set()
    assert codes(rules, reading(5, evaluation_errors=2)) == {"evaluation_errors"}
    assert codes(rules, reading(30, evaluation_errors=2)) == {"evaluation_errors"}
    assert codes(rules, reading(70, evaluation_errors=2)) == set()


def test_cache_hit_rate_is_judged_on_recent_lookups() -> None:
    rules = Rules(min_cache_lookups=20, cache_window=3)
    assert codes(rules, reading(0, cache_hits=1000, cache_misses=0)) == set()
    assert codes(rules, reading(5, cache_hits=1010, cache_misses=15)) == {"cache_hit_rate"}
    assert codes(rules, reading(10, cache_hits=1200, cache_misses=15)) == set()


def test_a_low_hit_rate_from_a_few_fills_is_not_a_flood() -> None:
    # A handful of bots trading: each fill invalidates the cache, so few lookups, many misses.
    rules = Rules(min_cache_lookups=20, min_cache_misses=10, cache_window=3)
    assert codes(rules, reading(0, cache_hits=0, cache_misses=0)) == set()
    assert codes(rules, reading(5, cache_hits=14, cache_misses=7)) == set()


def test_breaker_open_is_critical() -> None:
    (condition,) = Rules().judge(reading(0, breaker_state="open"))
    assert condition.code == "breaker_open"
    assert condition.severity == "critical"


def test_the_manager_raises_once_clears_once_and_follows_halts() -> None:
    bus = InProcessBus(ManualClock())
    events: list[Event] = []
    bus.subscribe("alerts", events.append)
    current = reading(0)
    manager = AlertManager(bus, lambda: current)
    current = reading(1, breaker_state="open")
    manager.check()
    manager.check()
    assert [e.topic for e in events] == ["alerts.raised"]
    assert isinstance(events[0], AlertRaised)
    assert events[0].code == "breaker_open"
    current = reading(2)
    manager.check()
    assert [e.topic for e in events] == ["alerts.raised", "alerts.cleared"]

    bus.publish(RiskHalted(scope="bot", bot_id=BotId(4), code="max_loss", reason="lost 10%"))
    manager.check()  # a halt is not cleared by the periodic check
    assert "halted.bot.4" in manager.active
    assert "HALTED" in manager.active["halted.bot.4"].message
    bus.publish(RiskResumed(scope="bot", bot_id=BotId(4), by="api"))
    assert "halted.bot.4" not in manager.active
    assert [e.topic for e in events][-2:] == ["alerts.raised", "alerts.cleared"]
