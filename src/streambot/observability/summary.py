"""The dashboard's figures as JSON (GET /api/v1/metrics/summary, the status WebSocket frame) and
the per-component health report (GET /api/v1/health).

Parts that start with the platform (exchange, feed, evaluator, executor, balance cache) are None
until then; their figures are reported as zero or null meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from streambot.domain import BotState

if TYPE_CHECKING:
    from streambot.app import Platform
    from streambot.observability.requests import RequestStats


class RateMeter:
    """Events per second between two reads at least ``min_window`` apart.

    Until a second read is that far from the first, the rate is the average since ``started_at``
    (monotonic seconds at which the count was 0), so a single read never shows 0/s for a live stream.
    """

    __slots__ = ("_at", "_count", "_read", "min_window", "rate")

    def __init__(self, started_at: float, min_window: float = 1.0) -> None:
        self.min_window = min_window
        self._count = 0
        self._at = started_at
        self._read = False
        self.rate = 0.0

    def update(self, count: int) -> float:
        now = time.monotonic()
        elapsed = now - self._at
        if elapsed >= self.min_window or (not self._read and elapsed > 0):
            self._read = True
            self.rate = (count - self._count) / elapsed
            self._count, self._at = count, now
        return self.rate


def breaker_state(platform: Platform) -> str | None:
    """The exchange REST circuit breaker's state; None before the exchange client exists."""
    return platform.exchange.breaker.state if platform.exchange is not None else None


def feed_summary(platform: Platform) -> dict[str, Any]:
    feed = platform.feed
    if feed is None:
        return {"state": "not started", "reconnects": 0, "sequence_gaps": 0, "uptime_ratio": None}
    status = feed.status()
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

    def __init__(self, platform: Platform, requests: RequestStats | None = None) -> None:
        self._platform = platform
        self._requests = requests
        # The platform's start as a monotonic time: its tick count was 0 then.
        self._ticks = RateMeter(time.monotonic() - max(0.0, time.time() - platform.started_at))
        self._cached: tuple[float, dict[str, Any]] | None = None

    def metrics(self, max_age: float = 0.5) -> dict[str, Any]:
        """The figures, reused for ``max_age`` seconds: percentiles sort the latency ring, and
        several dashboards polling at once should not each pay for that."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < max_age:
            return self._cached[1]
        figures = self._build()
        self._cached = (now, figures)
        return figures

    def _build(self) -> dict[str, Any]:
        p = self._platform
        evaluator = p.evaluator
        latency = evaluator.tick_to_decision.summary() if evaluator else None
        balances = p.balances
        executor = p.order_path
        exchange = p.exchange
        hub = p.events
        requests = self._requests
        ticks = p.bus.ticks_published
        orders: dict[str, Any] = {}
        if executor is not None:
            orders = {
                "placed": executor.orders_placed,
                "filled": executor.orders_filled,
                "rejected": executor.orders_rejected,
                "signals_ignored": executor.signals_ignored,
            }
        return {
            "uptime_s": round(time.time() - p.started_at, 1),
            "ticks_received": ticks,
            "ticks_per_second": round(self._ticks.update(ticks), 1),
            "ticks_coalesced": evaluator.skipped_ticks if evaluator else 0,
            "tick_to_decision_us": {
                "p50": latency["p50_us"] if latency else 0.0,
                "p99": latency["p99_us"] if latency else 0.0,
                "max": latency["max_us"] if latency else 0.0,
                "count": latency["count"] if latency else 0,
            },
            "evaluations": evaluator.evaluations if evaluator else 0,
            "evaluation_errors": evaluator.errors if evaluator else 0,
            # A bot whose strategy raised stays listed (with its reason) but is not running.
            "bots_running": sum(b.state is BotState.RUNNING for b in evaluator.bots()) if evaluator else 0,
            "orders": orders,
            "balance_cache": {
                "hits": balances.hits if balances else 0,
                "misses": balances.misses if balances else 0,
                "joined": balances.joined if balances else 0,  # waited on a refresh already under way
                "hit_rate": round(balances.hit_rate, 4) if balances else None,
                "request_free_rate": round(balances.request_free_rate, 4) if balances else None,
                "age_s": round(age, 1) if balances and (age := balances.age) is not None else None,
            },
            "feed": feed_summary(p),
            "exchange": {
                "rate_limited_429": exchange.rate_limited if exchange is not None else None,
                "breaker_state": breaker_state(p),
            },
            "websocket_clients": hub.client_count,
            "websocket_clients_by_channel": hub.clients_by_channel(),
            "alerts_active": len(p.alerts.active),
            "rest": {
                "requests": requests.total if requests else 0,
                "errors_5xx": requests.errors_5xx() if requests else 0,
                "rate_limited_429": requests.count_status(429) if requests else 0,
            },
        }

    async def health(self) -> dict[str, Any]:
        p = self._platform
        feed = p.feed.status() if p.feed is not None else None
        feed_state = feed.state if feed else "not started"
        # Polling is what the user asked for when they stopped the stream: degraded, not down.
        feed_ok = feed_state in {"live", "polling"}
        store: dict[str, Any] = {"ok": True}
        try:
            # A real round trip: a store that cannot answer must not be reported healthy.
            await asyncio.wait_for(p.store.count_bots(), timeout=2.0)
        except Exception as exc:
            store = {"ok": False, "error": type(exc).__name__}
        breaker = breaker_state(p)
        alerts = p.alerts
        components: dict[str, Any] = {
            "feed": {"ok": feed_ok, "state": feed_state},
            "evaluator": {
                "ok": p.evaluator is not None,
                "errors": p.evaluator.errors if p.evaluator else 0,
            },
            "store": store,
            "exchange": {"ok": p.exchange is not None and breaker != "open", "breaker": breaker},
            "balances": {
                "ok": p.balances is not None,
                "hit_rate": round(p.balances.hit_rate, 4) if p.balances else None,
            },
            "live_push": {"ok": True, "clients": p.events.client_count},
            "alerts": {"ok": not alerts.active, "active": sorted(alerts.active)},
        }
        if p.simulator is not None:
            components["simulator"] = {"ok": True}
        core_ok = feed_state == "live" and store["ok"]
        return {
            "status": "ok" if core_ok else "degraded",
            "mode": p.settings.mode.value,
            "market_data": p.settings.market_data.value,
            "uptime_s": round(time.time() - p.started_at, 1),
            "components": components,
        }

    async def status_frame(self) -> dict[str, Any]:
        """The body of the status WebSocket frame (its "type" is added by the hub)."""
        health = await self.health()
        return {"feed": feed_summary(self._platform), "health": health, "metrics": self.metrics()}
