"""Serve the API with uvicorn on the platform's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn

from streambot.api.app import create_app
from streambot.observability import logging as streambot_logging

if TYPE_CHECKING:
    from streambot.api.served import ServedPlatform


@dataclass
class RunningApi:
    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def start_api(platform: ServedPlatform, host: str, port: int) -> RunningApi:
    """Bind and start serving; returns once the socket accepts connections (port 0: any free port)."""
    settings = platform.settings
    streambot_logging.protect(
        platform.api_token,
        *(
            secret.get_secret_value()
            for secret in (
                settings.api_token,
                settings.coinbase_api_key,
                settings.coinbase_api_secret,
                settings.telegram_bot_token,
                settings.alert_webhook_url,
            )
            if secret is not None
        ),
    )
    streambot_logging.guard_uvicorn_logs()
    app = create_app(platform)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            http="httptools",
            # The sans-I/O websockets protocol honours transport flow control: a send to a
            # client that stops reading waits instead of buffering without bound.
            ws="websockets-sansio",
            ws_max_size=64 * 1024,  # clients only ever send an auth message
            # Compression would cost CPU per client per frame; frames are small and encoded once.
            ws_per_message_deflate=False,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no start-up event to wait on
        if task.done():
            # uvicorn logs the cause (e.g. the port is taken) and exits instead of raising.
            with contextlib.suppress(SystemExit):
                task.result()
            raise OSError(f"the API could not start on {host}:{port} (is the port already in use?)")
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
    # The app and its routes live until exit, like the platform's parts (see Platform.start).
    gc.freeze()
    return RunningApi(server=server, task=task, host=host, port=bound)
