"""Every status code a route can answer is in the OpenAPI schema, not only its success and 422.

FastAPI documents what a route returns and its validation error; what the guards before it answer
(401 without a valid token, 429 rate-limited or locked out, 413/400 for a body over the limit) and
the 404 of a route that looks something up are named here, once for all routers, so a client
generated from the schema (and Schemathesis, tests/integration/api/test_schema.py) knows them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """The body of every error but 422: what went wrong, in one sentence."""

    detail: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorDetail, "description": description}


_GUARDED: dict[int | str, dict[str, Any]] = {
    401: _error("No token, or a wrong one (send `Authorization: Bearer <token>`)"),
    429: _error("Too many requests from this address, or locked out after wrong tokens (see Retry-After)"),
}
_WITH_BODY: dict[int | str, dict[str, Any]] = {
    400: _error("The Content-Length header is not a byte count"),
    413: _error("The request body is larger than the configured limit"),
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("Nothing by that id or name")}


GUARDED: dict[int | str, dict[str, Any]] = {**_GUARDED, **_WITH_BODY}
"""What every route behind the token may answer before it runs: pass as ``responses`` to
``include_router``."""
LOOKED_UP: dict[int | str, dict[str, Any]] = {**GUARDED, **_NOT_FOUND}
"""The same, for the routers whose routes look something up by id or name (404)."""
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _error("The request conflicts with the current state (the sentence says what to do instead)")
}
"""For the routes that refuse what the present state does not allow (409): pass as ``responses``
to the route."""
