"""Property tests of ``parse_frame``: whatever bytes arrive, it returns a frame or raises
``MalformedFrame`` (nothing else escapes), and no ticker it returns has a price, bid or ask that is
not positive and finite, or a bid above its ask.

A few thousand generated frames run in CI; ``make chaos`` runs more, and the atheris fuzzer
(tests/fuzz_parse.py) runs over a million more against the same property, ``frame_holds``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambot.feed.parse import FeedFrame, FrameKind, MalformedFrame, parse_frame
from tests.chaos import report, scale

TICKER_FIXTURE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "coinbase" / "ws_ticker.json"
).read_bytes()


class BadTicker(AssertionError):
    """parse_frame returned a ticker one must not trade on."""


def frame_holds(data: bytes) -> FeedFrame | None:
    """The property: the parsed frame (its tickers checked), or None for a counted malformed one.
    Any other exception propagates, and is the failure the fuzzers look for."""
    try:
        frame = parse_frame(data, 1)
    except MalformedFrame:
        return None
    assert isinstance(frame, FeedFrame)
    if frame.kind is FrameKind.TICKERS:
        for tick in frame.tickers:
            price, bid, ask = tick.price, tick.best_bid, tick.best_ask
            if not (price > 0 and math.isfinite(price) and 0 < bid <= ask and math.isfinite(ask)):
                raise BadTicker(f"ticker {tick!r} from {data[:200]!r}")
    return frame


# --- what the frames are made of --------------------------------------------------------------
# Lean strategies (few draws per frame): generation, not parsing, is what a CI run spends its time on.

_READABLE = st.one_of(
    st.sampled_from(["21932.98", "21931.5", "21933", "0.00001", "1e-400", "NaN", "Infinity", "-Infinity"]),
    st.sampled_from(["-1", "0", "-0", "1e400"]),
    st.floats().map(repr),
    st.floats(),
)
_NUMBER: st.SearchStrategy[object] = st.one_of(
    _READABLE, _READABLE, _READABLE, st.sampled_from([None, True, 7, -(2**70), "abc", "", [], {}])
)
_SEQUENCE = st.one_of(
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1000),
    st.sampled_from([-1, 2**53 - 1, 2**53, 2**63, 2**64, -(2**70), 1.5, "12", None, True]),
)
_CHANNEL = st.sampled_from(
    ["ticker", "ticker", "ticker", "ticker_batch", "heartbeats", "subscriptions", "l2_data", "", "x"]
)
_FIXTURE_TICKER = json.loads(TICKER_FIXTURE)["events"][0]["tickers"][0]
_TICKER = st.fixed_dictionaries(
    {}, optional={"price": _NUMBER, "best_bid": _NUMBER, "best_ask": _NUMBER, "volume_24_h": _NUMBER}
).map(lambda drawn: {k: v for k, v in _FIXTURE_TICKER.items() if k not in {"best_bid", "best_ask"}} | drawn)
_EVENTS = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["snapshot", "update"]), "tickers": st.lists(_TICKER, max_size=3)}
    ),
    max_size=2,
)


@st.composite
def _frame(draw: st.DrawFn) -> dict[str, Any]:
    channel = draw(_CHANNEL)
    frame: dict[str, Any] = {
        "channel": channel,
        "client_id": "",
        "timestamp": "2023-02-09T20:30:37.167359596Z"
        if draw(st.integers(0, 9))
        else draw(st.sampled_from(["2023-02-09", "", 5, None])),
        "sequence_num": draw(_SEQUENCE),
    }
    if channel == "heartbeats":
        frame["events"] = [{"current_time": "", "heartbeat_counter": draw(_SEQUENCE)}]
    elif channel == "subscriptions":
        frame["events"] = [{"subscriptions": {"ticker": draw(st.sampled_from([["BTC-USD"], [], "x", None]))}}]
    else:
        frame["events"] = draw(st.one_of(_EVENTS, st.sampled_from([None, "x", [1], {}])))
    if draw(st.integers(0, 19)) == 0:
        frame["type"] = "error"
        frame["message"] = draw(st.sampled_from(["boom", 5, None]))
    return frame


def _encode(frame: dict[str, Any]) -> bytes:
    # json, not orjson: it writes NaN/Infinity tokens and integers of any size, as hostile bytes may.
    return json.dumps(frame).encode()


@st.composite
def _mutated_fixture(draw: st.DrawFn) -> bytes:
    data = bytearray(TICKER_FIXTURE)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    return bytes(data)


_NESTED = st.integers(1, 5_000).map(
    lambda depth: b'{"channel":"ticker","events":' + b"[" * depth + b"]" * depth + b"}"
)
_BAD_UTF8 = st.binary(min_size=1, max_size=8).map(
    lambda junk: TICKER_FIXTURE.replace(b'"BTC-USD"', b'"BTC-' + junk + b'"')
)
_FRAME_BYTES = _frame().map(_encode)
FRAMES = st.one_of(
    _FRAME_BYTES,  # twice: half of the frames are ticker-shaped, so the ticker checks are reached
    _FRAME_BYTES,
    _mutated_fixture(),
    _NESTED,
    _BAD_UTF8,
    st.binary(max_size=300),
)

EXAMPLES = scale(2_000, 30_000)  # atheris runs the million


@pytest.mark.chaos
def test_parse_frame_lets_no_exception_escape_and_no_bad_ticker_through() -> None:
    outcomes = {"frames": 0, "parsed": 0, "malformed": 0, "tickers": 0, "rejected_tickers": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=FRAMES)
    def holds(data: bytes) -> None:
        outcomes["frames"] += 1
        frame = frame_holds(data)
        if frame is None:
            outcomes["malformed"] += 1
        else:
            outcomes["parsed"] += 1
            outcomes["tickers"] += len(frame.tickers)
            outcomes["rejected_tickers"] += frame.rejected

    holds()
    report("parse_frame_property", **outcomes, escaped=0, bad_tickers=0)
    assert outcomes["frames"] >= EXAMPLES // 2  # hypothesis ran what was asked, near enough
    assert outcomes["tickers"] > 0
    assert outcomes["malformed"] > 0


def test_a_valid_ticker_frame_still_holds() -> None:
    frame = frame_holds(TICKER_FIXTURE)
    assert frame is not None
    assert frame.tickers[0].price == 21932.98
