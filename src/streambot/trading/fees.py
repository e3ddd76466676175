"""The fee tier every decision uses: the account's own (live), or the configured one (paper).

Live, the tier is read from the exchange (Coinbase's ``transaction_summary``) at start-up and
then once a day on the platform's clock, since a tier follows the trailing 30 days' volume. Until
the first read succeeds, and whenever one fails, the last known tier stays (at first the
configured one, Coinbase's entry tier by default: the highest rates, so no estimate is too kind).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from streambot.clock import Clock
from streambot.domain import FeeSource, FeeTier

log = logging.getLogger(__name__)

DAY_S = 86_400.0


class FeeSchedule:
    def __init__(
        self,
        read: Callable[[], Awaitable[FeeTier]],
        *,
        initial: FeeTier,
        source: FeeSource,
        clock: Clock,
        refresh_every_s: float = DAY_S,
    ) -> None:
        """``read`` asks the venue; what it answers is labelled ``source`` (the simulator answers
        with the configured tier, so paper trading's fees are ``configured``)."""
        self._read = read
        self._source = source
        self._clock = clock
        self._refresh_every_s = refresh_every_s
        self.current = initial
        self.refreshed_at: float | None = None  # UNIX seconds of the last successful read

    async def refresh(self) -> FeeTier:
        """Read the tier now; on failure keep the last one (and say so in the log)."""
        try:
            tier = await self._read()
        except Exception as exc:
            log.warning(
                "⚠️ Fee tier not read (%s); keeping %s", exc or type(exc).__name__, _describe(self.current)
            )
            return self.current
        tier = replace(tier, source=self._source)
        if tier != self.current:
            log.info("💸 Fee tier: %s", _describe(tier))
        self.current = tier
        self.refreshed_at = self._clock.time()
        return tier

    async def run(self) -> None:
        """Refresh once per ``refresh_every_s`` (a day) until cancelled."""
        while True:
            await self._clock.sleep(self._refresh_every_s)
            await self.refresh()


def _describe(tier: FeeTier) -> str:
    return (
        f"maker {tier.maker_fee_rate * 100:.2f}% / taker {tier.taker_fee_rate * 100:.2f}% ({tier.source}), "
        f"round trip {tier.round_trip_pct:.2f}%"
    )
