"""Coinbase WebSocket frames for the feed's tests, made from the recorded samples in
``tests/fixtures/coinbase`` with the fields a test needs changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "coinbase"


def fixture(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def heartbeat(seq: int, counter: int) -> bytes:
    frame = fixture("ws_heartbeats.json")
    frame.update(sequence_num=seq)
    frame["events"][0]["heartbeat_counter"] = counter
    return orjson.dumps(frame)
