from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from streambot.cluster.streams import StreamCodec
from streambot.domain import Ticker
from streambot.feed.messages import ServerFrame
from streambot.feed.parse import FeedFrame, FrameKind, MalformedFrame, parse_frame, read_frame, read_message

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coinbase"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def unix(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def ticker_frame(**ticker_overrides: object) -> Any:
    frame = orjson.loads(fixture("ws_ticker.json"))
    frame["events"][0]["tickers"][0].update(ticker_overrides)
    return frame


def test_every_server_fixture_parses_or_is_classified() -> None:
    names = sorted(p.name for p in FIXTURES.glob("ws_*.json") if "subscribe_request" not in p.name)
    assert len(names) == 11
    for name in names:
        assert isinstance(parse_frame(fixture(name), 0), FeedFrame), name


def test_ticker_snapshot_gives_exact_floats_and_fields() -> None:
    frame = parse_frame(fixture("ws_ticker.json"), 123_456_789)

    assert frame.kind is FrameKind.TICKERS
    assert frame.sequence == 0
    assert frame.tickers == [
        Ticker(
            product_id="BTC-USD",
            price=21932.98,
            best_bid=21931.98,
            best_ask=21933.98,
            volume_24h=16038.28770938,
            low_24h=21835.29,
            high_24h=23011.18,
            price_change_pct_24h=-4.15775596190603,
            # 2023-02-09T20:30:37.167359596Z, at the microsecond a float of UNIX seconds can hold
            time=unix("2023-02-09T20:30:37.167360"),
            received_ns=123_456_789,
            sequence=0,
        )
    ]
    tick = frame.tickers[0]
    assert type(tick) is Ticker
    assert tick.time == pytest.approx(1675974637.167359596, abs=1e-6)
    assert repr(tick.price) == "21932.98"  # round-trips to the exchange's string


def test_str_input_parses_like_bytes() -> None:
    raw = fixture("ws_ticker.json")
    assert parse_frame(raw.decode(), 5) == parse_frame(raw, 5)


def test_update_with_several_events_and_tickers_yields_them_all_in_order() -> None:
    frame = ticker_frame()
    first = frame["events"][0]["tickers"][0]
    second = {**first, "product_id": "ETH-USD", "price": "4602.7"}
    third = {**first, "product_id": "SOL-USD", "price": "187.1"}
    frame["events"] = [
        {"type": "update", "tickers": [first, second]},
        {"type": "update", "tickers": [third]},
    ]
    frame["sequence_num"] = 42

    parsed = parse_frame(orjson.dumps(frame), 9)

    assert [(t.product_id, t.price, t.sequence) for t in parsed.tickers] == [
        ("BTC-USD", 21932.98, 42),
        ("ETH-USD", 4602.7, 42),
        ("SOL-USD", 187.1, 42),
    ]
    assert parsed.sequence == 42


def test_missing_best_bid_ask_fall_back_to_price() -> None:
    frame = ticker_frame()
    ticker = frame["events"][0]["tickers"][0]
    del ticker["best_bid"], ticker["best_ask"], ticker["best_bid_quantity"], ticker["best_ask_quantity"]

    (tick,) = parse_frame(orjson.dumps(frame), 0).tickers

    assert tick.best_bid == tick.best_ask == tick.price == 21932.98


def test_ticker_batch_is_read_like_ticker() -> None:
    frame = ticker_frame()
    frame["channel"] = "ticker_batch"
    ticker = frame["events"][0]["tickers"][0]
    del ticker["best_bid"], ticker["best_ask"]

    parsed = parse_frame(orjson.dumps(frame), 0)

    assert parsed.kind is FrameKind.TICKERS
    assert parsed.tickers[0].best_bid == 21932.98


def test_client_id_and_key_order_do_not_matter() -> None:
    frame = ticker_frame()
    del frame["client_id"]
    reordered = {k: frame[k] for k in ("events", "sequence_num", "timestamp", "channel")}
    assert parse_frame(orjson.dumps(reordered), 0).tickers[0].price == 21932.98


