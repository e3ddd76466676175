"""Prometheus metrics served at ``/metrics``, collected when scraped.

The hot path only bumps plain integers and a latency ring; these collectors turn them into metric
families at scrape time, so recording costs nothing beyond an attribute increment. They read the
platform's parts and the API's own counters, so they live with the endpoint that serves them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from streambot.cluster.roster import ClusterRoster
from streambot.domain import FeedState as FEED_STATES
from streambot.observability.requests import RequestStats
from streambot.venues.coinbase.breaker import BreakerState as BREAKER_STATES

if TYPE_CHECKING:
    from streambot.alerts.manager import AlertManager
    from streambot.api.live.hub import EventHub
    from streambot.api.security import AuthGuard
    from streambot.api.served import ServedPlatform


class PlatformCollector(Collector):
    def __init__(self, platform: ServedPlatform) -> None:
        self._platform = platform

    def collect(self) -> Iterator[Metric]:
        p = self._platform
        prices = p.prices

        ticks = CounterMetricFamily(
            "streambot_ticks_received", "Tickers received, per product", labels=["product"]
        )
        for product, count in prices.ticks_by_product.items():
            ticks.add_metric([product], count)
        yield ticks

        restarts = CounterMetricFamily(
            "streambot_task_restarts", "Background tasks restarted after dying", labels=["task"]
        )
        for task, count in p.supervisor.restarts.items():
            restarts.add_metric([task], count)
        yield restarts

        evaluator = p.evaluator
        skipped = CounterMetricFamily(
            "streambot_ticks_coalesced",
            "Tickers superseded by a newer one before evaluation (latest price wins)",
            labels=["product"],
        )
        mailbox = evaluator.mailbox
        for product, count in (mailbox.skipped_by_product if mailbox else {}).items():
            skipped.add_metric([product], count)
        yield skipped
        yield CounterMetricFamily("streambot_bot_evaluations", "Bot evaluations", value=evaluator.evaluations)
        telegram = p.telegram
        if telegram is not None:
            ignored = CounterMetricFamily(
                "streambot_telegram_ignored_updates",
                "Telegram commands and button presses from chats not allowed to command",
                labels=["kind"],
            )
            for kind in ("message", "callback"):
                ignored.add_metric([kind], telegram.ignored[kind])
            yield ignored
            yield CounterMetricFamily(
                "streambot_telegram_commands", "Telegram commands answered", value=telegram.handled
            )
        yield CounterMetricFamily(
            "streambot_bot_evaluation_errors", "Strategies that raised", value=evaluator.errors
        )
        latency = evaluator.tick_to_decision
        yield SummaryMetricFamily(
            "streambot_tick_to_decision_seconds",
            "Frame received to every bot on its product decided",
            count_value=latency.count,
            sum_value=latency.total_ns / 1e9,
        )
        quantiles = GaugeMetricFamily(
            "streambot_tick_to_decision_quantile_seconds",
            "Tick to decision latency over the most recent ticks",
            labels=["quantile"],
        )
        for q in (50, 90, 99):
            quantiles.add_metric([str(q / 100)], latency.percentile_us(q) / 1e6)
        yield quantiles
        buckets = latency.histogram()
        yield HistogramMetricFamily(
            "streambot_tick_to_decision_histogram_seconds",
            "Tick to decision latency, power-of-two buckets, every tick since start",
            buckets=[(f"{le:.9g}", n) for le, n in buckets] + [("+Inf", latency.count)],
            sum_value=latency.total_ns / 1e9,
        )

        order_path = p.order_path
        orders = CounterMetricFamily("streambot_orders", "Orders by outcome", labels=["outcome"])
        orders.add_metric(["placed"], order_path.orders_placed)
        orders.add_metric(["filled"], order_path.orders_filled)
        orders.add_metric(["rejected"], order_path.orders_rejected)
        orders.add_metric(["signal_ignored"], order_path.signals_ignored)
        yield orders
        by_status = CounterMetricFamily(
            "streambot_order_transitions", "Order lifecycle steps reached, by status", labels=["status"]
        )
        for order_status, count in sorted(order_path.by_status.items()):
            by_status.add_metric([order_status], count)
        yield by_status
        steps = GaugeMetricFamily(
            "streambot_order_step_latency_seconds",
            "Decision to each lifecycle step, over recent orders",
            labels=["step", "quantile"],
        )
        for step, stats in order_path.step_latency.items():
            for q in (50, 99):
                steps.add_metric([step, str(q / 100)], stats.percentile_us(q) / 1e6)
        yield steps

        balances = p.balances
        cache = CounterMetricFamily("streambot_balance_cache", "Balance cache lookups", labels=["result"])
        cache.add_metric(["hit"], balances.hits)
        cache.add_metric(["miss"], balances.misses)
        cache.add_metric(["joined"], balances.joined)  # waited on a refresh already under way
        yield cache
        yield GaugeMetricFamily(
            "streambot_balance_cache_hit_ratio", "Balance cache hit ratio", value=balances.hit_rate
        )

        feed = p.feed
        status = feed.status()
        state = GaugeMetricFamily("streambot_feed_state", "1 for the feed's current state", labels=["state"])
        for name in map(str, FEED_STATES):
            state.add_metric([name], 1.0 if status.state == name else 0.0)
        yield state
        yield CounterMetricFamily(
            "streambot_feed_messages", "WebSocket frames received", value=status.messages_received
        )
        yield CounterMetricFamily("streambot_feed_reconnects", "Feed reconnects", value=status.reconnects)
        yield CounterMetricFamily(
            "streambot_feed_sequence_gaps", "Sequence gaps on the feed", value=status.sequence_gaps
        )
        yield CounterMetricFamily(
            "streambot_feed_malformed_frames", "Frames that could not be parsed", value=status.malformed
        )
        yield CounterMetricFamily(
            "streambot_feed_invalid_tickers", "Tickers dropped as invalid", value=status.invalid_tickers
        )
        # --- feed resilience (feed/client.py, feed/poller.py) ---
        yield CounterMetricFamily(
            "streambot_feed_heartbeat_gaps", "Heartbeat counter jumps", value=status.heartbeat_gaps
        )
        yield GaugeMetricFamily(
            "streambot_feed_uptime_ratio",
            "Share of the time since the feed started that it was live",
            value=status.uptime_ratio,
        )
        yield CounterMetricFamily(
            "streambot_feed_rest_polls",
            "REST best bid/ask polls while the stream was down",
            value=status.polls,
        )
        yield CounterMetricFamily(
            "streambot_feed_polled_tickers",
            "Tickers published from REST polling",
            value=status.polled_tickers,
        )

        # --- exchange REST client (exchange/coinbase.py, ratelimit.py, breaker.py) ---
        exchange = p.exchange
        requests = CounterMetricFamily(
            "streambot_exchange_requests",
            "REST requests by endpoint and HTTP status (0: no answer)",
            labels=["endpoint", "status"],
        )
        for (endpoint, code), count in list(exchange.requests.items()):
            requests.add_metric([endpoint, str(code)], count)
        yield requests
        yield CounterMetricFamily(
            "streambot_exchange_rate_limited", "HTTP 429 answers received", value=exchange.rate_limited
        )
        breaker = exchange.breaker
        circuit = GaugeMetricFamily(
            "streambot_exchange_circuit_state", "1 for the REST circuit breaker's state", labels=["state"]
        )
        current = breaker.state
        for name in BREAKER_STATES:
            circuit.add_metric([name], 1.0 if current == name else 0.0)
        yield circuit
        yield CounterMetricFamily(
            "streambot_exchange_circuit_opened", "Times the REST circuit opened", value=breaker.opened
        )
        waits = CounterMetricFamily(
            "streambot_exchange_rate_limiter_waits", "Requests that waited for a token", labels=["bucket"]
        )
        wait_seconds = CounterMetricFamily(
            "streambot_exchange_rate_limiter_wait_seconds",
            "Time spent waiting for tokens",
            labels=["bucket"],
        )
        for limiter in (exchange.private_limiter, exchange.public_limiter):
            waits.add_metric([limiter.name], limiter.waits)
            wait_seconds.add_metric([limiter.name], limiter.wait_seconds)
        yield waits
        yield wait_seconds


class ApiCollector(Collector):
    def __init__(self, hub: EventHub, requests: RequestStats, guard: AuthGuard, alerts: AlertManager) -> None:
        self._hub = hub
        self._requests = requests
        self._guard = guard
        self._alerts = alerts

    def collect(self) -> Iterator[Metric]:
        hub = self._hub
        clients = GaugeMetricFamily(
            "streambot_websocket_clients", "Dashboard WebSocket clients connected", labels=["channel"]
        )
        for channel, count in hub.clients_by_channel().items():
            clients.add_metric([channel], count)
        yield clients
        yield CounterMetricFamily(
            "streambot_websocket_connections",
            "Dashboard WebSocket clients accepted",
            value=hub.connections_total,
        )
        yield CounterMetricFamily(
            "streambot_websocket_clients_cut_off",
            "Dashboard WebSocket clients closed for falling behind (4408)",
            value=hub.cut_off_total,
        )
        yield CounterMetricFamily(
            "streambot_live_events", "Bus events numbered for live push", value=hub.last_id
        )

        requests = CounterMetricFamily(
            "streambot_rest_requests",
            "REST requests by route and status",
            labels=["method", "route", "status"],
        )
        for (method, route, status), count in sorted(self._requests.by_route.items()):
            requests.add_metric([method, route, str(status)], count)
        yield requests
        yield SummaryMetricFamily(
            "streambot_rest_request_seconds",
            "REST request handling time",
            count_value=self._requests.total,
            sum_value=self._requests.total_ns / 1e9,
        )
        yield CounterMetricFamily(
            "streambot_api_auth_failures", "Requests with a wrong API token", value=self._guard.failures_total
        )
        yield CounterMetricFamily(
            "streambot_api_auth_lockouts",
            "Addresses locked out after wrong tokens",
            value=self._guard.lockouts_total,
        )

        alerts = self._alerts
        active = GaugeMetricFamily(
            "streambot_alerts_active", "1 per active alert", labels=["code", "severity"]
        )
        for alert in alerts.active.values():
            active.add_metric([alert.code, alert.severity], 1.0)
        yield active
        yield CounterMetricFamily("streambot_alerts_raised", "Alerts raised", value=alerts.raised_total)


class ClusterCollector(Collector):
    """A cluster's API process: each worker's figures from its last heartbeat (label ``worker``,
    its id), named as the process's own figures are, under ``streambot_cluster_``."""

    def __init__(self, roster: ClusterRoster) -> None:
        self._roster = roster

    def collect(self) -> Iterator[Metric]:
        roster = self._roster
        alive = GaugeMetricFamily(
            "streambot_cluster_worker_alive", "1 while the worker's heartbeat is recent", labels=["worker"]
        )
        rate = GaugeMetricFamily(
            "streambot_cluster_worker_ticks_per_second",
            "Tickers a worker received per second, at its last heartbeat",
            labels=["worker"],
        )
        p99 = GaugeMetricFamily(
            "streambot_cluster_worker_tick_to_decision_quantile_seconds",
            "A worker's tick to decision latency over its most recent ticks, at its last heartbeat",
            labels=["worker", "quantile"],
        )
        owned = GaugeMetricFamily(
            "streambot_cluster_worker_bots_owned", "Bots a worker owns (their leases)", labels=["worker"]
        )
        for seen in roster.workers:
            worker = seen.worker
            alive.add_metric([worker.worker_id], 1.0 if seen.alive else 0.0)
            rate.add_metric([worker.worker_id], worker.ticks_per_s)
            p99.add_metric([worker.worker_id, "0.99"], worker.p99_us / 1e6)
            owned.add_metric([worker.worker_id], len(worker.bots) if seen.alive else 0)
        yield from (alive, rate, p99, owned)
        yield GaugeMetricFamily(
            "streambot_cluster_workers_alive", "Workers with a recent heartbeat", value=roster.alive
        )
        yield GaugeMetricFamily(
            "streambot_cluster_bots_without_owner",
            "Running bots no live worker holds (nothing trades them until one claims them)",
            value=len(roster.without_owner),
        )


def registry_for(platform: ServedPlatform) -> CollectorRegistry:
    """A registry per platform (not the global one), so tests can run several side by side."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(PlatformCollector(platform))
    if platform.roster is not None:
        registry.register(ClusterCollector(platform.roster))
    return registry
