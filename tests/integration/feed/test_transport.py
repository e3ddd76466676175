"""The feed's WebSocket transport (picows) against a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import WSMsgType, web

from streambot.feed.transport import connect

pytestmark = pytest.mark.integration

Handler = Callable[[web.WebSocketResponse], Awaitable[None]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        async def endpoint(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(autoping=False)  # PINGs and PONGs reach the script
            await ws.prepare(request)
            await handler(ws)
            return ws

        app = web.Application()
        app.router.add_get("/", endpoint)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"ws://127.0.0.1:{runner.addresses[0][1]}/"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_frames_sent_before_receive_starts_are_delivered_in_order(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.send_str('{"n":1}')  # before the client asked for anything
        request = await ws.receive()
        assert request.type is WSMsgType.TEXT
        await ws.send_str(request.data)  # echoed
        await ws.send_bytes(b'{"n":3}')
        await ws.close(code=4001)

    transport = await connect(await serve(script))
    await asyncio.sleep(0.1)  # the early frame arrives while nobody receives
    await transport.send(b'{"n":2}')
    got: list[bytes] = []
    events: list[str] = []

    def on_frame(data: memoryview) -> None:
        got.append(bytes(data))
        events.append("frame")

    reason = await asyncio.wait_for(transport.receive(on_frame, lambda: events.append("read end")), 10)
    assert got == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    # Every frame is followed, before anything else can run, by the end of its read.
    assert events[-1] == "read end"
    assert events[0] == "frame"
    assert reason == "server closed the connection (code 4001)"
    assert transport.closed
    await transport.close()  # harmless once closed


async def test_pings_are_answered_and_close_ends_receive(serve: Callable[[Handler], Awaitable[str]]) -> None:
    pongs: list[bytes] = []
    ponged = asyncio.Event()

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.ping(b"hello")
        async for message in ws:
            if message.type is WSMsgType.PONG:
                pongs.append(message.data)
                ponged.set()
            elif message.type is WSMsgType.CLOSE:
                await ws.close()

    transport = await connect(await serve(script))
    got: list[bytes] = []
    receiving = asyncio.create_task(transport.receive(lambda data: got.append(bytes(data)), lambda: None))
    await asyncio.wait_for(ponged.wait(), 10)
    await transport.close()
    await asyncio.wait_for(receiving, 10)
    assert pongs == [b"hello"]
    assert got == []  # control frames are not messages
    assert transport.closed


async def test_a_refused_connection_raises_a_transport_error() -> None:
    from streambot.feed.transport import TRANSPORT_ERRORS

    with pytest.raises(TRANSPORT_ERRORS):
        await connect("ws://127.0.0.1:9/")