def test_sequence_num_absent_is_none_and_tickers_say_minus_one() -> None:
    frame = ticker_frame()
    del frame["sequence_num"]
    parsed = parse_frame(orjson.dumps(frame), 0)
    assert parsed.sequence is None
    assert parsed.tickers[0].sequence == -1


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2023-02-09T20:30:37Z", unix("2023-02-09T20:30:37")),
        ("2023-02-09T20:30:37.5Z", unix("2023-02-09T20:30:37.500000")),
        ("2023-06-09T20:19:35.39625135Z", unix("2023-06-09T20:19:35.396251")),
        ("2023-02-09T21:30:37.25+01:00", unix("2023-02-09T20:30:37.250000")),
    ],
)
def test_timestamps_with_any_number_of_fraction_digits(timestamp: str, expected: float) -> None:
    frame = ticker_frame()
    frame["timestamp"] = timestamp
    assert parse_frame(orjson.dumps(frame), 0).tickers[0].time == pytest.approx(expected, abs=1e-6)


def test_heartbeats_give_counter_and_sequence() -> None:
    frame = parse_frame(fixture("ws_heartbeats.json"), 0)
    assert frame.kind is FrameKind.HEARTBEAT
    assert frame.heartbeat_counter == 25539
    assert frame.sequence == 17
    assert frame.tickers == []


def test_heartbeat_counter_as_a_string_like_the_docs_show() -> None:
    frame = orjson.loads(fixture("ws_heartbeats.json"))
    frame["events"][0]["heartbeat_counter"] = "3"
    assert parse_frame(orjson.dumps(frame), 0).heartbeat_counter == 3


def test_subscriptions_ack_without_client_id() -> None:
    frame = parse_frame(fixture("ws_subscriptions.json"), 0)
    assert frame.kind is FrameKind.SUBSCRIPTIONS
    assert frame.sequence == 2
    assert frame.subscriptions == {
        "heartbeats": ["heartbeats"],
        "level2": ["BTC-PERP-INTX", "ETH-PERP-INTX"],
    }


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ws_error_authentication_failure.json", "authentication failure"),
        (
            "ws_error_product_ids_string.json",
            "json: cannot unmarshal string into Go struct field RawControlMessage.product_ids"
            " of type []string",
        ),
    ],
)
def test_error_frames(name: str, message: str) -> None:
    frame = parse_frame(fixture(name), 0)
    assert frame.kind is FrameKind.ERROR
    assert frame.message == message
    assert frame.sequence is None


@pytest.mark.parametrize(
    ("name", "channel", "sequence"),
    [
        ("ws_level2_snapshot.json", "l2_data", 0),
        ("ws_level2_update.json", "l2_data", 18),
        ("ws_market_trades.json", "market_trades", 0),
        ("ws_candles.json", "candles", 0),
        ("ws_status.json", "status", 0),
        ("ws_user_order.json", "user", 0),
    ],
)
def test_channels_we_do_not_read_are_unknown_not_errors(name: str, channel: str, sequence: int) -> None:
    frame = parse_frame(fixture(name), 0)
    assert frame.kind is FrameKind.UNKNOWN
    assert frame.channel == channel
    assert frame.sequence == sequence


def _without(key: str) -> bytes:
    frame = ticker_frame()
    del frame["events"][0]["tickers"][0][key]
    return orjson.dumps(frame)


# Ticker frames off the usual path: no number, a refused price, NaN, bid above ask, no bid.
_UNUSUAL_TICKERS = [
    orjson.dumps({k: v for k, v in ticker_frame().items() if k != "sequence_num"}),
    orjson.dumps(ticker_frame(price="0")),
    orjson.dumps(ticker_frame(best_bid="NaN")),
    orjson.dumps(ticker_frame(best_bid="2", best_ask="1")),
    _without("best_bid"),
]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not json", "not a Coinbase frame"),
        (b"", "not a Coinbase frame"),
        (b'{"channel": "ticker", ', "not a Coinbase frame"),
        (b"[1, 2, 3]", "not a Coinbase frame"),
        (b'"ticker"', "not a Coinbase frame"),
        (b"{}", "neither a channel nor type=error"),
        (b'{"type": "subscriptions"}', "neither a channel nor type=error"),
        (b'{"channel": "ticker", "sequence_num": 1}', "bad ticker frame"),
        (b'{"channel": "heartbeats", "events": [{}]}', "heartbeat_counter"),
        (b'{"channel": "heartbeats", "events": []}', "without events"),
        (b'{"channel": "subscriptions", "events": [{"subscriptions": []}]}', "bad subscriptions frame"),
        (_without("product_id"), "product_id"),
        (_without("price"), "price"),
        (_without("volume_24_h"), "volume_24_h"),
        (orjson.dumps(ticker_frame(price="abc")), "price"),
        (orjson.dumps(ticker_frame(price="")), "price"),
        (orjson.dumps(ticker_frame(best_bid="1,5")), "best_bid"),
        (orjson.dumps({**ticker_frame(), "timestamp": "yesterday"}), "timestamp"),
        (orjson.dumps({**ticker_frame(), "timestamp": "2023-02-09T20:30:37"}), "timestamp"),
        (orjson.dumps({**ticker_frame(), "sequence_num": "x"}), "sequence_num"),
        (b"\xff\xfe", "not a Coinbase frame"),
    ],
)
def test_malformed_input_raises_one_clear_exception(data: bytes, says: str) -> None:
    with pytest.raises(MalformedFrame) as raised:
        parse_frame(data, 0)
    assert says in str(raised.value)


