"""The clocks every part reads: the manual one is deterministic, the system one is the machine's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from streambot.clock import Clock, ManualClock, SystemClock

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_manual_clock_reads_only_what_it_was_told() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.monotonic() == 0.0
    assert clock.time() == START.timestamp()
    clock.advance_by(90)
    assert clock.now() == START + timedelta(seconds=90)
    assert clock.monotonic() == 90.0
    clock.advance(START + timedelta(hours=1))
    assert clock.monotonic() == 3600.0
    assert clock.now().tzinfo is UTC


def test_manual_clock_runs_due_timers_in_time_order_at_their_instant() -> None:
    clock = ManualClock(START)
    seen: list[tuple[str, float]] = []
    clock.call_later(5, lambda: seen.append(("b", clock.monotonic())))
    clock.call_later(2, lambda: seen.append(("a", clock.monotonic())))
    clock.call_later(5, lambda: seen.append(("c", clock.monotonic())))  # same instant: scheduled order
    cancelled = clock.call_later(3, lambda: seen.append(("x", clock.monotonic())))
    cancelled.cancel()
    clock.advance_by(4)
    assert seen == [("a", 2.0)]
    clock.advance_by(10)
    assert seen == [("a", 2.0), ("b", 5.0), ("c", 5.0)]


def test_manual_clock_repeats_until_cancelled() -> None:
    clock = ManualClock(START)
    runs: list[float] = []
    timer = clock.every(10, lambda: runs.append(clock.monotonic()))
    clock.advance_by(35)
    assert runs == [10.0, 20.0, 30.0]
    timer.cancel()
    clock.advance_by(100)
    assert runs == [10.0, 20.0, 30.0]


def test_manual_clock_refuses_to_go_back_or_to_take_naive_times() -> None:
    clock = ManualClock(START)
    clock.advance_by(5)
    with pytest.raises(ValueError, match="back in time"):
        clock.advance(1.0)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.advance(datetime(2026, 3, 1, 13, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 3, 1))


async def test_manual_clock_wakes_sleepers_in_order_and_each_sleeps_from_its_wake_time() -> None:
    clock = ManualClock(START)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, first: float, second: float) -> None:
        await clock.sleep(first)
        woke.append((name, clock.monotonic()))
        await clock.sleep(second)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper("a", 3, 3)), asyncio.create_task(sleeper("b", 4, 1))]
    await asyncio.sleep(0)
    await clock.run_until(10)
    assert woke == [("a", 3.0), ("b", 4.0), ("b", 5.0), ("a", 6.0)]
    await asyncio.gather(*tasks)


async def test_system_clock_is_the_machines() -> None:
    clock: Clock = SystemClock()
    assert abs(clock.now().timestamp() - clock.time()) < 1
    assert clock.now().tzinfo is UTC
    fired = asyncio.Event()
    clock.call_later(0.01, fired.set)
    await asyncio.wait_for(fired.wait(), 5)
    runs: list[int] = []
    timer = clock.every(0.01, lambda: runs.append(1))
    while len(runs) < 2:
        await clock.sleep(0.01)
    timer.cancel()


async def test_settle_runs_followed_tasks_until_each_waits_on_the_clock() -> None:
    clock = ManualClock(START)
    steps: list[str] = []

    async def inner() -> str:
        steps.append("inner sleeps")
        await clock.sleep(1)
        steps.append("inner woke")
        return "done"

    async def outer() -> None:
        # Waits on a task that waits on the clock, then on a shielded one (a callback's turn).
        result = await asyncio.ensure_future(inner())
        await asyncio.shield(asyncio.ensure_future(asyncio.sleep(0)))
        steps.append(f"outer got {result}")
        await clock.sleep(5)
        steps.append("outer woke")

    with clock.following_tasks():
        task = asyncio.get_running_loop().create_task(outer())
        assert not clock.settled()
        await clock.settle()
        assert steps == ["inner sleeps"]
        assert clock.settled()
        clock.advance_by(1)
        assert not clock.settled()  # a sleeper woke
        await clock.settle()
        assert steps == ["inner sleeps", "inner woke", "outer got done"]
        clock.advance_by(5)
        await clock.settle()
        assert steps[-1] == "outer woke"
        assert task.done()
        assert clock.settled()
    # The loop's own task factory is back once the clock stops following.
    assert asyncio.get_running_loop().get_task_factory() is None


async def test_a_followed_task_is_cancelled_and_finishes_as_any_task() -> None:
    clock = ManualClock(START)
    with clock.following_tasks():
        task = asyncio.get_running_loop().create_task(clock.sleep(10))
        await clock.settle()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await clock.settle()
        assert clock.settled()


async def test_a_followed_task_cancelled_before_its_first_step_is_forgotten() -> None:
    clock = ManualClock(START)
    with clock.following_tasks():
        task = asyncio.get_running_loop().create_task(clock.sleep(10))
        task.cancel()  # before the loop ever ran it
        await clock.settle()
        assert task.cancelled()
        assert clock.settled()


async def test_spawned_coroutines_run_in_line_and_their_sleeps_wake_them_without_the_loop() -> None:
    clock = ManualClock(START)
    seen: list[tuple[str, float]] = []

    async def worker(name: str, pause: float) -> str:
        seen.append((name, clock.monotonic()))
        await clock.sleep(pause)
        seen.append((name, clock.monotonic()))
        return name

    first, second = clock.spawn(worker("a", 2)), clock.spawn(worker("b", 1))
    assert not clock.settled()
    clock.run_ready()
    assert seen == [("a", 0.0), ("b", 0.0)]
    assert clock.settled()
    clock.advance_by(5)  # both due: they go on in the order they woke, at the instant reached
    assert not clock.settled()
    clock.run_ready()
    assert seen[2:] == [("b", 5.0), ("a", 5.0)]
    assert clock.settled()
    assert (await first, await second) == ("a", "b")


async def test_a_spawned_coroutine_awaits_other_futures_and_is_cancelled_as_a_task() -> None:
    clock = ManualClock(START)
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    unwound: list[str] = []

    async def waits() -> int:
        return await gate + 1

    async def sleeps() -> None:
        try:
            await clock.sleep(10)
        finally:
            unwound.append("sleeps")

    waiting, sleeping = clock.spawn(waits()), clock.spawn(sleeps())
    await clock.settle()
    gate.set_result(41)
    assert not clock.settled()  # woken through the loop: settle gives it the turn
    await clock.settle()
    assert waiting.result() == 42
    sleeping.cancel()
    await clock.settle()
    assert sleeping.cancelled()
    assert unwound == ["sleeps"]
    assert clock.next_deadline is None  # its timer went with it
    with pytest.raises(asyncio.CancelledError):
        await sleeping


async def test_a_spawned_coroutine_runs_without_anyone_moving_the_clock() -> None:
    clock = ManualClock(START)

    async def quick() -> int:
        await asyncio.sleep(0)
        return 7

    assert await clock.spawn(quick()) == 7
