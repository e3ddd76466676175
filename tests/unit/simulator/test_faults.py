"""Fault requests: validation, the CLI flag syntax and timed faults running out."""

from __future__ import annotations

import pytest

from streambot.clock import ManualClock
from streambot.simulator.faults import FaultError, Faults, HttpError, Latency, parse_fault, parse_fault_flag
from streambot.simulator.middleware import is_loopback


def test_flags_take_the_short_form_and_json() -> None:
    assert parse_fault_flag("http_error:status=429,seconds=30,html=true") == HttpError(
        fault="http_error", status=429, seconds=30, html=True
    )
    assert parse_fault_flag('{"fault":"latency","ms":250,"seconds":5}') == Latency(
        fault="latency", ms=250, seconds=5
    )
    assert parse_fault_flag("drop_connections").fault == "drop_connections"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"fault": "nap"}, "fault must be one of"),
        ({"fault": "silence", "seconds": -1}, "seconds"),
        ({"fault": "skip_sequence", "count": 0}, "count"),
        ({"fault": "http_error", "status": 418, "seconds": 1}, "status"),
        ({"fault": "malformed", "count": 1, "extra": 1}, "extra"),
    ],
)
def test_bad_faults_name_what_is_wrong(data: dict[str, object], words: str) -> None:
    with pytest.raises(FaultError, match=words):
        parse_fault(data)


def test_a_flag_without_key_value_pairs_is_refused() -> None:
    with pytest.raises(FaultError, match="key=value"):
        parse_fault_flag("silence:5")


def test_timed_faults_run_out_and_replace_each_other() -> None:
    clock = ManualClock()
    faults = Faults(clock)
    faults.inject("silence", seconds=2)
    faults.inject(fault="latency", ms=100, seconds=10)
    assert faults.silenced()
    assert faults.latency() == pytest.approx(0.1)
    faults.inject("latency", ms=300, seconds=1)  # replaces the first latency
    assert [f["fault"] for f in faults.active()] == ["silence", "latency"]
    clock.advance_by(1.5)
    assert faults.silenced()
    assert faults.latency() == 0.0
    clock.advance_by(1.0)
    assert not faults.silenced()
    assert faults.active() == []


def test_http_error_reports_its_end_and_clear_stops_everything() -> None:
    clock = ManualClock()
    faults = Faults(clock)
    faults.inject({"fault": "http_error", "status": 503, "seconds": 5})
    current = faults.http_error()
    assert current is not None
    assert current[0].status == 503
    assert faults.clear() == 1
    assert faults.http_error() is None


def test_instant_faults_without_a_server_touch_nothing() -> None:
    assert Faults(ManualClock()).inject("skip_sequence", count=3) == {
        "fault": "skip_sequence",
        "count": 3,
        "connections": 0,
    }


@pytest.mark.parametrize(
    ("remote", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("10.0.0.2", False),
        ("203.0.113.9", False),
        (None, False),
        ("x", False),
    ],
)
def test_only_loopback_peers_may_use_the_admin_api(remote: str | None, loopback: bool) -> None:
    assert is_loopback(remote) is loopback
