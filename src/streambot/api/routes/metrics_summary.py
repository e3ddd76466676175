"""GET /api/v1/metrics/summary: the figures of /metrics as one JSON object for the dashboard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get("/summary")
async def metrics_summary(request: Request) -> dict[str, Any]:
    """Ticks, latency, evaluations, feed, exchange, cache, WebSocket clients, alerts, REST."""
    summary = request.app.state.summary
    result: dict[str, Any] = summary.metrics()
    return result
