"""How many ticker frames a second the platform's feed client consumes from one loopback stream,
side by side with bare consumers of the same stream in the same run.

A WebSocket server in a process of its own streams real Coinbase ticker frames (the fixture's
frame, its price walked and its product cycled), encoded before the clock starts, as fast as the
connection takes them: it answers a ``ticker`` subscribe with the subscriptions ack and then
``frames`` ticker frames numbered 1..N, so a consumer sees no gap. Each consumer connects,
subscribes and takes the N frames; its rate is N / (time of frame N - time it subscribed).

- streambot: the platform's ``FeedClient`` (parse, price board, bus with one tick mailbox, as the
  platform runs it), over its own transport;
- picows + msgspec, aiohttp + msgspec: the least a consumer can do with each library, a plain
  msgspec typed decode (prices as floats) per frame, each product's latest price kept, a count;
- the official SDK (``coinbase-advanced-py``'s ``WSClient``, extra ``bench``), its ``on_message``
  doing the same plain decode.

Rounds alternate the consumers; the best round of each is printed. Run with
``streambot bench --only feed_throughput``; ``streambot bench feed --url ws://HOST:PORT`` measures
the platform's client against any server (``python -m bench.feed_throughput --serve`` is this one).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import queue
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect, ws_create_server

from bench.pipeline import plain_decode
from streambot.domain import DEFAULT_PRODUCTS
from streambot.feed.throughput import measure_feed

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "coinbase" / "ws_ticker.json"
FRAMES = 100_000
ROUNDS = 3
WAIT_S = 120.0

log = logging.getLogger(__name__)


# --- the server ------------------------------------------------------------------------------


def ticker_frames(count: int, products: tuple[str, ...] = DEFAULT_PRODUCTS, seed: int = 1) -> list[bytes]:
    """``count`` ticker frames numbered 1..count: the fixture's frame, key for key, its price
    walked and its product cycled."""
    template = orjson.loads(FIXTURE.read_bytes())
    rng = random.Random(seed)
    prices = dict.fromkeys(products, 100.0)
    frames = []
    for seq in range(1, count + 1):
        product = products[seq % len(products)]
        price = prices[product] = prices[product] * (1 + rng.gauss(0, 0.0004))
        ticker = {
            **template["events"][0]["tickers"][0],
            "product_id": product,
            "price": f"{price:.6f}",
            "best_bid": f"{price * 0.9999:.6f}",
            "best_ask": f"{price * 1.0001:.6f}",
        }
        frame = {**template, "sequence_num": seq, "events": [{"type": "update", "tickers": [ticker]}]}
        frames.append(orjson.dumps(frame))
    return frames


def _ack(products: tuple[str, ...]) -> bytes:
    return orjson.dumps(
        {
            "channel": "subscriptions",
            "client_id": "",
            "timestamp": "2023-02-09T20:32:37.181925536Z",
            "sequence_num": 0,
            "events": [{"subscriptions": {"ticker": list(products)}}],
        }
    )


def framed(frames: list[bytes], chunk_bytes: int = 256 * 1024) -> list[bytes]:
    """The frames as a server sends them on the wire (unmasked, final, text), joined into chunks:
    streaming is then one socket write per chunk, and the server is never the bottleneck."""
    chunks: list[bytes] = []
    pending: list[bytes] = []
    size = 0
    for payload in frames:
        length = len(payload)
        if length < 126:
            header = bytes((0x81, length))
        elif length < 65536:
            header = bytes((0x81, 126)) + length.to_bytes(2, "big")
        else:
            header = bytes((0x81, 127)) + length.to_bytes(8, "big")
        pending += (header, payload)
        size += len(header) + length
        if size >= chunk_bytes:
            chunks.append(b"".join(pending))
            pending, size = [], 0
    if pending:
        chunks.append(b"".join(pending))
    return chunks


class _Streamer(WSListener):
    """One client's connection: on its ticker subscribe, the ack and then every frame."""

    def __init__(self, chunks: list[bytes], ack: bytes) -> None:
        super().__init__()
        self._chunks = chunks
        self._ack = ack
        self._transport: WSTransport | None = None
        self._started = False
        self._resume: asyncio.Future[None] | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
        elif frame.msg_type is WSMsgType.TEXT and not self._started:
            request = msgspec.json.decode(frame.get_payload_as_bytes())
            if isinstance(request, dict) and request.get("channel") == "ticker":
                self._started = True
                asyncio.get_running_loop().create_task(self._stream())

    def pause_writing(self) -> None:
        self._resume = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._resume is not None and not self._resume.done():
            self._resume.set_result(None)

    async def _stream(self) -> None:
        transport = self._transport
        assert transport is not None
        transport.send(WSMsgType.TEXT, self._ack)
        write = transport.underlying_transport.write
        for chunk in self._chunks:
            resume = self._resume
            if resume is not None:
                await resume  # the client is behind: wait for the socket to drain
                self._resume = None
            if transport.is_disconnected:
                return
            write(chunk)


