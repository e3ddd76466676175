"""Recordings as ``streambot record`` writes them (``{"t", "frame"}`` lines, zstd), generated: two
products on seeded random walks, Coinbase ticker frames exactly as sent. Shared by the backtest
tests and the API's backtest tests."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import zstandard

T0 = 1_767_225_600.0


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _frame(seq: int, product: str, last: float, at: float) -> str:
    ticker = {
        "type": "ticker",
        "product_id": product,
        "price": f"{last:.2f}",
        "volume_24_h": "1000",
        "low_24_h": "1",
        "high_24_h": "200000",
        "low_52_w": "1",
        "high_52_w": "200000",
        "price_percent_chg_24_h": "0",
        "best_bid": f"{last - 0.01:.2f}",
        "best_bid_quantity": "3",
        "best_ask": f"{last + 0.01:.2f}",
        "best_ask_quantity": "3",
    }
    return json.dumps(
        {
            "channel": "ticker",
            "client_id": "",
            "timestamp": _stamp(at),
            "sequence_num": seq,
            "events": [{"type": "update", "tickers": [ticker]}],
        },
        separators=(",", ":"),
    )


def ticker_frames(ticks: int = 4_000, seed: int = 7) -> list[tuple[float, str]]:
    """``(time, frame)``: BTC-USD and ETH-USD in turn, half a second apart."""
    rng = random.Random(seed)
    price = {"BTC-USD": 97_000.0, "ETH-USD": 3_400.0}
    frames: list[tuple[float, str]] = []
    for seq in range(ticks):
        product = "BTC-USD" if seq % 2 == 0 else "ETH-USD"
        price[product] *= 1 + rng.gauss(0, 0.002)
        at = T0 + seq * 0.5
        frames.append((at, _frame(seq, product, round(price[product], 2), at)))
    return frames


def write_recording(folder: Path, ticks: int = 4_000, seed: int = 7) -> Path:
    """``folder`` holding one hourly file of ``ticks`` frames, half a second apart."""
    lines = b"".join(
        f'{{"t":{at:.6f},"frame":{frame}}}\n'.encode() for at, frame in ticker_frames(ticks, seed)
    )
    folder.mkdir(parents=True, exist_ok=True)
    first = datetime.fromtimestamp(T0, UTC)
    (folder / f"feed-{first:%Y%m%dT%H}.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    return folder
