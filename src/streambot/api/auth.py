"""Bearer-token auth for every route but health; wrong tokens count towards a lockout."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from streambot.api.security import AuthGuard, peer_of

_bearer = HTTPBearer(auto_error=False, description="The API token printed at start-up")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected: str = request.app.state.platform.api_token
    guard: AuthGuard = request.app.state.auth_guard
    peer = peer_of(request.scope)
    locked = guard.locked_for(peer)
    if locked:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many wrong API tokens from this address; try again later",
            headers={"Retry-After": str(max(1, math.ceil(locked)))},
        )
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API token: send 'Authorization: Bearer <token>' (the token is printed at start-up)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not guard.verify(peer, credentials.credentials, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid API token", headers={"WWW-Authenticate": "Bearer"}
        )
