"""REST requests by route template and status, counted in the API's middleware."""

from __future__ import annotations

from streambot.observability.latency import LatencyStats


class RequestStats:
    __slots__ = ("by_route", "latency", "total_ns")

    def __init__(self) -> None:
        # (method, route template, status) -> count; templates are few, so this stays small.
        self.by_route: dict[tuple[str, str, int], int] = {}
        self.total_ns = 0  # handling time summed: /metrics reports count and sum, nothing finer
        # The handling time's distribution, server side (the API benchmark reads its p99: what a
        # request cost here, apart from what the network and the client's own process added).
        self.latency = LatencyStats()

    def record(self, method: str, route: str, status: int, ns: int) -> None:
        key = (method, route, status)
        self.by_route[key] = self.by_route.get(key, 0) + 1
        self.total_ns += ns
        self.latency.record(ns)

    @property
    def total(self) -> int:
        return sum(self.by_route.values())

    def count_status(self, status: int) -> int:
        return sum(n for (_, _, s), n in self.by_route.items() if s == status)

    def errors_5xx(self) -> int:
        return sum(n for (_, _, s), n in self.by_route.items() if s >= 500)
