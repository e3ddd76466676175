"""Background work that must not die quietly: each task is restarted when it fails.

A background task (the feed, the live push, the paper market's follower, reconciliation, the
equity watch, alerts, chart candles, the evaluator…) that raises is logged (``❌ … restarting``),
counted per task and started again from a fresh coroutine after a backoff on the clock (1 s, then
doubling to 30 s; back to 1 s after it ran a minute without failing). A task that dies again and
again (by default 3 times within 5 minutes) is reported by ``failing()``, which the alert rules
read. A task that returns is done and not restarted (the feed returns after ``stop``); ``stop``
cancels them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Final

from streambot.clock import Clock

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Coroutine[Any, Any, None]]
"""Makes the task's coroutine: called again for every restart."""

FIRST_DELAY_S: Final = 1.0
MAX_DELAY_S: Final = 30.0
HEALTHY_AFTER_S: Final = 60.0  # a run this long without failing resets the backoff
DEATH_WINDOW_S: Final = 300.0
ALERT_AFTER_DEATHS: Final = 3


@dataclass(slots=True)
class _Supervised:
    name: str
    factory: TaskFactory
    task: asyncio.Task[None] | None = None
    restarts: int = 0
    deaths: deque[float] = field(default_factory=deque)  # monotonic times, within the window
    last_error: str = ""


class Supervisor:
    def __init__(
        self,
        clock: Clock,
        *,
        first_delay: float = FIRST_DELAY_S,
        max_delay: float = MAX_DELAY_S,
        healthy_after: float = HEALTHY_AFTER_S,
        window_s: float = DEATH_WINDOW_S,
        alert_after: int = ALERT_AFTER_DEATHS,
    ) -> None:
        if first_delay <= 0 or max_delay < first_delay:
            raise ValueError("the restart delays must be positive, the first no longer than the cap")
        self._clock = clock
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.healthy_after = healthy_after
        self.window_s = window_s
        self.alert_after = alert_after
        self._tasks: dict[str, _Supervised] = {}
        self._stopping = False

    # --- spawning and stopping -------------------------------------------------------------------

    def spawn(self, factory: TaskFactory, name: str) -> bool:
        """Run ``factory()`` as the task ``name`` and keep it running. False (nothing started)
        when a task of that name is still running."""
        if self._stopping:
            raise RuntimeError("the supervisor is stopping")
        entry = self._tasks.get(name)
        if entry is not None and entry.task is not None and not entry.task.done():
            return False
        if entry is None:
            entry = self._tasks[name] = _Supervised(name, factory)
        else:
            entry.factory = factory
        entry.task = asyncio.get_running_loop().create_task(self._keep(entry), name=name)
        return True

    def running(self, name: str) -> bool:
        entry = self._tasks.get(name)
        return entry is not None and entry.task is not None and not entry.task.done()

    async def stop(self) -> None:
        """Cancel every task and wait for each to end."""
        self._stopping = True
        tasks = [e.task for e in self._tasks.values() if e.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- what the metrics and the alert rules read ----------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self._tasks)

    @property
    def restarts(self) -> dict[str, int]:
        """Restarts so far by task (every task spawned is listed, 0 when it never died)."""
        return {name: entry.restarts for name, entry in self._tasks.items()}

    def recent_deaths(self) -> dict[str, int]:
        """Deaths within the window by task, for the tasks that died within it."""
        now = self._clock.monotonic()
        found: dict[str, int] = {}
        for name, entry in self._tasks.items():
            self._forget_old(entry, now)
            if entry.deaths:
                found[name] = len(entry.deaths)
        return found

    def failing(self) -> dict[str, str]:
        """Tasks that died ``alert_after`` times or more within the window → their last error."""
        deaths = self.recent_deaths()
        return {
            name: self._tasks[name].last_error for name, count in deaths.items() if count >= self.alert_after
        }

    # --- keeping one task alive ------------------------------------------------------------------

    def _forget_old(self, entry: _Supervised, now: float) -> None:
        while entry.deaths and now - entry.deaths[0] > self.window_s:
            entry.deaths.popleft()

    async def _keep(self, entry: _Supervised) -> None:
        clock = self._clock
        delay = self.first_delay
        while True:
            started = clock.monotonic()
            try:
                await entry.factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                now = clock.monotonic()
                if now - started >= self.healthy_after:
                    delay = self.first_delay
                entry.restarts += 1
                entry.deaths.append(now)
                self._forget_old(entry, now)
                entry.last_error = _describe(exc)
                log.error(
                    "❌ %s died (%s): restarting in %.1fs (%d death(s) in %.0f min)",
                    entry.name,
                    entry.last_error,
                    delay,
                    len(entry.deaths),
                    self.window_s / 60,
                    exc_info=exc,
                )
                await clock.sleep(delay)
                delay = min(delay * 2, self.max_delay)
                log.info("🔄 %s restarting (restart %d)", entry.name, entry.restarts)
                continue
            log.debug("%s finished", entry.name)
            return


def _describe(exc: BaseException) -> str:
    text = str(exc)[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