async def _serve(frames: list[bytes], port: int, ready: Callable[[int], None]) -> None:
    ack = _ack(DEFAULT_PRODUCTS)
    chunks = framed(frames)
    server = await ws_create_server(lambda request: _Streamer(chunks, ack), "127.0.0.1", port)
    ready(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def _server_process(count: int, ports: Any) -> None:
    frames = ticker_frames(count)
    asyncio.run(_serve(frames, 0, ports.put))


class StreamServer:
    """The streaming server in a process of its own (a second core, not the consumer's)."""

    def __init__(self, frames: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._ports = context.Queue()
        self._process = context.Process(target=_server_process, args=(frames, self._ports), daemon=True)

    def __enter__(self) -> str:
        self._process.start()
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                port = self._ports.get(timeout=0.5)
                break
            except queue.Empty:
                if not self._process.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the feed bench's streaming server did not start") from None
        return f"ws://127.0.0.1:{port}/"

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(5)


# --- the consumers ---------------------------------------------------------------------------


@dataclass
class Rates:
    """Frames per second, the best round of each consumer."""

    frames: int
    rounds: int
    best: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, rate: float) -> None:
        self.best[name] = max(self.best.get(name, 0.0), rate)

    def report(self) -> str:
        ours = self.best.get(STREAMBOT, 0.0)
        lines = [
            f"Feed throughput: one loopback stream of {self.frames:,} Coinbase ticker frames, "
            f"server in its own process (best of {self.rounds} rounds; the machine may be shared)"
        ]
        for name, rate in self.best.items():
            line = f"  {name:<24} {rate:>10,.0f} ticks/s"
            if name not in (STREAMBOT, CEILING) and rate:
                line += f"   streambot = {ours / rate:.2f}×"
            lines.append(line)
        lines.append("  targets: streambot ≥ 0.75× picows + msgspec, ≥ 4× the official SDK")
        return "\n".join(lines)


STREAMBOT = "streambot FeedClient"
PICOWS = "picows + msgspec"
AIOHTTP = "aiohttp + msgspec"
SDK = "official SDK + msgspec"
CEILING = "picows, frames unread"  # the server's and the socket's ceiling, not a consumer


def _rate(frames: int, subscribed_ns: int, last_ns: int) -> float:
    return frames / max(last_ns - subscribed_ns, 1) * 1e9


async def platform_client(url: str, frames: int) -> float:
    """The platform's feed client as ``streambot bench feed`` runs it (``feed.throughput``)."""
    return (await measure_feed(url, DEFAULT_PRODUCTS, frames, wait_s=WAIT_S)).ticks_per_s


def _subscribe_message(products: tuple[str, ...]) -> bytes:
    return orjson.dumps({"type": "subscribe", "product_ids": list(products), "channel": "ticker"})


class _Counter:
    """Counts the ticker frames of a bare consumer and stamps the N-th (``subscribed_ns``: set by
    the consumer just before it subscribes). Like the platform's client, it keeps each product's
    latest price (the least a consumer does with a ticker: a decode whose result is dropped
    unread is not what anyone runs)."""

    __slots__ = ("done", "frames", "last_ns", "prices", "seen", "subscribed_ns")

    def __init__(self, frames: int, done: Callable[[], None]) -> None:
        self.frames = frames
        self.seen = 0
        self.subscribed_ns = 0
        self.last_ns = 0
        self.done = done
        self.prices: dict[str, float] = {}

    def frame(self, data: bytes | str | memoryview) -> None:
        try:
            ticker = plain_decode(data).events[0].tickers[0]
        except msgspec.ValidationError:
            return  # the subscriptions ack
        self.prices[ticker.product_id] = ticker.price
        self.seen += 1
        if self.seen == self.frames:
            self.last_ns = time.perf_counter_ns()
            self.done()

    def rate(self) -> float:
        return _rate(self.frames, self.subscribed_ns, self.last_ns)


async def bare_picows(url: str, frames: int) -> float:
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    counter = _Counter(frames, lambda: finished.set_result(None))
    on_frame = counter.frame
    text = WSMsgType.TEXT

    class Listener(WSListener):
        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type is text:
                on_frame(frame.get_payload_as_memoryview())

    transport, _ = await ws_connect(Listener, url)
    try:
        counter.subscribed_ns = time.perf_counter_ns()
        transport.send(text, _subscribe_message(DEFAULT_PRODUCTS))
        await asyncio.wait_for(finished, WAIT_S)
    finally:
        transport.disconnect()
        await transport.wait_disconnected()
    return counter.rate()


async def frames_only(url: str, frames: int) -> float:
    """picows counting frames without reading them: what the server and the socket allow."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    counter = _Counter(frames + 1, lambda: finished.set_result(None))  # the ack counts here

    class Listener(WSListener):
        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            counter.seen += 1
            if counter.seen == counter.frames:
                counter.last_ns = time.perf_counter_ns()
                finished.set_result(None)

    transport, _ = await ws_connect(Listener, url)
    try:
        counter.subscribed_ns = time.perf_counter_ns()
        transport.send(WSMsgType.TEXT, _subscribe_message(DEFAULT_PRODUCTS))
        await asyncio.wait_for(finished, WAIT_S)
    finally:
        transport.disconnect()
        await transport.wait_disconnected()
    return _rate(frames, counter.subscribed_ns, counter.last_ns)


async def bare_aiohttp(url: str, frames: int) -> float:
    counter = _Counter(frames, lambda: None)
    on_frame = counter.frame
    async with aiohttp.ClientSession() as session, session.ws_connect(url, decode_text=False) as ws:
        counter.subscribed_ns = time.perf_counter_ns()
        await ws.send_str(_subscribe_message(DEFAULT_PRODUCTS).decode())
        async with asyncio.timeout(WAIT_S):
            async for message in ws:
                on_frame(message.data)
                if counter.seen >= frames:
                    break
    return counter.rate()


def official_sdk(url: str, frames: int) -> float:
    """coinbase-advanced-py's WSClient: its own thread and loop, a str per message."""
    try:
        from coinbase.websocket import WSClient
    except ImportError:
        return 0.0
    finished = threading.Event()
    counter = _Counter(frames, finished.set)
    client = WSClient(api_key=None, api_secret=None, base_url=url, on_message=counter.frame, retry=False)
    client.open()
    try:
        counter.subscribed_ns = time.perf_counter_ns()
        client.subscribe(list(DEFAULT_PRODUCTS), ["ticker"])
        if not finished.wait(WAIT_S):
            raise TimeoutError(f"official SDK: {counter.seen} of {frames} frames within {WAIT_S:g}s")
    finally:
        client.close()
    return counter.rate()


def _run(consumer: Callable[[str, int], Awaitable[float]], url: str, frames: int) -> float:
    async def main() -> float:
        return await consumer(url, frames)

    return asyncio.run(main())


def measure(frames: int = FRAMES, rounds: int = ROUNDS) -> Rates:
    rates = Rates(frames, rounds)
    with StreamServer(frames) as url:
        for _ in range(rounds):
            rates.add(STREAMBOT, _run(platform_client, url, frames))
            rates.add(PICOWS, _run(bare_picows, url, frames))
            rates.add(AIOHTTP, _run(bare_aiohttp, url, frames))
            rates.add(SDK, official_sdk(url, frames))
            rates.add(CEILING, _run(frames_only, url, frames))
    if not rates.best[SDK]:
        del rates.best[SDK]
    return rates


def print_feed_throughput(frames: int = FRAMES) -> Rates:
    logging.getLogger("streambot").setLevel(logging.ERROR)  # reconnect notices, not figures
    logging.getLogger("coinbase").setLevel(logging.CRITICAL)
    rates = measure(frames)
    print(rates.report())
    if SDK not in rates.best:
        print("  (official SDK not installed: pip install -e '.[bench]')")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="only run the streaming server")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--frames", type=int, default=FRAMES)
    args = parser.parse_args()
    if args.serve:
        frames = ticker_frames(args.frames)
        print(f"streaming {args.frames:,} ticker frames per connection on ws://127.0.0.1:{args.port}/")
        asyncio.run(_serve(frames, args.port, lambda port: None))
    else:
        print_feed_throughput(args.frames)


if __name__ == "__main__":
    main()