# --- poison frames: every one a MalformedFrame, never another exception ---------------------------


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize(
    "data",
    [
        # invalid UTF-8 inside a string, in a frame we read and in one we do not
        orjson.dumps(ticker_frame(product_id="BTC-USD")).replace(b"BTC-USD", b"BTC-\xff\xfe"),
        b'{"channel":"l2\xff_data","events":[]}',
        b'{"type":"error","message":"\xc3\x28"}',
        # nesting far deeper than the decoder recurses
        b'{"channel":"ticker","events":' + _deep(5000) + b"}",
        b'{"channel":"l2_data","events":[],"x":' + _deep(5000) + b"}",
        b'{"channel":"heartbeats","events":' + _deep(100_000) + b"}",
        # numbers no integer type holds, NaN and Infinity as JSON literals
        b'{"channel":"ticker","sequence_num":1e400,"events":[]}',
        b'{"channel":"ticker","timestamp":"2023-02-09T20:30:37Z","sequence_num":NaN,"events":[]}',
        b'{"channel":"heartbeats","events":[{"heartbeat_counter":Infinity}]}',
        b"",
        b"\x00" * 64,
    ],
)
def test_poison_frames_are_malformed_frames_never_another_exception(data: bytes) -> None:
    with pytest.raises(MalformedFrame):
        parse_frame(data, 0)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"price": "NaN"}, "price nan"),
        ({"price": "-1"}, "price -1.0"),
        ({"price": "0"}, "price 0.0"),
        ({"price": "Infinity"}, "price inf"),
        ({"best_bid": "NaN"}, "best bid nan"),
        ({"best_bid": "-1"}, "best bid -1.0"),
        ({"best_ask": "0"}, "best ask 0.0"),
        ({"best_ask": "Infinity"}, "best ask inf"),
        ({"best_bid": "101", "best_ask": "100"}, "above best ask"),
    ],
)
def test_invalid_tickers_are_dropped_and_counted_others_of_the_frame_kept(
    overrides: dict[str, str], says: str
) -> None:
    frame = ticker_frame(**overrides)
    good = {
        **frame["events"][0]["tickers"][0],
        "product_id": "ETH-USD",
        "price": "10",
        "best_bid": "9.9",
        "best_ask": "10.1",
    }
    frame["events"][0]["tickers"].append(good)

    parsed = parse_frame(orjson.dumps(frame), 0)

    assert parsed.kind is FrameKind.TICKERS
    assert [t.product_id for t in parsed.tickers] == ["ETH-USD"]
    assert parsed.rejected == 1
    assert parsed.rejected_reason.startswith("BTC-USD: ")
    assert says in parsed.rejected_reason


def test_bid_equal_to_ask_is_a_valid_ticker() -> None:
    parsed = parse_frame(orjson.dumps(ticker_frame(best_bid="100", best_ask="100")), 0)
    assert parsed.rejected == 0
    assert parsed.tickers[0].best_bid == parsed.tickers[0].best_ask == 100.0


def test_the_largest_sequence_number_accepted_is_exact_in_javascript() -> None:
    parsed = parse_frame(orjson.dumps({**ticker_frame(), "sequence_num": 2**53 - 1}), 0)
    assert parsed.sequence == 2**53 - 1
    assert parsed.tickers[0].sequence == 2**53 - 1


# --- what the parser completes --------------------------------------------------------------------


