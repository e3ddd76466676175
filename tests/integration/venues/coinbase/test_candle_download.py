"""Downloading candles from the real simulator on loopback: pages, resume, same bytes twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streambot.clock import SystemClock
from streambot.domain import Timeframe
from streambot.exchange import ExchangeError
from streambot.simulator.server import Simulator, SimulatorConfig
from streambot.venues.coinbase.candle_download import SCHEMA, CandleDownload, download_candles
from streambot.venues.coinbase.client import CoinbaseRest

pytestmark = pytest.mark.integration

PRODUCTS = ("BTC-USD", "ETH-USD")
START = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
END = START + 3 * 350 * 60 + 17 * 60  # four pages of minutes, the last one short
ENDPOINT = "/market/products/{product_id}/candles"


class Interrupted(Exception):
    pass


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(SimulatorConfig(products=PRODUCTS, seed=11, rate_limits=False))
    await simulator.start("127.0.0.1", 0)
    try:
        yield simulator
    finally:
        await simulator.stop()


def plans(directory: Path) -> list[CandleDownload]:
    return [CandleDownload(p, Timeframe.ONE_MINUTE, START, END, directory) for p in PRODUCTS]


def requests(client: CoinbaseRest) -> int:
    return client.requests.get((ENDPOINT, 200), 0)


async def test_a_download_pages_resumes_and_gives_the_same_bytes(sim: Simulator, tmp_path: Path) -> None:
    client = CoinbaseRest(sim.rest_url, clock=SystemClock())
    try:
        whole = tmp_path / "whole"
        counts = await download_candles(client, plans(whole), source="sim")
        assert counts == dict.fromkeys(PRODUCTS, (END - START) // 60)
        assert requests(client) == 2 * 4

        # Interrupted after three pages, then run again: only the five missing pages are fetched.
        resumed = tmp_path / "resumed"
        fetched: list[str] = []

        def stop_after_three(product_id: str, candles: int) -> None:
            fetched.append(product_id)
            if len(fetched) == 3:
                raise Interrupted

        with pytest.raises(Interrupted):
            await download_candles(client, plans(resumed), source="sim", on_page=stop_after_three)
        assert not (resumed / "BTC-USD-1m.parquet").exists()
        before = requests(client)
        await download_candles(client, plans(resumed), source="sim")
        assert requests(client) - before == 8 - 3

        # Nothing is missing any more: a third run fetches nothing and writes the same bytes.
        before = requests(client)
        await download_candles(client, plans(resumed), source="sim")
        assert requests(client) == before
    finally:
        await client.close()
    await asyncio.to_thread(check_files, whole, resumed)


def check_files(whole: Path, resumed: Path) -> None:
    for product in PRODUCTS:
        name = f"{product}-1m.parquet"
        assert (whole / name).read_bytes() == (resumed / name).read_bytes()
        table = pq.read_table(whole / name, schema=SCHEMA)
        assert table.schema.field("start").type == pa.timestamp("s", tz="UTC")
        starts = table.column("start").cast(pa.int64()).to_pylist()
        assert starts == list(range(START, END, 60))
        assert set(table.column("product_id").to_pylist()) == {product}
        metadata = pq.read_schema(whole / name).metadata
        assert metadata[b"streambot.timeframe"] == b"1m"
        assert metadata[b"streambot.source"] == b"sim"
        opens, closes = table.column("open").to_pylist(), table.column("close").to_pylist()
        assert opens[1:] == closes[:-1]  # the seeded history's minutes join up


async def test_the_same_seed_serves_the_same_history_from_any_simulator(tmp_path: Path) -> None:
    files = []
    for run in range(2):
        simulator = Simulator(SimulatorConfig(products=("ETH-USD",), seed=11, rate_limits=False))
        await simulator.start("127.0.0.1", 0)
        client = CoinbaseRest(simulator.rest_url, clock=SystemClock())
        try:
            plan = CandleDownload(
                "ETH-USD", Timeframe.ONE_HOUR, START, START + 400 * 3600, tmp_path / str(run)
            )
            await download_candles(client, [plan], source="sim")
        finally:
            await client.close()
            await simulator.stop()
        files.append(plan.path)
    assert await asyncio.to_thread(files[0].read_bytes) == await asyncio.to_thread(files[1].read_bytes)


async def test_an_unknown_product_is_named(sim: Simulator, tmp_path: Path) -> None:
    client = CoinbaseRest(sim.rest_url, clock=SystemClock())
    try:
        plan = CandleDownload("FOO-USD", Timeframe.ONE_MINUTE, START, END, tmp_path)
        with pytest.raises(ExchangeError, match=r"FOO-USD: .*404") as caught:
            await download_candles(client, [plan], source="sim")
        assert caught.value.status == 404
    finally:
        await client.close()


async def test_a_venue_refusing_350_candles_gets_smaller_requests(tmp_path: Path) -> None:
    config = SimulatorConfig(products=("BTC-USD",), seed=11, rate_limits=False, max_candles_per_request=300)
    simulator = Simulator(config)
    await simulator.start("127.0.0.1", 0)
    client = CoinbaseRest(simulator.rest_url, clock=SystemClock())
    try:
        plan = CandleDownload("BTC-USD", Timeframe.ONE_MINUTE, START, END, tmp_path)
        counts = await download_candles(client, [plan], source="sim")
    finally:
        await client.close()
        await simulator.stop()
    assert counts == {"BTC-USD": (END - START) // 60}
    assert client.requests.get((ENDPOINT, 400)) == 1  # refused once, then pages of 300 and the rest


async def test_the_apis_own_address_as_printed_by_the_simulator_works_as_the_rest_url(
    sim: Simulator, tmp_path: Path
) -> None:
    """``--url`` given as the simulator's start line prints it (…/api/v3/brokerage, as Coinbase's
    docs write it too) reaches the same endpoints as the bare host, instead of a 404 blamed on
    the product."""
    client = CoinbaseRest(f"{sim.rest_url}/api/v3/brokerage/", clock=SystemClock())
    try:
        assert client.base_url == sim.rest_url
        counts = await download_candles(client, plans(tmp_path), source="sim")
        assert counts == dict.fromkeys(PRODUCTS, (END - START) // 60)
    finally:
        await client.close()
