from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from streambot.clock import ManualClock
from streambot.observability.supervisor import Supervisor


class Flaky:
    """A background task that raises on its first ``failures`` runs, then runs until cancelled."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.runs = 0
        self.cancelled = False

    async def run(self) -> None:
        self.runs += 1
        await asyncio.sleep(0)
        if self.runs <= self.failures:
            raise ValueError(f"boom {self.runs}")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_a_dead_task_is_restarted_after_a_backoff_on_the_clock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    supervisor = Supervisor(clock, first_delay=1.0, max_delay=8.0)
    flaky = Flaky(failures=3)
    caplog.set_level(logging.INFO, logger="streambot.observability.supervisor")

    supervisor.spawn(flaky.run, "feed")
    await clock.run_for(0)
    assert flaky.runs == 1  # died; waits 1 s
    await clock.run_for(0.9)
    assert flaky.runs == 1
    await clock.run_for(0.1)
    assert flaky.runs == 2  # died again; waits 2 s
    await clock.run_for(1.9)
    assert flaky.runs == 2
    await clock.run_for(0.1)
    assert flaky.runs == 3  # and 4 s
    await clock.run_for(4)
    assert flaky.runs == 4
    assert supervisor.running("feed")
    assert supervisor.restarts == {"feed": 3}

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors[0].startswith("❌ feed died (ValueError: boom 1): restarting in 1.0s")
    assert len(errors) == 3

    await supervisor.stop()
    assert flaky.cancelled
    assert not supervisor.running("feed")


async def test_repeated_deaths_within_the_window_are_failing_then_forgotten() -> None:
    clock = ManualClock()
    supervisor = Supervisor(clock, first_delay=1.0, max_delay=1.0, window_s=300, alert_after=3)
    flaky = Flaky(failures=3)
    supervisor.spawn(flaky.run, "alerts")
    await clock.run_for(0)
    assert supervisor.failing() == {}
    await clock.run_for(2)
    assert supervisor.recent_deaths() == {"alerts": 3}
    assert supervisor.failing() == {"alerts": "ValueError: boom 3"}

    await clock.run_for(300)
    assert supervisor.failing() == {}
    assert supervisor.restarts == {"alerts": 3}  # the counter keeps counting
    await supervisor.stop()


async def test_a_task_that_returns_is_done_and_can_be_spawned_again() -> None:
    clock = ManualClock()
    supervisor = Supervisor(clock)
    runs: list[int] = []

    async def once() -> None:
        runs.append(1)

    assert supervisor.spawn(once, "feed")
    await clock.run_for(5)
    assert runs == [1]
    assert not supervisor.running("feed")
    assert supervisor.spawn(once, "feed")
    await clock.run_for(0)
    assert runs == [1, 1]
    await supervisor.stop()


async def test_spawning_a_running_task_again_starts_nothing() -> None:
    clock = ManualClock()
    supervisor = Supervisor(clock)
    flaky = Flaky(failures=0)
    assert supervisor.spawn(flaky.run, "feed")
    await clock.run_for(0)
    assert not supervisor.spawn(flaky.run, "feed")
    await clock.run_for(0)
    assert flaky.runs == 1
    await supervisor.stop()
    with pytest.raises(RuntimeError):
        supervisor.spawn(flaky.run, "feed")


async def test_a_long_healthy_run_resets_the_backoff() -> None:
    clock = ManualClock()
    supervisor = Supervisor(clock, first_delay=1.0, max_delay=30.0, healthy_after=60.0)
    starts: list[float] = []

    async def dies_after(seconds: float) -> None:
        starts.append(clock.monotonic())
        await clock.sleep(seconds)
        raise RuntimeError("gone")

    durations = iter([0.0, 0.0, 0.0, 100.0, 0.0])

    async def run() -> None:
        await dies_after(next(durations, 1000.0))

    supervisor.spawn(run, "equity")
    await clock.run_for(0)
    await clock.run_for(200)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(starts)]
    # 1, 2, 4 s between quick deaths; after the 100 s run the delay starts at 1 s again.
    assert gaps[:5] == [1.0, 2.0, 4.0, 101.0, 2.0]
    await supervisor.stop()
