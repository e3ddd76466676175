"""The ``streambot`` command: run the platform, run the simulator alone, run the benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from streambot.config import Settings
from streambot.observability import logging as streambot_logging

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="Streaming trading bots for Coinbase.")
log = logging.getLogger("streambot")


def _fail(message: str) -> NoReturn:
    typer.secho(f"streambot: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        name = f"STREAMBOT_{where.upper()}: " if where else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        _fail(f"invalid configuration: {name}{message}")


@cli.command()
def run() -> None:
    """Start the whole platform (paper mode on the built-in simulator unless configured otherwise)."""
    settings = load_settings()
    streambot_logging.configure(settings.log_level, settings.log_format)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(settings))


async def _run(settings: Settings) -> None:
    from streambot.api.server import start_api
    from streambot.app import Platform, StartupError

    platform = Platform(settings)
    try:
        await platform.start()
        api = await start_api(platform, settings.host, settings.port)
    except (StartupError, OSError) as exc:
        await platform.stop()
        _fail(str(exc))
    try:
        # stdout, not the log: the token must not end up in log files or log shippers.
        print(f"\n  streambot is running ({settings.mode.value} mode)")
        print(f"  Dashboard: {api.url}/?token={platform.api_token}")
        print(f"  API:       {api.url}/api/v1  (Authorization: Bearer {platform.api_token})\n", flush=True)
        await api.task
    finally:
        await platform.stop()


@cli.command()
def simulate(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for WebSocket and REST")] = 8765,
    seed: Annotated[int | None, typer.Option(help="Random seed for a repeatable market")] = None,
) -> None:
    """Run only the Coinbase-protocol market simulator (WebSocket at /, REST at /api/v3/brokerage)."""
    from streambot.simulator.server import SimulatorConfig, serve

    settings = load_settings()
    streambot_logging.configure(settings.log_level, settings.log_format)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, port, SimulatorConfig(products=settings.products, seed=seed)))


BENCH_SECTIONS = ("pipeline", "strategies")
"""What ``streambot bench`` measures, in the order it runs them."""


@cli.command()
def bench(
    bots: Annotated[int | None, typer.Option(help="Bots on one product (default: 1, 10, 100, 1000)")] = None,
    ticks: Annotated[int, typer.Option(help="Ticker frames to drive through")] = 100_000,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"Run only these sections ({', '.join(BENCH_SECTIONS)}); repeatable"),
    ] = None,
) -> None:
    """Measure every speed target and print the figures (all sections unless --only)."""
    if bots is not None and bots < 0:
        _fail("--bots must be 0 or more")
    if ticks < 1:
        _fail("--ticks must be at least 1")
    chosen = list(only or BENCH_SECTIONS)
    unknown = [name for name in chosen if name not in BENCH_SECTIONS]
    if unknown:
        _fail(f"--only: unknown section {unknown[0]!r}; choose from {', '.join(BENCH_SECTIONS)}")
    if json and chosen != ["pipeline"]:
        chosen = ["pipeline"]  # the JSON output is the pipeline's one object
    from streambot import benchmark

    for name in chosen:
        if name == "pipeline":
            benchmark.run_benchmarks(bots=bots, ticks=ticks, as_json=json)
        elif name == "strategies":
            benchmark.print_strategy_benchmarks(min(ticks, 20_000))


def main() -> None:
    try:
        cli()
    except BrokenPipeError:  # e.g. piped into head
        sys.exit(0)
