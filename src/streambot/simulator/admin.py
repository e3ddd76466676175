"""The simulator's own admin API: list, inject and clear faults at ``/sim/faults``, read its
counters at ``/sim/stats`` (loopback only; what a platform running it in a child process asks).

The request gate in middleware.py refuses every other client before these handlers run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson
from aiohttp import web

from streambot.simulator.faults import FaultError, Faults
from streambot.simulator.responses import error_response, json_response

ADMIN_PREFIX: Final = "/sim/"


class FaultAdmin:
    def __init__(self, faults: Faults, stats: Callable[[], dict[str, Any]] = dict) -> None:
        self.faults = faults
        self._stats = stats

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/sim/faults", self._list_faults, allow_head=False)
        app.router.add_post("/sim/faults", self._inject_fault)
        app.router.add_delete("/sim/faults", self._clear_faults)
        app.router.add_get("/sim/stats", self._read_stats, allow_head=False)

    async def _read_stats(self, request: web.Request) -> web.Response:
        return json_response(self._stats())

    async def _list_faults(self, request: web.Request) -> web.Response:
        return json_response({"faults": self.faults.active()})

    async def _inject_fault(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return error_response(400, "INVALID_ARGUMENT", "the body must be a JSON object")
        if not isinstance(body, dict):
            return error_response(400, "INVALID_ARGUMENT", "the body must be a JSON object")
        try:
            injected = self.faults.inject(body)
        except FaultError as exc:
            return error_response(400, "INVALID_ARGUMENT", str(exc))
        return json_response({"injected": injected, "faults": self.faults.active()})

    async def _clear_faults(self, request: web.Request) -> web.Response:
        return json_response({"cleared": self.faults.clear(), "faults": []})
