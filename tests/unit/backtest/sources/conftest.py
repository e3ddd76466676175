"""Writers of small market-data files, plain or compressed, for the readers' tests."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import pytest
import zstandard


class WriteLines(Protocol):
    def __call__(self, path: Path, lines: Iterable[str], compression: str = "plain") -> Path: ...


def write_lines(path: Path, lines: Iterable[str], compression: str = "plain") -> Path:
    data = "".join(f"{line}\n" for line in lines).encode()
    if compression == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    elif compression == "gzip":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.fixture
def lines_file() -> WriteLines:
    return write_lines


def ticker_frame(product: str, price: str, timestamp: str, sequence: int = 1) -> str:
    """A Coinbase ticker frame as the WebSocket sends it."""
    item = {
        "type": "ticker",
        "product_id": product,
        "price": price,
        "volume_24_h": "1",
        "low_24_h": "1",
        "high_24_h": "2",
        "price_percent_chg_24_h": "0",
        "best_bid": price,
        "best_ask": price,
    }
    frame = {
        "channel": "ticker",
        "client_id": "",
        "timestamp": timestamp,
        "sequence_num": sequence,
        "events": [{"type": "update", "tickers": [item]}],
    }
    return json.dumps(frame, separators=(",", ":"))


def flat(time: float | str, product: str, price: str, bid: str | None = None, ask: str | None = None) -> str:
    when = f'"{time}"' if isinstance(time, str) else repr(time)
    extra = ""
    if bid is not None:
        extra += f', "best_bid": "{bid}"'
    if ask is not None:
        extra += f', "best_ask": "{ask}"'
    return f'{{"time": {when}, "product_id": "{product}", "price": "{price}"{extra}}}'
