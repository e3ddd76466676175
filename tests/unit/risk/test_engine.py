"""The risk engine: rule order, HALTED and kill switches that survive a restart, events on the bus."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from streambot.bus import Bus, InProcessBus
from streambot.clock import ManualClock
from streambot.domain import Position
from streambot.events import BotStateChanged, Event, KillSwitchChanged, RiskHalted, RiskResumed
from streambot.risk.base import RiskLimits, RiskRejection
from streambot.risk.engine import RiskEngine
from tests.unit.risk.support import BOT, NOW, MemoryRiskStore, buy, context, sell

DAY = 86_400.0


def _clock_at(now: float) -> ManualClock:
    return ManualClock(datetime.fromtimestamp(now, UTC))


def _engine(
    limits: RiskLimits, store: MemoryRiskStore, clock: ManualClock, bus: Bus | None = None
) -> RiskEngine:
    return RiskEngine(limits, store, publish=(bus or InProcessBus(clock)).publish, clock=clock)


def _events(bus: Bus) -> list[Event]:
    seen: list[Event] = []
    bus.subscribe("risk", seen.append)
    return seen


async def test_a_breached_daily_loss_halts_the_account_until_a_person_resumes_it() -> None:
    bus, store, clock = InProcessBus(ManualClock()), MemoryRiskStore(), _clock_at(NOW)
    seen = _events(bus)
    engine = _engine(RiskLimits(daily_loss_pct=Decimal(10)), store, clock, bus)
    await engine.load()
    assert await engine.observe_equity(Decimal(1000)) is None
    clock.advance_by(60)
    breach = await engine.observe_equity(Decimal(899))
    assert breach is not None
    assert breach.code == "DAILY_LOSS_LIMIT"
    assert engine.account.halted
    assert [e.topic for e in seen] == ["risk.halted"]
    assert seen[0] == RiskHalted(
        scope="account", bot_id=None, code="DAILY_LOSS_LIMIT", reason=breach.message, ts=seen[0].ts
    )

    # Recovering equity does not lift it, and neither does a restart.
    clock.advance_by(60)
    await engine.observe_equity(Decimal(2000))
    restarted = _engine(RiskLimits(daily_loss_pct=Decimal(10)), store, clock, bus)
    await restarted.load()
    assert restarted.account.halted
    rejection = restarted.check(buy(), context())
    assert rejection is not None
    assert rejection.code == "HALTED"
    assert restarted.check(sell(), context(position=Position(base=Decimal(1)))) is None

    assert await restarted.resume(None, "alice")
    assert not restarted.account.halted
    assert seen[-1].topic == "risk.resumed"
    assert seen[-1] == RiskResumed(scope="account", bot_id=None, by="alice", ts=seen[-1].ts)
    assert not await restarted.resume(None, "alice")


async def test_the_day_start_rolls_over_at_utc_midnight_and_survives_restart() -> None:
    store = MemoryRiskStore()
    midnight = (NOW // DAY + 1) * DAY
    clock = _clock_at(midnight - 10)
    engine = _engine(RiskLimits(daily_loss_pct=Decimal(10), max_drawdown_pct=Decimal(0)), store, clock)
    await engine.observe_equity(Decimal(1000))
    clock.advance_by(5)
    await engine.observe_equity(Decimal(950))
    clock.advance_by(10)
    await engine.observe_equity(Decimal(950))  # a new day starts at 950
    again = _engine(engine.limits, store, clock)
    await again.load()
    assert again.account.day_start_equity == Decimal(950)
    clock.advance_by(5)
    assert await again.observe_equity(Decimal(856)) is None
    clock.advance_by(1)
    assert await again.observe_equity(Decimal(855)) is not None


async def test_drawdown_from_the_peak_halts() -> None:
    clock = _clock_at(NOW)
    engine = _engine(
        RiskLimits(daily_loss_pct=Decimal(0), max_drawdown_pct=Decimal(20)), MemoryRiskStore(), clock
    )
    await engine.observe_equity(Decimal(1000))
    clock.advance_by(DAY)
    await engine.observe_equity(Decimal(1500))
    assert not engine.account.halted
    clock.advance_by(DAY)
    breach = await engine.observe_equity(Decimal(1200))
    assert breach is not None
    assert breach.code == "MAX_DRAWDOWN"
    assert engine.account.halted


async def test_kill_switches_are_persisted_and_published() -> None:
    bus, store, clock = InProcessBus(ManualClock()), MemoryRiskStore(), _clock_at(NOW)
    seen = _events(bus)
    engine = _engine(RiskLimits(), store, clock, bus)
    assert await engine.set_kill_switch(BOT, True, "testing")
    assert engine.bot(BOT).kill_at == clock.now()
    assert not await engine.set_kill_switch(BOT, True, "testing")
    assert seen[0] == KillSwitchChanged(scope="bot", bot_id=BOT, on=True, reason="testing", ts=seen[0].ts)
    again = _engine(RiskLimits(), store, clock)
    await again.load()
    rejection = again.check(sell(), context())
    assert rejection is not None
    assert rejection.code == "KILL_SWITCH"
    await again.set_kill_switch(BOT, False, "")
    assert again.check(buy(), context()) is None


async def test_bot_halt_and_resume_publish_bot_state() -> None:
    bus = InProcessBus(ManualClock())
    states: list[BotStateChanged] = []
    bus.subscribe(BotStateChanged, states.append)
    clock = _clock_at(NOW)
    engine = _engine(RiskLimits(), MemoryRiskStore(), clock, bus)
    await engine.halt(BOT, "MANUAL", "checking")
    assert engine.is_halted(BOT)
    assert engine.bot(BOT).halted_at == clock.now()
    assert [e.state for e in states] == ["halted"]
    await engine.resume(BOT, "bob")
    assert [e.state for e in states] == ["halted", "running"]
    assert engine.rejections == {}


async def test_an_unsized_order_is_refused_for_its_size_unless_a_switch_or_halt_says_more() -> None:
    engine = _engine(RiskLimits(), MemoryRiskStore(), _clock_at(NOW))
    too_small = RiskRejection("BELOW_MINIMUM", "A buy of 0.5 USD is below the minimum 1.")
    assert engine.check_unsized(buy("0"), context(), too_small) is too_small
    await engine.halt(None, "DAILY_LOSS_LIMIT", "lost 10% today")
    halted = engine.check_unsized(buy("0"), context(), too_small)
    assert halted.code == "HALTED"
    assert engine.check_unsized(sell("0"), context(), too_small) is too_small  # exits stay allowed
    await engine.set_kill_switch(BOT, True, "testing")
    assert engine.check_unsized(sell("0"), context(), too_small).code == "KILL_SWITCH"
    # Counted under the code the order is refused with, and nothing else.
    assert engine.rejections == {"BELOW_MINIMUM": 2, "HALTED": 1, "KILL_SWITCH": 1}
