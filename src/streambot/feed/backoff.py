"""How long to wait before the next connection attempt: exponential backoff with full jitter.

Full jitter (a uniform draw between 0 and the exponential ceiling) keeps many clients that lost
the same server from reconnecting in lockstep. A connection that went live resets the ceiling.
"""

from __future__ import annotations

import random
from typing import Final

BACKOFF_BASE_S: Final = 0.5
BACKOFF_CAP_S: Final = 30.0


class ReconnectBackoff:
    def __init__(
        self, *, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S, rng: random.Random | None = None
    ) -> None:
        self.base = base
        self.cap = cap
        self._random = rng if rng is not None else random.Random()
        self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0

    def next_delay(self, *, went_live: bool) -> float:
        """The wait after a connection ended; ``went_live``: frames flowed on it."""
        self.attempt = 0 if went_live else self.attempt + 1
        return self._random.uniform(0.0, min(self.cap, self.base * 2 ** max(0, self.attempt - 1)))
