"""API benchmark: live push and REST under load (``streambot bench --only api``).

One platform (paper mode, built-in simulator) with bots on two products; ticks are driven into
the bus at a fixed rate. Clients run in a separate process, so their own work does not count
against the server. Figures:

1. tick → decision p50/p99 idle, then with 200 WebSocket clients on ``/ws/market``, then with
   those clients and GETs on the dashboard's main read routes at 200/s (issue 16: "200 WebSocket
   clients and 117 GET/s"), all in the same run, so each loaded figure has its idle reference;
2. REST GET round-trip p50/p99 during that load (target p99 ≤ 25 ms), and per route;
3. the per-client queues under that load: events dropped (clients cut off for falling a whole
   queue behind) and the deepest queue seen, against the bound;
4. a client that stops reading is cut off (4408) and server memory does not grow.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

TICK_RATE = 2_000
CLIENTS = 200
REST_RATE = 200
PHASE_S = 12.0  # ~2,400 decisions a phase: a p99 read off ~24 samples, not ~12
BOTS_PER_PRODUCT = 10
PRODUCTS = ("BTC-USD", "ETH-USD")
GET_P99_TARGET_MS = 25.0
# The dashboard's main read routes: what its pages GET on load and on refresh.
READ_ROUTES = (
    "/api/v1/market/tickers",
    "/api/v1/metrics/summary",
    "/api/v1/bots",
    "/api/v1/bots/status/enhanced",
    "/api/v1/positions",
    "/api/v1/pnl",
    "/api/v1/orders",
    "/api/v1/risk",
    "/api/v1/ws/websocket/status",
)


def _rss_kib() -> int:
    """Resident memory now (not the peak), from /proc; 0 where unavailable."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def _cpu_s() -> float:
    """CPU seconds this process used so far (user + system): a cost figure that a machine shared
    with other work disturbs less than a latency."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


# --- the client process ---------------------------------------------------------------------


async def _clients(url: str, token: str, count: int, seconds: float) -> dict[str, Any]:
    frames = 0
    connected = 0

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal frames, connected
        async with session.ws_connect(
            f"{url}/api/v1/ws/market", protocols=("streambot.v1", f"token.{token}")
        ) as ws:
            connected += 1
            async for _ in ws:
                frames += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(one(session)) for _ in range(count)]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"connected": connected, "frames": frames}


async def _rest(url: str, token: str, rate: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    by_path: dict[str, list[float]] = {}
    statuses: dict[int, int] = {}
    paths = READ_ROUTES
    headers = {"Authorization": f"Bearer {token}"}
    loop = asyncio.get_running_loop()

    async def get(session: aiohttp.ClientSession, path: str) -> None:
        started = time.perf_counter()
        async with session.get(url + path, headers=headers) as response:
            await response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
        elapsed = (time.perf_counter() - started) * 1000
        latencies.append(elapsed)
        by_path.setdefault(path, []).append(elapsed)

    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        for path in paths:  # warm the connection pool
            await get(session, path)
        latencies.clear()
        by_path.clear()
        start = loop.time()
        pending: set[asyncio.Task[None]] = set()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
            task = asyncio.create_task(get(session, paths[n % len(paths)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
    return {
        "requests": len(latencies),
        "p50_ms": round(_pct(latencies, 50), 2),
        "p99_ms": round(_pct(latencies, 99), 2),
        "statuses": statuses,
        "p99_ms_by_path": {path: round(_pct(values, 99), 2) for path, values in by_path.items()},
    }


def _client_main(argv: list[str]) -> None:
    kind, url, token, count, seconds = argv[0], argv[1], argv[2], int(argv[3]), float(argv[4])
    if kind == "ws":
        result = asyncio.run(_clients(url, token, count, seconds))
    else:
        result = asyncio.run(_rest(url, token, count, seconds))
    print(json.dumps(result), flush=True)


async def _spawn(kind: str, url: str, token: str, count: int, seconds: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.api",
        kind,
        url,
        token,
        str(count),
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )


async def _result(process: asyncio.subprocess.Process) -> dict[str, Any]:
    out, _ = await process.communicate()
    parsed: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return parsed


# --- the server side ------------------------------------------------------------------------


async def _drive_ticks(platform: Any, rate: int, seconds: float) -> int:
    from streambot.domain import Ticker

    loop = asyncio.get_running_loop()
    start = loop.time()
    batch = rate // 100  # every 10 ms
    sent = 0
    price = 50_000.0
    while loop.time() - start < seconds:
        for n in range(batch):
            price += 0.5 if n % 2 else -0.5
            tick = Ticker(
                product_id=PRODUCTS[n % len(PRODUCTS)],
                price=price,
                best_bid=price - 0.5,
                best_ask=price + 0.5,
                volume_24h=1000.0,
                low_24h=40_000.0,
                high_24h=60_000.0,
                price_change_pct_24h=1.0,
                time=time.time(),
                received_ns=time.perf_counter_ns(),
                sequence=sent,
            )
            platform.prices.record(tick)
            platform.bus.publish_tick(tick)
            sent += 1
        await asyncio.sleep(max(0.0, start + (sent / rate) - loop.time()))
    return sent


def _padded_order(client_order_id: str, padding: str) -> Any:
    """An ``orders.filled`` event of about 1 KB."""
    from datetime import UTC, datetime

    from streambot.domain import BotId, ClientOrderId, OrderRecord, OrderStatus, ProductId, Side
    from streambot.events import OrderUpdated

    return OrderUpdated(
        order=OrderRecord(
            client_order_id=ClientOrderId(client_order_id),
            bot_id=BotId(1),
            product_id=ProductId("BTC-USD"),
            side=Side.BUY,
            status=OrderStatus.FILLED,
            reason=padding,
            created_at=datetime.now(UTC),
        )
    )


def _fresh_latency(platform: Any) -> None:
    from streambot.observability.latency import LatencyStats

    platform.evaluator.tick_to_decision = LatencyStats()


async def _slow_reader(host: str, port: int, token: str) -> socket.socket:
    """A WebSocket that completes the handshake and then never reads again."""
    import base64

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /api/v1/ws/trade-execution HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: streambot.v1, token.{token}\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    await loop.sock_recv(sock, 1024)  # the 101 answer (and perhaps hello); then silence
    return sock


async def run_api_benchmark() -> dict[str, Any]:
    from decimal import Decimal

    from streambot.api.server import start_api
    from streambot.app import Platform
    from streambot.config import Settings
    from streambot.observability.latency import LatencyStats

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            port=0,
            products=PRODUCTS,
            demo_bots=False,
            log_level="WARNING",
            # The limiter would refuse the load generator's 200 req/s from one address.
            api_rate_limit=100_000.0,
            api_rate_burst=100_000,
            ws_max_clients=CLIENTS + 10,
        )
        platform = await Platform.open(settings)
        await platform.start()
        api = await start_api(platform, "127.0.0.1", 0)
        try:
            assert platform.bots is not None
            for product in PRODUCTS:
                for n in range(BOTS_PER_PRODUCT):
                    record = await platform.bots.create(
                        name=f"bench {product} {n}",
                        strategy="threshold",
                        product_id=product,
                        params={"buy_dip_pct": 49, "sell_rise_pct": 499},
                        budget=Decimal(100),
                    )
                    await platform.bots.start(record.id)
            await _drive_ticks(platform, TICK_RATE, 1.0)  # warm up

            _fresh_latency(platform)
            cpu = _cpu_s()
            sent = await _drive_ticks(platform, TICK_RATE, PHASE_S)
            idle = platform.evaluator.tick_to_decision.summary()
            idle_cpu = (_cpu_s() - cpu) / PHASE_S

            clients = await _spawn("ws", api.url, platform.api_token, CLIENTS, 2 * PHASE_S + 20)
            deadline = time.monotonic() + 15
            while platform.events.client_count < CLIENTS and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            _fresh_latency(platform)
            cpu = _cpu_s()
            loaded_sent = await _drive_ticks(platform, TICK_RATE, PHASE_S)
            loaded = platform.evaluator.tick_to_decision.summary()
            loaded_cpu = (_cpu_s() - cpu) / PHASE_S
            connected_during = platform.events.client_count

            # REST on top: the WebSocket clients stay connected and the ticks keep flowing.
            _fresh_latency(platform)
            rest = await _spawn("rest", api.url, platform.api_token, REST_RATE, PHASE_S)
            platform.requests.latency = LatencyStats()
            cpu = _cpu_s()
            await _drive_ticks(platform, TICK_RATE, PHASE_S)
            with_rest = platform.evaluator.tick_to_decision.summary()
            rest_cpu = (_cpu_s() - cpu) / PHASE_S
            rest_result = await _result(rest)
            served = platform.requests.latency.summary()
            queues = {
                "cut_off": platform.events.cut_off_total,
                "peak": platform.events.queue_peak(),
                "bound": settings.ws_queue_size,
            }
            ws_result = await _result(clients)

            # A client that stops reading, while events keep coming. The ring of recent events
            # is filled first: it is meant to hold memory, the slow client must not add any.
            padding = "x" * 800
            for n in range(settings.ws_ring_size + 1000):
                platform.bus.publish(_padded_order(f"{n}", padding))
            await asyncio.sleep(0.5)
            rss_before = _rss_kib()
            cut_before = platform.events.cut_off_total
            slow = await _slow_reader(api.host, api.port, platform.api_token)
            published = 0
            for round_ in range(40):
                for n in range(500):
                    platform.bus.publish(_padded_order(f"{round_}-{n}", padding))
                published += 500
                await asyncio.sleep(0.05)
                if platform.events.cut_off_total > cut_before:
                    break
            cut_off = platform.events.cut_off_total > cut_before
            for _ in range(40):  # more events after the cut: nothing may pile up for it
                for n in range(500):
                    platform.bus.publish(_padded_order(f"{n}", padding))
                published += 500
                await asyncio.sleep(0.02)
            rss_after = _rss_kib()
            slow.close()
            return {
                "ticks_per_second": TICK_RATE,
                "bots": BOTS_PER_PRODUCT * len(PRODUCTS),
                "idle": {"ticks": sent, **idle},
                "loaded": {"ticks": loaded_sent, "ws_clients": connected_during, **loaded},
                "p99_ratio": round(loaded["p99_us"] / idle["p99_us"], 2) if idle["p99_us"] else None,
                "ws_clients": ws_result,
                "rest": {**rest_result, "tick_to_decision_p99_us": with_rest["p99_us"]},
                "rest_ratio": round(with_rest["p99_us"] / idle["p99_us"], 2) if idle["p99_us"] else None,
                "queues": queues,
                "server_side": served,
                "server_cpu": {"idle": idle_cpu, "ws": loaded_cpu, "ws_get": rest_cpu},
                "slow_client": {
                    "cut_off": cut_off,
                    "rss_before_kib": rss_before,
                    "rss_after_kib": rss_after,
                    "rss_growth_kib": rss_after - rss_before,
                    "events_published": published,
                    "ring_size": settings.ws_ring_size,
                },
            }
        finally:
            await api.stop()
            await platform.stop()


def print_api_benchmarks() -> None:
    result = asyncio.run(run_api_benchmark())
    idle, loaded, rest, slow = result["idle"], result["loaded"], result["rest"], result["slow_client"]
    print(f"\nAPI under load ({result['ticks_per_second']} ticks/s, {result['bots']} bots)")
    print(
        f"  tick→decision idle:            p50 {idle['p50_us']:.0f} µs   p99 {idle['p99_us']:.0f} µs"
        f"   ({idle['count']} decisions)"
    )
    print(
        f"  tick→decision, {loaded['ws_clients']} WS clients: p50 {loaded['p50_us']:.0f} µs   "
        f"p99 {loaded['p99_us']:.0f} µs   ({result['p99_ratio']}× idle; target ≤ 2×; "
        f"{loaded['count']} decisions)"
    )
    print(
        f"  WS clients: {result['ws_clients']['connected']} connected, "
        f"{result['ws_clients']['frames']} frames received"
    )
    print(
        f"  + GETs at {REST_RATE}/s on {len(READ_ROUTES)} read routes: {rest['requests']} requests, "
        f"p50 {rest['p50_ms']} ms, p99 {rest['p99_ms']} ms (target ≤ {GET_P99_TARGET_MS:g} ms), "
        f"statuses {rest['statuses']}"
    )
    print(
        f"  tick→decision, {loaded['ws_clients']} WS clients + GETs: "
        f"p99 {rest['tick_to_decision_p99_us']:.0f} µs ({result['rest_ratio']}× idle; target ≤ 2×)"
    )
    served = result["server_side"]
    print(
        f"    the same GETs timed in the server (guard to last byte): p50 {served['p50_us'] / 1000:.2f} ms, "
        f"p99 {served['p99_us'] / 1000:.2f} ms"
    )
    cpu = result["server_cpu"]
    print(
        f"  server CPU (cores busy): idle {cpu['idle']:.2f}, + WS clients {cpu['ws']:.2f}, "
        f"+ WS clients and GETs {cpu['ws_get']:.2f}"
    )
    queues = result["queues"]
    print(
        f"  per-client queues under that load: {queues['cut_off']} client(s) cut off (events dropped), "
        f"deepest queue {queues['peak']} of {queues['bound']}"
    )
    by_path = ", ".join(f"{path} {p99}" for path, p99 in rest["p99_ms_by_path"].items())
    print(f"    p99 ms by path: {by_path}")
    print(
        f"  client that stops reading: cut off {'yes (4408)' if slow['cut_off'] else 'NO'}; "
        f"server RSS {slow['rss_before_kib']} → {slow['rss_after_kib']} KiB "
        f"({slow['rss_growth_kib']:+d} KiB over {slow['events_published']} events of ~1 KB)"
    )


if __name__ == "__main__":
    _client_main(sys.argv[1:])
