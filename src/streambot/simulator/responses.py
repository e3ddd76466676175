"""JSON responses and Coinbase's error body, for the REST, admin and middleware layers alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import orjson
from aiohttp import web

RATE_LIMITED_BODY: Final = {"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]}


class ApiError(Exception):
    """Raised by a handler; the errors middleware answers it with Coinbase's error body."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


def json_response(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def error_response(status: int, error: str, message: str) -> web.Response:
    return json_response({"error": error, "error_details": message, "message": message}, status)
