"""The soak run (``make soak DURATION=600``): the whole platform at full simulator speed, its RSS
and open file descriptors sampled over time, and the slope of each after the warm-up.

``streambot run`` is started in paper mode on a fresh data dir with the demo bots plus two bots
that trade on every tick or two, the simulator ticking ``--scale`` times faster than the markets
it imitates; a dashboard-like client reads the REST API every second and holds a live WebSocket.
Every ``--every`` seconds one line: elapsed time, RSS, open fds, orders so far. At the end, the
least-squares slope of RSS (MB/hour) and fds (per hour) over the samples after the warm-up, as one
``CHAOS soak: …`` line, also appended to ``STREAMBOT_CHAOS_RESULTS`` when that is set.

The paper simulator is a child process of the platform (simulator/process.py): the RSS figures
are the platform's alone; the simulator's own RSS (its market, orders and fills) is printed beside
them, read from its ``/sim/stats``.

``--ticks N`` (and ``streambot bench --only memory``, in ``make bench``) measures by ticks
instead of time, as issue 16 asks: the whole platform at full simulator speed, RSS sampled against
the ticks it received, and the slope after the warm-up in MB per million ticks (target ≤ 5). A run
that reaches its time budget first prints the slope over the ticks it did receive, labelled as
extrapolated to 1 M; ``--full`` lifts the budget to run the whole million.

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
from collections.abc import AsyncIterator
from dataclasses import dataclass
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


@dataclass
class Running:
    """``streambot run`` started by the bench, with what the samples read from it."""

    proc: asyncio.subprocess.Process
    http: aiohttp.ClientSession
    api: str
    sim: str
    log: Path

    def alive(self) -> None:
        if self.proc.returncode is not None:
            raise SystemExit(f"streambot exited with {self.proc.returncode}: {_tail(self.log)}")

    async def sim_rss_mb(self) -> float:
        """The simulator child's RSS (its /sim/stats), not counted in the platform's."""
        async with self.http.get(f"{self.sim}/sim/stats") as response:
            if response.status != 200:  # a simulator inside the platform (before issue 16) has none
                return float("nan")
            return float((await response.json())["rss_bytes"]) / 1024 / 1024


@contextlib.asynccontextmanager
async def running_platform(scale: float, extra_env: dict[str, str] | None = None) -> AsyncIterator[Running]:
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
        } | (extra_env or {})
        # The caller's own STREAMBOT_* settings win (e.g. a smaller STREAMBOT_WS_RING_SIZE, to see
        # which part a slope comes from).
        env |= {k: v for k, v in os.environ.items() if k.startswith("STREAMBOT_") and k not in _OWN}
        if "PYTHONPATH" in os.environ:  # another checkout's code, measured by this bench
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
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
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                await _until_healthy(http, api, proc, log)
                await _churn_bots(http, api)
                yield Running(proc, http, api, f"http://127.0.0.1:{sim_port}", log)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def soak(duration: float, every: float, scale: float, warmup: float) -> dict[str, Any]:
    stop = asyncio.Event()
    async with running_platform(scale) as platform:
        proc, http, api = platform.proc, platform.http, platform.api
        client = asyncio.create_task(_client(api, http, stop))
        began = time.monotonic()
        rss: list[tuple[float, float]] = []
        fds: list[tuple[float, float]] = []
        sim_rss = 0.0
        print(f"{'elapsed s':>9} {'RSS MB':>8} {'sim RSS':>8} {'open fds':>8} {'orders':>7}", flush=True)
        while (elapsed := time.monotonic() - began) <= duration:
            platform.alive()
            orders = await _orders(http, api)
            rss.append((elapsed, rss_mb(proc.pid)))
            fds.append((elapsed, open_fds(proc.pid)))
            sim_rss = await platform.sim_rss_mb()
            print(
                f"{elapsed:9.0f} {rss[-1][1]:8.1f} {sim_rss:8.1f} {fds[-1][1]:8.0f} {orders:7d}", flush=True
            )
            await asyncio.sleep(every)
        stop.set()
        await client
    after = [(t, v) for t, v in rss if t >= warmup]
    fds_after = [(t, v) for t, v in fds if t >= warmup]
    return {
        "duration_s": round(duration),
        "scale": scale,
        "samples": len(rss),
        "rss_start_mb": round(rss[0][1], 1),
        "rss_end_mb": round(rss[-1][1], 1),
        "rss_slope_mb_per_h": round(slope_per_hour(after), 2),
        "sim_rss_end_mb": round(sim_rss, 1),
        "fds_start": int(fds[0][1]),
        "fds_end": int(fds[-1][1]),
        "fds_slope_per_h": round(slope_per_hour(fds_after), 2),
        "orders": orders,
    }


async def memory_per_ticks(
    ticks: int, *, scale: float, warmup_ticks: int, budget_s: float, every: float = 5.0
) -> dict[str, Any]:
    """Issue 16: RSS of the whole platform against the ticks it received, at full simulator speed."""
    stop = asyncio.Event()
    async with running_platform(scale) as platform:
        proc, http, api = platform.proc, platform.http, platform.api
        client = asyncio.create_task(_client(api, http, stop))
        began = time.monotonic()
        samples: list[tuple[float, float]] = []  # (ticks received, platform RSS MB)
        received = 0
        sim_rss = 0.0
        print(f"{'elapsed s':>9} {'ticks':>9} {'RSS MB':>8} {'sim RSS':>8} {'orders':>7}", flush=True)
        while received < ticks and time.monotonic() - began < budget_s:
            platform.alive()
            summary = await _summary(http, api)
            received = int(summary.get("ticks_received", 0))
            samples.append((received, rss_mb(proc.pid)))
            sim_rss = await platform.sim_rss_mb()
            orders = _placed(summary)
            elapsed = time.monotonic() - began
            line = f"{elapsed:9.0f} {received:9d} {samples[-1][1]:8.1f} {sim_rss:8.1f} {orders:7d}"
            print(line, flush=True)
            await asyncio.sleep(every)
        stop.set()
        await client
    after = [(t, v) for t, v in samples if t >= warmup_ticks]
    warm = after[0] if after else samples[-1]
    slope = slope_per_hour(after) / 3600 * 1_000_000  # per tick → per million ticks
    return {
        "ticks": received,
        "target_ticks": ticks,
        "extrapolated": received < ticks,
        "scale": scale,
        "ticks_per_s": round(received / max(1e-9, time.monotonic() - began)),
        "rss_after_warmup_mb": round(warm[1], 1),
        "rss_end_mb": round(samples[-1][1], 1),
        "grew_after_warmup_mb": round(samples[-1][1] - warm[1], 2),
        "rss_slope_mb_per_m_ticks": round(slope, 2),
        "sim_rss_end_mb": round(sim_rss, 1),
    }


def print_memory_benchmarks(*, ticks: int = 1_000_000, full: bool = False) -> None:
    """``streambot bench --only memory``: the figures of ``memory_per_ticks``, labelled."""
    budget = 24 * 3600.0 if full else 180.0
    figures = asyncio.run(
        memory_per_ticks(ticks, scale=1000.0, warmup_ticks=min(50_000, ticks // 10), budget_s=budget)
    )
    f = figures
    label = "extrapolated from the run" if f["extrapolated"] else "measured"
    print("\nMemory (the whole platform at full simulator speed; the simulator in its own process)")
    print(f"  ticks received                     {f['ticks']:,} of {ticks:,} ({f['ticks_per_s']}/s)")
    print(f"  RSS after warm-up                  {f['rss_after_warmup_mb']} MB")
    print(f"  RSS at the end                     {f['rss_end_mb']} MB (simulator: {f['sim_rss_end_mb']} MB)")
    print(
        f"  slope, MB per 1 M ticks ({label}) {f['rss_slope_mb_per_m_ticks']}"
        "   target ≤ 5 MB over 1 M ticks after warm-up"
    )
    if figures["extrapolated"]:
        print("  (a 3-minute run; `python -m bench.soak --ticks 1000000 --full` runs the whole million)")


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


async def _summary(http: aiohttp.ClientSession, api: str) -> dict[str, Any]:
    async with http.get(f"{api}/metrics/summary", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        body: dict[str, Any] = await response.json()
    return body


def _placed(summary: dict[str, Any]) -> int:
    orders = summary.get("orders")
    placed = orders.get("placed") if isinstance(orders, dict) else None
    return int(placed) if isinstance(placed, int) else -1


async def _orders(http: aiohttp.ClientSession, api: str) -> int:
    return _placed(await _summary(http, api))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds to run (default 600)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--scale", type=float, default=50.0, help="simulator tick-rate multiplier")
    parser.add_argument("--warmup", type=float, default=None, help="seconds left out of the slopes")
    parser.add_argument("--ticks", type=int, default=None, help="measure RSS per ticks received instead")
    parser.add_argument("--full", action="store_true", help="with --ticks: no 3-minute time budget")
    args = parser.parse_args(argv)
    if args.ticks is not None:
        if args.ticks < 1:
            parser.error("--ticks must be at least 1")
        print_memory_benchmarks(ticks=args.ticks, full=args.full)
        return 0
    if args.duration <= 0 or args.every <= 0 or args.scale <= 0:
        parser.error("--duration, --every and --scale must be positive")
    warmup = args.warmup if args.warmup is not None else min(120.0, args.duration / 5)
    figures = asyncio.run(soak(args.duration, args.every, args.scale, warmup))
    print("CHAOS soak: " + " ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    append_result("soak", figures, long=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
