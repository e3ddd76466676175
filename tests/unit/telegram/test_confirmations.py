"""A confirmation code works once, in its own chat, before it expires."""

from __future__ import annotations

from streambot.clock import ManualClock
from streambot.telegram.confirmations import PendingConfirmations


async def _done() -> str:
    return "done"


def test_a_code_confirms_once_in_its_chat_before_it_expires() -> None:
    clock = ManualClock()
    pending = PendingConfirmations(clock, ttl_s=60)
    code = pending.ask(1, "kill", _done)
    assert len(code) == 6
    assert pending.take(2, code) is None  # another chat
    taken = pending.take(1, code.upper())  # typed in capitals on a phone
    assert taken is not None
    assert taken.summary == "kill"
    assert pending.take(1, code) is None  # once

    late = pending.ask(1, "resume", _done)
    clock.advance(clock.monotonic() + 60)
    assert pending.take(1, late) is None
    assert len(pending) == 0


def test_codes_differ() -> None:
    pending = PendingConfirmations(ManualClock(), ttl_s=60)
    codes = {pending.ask(1, f"action {i}", _done) for i in range(200)}
    assert len(codes) == 200
