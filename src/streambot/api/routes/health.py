"""GET /api/v1/health: the one route without a token, for monitors and load balancers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """Overall status and each component's (feed, evaluator, store, exchange, live push, alerts)."""
    result: dict[str, Any] = await request.app.state.summary.health()
    return result
