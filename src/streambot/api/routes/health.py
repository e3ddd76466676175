"""GET /api/v1/health: the one route without a token, for monitors and load balancers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from streambot.api.deps import Platform

router = APIRouter()


@router.get("/health")
async def health(p: Platform) -> dict[str, Any]:
    """Overall status and each component's (feed, evaluator, store, exchange, live push, alerts)."""
    return await p.summary.health()
