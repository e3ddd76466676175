"""The soak run (``make soak DURATION=600``): the whole platform at full simulator speed, its RSS
and open file descriptors sampled over time, and the slope of each after the warm-up.

``streambot run`` is started in paper mode on a fresh data dir with the demo bots plus two bots
that trade on every tick or two, the simulator ticking ``--scale`` times faster than the markets
it imitates; a dashboard-like client reads the REST API every second and holds a live WebSocket.
Every ``--every`` seconds one line: elapsed time, RSS, open fds, orders so far. At the end, the
least-squares slope of RSS (MB/hour) and fds (per hour) over the samples after the warm-up, as one
``CHAOS soak: …`` line, also appended to ``STREAMBOT_CHAOS_RESULTS`` when that is set.

A slope is a figure to read, not a verdict: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.chaos_table import append_result

TOKEN = "soak-token"
_OWN = frozenset({"STREAMBOT_PORT", "STREAMBOT_SIM_PORT", "STREAMBOT_DATA_DIR", "STREAMBOT_API_TOKEN"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(log: Path) -> str:
    """The end of the platform's log, for the message when it died."""
    return log.read_text(errors="replace")[-2000:]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) pairs, per hour; 0 with fewer than two samples."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return cov / var * 3600


async def _client(api: str, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
    """What an open dashboard does: REST reads every second and one live socket."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    ws_url = api.replace("http://", "ws://") + "/ws/market"
    ws = await http.ws_connect(ws_url, protocols=("streambot.v1", f"token.{TOKEN}"))
    try:
        while not stop.is_set():
            for path in ("/bots", "/positions", "/orders?limit=50", "/feed/status"):
                async with http.get(f"{api}{path}", headers=headers) as response:
                    await response.read()
            while True:  # drain what the socket pushed meanwhile
                try:
                    await asyncio.wait_for(ws.receive(), 0.001)
                except TimeoutError:
                    break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        await ws.close()


async def soak(duration: float, every: float, scale: float, warmup: float) -> dict[str, Any]:
    port, sim_port = _free_port(), _free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    with tempfile.TemporaryDirectory(prefix="streambot-soak-") as tmp:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", tmp),
            "STREAMBOT_DATA_DIR": f"{tmp}/data",
            "STREAMBOT_PORT": str(port),
            "STREAMBOT_SIM_PORT": str(sim_port),
            "STREAMBOT_API_TOKEN": TOKEN,
            "STREAMBOT_SIM_TICK_RATE_SCALE": str(scale),
            "STREAMBOT_ORDER_COOLDOWN_S": "0",
            "STREAMBOT_RISK_MAX_TRADES_PER_HOUR": "0",
            "STREAMBOT_RISK_LOSS_COOLDOWN_S": "0",
            "STREAMBOT_RISK_DAILY_LOSS_PCT": "0",
            "STREAMBOT_RISK_MAX_DRAWDOWN_PCT": "0",
            "STREAMBOT_LOG_LEVEL": "WARNING",
        }
        # The caller's own STREAMBOT_* settings win (e.g. a smaller STREAMBOT_WS_RING_SIZE, to see
        # which part a slope comes from).
        env |= {k: v for k, v in os.environ.items() if k.startswith("STREAMBOT_") and k not in _OWN}
        log = Path(tmp) / "streambot.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from streambot.cli import main; main()",
                "run",
                env=env,
                stdout=out,
                stderr=out,
            )
        stop = asyncio.Event()
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                await _until_healthy(http, api, proc, log)
                await _churn_bots(http, api)
                client = asyncio.create_task(_client(api, http, stop))
                began = time.monotonic()
                rss: list[tuple[float, float]] = []
                fds: list[tuple[float, float]] = []
                print(f"{'elapsed s':>9} {'RSS MB':>8} {'open fds':>8} {'orders':>7}", flush=True)
                while (elapsed := time.monotonic() - began) <= duration:
                    if proc.returncode is not None:
                        raise SystemExit(f"streambot exited with {proc.returncode}: {_tail(log)}")
                    orders = await _orders(http, api)
                    rss.append((elapsed, rss_mb(proc.pid)))
                    fds.append((elapsed, open_fds(proc.pid)))
                    print(f"{elapsed:9.0f} {rss[-1][1]:8.1f} {fds[-1][1]:8.0f} {orders:7d}", flush=True)
                    await asyncio.sleep(every)
                stop.set()
                await client
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
    after = [(t, v) for t, v in rss if t >= warmup]
    fds_after = [(t, v) for t, v in fds if t >= warmup]
    return {
        "duration_s": round(duration),
        "scale": scale,
        "samples": len(rss),
        "rss_start_mb": round(rss[0][1], 1),
        "rss_end_mb": round(rss[-1][1], 1),
        "rss_slope_mb_per_h": round(slope_per_hour(after), 2),
        "fds_start": int(fds[0][1]),
        "fds_end": int(fds[-1][1]),
        "fds_slope_per_h": round(slope_per_hour(fds_after), 2),
        "orders": orders,
    }


async def _until_healthy(
    http: aiohttp.ClientSession, api: str, proc: asyncio.subprocess.Process, log: Path
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise SystemExit(f"streambot exited with {proc.returncode}: {_tail(log)}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{api}/health") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise SystemExit(f"streambot did not answer within 60 s: {_tail(log)}")


async def _churn_bots(http: aiohttp.ClientSession, api: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for product in ("BTC-USD", "ETH-USD"):
        body = {
            "name": f"soak churn {product}",
            "strategy": "threshold",
            "product_id": product,
            # Buys whenever flat, sells on the smallest rise or fall: an order every tick or two.
            "params": {
                "buy_below": 1e9,
                "sell_rise_pct": 0.0001,
                "stop_loss_pct": 0.0001,
                "order_pct": 20,
                "allow_below_fee": True,
            },
            "budget": "1000",
        }
        async with http.post(f"{api}/bots", json=body, headers=headers) as response:
            created = await response.json()
            if response.status not in {200, 201}:
                raise SystemExit(f"creating the soak bot failed: {created}")
        async with http.post(f"{api}/bots/{created['id']}/start", headers=headers) as response:
            await response.read()


async def _orders(http: aiohttp.ClientSession, api: str) -> int:
    async with http.get(f"{api}/metrics/summary", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        body = await response.json()
    placed = body.get("orders", {}).get("placed") if isinstance(body.get("orders"), dict) else None
    return int(placed) if isinstance(placed, int) else -1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds to run (default 600)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--scale", type=float, default=50.0, help="simulator tick-rate multiplier")
    parser.add_argument("--warmup", type=float, default=None, help="seconds left out of the slopes")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.every <= 0 or args.scale <= 0:
        parser.error("--duration, --every and --scale must be positive")
    warmup = args.warmup if args.warmup is not None else min(120.0, args.duration / 5)
    figures = asyncio.run(soak(args.duration, args.every, args.scale, warmup))
    print("CHAOS soak: " + " ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    append_result("soak", figures, long=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
