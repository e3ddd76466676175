"""Where every part reads the time: one ``Clock`` passed to each constructor.

Live and paper trading run on ``SystemClock``. Backtests and tests run on ``ManualClock``, whose
time moves only when told to (``advance``), firing due timers and waking sleepers in time order, so
a run is a pure function of its inputs. Nothing outside this module reads the wall clock or the
monotonic clock for behaviour; ``time.perf_counter`` is for measuring code, not for deciding.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import time as _time
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterator
from contextvars import Context
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

Callback = Callable[[], object]


class Timer(Protocol):
    """A scheduled callback; ``cancel`` stops it (and every later run of a repeating one)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def time(self) -> float:
        """The current time as UNIX seconds (``now().timestamp()``)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: for intervals, timeouts and cooldowns."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callback) -> Timer:
        """Run ``callback`` once, ``delay`` seconds from now."""
        ...

    def call_at(self, when: float, callback: Callback) -> Timer:
        """Run ``callback`` once at ``when`` on this clock's ``monotonic`` scale."""
        ...

    def every(self, interval: float, callback: Callback) -> Timer:
        """Run ``callback`` every ``interval`` seconds, the first time one interval from now."""
        ...


class SystemClock:
    """The machine's clocks and the running event loop's timers."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callback) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)

    def call_at(self, when: float, callback: Callback) -> Timer:
        # asyncio's loop clock is time.monotonic, the scale ``monotonic`` returns.
        return self.call_later(when - _time.monotonic(), callback)

    def every(self, interval: float, callback: Callback) -> Timer:
        return _Repeating(self, interval, callback)


class _Repeating:
    """A callback re-armed after each run, on any clock."""

    __slots__ = ("_callback", "_cancelled", "_clock", "_handle", "_interval")

    def __init__(self, clock: Clock, interval: float, callback: Callback) -> None:
        if interval <= 0:
            raise ValueError(f"a repeating timer needs a positive interval, not {interval}")
        self._clock = clock
        self._interval = interval
        self._callback = callback
        self._cancelled = False
        self._handle = clock.call_later(interval, self._run)

    def _run(self) -> None:
        if self._cancelled:
            return
        self._handle = self._clock.call_later(self._interval, self._run)
        self._callback()

    def cancel(self) -> None:
        self._cancelled = True
        self._handle.cancel()


@dataclass(order=True, slots=True)
class _Scheduled:
    when: float
    seq: int
    callback: Callback = field(compare=False)
    cancelled: bool = field(default=False, compare=False)
    # Whether running it may make a followed task runnable unseen (``settled`` then looks again);
    # not a driven coroutine's wake, which ``settled`` sees in the line of ready ones.
    stirs: bool = field(default=True, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


DEFAULT_START = datetime(2025, 1, 1, tzinfo=UTC)


class ManualClock:
    """Time that moves only through ``advance``: deterministic, for backtests and tests.

    ``monotonic`` counts seconds since ``start``. Timers and sleepers due at the same instant run
    in the order they were scheduled. ``advance`` is synchronous: it runs due callbacks and
    resolves sleepers' futures, whose coroutines then continue when the event loop next runs;
    ``run_until`` also gives them those loop turns, step by step, so a coroutine that sleeps again
    on waking is scheduled from the instant it woke at.
    """

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._start = start.astimezone(UTC)
        self._start_ts = self._start.timestamp()  # read at every ``time``: worked out once
        self._elapsed = 0.0
        self._now_at = 0.0
        self._now = self._start
        self._queue: list[_Scheduled] = []
        self._seq = itertools.count()
        # Quiescence (``settled``/``settle``): the tasks started while ``following_tasks`` is on,
        # each with what it waits on, and whether something may have become runnable since the
        # last look (a due callback ran, a followed task finished).
        self._followed: set[_Followed] = set()
        self._followed_tasks: set[asyncio.Future[Any]] = set()
        self._sleeps: set[asyncio.Future[None]] = set()  # the futures of sleeps under way
        self._stirred = False
        # Coroutines this clock steps itself (``spawn``): those ready to go on, in the order
        # they became ready, and the one being stepped (its sleeps wake it without the loop).
        self._ready: deque[_Driven] = deque()
        self._current: _Driven | None = None
        self._draining = False
        self._drain_scheduled = False
        self._foreign: set[_Driven] = set()  # driven coroutines waiting on a future of neither kind

    # --- reading ---------------------------------------------------------------------------

    def now(self) -> datetime:
        # Asked many times at one instant (an order's stamps, a replay's tick): made once per instant.
        elapsed = self._elapsed
        if elapsed != self._now_at:
            self._now_at = elapsed
            self._now = self._start + timedelta(seconds=elapsed)
        return self._now

    def time(self) -> float:
        return self._start_ts + self._elapsed

    def monotonic(self) -> float:
        return self._elapsed

    # --- scheduling ------------------------------------------------------------------------

    def call_at(self, when: float, callback: Callback) -> Timer:
        entry = _Scheduled(max(when, self._elapsed), next(self._seq), callback)
        heapq.heappush(self._queue, entry)
        return entry

    def call_later(self, delay: float, callback: Callback) -> Timer:
        return self.call_at(self._elapsed + max(0.0, delay), callback)

    def every(self, interval: float, callback: Callback) -> Timer:
        return _Repeating(self, interval, callback)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        driven = self._current
        if driven is not None:
            # A coroutine this clock steps: its timer puts it back in line, no future, no loop.
            entry = _Scheduled(self._elapsed + seconds, next(self._seq), driven.wake, stirs=False)
            heapq.heappush(self._queue, entry)
            try:
                await _PAUSE
            finally:
                entry.cancel()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(seconds, wake)
        self._sleeps.add(future)
        try:
            await future
        finally:
            timer.cancel()
            self._sleeps.discard(future)

    @property
    def next_deadline(self) -> float | None:
        """When the next live timer or sleeper is due, on the ``monotonic`` scale."""
        while self._queue and self._queue[0].cancelled:
            heapq.heappop(self._queue)
        return self._queue[0].when if self._queue else None

    # --- moving time -------------------------------------------------------------------------

    def advance(self, to: datetime | float) -> None:
        """Move to ``to`` (a datetime, or seconds on the ``monotonic`` scale), running what falls due."""
        # A float at or after now is the replay's case, once a tick: checked without the
        # conversions a datetime needs.
        target = to if type(to) is float and to >= self._elapsed else self._target(to)
        queue = self._queue
        while queue and queue[0].when <= target:
            entry = heapq.heappop(queue)
            if entry.cancelled:
                continue
            if entry.when > self._elapsed:
                self._elapsed = entry.when
            if entry.stirs:
                self._stirred = True
            entry.callback()
        if target > self._elapsed:
            self._elapsed = target

    def advance_by(self, seconds: float) -> None:
        self.advance(self._elapsed + seconds)

    async def run_until(self, to: datetime | float, *, turns: int = 20) -> None:
        """``advance`` one due deadline at a time, letting woken coroutines run after each."""
        target = self._target(to)
        while (deadline := self.next_deadline) is not None and deadline <= target:
            self.advance(deadline)
            for _ in range(turns):
                await asyncio.sleep(0)
        self.advance(target)
        for _ in range(turns):
            await asyncio.sleep(0)

    async def run_for(self, seconds: float, *, turns: int = 20) -> None:
        await self.run_until(self._elapsed + seconds, turns=turns)

    # --- quiescence ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def following_tasks(self) -> Iterator[None]:
        """Follow every task the running loop starts meanwhile, for ``settled`` and ``settle``.

        Installed as the loop's task factory (the previous one, if any, still makes the task):
        each task's coroutine is stepped through a thin wrapper that notes what it waits on.
        Only the loop's public task-factory seam is used, no private state of the loop.
        """
        loop = asyncio.get_running_loop()
        previous = loop.get_task_factory()
        followed = self._followed
        followed_tasks = self._followed_tasks

        def factory(
            loop: asyncio.AbstractEventLoop, coro: Any, *, context: Context | None = None
        ) -> asyncio.Future[Any]:
            state = _Followed()
            followed.add(state)
            wrapped = _Follow(coro, state, self._finished)
            if previous is None:
                task: asyncio.Future[Any] = asyncio.Task(wrapped, loop=loop, context=context)
            elif context is None:
                task = previous(loop, wrapped)
            else:
                task = previous(loop, wrapped, context=context)  # type: ignore[call-arg]
            state.task = task
            followed_tasks.add(task)
            return task

        loop.set_task_factory(factory)
        try:
            yield
        finally:
            loop.set_task_factory(previous)

    def settled(self) -> bool:
        """Whether every followed task waits on something not yet done (this clock's sleeps, or
        work that waits on them) and nothing happened since the last look that could make one
        runnable: a due callback ran, or a task finished while another waits on a future of
        neither kind (one a callback completes a turn later, as ``asyncio.shield``'s)."""
        if self._ready:
            return False
        if self._stirred:
            self._stirred = False
            return False
        # Asked twice a tick by a replay, where both sets are mostly empty: looked at only if not.
        if self._followed:
            for state in self._followed:
                waiting = state.waiting
                if waiting is None or waiting.done():
                    return False
        if self._foreign:
            return all(
                driven.waiting_on is not None and not driven.waiting_on.done() for driven in self._foreign
            )
        return True

    async def settle(self) -> None:
        """Give the event loop turns until ``settled``: every followed task waits on this clock
        (or on one that does), so moving the clock next is deterministic."""
        self.run_ready()
        await asyncio.sleep(0)
        self.run_ready()
        # Not an event to wait on: "every task waits" is read between the loop's turns.
        while not self.settled():
            await asyncio.sleep(0)
            self.run_ready()

    def _finished(self, state: _Followed) -> None:
        self._followed.discard(state)
        self._followed_tasks.discard(state.task)
        if self._stirred:
            return
        # A task waiting on this one directly is runnable once it is done (``settled`` sees it);
        # one waiting on another future may be woken through the done callbacks' turn.
        sleeps, tasks = self._sleeps, self._followed_tasks
        for other in self._followed:
            waiting = other.waiting
            if waiting is None or waiting is state.task:
                continue
            if waiting not in sleeps and waiting not in tasks:
                self._stirred = True
                return
        if self._foreign:
            self._stirred = True

    # --- coroutines stepped by the clock -------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Run ``coro`` as a task would, stepped by this clock instead of by the event loop.

        What it awaits on this clock's ``sleep`` wakes it straight from ``advance``, and each
        step runs when ``run_ready`` (or ``settle``) next runs, in the order the coroutines
        became ready: the order the loop would have run them in, without a loop turn, a task or
        a future per step. Anything else it awaits (a future, a lock) wakes it through the loop
        as a task's would. Returns a future for its outcome; ``cancel`` throws CancelledError
        into it at its next step. A seam for a replay's many short-lived orders: where the
        clock is the machine's, callers hand coroutines to the loop instead.
        """
        driven = _Driven(self, coro, asyncio.get_running_loop())
        self._make_ready(driven)
        return driven

    def run_ready(self) -> None:
        """Step every coroutine of ``spawn`` that can go on, until none can (synchronously)."""
        ready = self._ready
        if not ready or self._draining:  # the usual case: asked twice a tick by a replay
            return
        self._draining = True
        try:
            while ready:
                ready.popleft().step()
        finally:
            self._draining = False

    def _make_ready(self, driven: _Driven) -> None:
        self._ready.append(driven)
        if not self._draining and not self._drain_scheduled:
            # Whoever moves the clock usually runs them at once (``run_ready``); the loop does
            # otherwise, so a driven coroutine never waits for a caller that does not know it.
            self._drain_scheduled = True
            driven.get_loop().call_soon(self._drain_soon)

    def _drain_soon(self) -> None:
        self._drain_scheduled = False
        self.run_ready()

    def _driven_done(self) -> None:
        # As ``_finished``: one waiting on another kind of future may be woken through the done
        # callbacks' turn.
        if self._foreign:
            self._stirred = True
            return
        sleeps, tasks = self._sleeps, self._followed_tasks
        for other in self._followed:
            waiting = other.waiting
            if waiting is not None and waiting not in sleeps and waiting not in tasks:
                self._stirred = True
                return

    def _target(self, to: datetime | float) -> float:
        if isinstance(to, datetime):
            if to.tzinfo is None:
                raise ValueError("ManualClock.advance needs a timezone-aware time")
            target = (to - self._start).total_seconds()
        else:
            target = float(to)
        if target < self._elapsed:
            raise ValueError(f"ManualClock cannot go back in time ({target} < {self._elapsed})")
        return target


class _Followed:
    """A followed task: the future its coroutine waits on; None while it can run (not started
    yet, or it yielded a bare turn as ``asyncio.sleep(0)`` does)."""

    __slots__ = ("task", "waiting")

    def __init__(self) -> None:
        self.waiting: asyncio.Future[Any] | None = None
        self.task: asyncio.Future[Any] | None = None


class _Follow(Coroutine[Any, Any, Any]):
    """``coro`` as its task steps it, noting what each step yields (the future it then waits on)
    and when it is done: a coroutine of its own, so a task cancelled before its first step
    throws into ``coro`` as it would without the wrapper (closing it, and forgetting it here)."""

    __slots__ = ("_coro", "_finished", "_state")

    def __init__(
        self, coro: Coroutine[Any, Any, Any], state: _Followed, finished: Callable[[_Followed], None]
    ) -> None:
        self._coro = coro
        self._state = state
        self._finished = finished

    def send(self, value: Any) -> Any:
        state = self._state
        state.waiting = None
        try:
            state.waiting = yielded = self._coro.send(value)
        except BaseException:  # returned (StopIteration) or raised: the task is done
            self._finished(state)
            raise
        return yielded

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        state = self._state
        state.waiting = None
        try:
            yielded = self._coro.throw(typ) if val is None else self._coro.throw(typ, val, tb)
        except BaseException:
            self._finished(state)
            raise
        state.waiting = yielded
        return yielded

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._coro.__await__()


class _Pause:
    """What a coroutine stepped by its clock yields while it sleeps on that clock."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield self


_PAUSE = _Pause()


class _Driven(asyncio.Future[Any]):
    """A coroutine stepped by a ``ManualClock`` (``spawn``), and the future of its outcome."""

    def __init__(
        self, clock: ManualClock, coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(loop=loop)
        self._clock = clock
        self._coro = coro
        self._context = contextvars.copy_context()
        self._must_cancel = False
        self._throw: BaseException | None = None  # thrown into it at its next step
        self._queued = True  # in the clock's line of ready coroutines
        self.waiting_on: asyncio.Future[Any] | None = None  # a future of neither kind it awaits

    def wake(self) -> None:
        """Back in line (its sleep ended, the future it awaited is done, or it is cancelled)."""
        if not self._queued and not self.done():
            self._queued = True
            self._clock._make_ready(self)

    def _woken(self, future: asyncio.Future[Any]) -> None:
        if future is self.waiting_on:  # not a future it stopped waiting on
            self.wake()

    def cancel(self, msg: Any = None) -> bool:
        if self.done():
            return False
        self._must_cancel = True
        waiting = self.waiting_on
        # As a task, it cancels what it awaits, whose done callback then wakes it.
        if waiting is None or not waiting.cancel():
            self.wake()
        return True

    def step(self) -> None:
        self._queued = False
        if self.done():
            return
        clock = self._clock
        waiting = self.waiting_on
        if waiting is not None:
            self.waiting_on = None
            clock._foreign.discard(self)
        clock._current = self
        try:
            if self._must_cancel:
                self._must_cancel = False
                yielded = self._context.run(self._coro.throw, asyncio.CancelledError())
            elif self._throw is not None:
                error, self._throw = self._throw, None
                yielded = self._context.run(self._coro.throw, error)
            else:
                yielded = self._context.run(self._coro.send, None)
        except StopIteration as stop:
            super().set_result(stop.value)
            clock._driven_done()
            return
        except asyncio.CancelledError:
            super().cancel()
            clock._driven_done()
            return
        except (KeyboardInterrupt, SystemExit) as exc:
            super().set_exception(exc)
            clock._driven_done()
            raise
        except BaseException as exc:
            super().set_exception(exc)
            clock._driven_done()
            return
        finally:
            clock._current = None
        if yielded is _PAUSE:
            return  # its timer wakes it
        if yielded is None:  # a bare turn (``asyncio.sleep(0)``)
            self.wake()
            return
        if getattr(yielded, "_asyncio_future_blocking", None) is not None:
            yielded._asyncio_future_blocking = False
            self.waiting_on = yielded
            clock._foreign.add(self)
            yielded.add_done_callback(self._woken)
            if self._must_cancel:
                yielded.cancel()
            return
        self._throw = RuntimeError(f"a coroutine stepped by the clock yielded {yielded!r}")
        self.wake()
