from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streambot.cli import _stop_requested_by_sigterm, cli


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"STREAMBOT_MODE": "live"},
            "streambot: invalid configuration: STREAMBOT_MODE=live needs STREAMBOT_COINBASE_API_KEY",
        ),
        ({"STREAMBOT_PORT": "eighty"}, "streambot: invalid configuration: STREAMBOT_PORT: "),
        ({"STREAMBOT_PRODUCTS": "BTC"}, "STREAMBOT_PRODUCTS: 'BTC' is not of the form BASE-QUOTE"),
    ],
)
def test_invalid_configuration_stops_run_with_one_sentence(env: dict[str, str], expected: str) -> None:
    result = CliRunner().invoke(cli, ["run"], env=env)
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bench_rejects_nonsense_arguments() -> None:
    result = CliRunner().invoke(cli, ["bench", "--ticks", "0"])
    assert result.exit_code == 2
    assert "--ticks must be at least 1" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "bench feed: --url is required"),
        (["--url", "http://127.0.0.1:9"], "--url: 'http://127.0.0.1:9' is not a ws:// or wss:// URL"),
        (["--url", "ws://127.0.0.1:9", "--frames", "0"], "--frames must be at least 1"),
        (["--url", "ws://127.0.0.1:9", "--products", "BTC"], "'BTC' is not of the form BASE-QUOTE"),
    ],
)
def test_bench_feed_refuses_bad_input_with_one_sentence(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, ["bench", "feed", *args])
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output


def test_feed_throughput_is_a_section_make_bench_runs() -> None:
    from streambot import cli as cli_module

    assert "feed_throughput" in cli_module.BENCH_SECTIONS


@pytest.mark.parametrize(
    ("key", "secret", "expected"),
    [
        ("key-1", "c2VjcmV0", "the API key name must look like organizations/{org_id}/apiKeys/{key_id}"),
        (
            "organizations/o/apiKeys/k",
            "-----BEGIN EC PRIVATE KEY-----\\nAAAA\\n-----END EC PRIVATE KEY-----",
            "the API secret is not a readable PEM private key",
        ),
    ],
)
def test_a_malformed_live_key_stops_run_with_one_sentence(
    tmp_path: Path, key: str, secret: str, expected: str
) -> None:
    env = {
        "STREAMBOT_DATA_DIR": str(tmp_path),
        "STREAMBOT_MODE": "live",
        "STREAMBOT_MARKET_DATA": "coinbase",
        "STREAMBOT_COINBASE_REST_URL": "http://127.0.0.1:9",  # never reached: the key fails first
        "STREAMBOT_COINBASE_API_KEY": key,
        "STREAMBOT_COINBASE_API_SECRET": secret,
    }
    result = CliRunner().invoke(cli, ["run"], env=env)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("streambot: STREAMBOT_COINBASE_API_KEY/STREAMBOT_COINBASE_API_SECRET: ")
    assert expected in line
    assert "AAAA" not in line


def test_bench_names_the_benchmarks_it_knows() -> None:
    result = CliRunner().invoke(cli, ["bench", "nonsense"])
    assert result.exit_code == 2
    assert "unknown benchmark 'nonsense'" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--start", "2026-01-08"], "--start 2026-01-08 must be before --end 2026-01-08"),
        (["--start", "2026-13-01"], "--start: '2026-13-01' is not a date like 2026-01-01"),
        (["--start", "2026-01-01", "--timeframe", "7m"], "--timeframe: '7m' is not one of 1m, 5m,"),
        (
            ["--start", "2026-01-01", "--products", "BTCUSD"],
            "--products: 'BTCUSD' is not of the form BASE-QUOTE",
        ),
        (["--start", "2099-01-01", "--end", "2099-01-02"], "is not before the last closed 1m candle"),
    ],
)
def test_download_refuses_bad_input_with_one_sentence(tmp_path: Path, args: list[str], expected: str) -> None:
    base = {"--products": "BTC-USD", "--end": "2026-01-08", "--out": str(tmp_path)}
    flags = [part for flag, value in base.items() if flag not in args for part in (flag, value)]
    result = CliRunner().invoke(cli, ["download", *flags, *args, "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output


def test_every_benchmark_section_is_one_that_make_bench_runs() -> None:
    # Two merges once each wrote their own BENCH_SECTIONS and the later line hid the other's section.
    from streambot import cli as cli_module

    assert {"backtest", "optimize", "cluster", "memory"} <= set(cli_module.BENCH_SECTIONS)
    source = Path(cli_module.__file__).read_text()
    assert source.count("BENCH_SECTIONS = ") == 1


async def test_sigterm_sets_the_stop_event_without_interrupting_the_code_it_lands_in() -> None:
    """The signal reaches the event loop, not the code running when it lands (a database driver's
    or a WebSocket library's callback, left half-way through by a KeyboardInterrupt)."""
    loop = asyncio.get_running_loop()
    stop = _stop_requested_by_sigterm()
    finished = False

    def busy() -> None:
        nonlocal finished
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(200_000):  # a Python-level handler would run somewhere in here
            pass
        finished = True

    try:
        loop.call_soon(busy)
        await asyncio.wait_for(stop.wait(), 10)
        assert finished
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
