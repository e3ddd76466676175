"""Prometheus metrics of the API itself: REST requests, WebSocket clients, auth, alerts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from streambot.observability.requests import RequestStats

if TYPE_CHECKING:
    from streambot.alerts.manager import AlertManager
    from streambot.api.live.hub import EventHub
    from streambot.api.security import AuthGuard


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