def test_tickers_of_a_frame_share_its_time_sequence_and_receive_time() -> None:
    frame = ticker_frame()
    second = dict(frame["events"][0]["tickers"][0], product_id="ETH-USD")
    del second["best_bid"]
    frame["events"].append({"type": "update", "tickers": [second]})
    frame["sequence_num"] = 9

    parsed = parse_frame(orjson.dumps(frame), 77)

    assert [t.product_id for t in parsed.tickers] == ["BTC-USD", "ETH-USD"]
    assert {(t.time, t.received_ns, t.sequence) for t in parsed.tickers} == {
        (unix("2023-02-09T20:30:37.167360"), 77, 9)
    }
    assert parsed.tickers[1].best_bid == parsed.tickers[1].price


def test_fields_the_exchange_might_add_to_an_item_do_not_reach_the_ticker() -> None:
    frame = ticker_frame(time="2023-02-09T20:30:37Z", sequence="x", received_ns=None)

    (tick,) = parse_frame(orjson.dumps(frame), 5).tickers

    assert (tick.time, tick.received_ns, tick.sequence) == (unix("2023-02-09T20:30:37.167360"), 5, 0)


# --- read_frame: the feed's hot path reads exactly what parse_frame reads --------------------------


@pytest.mark.parametrize(
    "data",
    [
        fixture("ws_ticker.json"),
        *_UNUSUAL_TICKERS,
        fixture("ws_heartbeats.json"),
    ],
)
def test_read_frame_reads_what_parse_frame_reads(data: bytes) -> None:
    expected = parse_frame(data, 42)
    got = read_frame(data, 42)
    if isinstance(got, Ticker):
        # Only the usual frame comes back bare: one valid ticker, its sequence the frame's.
        assert expected.kind is FrameKind.TICKERS
        assert not expected.rejected
        assert expected.tickers == [got]
        assert got.sequence == (-1 if expected.sequence is None else expected.sequence)
    else:
        assert got == expected


def test_read_frame_hands_the_usual_frame_on_as_its_ticker() -> None:
    assert isinstance(read_frame(fixture("ws_ticker.json"), 42), Ticker)


@pytest.mark.parametrize("data", [b"not json", b"{}", _without("price"), b'{"channel":"ticker","events":[]}'])
def test_read_frame_refuses_what_parse_frame_refuses(data: bytes) -> None:
    with pytest.raises(MalformedFrame) as parsed:
        parse_frame(data, 0)
    with pytest.raises(MalformedFrame) as read:
        read_frame(data, 0)
    assert str(read.value) == str(parsed.value)


# --- read_message: a frame decoded elsewhere (a recording's line) reads as read_frame reads it -------

_decode_server_frame = msgspec.json.Decoder(ServerFrame, strict=False).decode


@pytest.mark.parametrize(
    "data",
    [
        fixture("ws_ticker.json"),
        orjson.dumps({**ticker_frame(), "channel": "ticker_batch"}),
        fixture("ws_heartbeats.json"),
        fixture("ws_subscriptions.json"),
        *_UNUSUAL_TICKERS,
    ],
)
def test_read_message_reads_what_read_frame_reads(data: bytes) -> None:
    assert read_message(_decode_server_frame(data), 42) == read_frame(data, 42)


def test_read_message_refuses_what_read_frame_refuses() -> None:
    data = b'{"channel":"heartbeats","events":[]}'
    with pytest.raises(MalformedFrame) as read:
        read_frame(data, 0)
    with pytest.raises(MalformedFrame) as message:
        read_message(_decode_server_frame(data), 0)
    assert str(message.value) == str(read.value)


def test_a_feed_tickers_time_reads_equals_hashes_and_encodes_as_a_float() -> None:
    # The feed keeps the frame's datetime in the ticker until its time is first read.
    raw = fixture("ws_ticker.json")
    tick = read_frame(raw, 5)
    assert isinstance(tick, Ticker)
    built = msgspec.structs.replace(tick, time=unix("2023-02-09T20:30:37.167360"))
    assert tick == built  # compared by value, read or not
    assert hash(read_frame(raw, 5)) == hash(built)
    assert tick.time == pytest.approx(1675974637.167359596, abs=1e-6)
    assert type(tick.time) is float

    # The cluster's codec sends the float, never the datetime, even for a ticker not read yet.
    codec = StreamCodec()
    unread = read_frame(raw, 5)
    assert isinstance(unread, Ticker)
    sent = codec.decode_tick(codec.encode_tick(unread, 1.0)).tick
    assert type(sent.time) is float
    assert sent == built
