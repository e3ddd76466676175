"""The dashboard's figures as JSON (GET /api/v1/metrics/summary, the status WebSocket frame) and
the per-component health report (GET /api/v1/health).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from streambot.clock import Clock
from streambot.config import MarketData
from streambot.domain import BotState
from streambot.observability.rates import RateMeter

if TYPE_CHECKING:
    from streambot.api.served import ServedPlatform
    from streambot.feed.state import FeedStatus
    from streambot.observability.requests import RequestStats


def feed_summary(status: FeedStatus) -> dict[str, Any]:
    return {
        "state": status.state,
        "connected": status.connected,
        "reconnects": status.reconnects,
        "sequence_gaps": status.sequence_gaps,
        "heartbeat_gaps": status.heartbeat_gaps,
        "messages_per_second": round(status.messages_per_second, 2),
        "last_message_age_s": status.last_message_age_s,
        "uptime_ratio": status.uptime_ratio,
        "last_error": status.last_error,
    }


class Summary:
    """Builds the summary; keeps the previous tick count to report a rate."""

    def __init__(self, platform: ServedPlatform, clock: Clock, requests: RequestStats) -> None:
        self._platform = platform
        self._clock = clock
        self._requests = requests
        # Built with the platform, before any tick: the tick count is 0 now.
        self._ticks = RateMeter(clock, clock.monotonic())
        self._cached: tuple[float, dict[str, Any]] | None = None

    def metrics(self, max_age: float = 0.5) -> dict[str, Any]:
        """The figures, reused for ``max_age`` seconds: percentiles sort the latency ring, and
        several dashboards polling at once should not each pay for that."""
        now = self._clock.monotonic()
        if self._cached is not None and now - self._cached[0] < max_age:
            return self._cached[1]
        figures = self._build()
        self._cached = (now, figures)
        return figures

    def _build(self) -> dict[str, Any]:
        p = self._platform
        evaluator = p.evaluator
        latency = evaluator.tick_to_decision.summary()
        balances = p.balances
        order_path = p.order_path
        hub = p.events
        requests = self._requests
        ticks = p.prices.ticks_published
        age = balances.age
        return {
            "uptime_s": round(self._clock.time() - p.started_at, 1),
            "ticks_received": ticks,
            "ticks_per_second": round(self._ticks.update(ticks), 1),
            "ticks_coalesced": evaluator.skipped_ticks,
            "tick_to_decision_us": {
                "p50": latency["p50_us"],
                "p99": latency["p99_us"],
                "max": latency["max_us"],
                "count": latency["count"],
            },
            "evaluations": evaluator.evaluations,
            "evaluation_errors": evaluator.errors,
            # A bot whose strategy raised stays listed (with its reason) but is not running.
            "bots_running": sum(b.state is BotState.RUNNING for b in evaluator.bots()),
            "orders": {
                "placed": order_path.orders_placed,
                "filled": order_path.orders_filled,
                "rejected": order_path.orders_rejected,
                "signals_ignored": order_path.signals_ignored,
            },
            "balance_cache": {
                "hits": balances.hits,
                "misses": balances.misses,
                "joined": balances.joined,  # waited on a refresh already under way
                "hit_rate": round(balances.hit_rate, 4),
                "request_free_rate": round(balances.request_free_rate, 4),
                "age_s": round(age, 1) if age is not None else None,
            },
            "feed": feed_summary(p.feed.status()),
            "exchange": {
                "rate_limited_429": p.exchange.rate_limited,
                "breaker_state": p.exchange.breaker.state,
            },
            "websocket_clients": hub.client_count,
            "websocket_clients_by_channel": hub.clients_by_channel(),
            "alerts_active": len(p.alerts.active),
            "rest": {
                "requests": requests.total,
                "errors_5xx": requests.errors_5xx(),
                "rate_limited_429": requests.count_status(429),
            },
        }

    async def health(self, feed: FeedStatus | None = None) -> dict[str, Any]:
        p = self._platform
        feed_state = (feed or p.feed.status()).state
        # Polling is what the user asked for when they stopped the stream: degraded, not down.
        feed_ok = feed_state in {"live", "polling"}
        store: dict[str, Any] = {"ok": True}
        try:
            # A real round trip: a store that cannot answer must not be reported healthy. Shielded:
            # a probe that times out (or a status frame cancelled at shutdown) must not cancel the
            # query itself, which would abandon its pooled connection instead of returning it.
            await asyncio.wait_for(asyncio.shield(p.store.count_bots()), timeout=2.0)
        except Exception as exc:
            store = {"ok": False, "error": type(exc).__name__}
        breaker = p.exchange.breaker.state
        alerts = p.alerts
        components: dict[str, Any] = {
            "feed": {"ok": feed_ok, "state": feed_state},
            "evaluator": {"ok": True, "errors": p.evaluator.errors},
            "store": store,
            "exchange": {"ok": breaker != "open", "breaker": breaker},
            "balances": {"ok": True, "hit_rate": round(p.balances.hit_rate, 4)},
            "live_push": {"ok": True, "clients": p.events.client_count},
            "alerts": {"ok": not alerts.active, "active": sorted(alerts.active)},
        }
        if p.simulator is not None:
            components["simulator"] = {"ok": True}
        roster = p.roster
        if roster is not None:
            # The API process trades nothing itself: a live worker owns every running bot or not.
            components["cluster"] = {
                "ok": roster.read and roster.alive > 0 and not roster.without_owner,
                "workers_alive": roster.alive,
                "workers": len(roster.workers),
                "bots_without_owner": [int(b) for b in roster.without_owner],
            }
        core_ok = feed_state == "live" and store["ok"]
        return {
            "status": "ok" if core_ok else "degraded",
            "mode": p.settings.mode.value,
            "market_data": p.settings.market_data.value,
            "uptime_s": round(self._clock.time() - p.started_at, 1),
            "components": components,
        }

    async def status_frame(self) -> dict[str, Any]:
        """The body of the status WebSocket frame (its "type" is added by the hub)."""
        feed = self._platform.feed.status()  # one read for the whole frame
        return {
            "feed": feed_summary(feed),
            "health": await self.health(feed),
            "metrics": self.metrics(),
            "entries_blocked": entries_blocked(self._platform, feed),
            "market": market_source(self._platform),
            "mode": self._platform.settings.mode.value,
        }


def market_source(platform: ServedPlatform) -> str:
    """Whose market the prices are: "simulator" (paper on the simulator's market) or "coinbase"."""
    return "simulator" if platform.settings.market_data is MarketData.SIM else "coinbase"


def entries_blocked(platform: ServedPlatform, feed: FeedStatus) -> str | None:
    """Why no bot may open a position right now, or None when entries are allowed: the account's
    kill switch or HALTED state, or the stale-price rule, which refuses entries while the feed is
    not live (REST polling included)."""
    account = platform.trading.risk.account
    if account.kill_switch:
        return f"kill switch on{': ' + account.kill_reason if account.kill_reason else ''}"
    if account.halted:
        return f"trading halted{': ' + account.halt_reason if account.halt_reason else ''}"
    if feed.state == "live" or platform.settings.risk_stale_price_s <= 0:
        return None
    return f"feed not live ({feed.state})"
