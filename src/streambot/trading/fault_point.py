"""A test facility: kill this process at a named point of the order path.

The crash tests (tests/integration/crash/) need a SIGKILL exactly where an order is most at risk,
which random kill times hit only now and then: between the commit of the intent and the send
(``after_intent_commit``: the order is stored, the exchange never heard of it) and between the
send and the booking of its fills (``after_send``: the exchange has the order, our record says
``risk_checked``). Set ``STREAMBOT_FAULT_POINT`` to one of them; the order path reads it once, in
its constructor, through Settings, and kills itself the first time it reaches that point. Unset
(always, outside those tests) it costs one comparison per order and does nothing.
"""

from __future__ import annotations

import logging
import os
import signal
from enum import StrEnum

log = logging.getLogger(__name__)


class FaultPoint(StrEnum):
    AFTER_INTENT_COMMIT = "after_intent_commit"
    AFTER_SEND = "after_send"


def kill_self_at(point: FaultPoint) -> None:
    """SIGKILL this process: no cleanup, no flush, no finally blocks, as a power cut would."""
    log.critical("💥 STREAMBOT_FAULT_POINT=%s reached: killing this process", point.value)
    for handler in logging.getLogger().handlers:
        handler.flush()  # the line above is what tells a reader of the log why the process died
    os.kill(os.getpid(), signal.SIGKILL)
