"""Bearer-token auth for every route but health; wrong tokens count towards a lockout.

A locked-out address is answered 429 by ``GuardMiddleware`` before routing, so it never gets here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from streambot.api.security import AuthGuard, peer_of

_bearer = HTTPBearer(auto_error=False, description="The API token printed at start-up")


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected: str = request.app.state.platform.api_token
    guard: AuthGuard = request.app.state.auth_guard
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API token: send 'Authorization: Bearer <token>' (the token is printed at start-up)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not guard.verify(peer_of(request.scope), credentials.credentials, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid API token", headers={"WWW-Authenticate": "Bearer"}
        )
