"""Recording the real simulator's feed on loopback: the platform's feed client, the files read back."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import zstandard

from streambot.clock import SystemClock
from streambot.feed.parse import FrameKind, parse_frame
from streambot.feed.record_session import RecordingSummary, record_feed
from streambot.simulator.server import Simulator, SimulatorConfig
from tests.integration.feed.conftest import WAIT

pytestmark = pytest.mark.integration

PRODUCTS = ("BTC-USD", "ETH-USD", "DOGE-USD")
STREAMBOT = (sys.executable, "-c", "from streambot.cli import main; main()")


class Line(msgspec.Struct):
    t: float
    frame: msgspec.Raw


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        SimulatorConfig(products=PRODUCTS, seed=5, tick_rate_scale=20.0, heartbeat_interval=0.2)
    )
    await simulator.start("127.0.0.1", 0)
    try:
        yield simulator
    finally:
        await simulator.stop()


def read_lines(path: Path) -> list[Line]:
    with path.open("rb") as raw:
        text = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True).read()
    decode = msgspec.json.Decoder(Line).decode
    return [decode(line) for line in text.splitlines()]


async def test_a_recording_of_the_simulator_reads_back_frame_by_frame(sim: Simulator, tmp_path: Path) -> None:
    summary = await asyncio.wait_for(record_feed(sim.ws_url, PRODUCTS, tmp_path, SystemClock(), 2.0), WAIT)
    await asyncio.to_thread(check_recording, tmp_path, summary)


def check_recording(directory: Path, summary: RecordingSummary) -> None:
    assert summary.failed == ""
    assert summary.dropped == 0
    assert summary.products == sorted(PRODUCTS)
    files = sorted(directory.glob("feed-*.jsonl.zst"))
    assert [f.name for f in files] == summary.files
    lines = [line for f in files for line in read_lines(f)]
    assert len(lines) == summary.frames > 20
    kinds = [parse_frame(bytes(line.frame), 0).kind for line in lines]
    assert kinds[0] is FrameKind.SUBSCRIPTIONS or FrameKind.SUBSCRIPTIONS in kinds
    assert FrameKind.HEARTBEAT in kinds
    assert kinds.count(FrameKind.TICKERS) > 10
    times = [line.t for line in lines]
    assert times == sorted(times)

    index = json.loads((directory / "index.json").read_text())["files"]
    assert sorted(index) == summary.files
    assert sum(entry["frames"] for entry in index.values()) == summary.frames
    assert min(entry["start"] for entry in index.values()) == times[0]
    assert max(entry["end"] for entry in index.values()) == times[-1]


async def test_the_record_command_prints_what_it_recorded(sim: Simulator, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *STREAMBOT, "record", "--out", str(tmp_path), "--products", "btc-usd,ETH-USD",
        "--duration", "1.5", "--url", sim.ws_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), WAIT)
    assert process.returncode == 0, err.decode()
    last = out.decode().strip().splitlines()[-1]
    assert last.startswith("Recorded ")
    assert "products: BTC-USD, ETH-USD" in last
    assert (tmp_path / "index.json").is_file()


async def test_bad_flags_get_one_sentence_and_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for args, expected in (
        (["--duration", "0"], "--duration must be positive"),
        (["--products", "BTCUSD"], "'BTCUSD' is not of the form BASE-QUOTE"),
    ):
        process = await asyncio.create_subprocess_exec(
            *STREAMBOT, "record", "--out", str(tmp_path), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), WAIT)
        assert process.returncode == 2
        assert expected in err.decode()


async def test_a_platform_with_a_record_dir_records_its_own_feed(tmp_path: Path) -> None:
    from streambot.app import Platform
    from streambot.config import Settings
    from tests.integration.feed.conftest import until

    record_dir = tmp_path / "recording"
    settings = Settings(
        data_dir=tmp_path / "data",
        sim_port=0,
        sim_seed=3,
        products=("BTC-USD", "ETH-USD"),
        demo_bots=False,
        record_dir=record_dir,
    )
    platform = await Platform.open(settings)
    try:
        await platform.start()
        recorder = platform.recorder
        assert recorder is not None
        await until(lambda: recorder.frames >= 10, "frames recorded")
    finally:
        await platform.stop()
    lines = [line for f in sorted(record_dir.glob("feed-*.jsonl.zst")) for line in read_lines(f)]
    assert len(lines) == recorder.frames
    assert recorder.frames == platform.feed.messages_received  # every frame, none dropped
    index = json.loads((record_dir / "index.json").read_text())["files"]
    assert {p for entry in index.values() for p in entry["products"]} == {"BTC-USD", "ETH-USD"}
