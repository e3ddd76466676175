"""The strategies a bot can run, with the JSON schema and defaults of their parameters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from streambot.strategies.registry import describe_strategies

router = APIRouter(prefix="/strategies", tags=["strategies"])


@router.get("")
async def list_strategies() -> list[dict[str, Any]]:
    """Name, description, parameter JSON schema and defaults of every strategy."""
    return describe_strategies()
