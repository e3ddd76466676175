"""Commands that trade or stop trading wait for a second word: a button or ``/confirm <code>``."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from streambot.clock import Clock

Action = Callable[[], Awaitable[str]]  # does the thing; returns the reply


@dataclass(slots=True, frozen=True)
class PendingAction:
    chat_id: int
    summary: str  # what will happen, in the words the confirmation repeats
    run: Action
    expires_at: float  # monotonic seconds on the platform's clock


class PendingConfirmations:
    """Codes handed out per chat; a code confirms once, only in its chat, and only before it expires."""

    def __init__(self, clock: Clock, ttl_s: float) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._pending: dict[str, PendingAction] = {}

    def ask(self, chat_id: int, summary: str, run: Action) -> str:
        self._expire()
        code = secrets.token_hex(3)
        while code in self._pending:
            code = secrets.token_hex(3)
        self._pending[code] = PendingAction(chat_id, summary, run, self._clock.monotonic() + self._ttl_s)
        return code

    def take(self, chat_id: int, code: str) -> PendingAction | None:
        """The action, removed; None for an unknown, expired or other chat's code."""
        self._expire()
        pending = self._pending.get(code.strip().lower())
        if pending is None or pending.chat_id != chat_id:
            return None
        del self._pending[code.strip().lower()]
        return pending

    @property
    def ttl_s(self) -> float:
        return self._ttl_s

    def __len__(self) -> int:
        self._expire()
        return len(self._pending)

    def _expire(self) -> None:
        now = self._clock.monotonic()
        for code in [c for c, p in self._pending.items() if p.expires_at <= now]:
            del self._pending[code]
