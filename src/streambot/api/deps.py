"""Access to the running platform from a request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import HTTPException, Request, status

if TYPE_CHECKING:
    from streambot.app import Platform
    from streambot.bots import BotManager


def platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


def bot_manager(request: Request) -> BotManager:
    bots = platform(request).bots
    if bots is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the platform is still starting")
    return bots
