"""The ``streambot`` command: run the platform, run the simulator alone, run the benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError

from streambot.config import Mode, Role, Settings
from streambot.observability import logging as streambot_logging

if TYPE_CHECKING:
    from streambot.api.server import RunningApi

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="Streaming trading bots for Coinbase.")
log = logging.getLogger("streambot")

PID_FILE = "streambot.pid"  # in the data dir while `streambot run` serves: its pid, then its URL


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


def _load_strategy_dir(settings: Settings) -> None:
    """The user's strategies (STREAMBOT_STRATEGY_DIR), as the platform loads them, so a backtest or
    a search (the API's children too) can replay a bot on one."""
    if settings.strategy_dir is not None:
        from streambot.strategies.user import load_user_strategies

        load_user_strategies(settings.strategy_dir)


@cli.command()
def run() -> None:
    """Start the whole platform (paper mode on the built-in simulator unless configured otherwise)."""
    settings = load_settings()
    streambot_logging.configure(
        settings.log_level,
        settings.log_format,
        log_file=settings.data_dir / streambot_logging.LOG_FILE if settings.log_file_max_bytes else None,
        max_bytes=settings.log_file_max_bytes,
        backups=settings.log_file_backups,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(settings))


def _stop_requested_by_sigterm() -> asyncio.Event:
    """An event set when SIGTERM arrives (a service manager, `kill`, `streambot cluster`): the
    process then stops as on Ctrl-C, orders under way waited for and the store closed.

    The signal is taken by the event loop, never turned into a KeyboardInterrupt: that exception
    is raised wherever the main thread happens to be, inside a database driver's or a WebSocket
    library's callback too, and leaves them half-way through a message. A worker stopped that way
    hung in a commit that never completed, or crashed at exit (SIGSEGV). Ctrl-C keeps asyncio's
    own handling: it cancels the main task. uvicorn takes both signals while it serves; the loop
    still hears them, so the event is set either way."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    return stop


async def _serve_until_stopped(api: RunningApi, stop: asyncio.Event) -> None:
    """Until the API stops serving (uvicorn took a signal) or SIGTERM came before it could."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({api.task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    await api.stop()


async def _run(settings: Settings) -> None:
    from streambot.api.server import start_api
    from streambot.app import Platform, StartupError

    stop = _stop_requested_by_sigterm()
    try:
        platform = await Platform.open(settings)
    except (StartupError, OSError) as exc:
        _fail(str(exc))
    try:
        await platform.start()
        api = await start_api(platform, settings.host, settings.port)
    except (StartupError, OSError) as exc:
        await platform.stop()
        _fail(str(exc))
    pid_file = settings.data_dir / PID_FILE
    try:
        if settings.mode is Mode.LIVE:
            # stdout, not the log: what will trade real money, for the person starting it to read.
            print("\n" + "\n".join(f"  {line}" for line in await platform.live_plan()))
        # stdout, not the log: the token must not end up in log files or log shippers.
        print(f"\n  streambot is running ({settings.mode.value} mode)")
        print(f"  Dashboard: {api.url}/?token={platform.api_token}")
        print(f"  API:       {api.url}/api/v1  (Authorization: Bearer {platform.api_token})\n", flush=True)
        # scripts/restart.sh finds the process to stop here (and the address to wait on).
        pid_file.write_text(f"{os.getpid()}\n{api.url}\n")
        await _serve_until_stopped(api, stop)
    finally:
        with contextlib.suppress(OSError):
            if pid_file.read_text().split()[0] == str(os.getpid()):
                pid_file.unlink()
        await platform.stop()


# --- the cluster (issue 18): one role per process, or the whole topology on one machine ---


def _serve_role(role_name: str) -> None:
    role = Role(role_name)
    settings = load_settings()
    problem = settings.cluster_problem()
    if problem is not None:
        _fail(problem)
    # Several processes share the data dir: each logs to the console (a service manager keeps it).
    streambot_logging.configure(settings.log_level, settings.log_format)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_role(settings, role))


async def _run_role(settings: Settings, role: Role) -> None:
    from streambot.api.server import start_api
    from streambot.app import Platform, StartupError

    stop = _stop_requested_by_sigterm()
    try:
        platform = await Platform.open(settings, role=role)
    except (StartupError, OSError) as exc:
        _fail(str(exc))
    try:
        try:
            await platform.start()
        except (StartupError, OSError) as exc:
            _fail(str(exc))
        if role is Role.API:
            try:
                api = await start_api(platform, settings.host, settings.port)
            except OSError as exc:
                _fail(str(exc))
            print(f"\n  streambot api ({settings.mode.value} mode, cluster {settings.cluster_name})")
            print(f"  Dashboard: {api.url}/?token={platform.api_token}")
            print(
                f"  API:       {api.url}/api/v1  (Authorization: Bearer {platform.api_token})\n", flush=True
            )
            await _serve_until_stopped(api, stop)
        else:
            await stop.wait()  # or Ctrl-C, which cancels this task
    finally:
        await platform.stop()


@cli.command()
def feed() -> None:
    """Cluster role: hold the market-data WebSocket and publish ticks to Redis Streams."""
    _serve_role("feed")


@cli.command()
def worker() -> None:
    """Cluster role: evaluate the bots this worker leases and place their orders (run N of them)."""
    _serve_role("worker")


@cli.command()
def api() -> None:
    """Cluster role: serve REST, WebSockets and the dashboard from PostgreSQL and the event stream."""
    _serve_role("api")


@cli.command()
def cluster(
    workers: Annotated[int, typer.Option("--workers", help="Worker processes to start")] = 2,
) -> None:
    """Start the whole cluster on this machine (simulator in paper mode, feed, workers, API) as child
    processes of one process group; Ctrl-C or SIGTERM stops them all."""
    from streambot.clock import SystemClock
    from streambot.cluster.launcher import (
        ChildSpec,
        ClusterLauncher,
        free_port,
        streambot_command,
        wait_for_port,
    )
    from streambot.config import MarketData

    if workers < 1:
        _fail("--workers must be at least 1")
    settings = load_settings()
    streambot_logging.configure(settings.log_level, settings.log_format)
    clock = SystemClock()
    launcher = ClusterLauncher(os.environ, clock)
    shared: dict[str, str] = {}
    if settings.mode is Mode.PAPER and not settings.sim_url:
        port = settings.sim_port or free_port()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        args = ["simulate", "--port", str(port), "--state", str(settings.data_dir / "paper_account.db")]
        if settings.sim_seed is not None:
            args += ["--seed", str(settings.sim_seed)]
        launcher.spawn(ChildSpec("simulator", streambot_command(*args)))
        if not wait_for_port(port, 30.0, clock):
            launcher.stop()
            _fail(f"the simulator did not start on port {port}")
        shared["STREAMBOT_SIM_URL"] = f"http://127.0.0.1:{port}"
        if settings.market_data is not MarketData.SIM:
            log.warning("⚠️ The cluster's simulator follows its own market, not Coinbase's prices")
    problem = Settings(sim_url=shared.get("STREAMBOT_SIM_URL", settings.sim_url)).cluster_problem()
    if problem is not None:
        launcher.stop()
        _fail(problem)
    specs = [ChildSpec("feed", streambot_command("feed"), shared)]
    specs += [ChildSpec(f"worker {n + 1}", streambot_command("worker"), shared) for n in range(workers)]
    specs.append(ChildSpec("api", streambot_command("api"), shared))
    raise typer.Exit(launcher.run(specs))


@cli.command()
def simulate(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for WebSocket and REST")] = 8765,
    seed: Annotated[int | None, typer.Option(help="Random seed for a repeatable market")] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="Start with a fault, e.g. 'silence:seconds=10', 'http_error:status=429,seconds=30' "
            "or JSON as POST /sim/faults takes it (repeatable)"
        ),
    ] = None,
    state: Annotated[
        Path | None, typer.Option(help="Keep the paper account (balances, orders, fills) in this file")
    ] = None,
    prices: Annotated[
        Path | None, typer.Option(help="Replay recorded prices (JSON lines: ticks or Coinbase ticker frames)")
    ] = None,
    replay_speed: Annotated[float, typer.Option(help="Replay speed-up factor")] = 1.0,
    key_file: Annotated[
        list[Path] | None,
        typer.Option(
            help="CDP API key JSON (name + privateKey/publicKey): require JWTs signed by it (repeatable)"
        ),
    ] = None,
    rate_limits: Annotated[
        bool, typer.Option(help="Answer 429 beyond 30 req/s private, 10 req/s public")
    ] = True,
) -> None:
    """Run only the Coinbase-protocol market simulator (WebSocket at /, REST at /api/v3/brokerage,
    fault injection at /sim/faults)."""
    from streambot.simulator.faults import FaultError, parse_fault_flag
    from streambot.simulator.server import SimulatorConfig, serve

    settings = load_settings()
    streambot_logging.configure(settings.log_level, settings.log_format)
    if replay_speed <= 0:
        _fail("--replay-speed must be positive")
    if prices is not None and not prices.is_file():
        _fail(f"--prices: {prices} is not a file")
    try:
        faults = tuple(parse_fault_flag(text) for text in fault or ())
    except FaultError as exc:
        _fail(f"--fault: {exc}")
    api_keys = dict(_read_key_file(path) for path in key_file or ())
    from streambot.clock import SystemClock
    from streambot.simulator.auth import JwtVerifier

    try:
        JwtVerifier(api_keys, clock=SystemClock())
    except (ValueError, TypeError) as exc:
        _fail(f"--key-file: the key is not an EC P-256 or Ed25519 key ({type(exc).__name__})")
    config = SimulatorConfig(
        products=settings.products,
        seed=seed,
        faults=faults,
        state_path=state,
        price_file=prices,
        replay_speed=replay_speed,
        api_keys=api_keys,
        rate_limits=rate_limits,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, port, config))


def _read_key_file(path: Path) -> tuple[str, str]:
    """(key name, key PEM) from a CDP key file; the key itself is never echoed in errors."""
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        _fail(f"--key-file {path}: cannot read it as JSON ({type(exc).__name__})")
    if not isinstance(data, dict):
        _fail(f"--key-file {path}: expected a JSON object with name and privateKey")
    name = data.get("name") or data.get("id")
    key = data.get("publicKey") or data.get("privateKey")
    if not isinstance(name, str) or not isinstance(key, str):
        _fail(f"--key-file {path}: needs 'name' and 'privateKey' (or 'publicKey')")
    return name, key


FeesOption = Annotated[
    str | None,
    typer.Option("--fees", help="maker,taker rates, e.g. 0.006,0.012 (default: Coinbase's entry tier)"),
]
LatencyOption = Annotated[
    float,
    typer.Option("--latency-ms", help="An order executes on the first tick at or after decision + this"),
]


@cli.command()
def backtest(
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data",
            help="A recording (folder or feed-*.jsonl.zst), a Parquet candle file, or JSON lines of ticks "
            "or ticker frames (plain, .gz, .zst); repeatable, merged by time",
        ),
    ] = None,
    bots: Annotated[
        Path | None,
        typer.Option(
            "--bots",
            help="JSON list of bots, as POST /api/v1/bots takes them "
            "(default with --compare-session: the session's)",
        ),
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object as the last line of stdout")
    ] = False,
    report_dir: Annotated[
        Path | None, typer.Option("--report-dir", help="Write report.html and PNG charts here")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Replay from (UNIX seconds or ISO date/time)")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Replay until (inclusive)")] = None,
    fees: FeesOption = None,
    latency_ms: LatencyOption = 50.0,
    sample_s: Annotated[
        float, typer.Option("--sample-s", help="Equity sampled every this many seconds of data")
    ] = 60.0,
    save: Annotated[
        str | None,
        typer.Option(
            "--save",
            help="Also write the run's bots, orders, fills and trades into this database (a SQLite file "
            "or a database URL; not the platform's own). Without it everything stays in memory",
        ),
    ] = None,
    compare_session: Annotated[
        str | None,
        typer.Option(
            "--compare-session",
            help="A session's data dir (or database URL): replay its recording (--data, default "
            "DIR/recording) with its bots and print where replay and session differ, and why",
        ),
    ] = None,
    progress_json: Annotated[
        bool,
        typer.Option(
            "--progress-json",
            help='Progress as JSON lines on stderr ({"ticks": …, "at": …, "ticks_per_s": …}), not the bar',
        ),
    ] = False,
) -> None:
    """Replay market data through the live engine (evaluator, strategies, risk rules, order path) on a
    ManualClock against the matcher: deterministic, tick by tick, with fees and latency."""

    from streambot.app import limits_from
    from streambot.backtest.bots_file import read_bots
    from streambot.backtest.command import backtest_command, parse_fees, parse_window
    from streambot.backtest.engine import BacktestConfig, BotFileError
    from streambot.simulator.market import spec_for

    settings = load_settings()
    streambot_logging.configure(settings.log_level, settings.log_format)
    _load_strategy_dir(settings)
    try:
        window = parse_window(start, end)
        tier = parse_fees(fees)
    except ValueError as exc:
        _fail(str(exc))
    if latency_ms < 0:
        _fail("--latency-ms must be 0 or more")
    if sample_s <= 0:
        _fail("--sample-s must be positive")
    session = None
    if compare_session is not None:
        from streambot.backtest.compare import database_url, read_session
        from streambot.clock import SystemClock

        where = Path(compare_session)
        if "://" not in compare_session and not (where / "streambot.db").is_file():
            _fail(
                f"--compare-session: {compare_session} holds no streambot.db "
                "(give a data dir or a database URL)"
            )
        url = compare_session if "://" in compare_session else database_url(where)
        try:
            session = asyncio.run(read_session(url, SystemClock()))
        except Exception as exc:  # the session's database could not be read: say why
            _fail(f"--compare-session: cannot read {compare_session}: {exc}")
        if not data and "://" not in compare_session and (where / "recording").is_dir():
            data = [str(where / "recording")]
    if not data:
        _fail("--data: give at least one recording, candle file or JSON-lines file")
    if bots is None and session is None:
        _fail("--bots: give the bots to replay (a JSON list, as POST /api/v1/bots takes them)")
    try:
        specs = read_bots(bots) if bots is not None else session.bots if session is not None else []
    except BotFileError as exc:
        _fail(f"--bots: {exc}")
    if not specs:
        _fail("--bots: the session has no bots to replay")
    config = BacktestConfig(
        fee_tier=tier,
        latency_s=latency_ms / 1000,
        sample_s=sample_s,
        limits=limits_from(settings),
        cooldown_s=settings.order_cooldown_s,
    )
    status = backtest_command(
        data=data,
        bots=specs,
        config=config,
        rules=lambda product_id: spec_for(product_id).product(),
        start=window[0],
        end=window[1],
        as_json=json,
        report_dir=report_dir,
        session=session,
        save=(
            save
            if save is None or "://" in save
            else f"sqlite+aiosqlite:///{Path(save).resolve().as_posix()}"
        ),
        progress_json=progress_json,
    )
    if status:
        raise typer.Exit(code=status)


@cli.command()
def optimize(
    data: Annotated[
        list[str] | None,
        typer.Option("--data", help="Market data as `streambot backtest --data` takes it (repeatable)"),
    ] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="The strategy whose parameters to search")
    ] = None,
    product: Annotated[
        str | None, typer.Option("--product", help="The product the bot trades, e.g. BTC-USD")
    ] = None,
    budget: Annotated[
        str | None, typer.Option("--budget", help="The bot's budget, in the quote currency")
    ] = None,
    trials: Annotated[
        int, typer.Option("--trials", help="Finished trials the study should hold (a rerun carries on to it)")
    ] = 100,
    jobs: Annotated[int | None, typer.Option("--jobs", help="Worker processes (default: all cores)")] = None,
    objective: Annotated[
        list[str] | None,
        typer.Option(
            "--objective",
            help="profit, sharpe, sortino, calmar or profit_drawdown (default profit); twice for a "
            "two-objective search (NSGA-II)",
        ),
    ] = None,
    min_trades: Annotated[
        int, typer.Option("--min-trades", help="Trials with fewer trades are pruned, never best")
    ] = 0,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Where the study lives: sqlite:///FILE or postgresql://user@host:port/db "
            "(default: optimize.db in the data dir)",
        ),
    ] = None,
    study: Annotated[
        str | None,
        typer.Option("--study", help="Study name (default: from strategy, product, objective, data, space)"),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Sampler seed; with --jobs 1 the same best every time")
    ] = None,
    walk_forward: Annotated[
        str | None,
        typer.Option(
            "--walk-forward", help="TRAIN:TEST windows, e.g. 3d:1d: in-sample next to out-of-sample"
        ),
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object as the last line of stdout")
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Narrow or fix a parameter: NAME=LOW:HIGH[:STEP], NAME=VALUE or NAME=A,B (repeatable)",
        ),
    ] = None,
    space: Annotated[
        Path | None, typer.Option("--space", help='JSON file: {"fast": {"low": 5, "high": 30, "step": 1}, …}')
    ] = None,
    apply: Annotated[
        str | None, typer.Option("--apply", help="Create a stopped bot of this name with the best parameters")
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report-dir", help="Where optimize.html, the plots and the best run's report go"),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Use data from (UNIX seconds or ISO date/time)")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Use data until (inclusive)")] = None,
    fees: FeesOption = None,
    latency_ms: LatencyOption = 50.0,
) -> None:
    """Search a strategy's parameters with Optuna, each trial a backtest on the live engine: TPE (NSGA-II
    for two objectives), pruning on partial data, parallel worker processes sharing a resumable study."""
    from decimal import Decimal, InvalidOperation

    from streambot.app import limits_from
    from streambot.backtest.command import parse_fees, parse_window
    from streambot.backtest.engine import BacktestConfig
    from streambot.optimize.command import OptimizeError, optimize_command
    from streambot.optimize.objectives import Objective
    from streambot.optimize.space import SpaceError, default_space, parse_param_flags, read_space_file
    from streambot.optimize.storage import StorageError
    from streambot.optimize.study import OptimizeJob
    from streambot.optimize.walk_forward import WalkForwardError, parse_walk_forward
    from streambot.simulator.market import spec_for
    from streambot.strategies.registry import StrategyError, get_spec

    settings = load_settings()
    streambot_logging.configure(settings.log_level, settings.log_format)
    _load_strategy_dir(settings)
    if not data:
        _fail("--data: give at least one recording, candle file or JSON-lines file")
    if strategy is None:
        _fail("--strategy: give the strategy whose parameters to search, e.g. ema_crossover")
    if product is None:
        _fail("--product: give the product the bot trades, e.g. BTC-USD")
    if budget is None:
        _fail("--budget: give the bot's budget in the quote currency, e.g. 1000")
    try:
        amount = Decimal(budget)
    except InvalidOperation:
        _fail(f"--budget {budget!r} is not a number")
    if not amount.is_finite() or amount <= 0:
        _fail("--budget must be greater than 0")
    if trials < 1:
        _fail("--trials must be at least 1")
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers < 1:
        _fail("--jobs must be at least 1")
    if min_trades < 0:
        _fail("--min-trades must be 0 or more")
    if latency_ms < 0:
        _fail("--latency-ms must be 0 or more")
    names = objective or ["profit"]
    try:
        objectives = tuple(Objective(name) for name in names)
    except ValueError:
        bad = next(n for n in names if n not in {o.value for o in Objective})
        _fail(f"--objective {bad!r}: choose from {', '.join(o.value for o in Objective)}")
    if len(objectives) > 2 or len(set(objectives)) != len(objectives):
        _fail("--objective: give one objective, or two different ones (NSGA-II)")
    try:
        spec = get_spec(strategy)
        rules = spec_for(product).product()
    except StrategyError as exc:
        _fail(f"--strategy: {exc}")
    except ValueError as exc:
        _fail(f"--product: {exc}")
    try:
        search_space = default_space(spec)
        if space is not None:
            search_space = read_space_file(search_space, spec, space)
        search_space = parse_param_flags(search_space, spec, param or [])
        window = parse_window(start, end)
        tier = parse_fees(fees)
        walk = parse_walk_forward(walk_forward) if walk_forward is not None else None
    except (SpaceError, WalkForwardError, ValueError) as exc:
        _fail(str(exc))
    if storage is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{(settings.data_dir / 'optimize.db').resolve().as_posix()}"
    job = OptimizeJob(
        data=tuple(data),
        strategy=spec.name,
        product_id=product,
        budget=amount,
        space=search_space,
        objectives=objectives,
        products={product: rules},
        config=BacktestConfig(
            fee_tier=tier,
            latency_s=latency_ms / 1000,
            limits=limits_from(settings),
            cooldown_s=settings.order_cooldown_s,
        ),
        start=window[0],
        end=window[1],
        min_trades=min_trades,
        storage=storage,
        study_name=study or "",
        seed=seed,
        strategy_dir=None if settings.strategy_dir is None else str(settings.strategy_dir),
    )
    try:
        # Refused signals are logged live by the engine; over hundreds of replays that is noise.
        with streambot_logging.quieter(logging.CRITICAL):
            outcome = optimize_command(
                job,
                trials=trials,
                jobs=workers,
                walk=walk,
                as_json=json,
                report_dir=report_dir,
                report_root=settings.data_dir / "optimize",
            )
    except (OptimizeError, StorageError, WalkForwardError) as exc:
        _fail(str(exc))
    if apply is not None:
        if outcome.best_params is None:
            _fail("--apply: no trial completed, so there are no best parameters to create a bot from")
        bot_id = asyncio.run(_apply_bot(settings, apply, spec.name, product, outcome.best_params, amount))
        typer.echo(f"🤖 Created stopped bot {bot_id} ({apply}) with the best parameters", err=json)
    if outcome.interrupted:
        raise typer.Exit(code=130)


async def _apply_bot(
    settings: Settings, name: str, strategy: str, product_id: str, params: dict[str, object], budget: object
) -> int:
    """A stopped bot in the platform's database, checked by the bot manager as the API's are."""
    from decimal import Decimal

    from streambot.bots import BotError, BotManager
    from streambot.bus import InProcessBus, PriceBoard
    from streambot.clock import SystemClock
    from streambot.domain import COINBASE_ENTRY_TIER, FeeSource
    from streambot.evaluator import StreamingEvaluator
    from streambot.store.database import Store
    from streambot.strategies.warmup import CandleHistory
    from streambot.trading.fees import FeeSchedule

    clock = SystemClock()
    store = Store(settings.resolved_database_url, clock=clock)
    await store.open()
    try:
        bus = InProcessBus(clock)
        evaluator = StreamingEvaluator(
            bus, _no_signal, lambda bot, exc: None, prices=PriceBoard(), clock=clock
        )

        async def no_candles(*args: object, **kwargs: object) -> list[object]:
            return []

        async def no_tier() -> object:
            return COINBASE_ENTRY_TIER

        manager = BotManager(
            store,
            evaluator,
            bus,
            list(settings.products),
            history=CandleHistory(no_candles, clock),  # type: ignore[arg-type]
            fees=FeeSchedule(no_tier, initial=COINBASE_ENTRY_TIER, source=FeeSource.CONFIGURED, clock=clock),  # type: ignore[arg-type]
            clock=clock,
        )
        await manager.load()
        try:
            record = await manager.create(
                name=name,
                strategy=strategy,
                product_id=product_id,
                params=params,
                budget=Decimal(str(budget)),
            )
        except BotError as exc:
            _fail(f"--apply: {exc.field}: {exc}")
        return int(record.id)
    finally:
        await store.close()


def _no_signal(*args: object) -> None:
    """The bots of ``--apply`` are created stopped: no tick reaches them in this process."""


BENCH_SECTIONS = (
    "pipeline",
    "strategies",
    "feed",
    "feed_throughput",
    "api",
    "trading",
    "simulator",
    "backtest",
    "optimize",
    "cluster",
    "memory",
)
"""What ``streambot bench`` measures, in the order it runs them."""


@cli.command()
def bench(
    section: Annotated[
        str | None,
        typer.Argument(
            help="'orders': paper orders against the simulator on loopback; "
            "'feed': the platform's feed client against --url"
        ),
    ] = None,
    bots: Annotated[int | None, typer.Option(help="Bots on one product (default: 1, 10, 100, 1000)")] = None,
    ticks: Annotated[int, typer.Option(help="Ticker frames to drive through")] = 100_000,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"Run only these sections ({', '.join(BENCH_SECTIONS)}); repeatable"),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="bench feed: the WebSocket to consume (ws://HOST:PORT or wss://…)")
    ] = None,
    frames: Annotated[int, typer.Option(help="bench feed: ticker frames to consume")] = 100_000,
    products: Annotated[
        str | None, typer.Option(help="bench feed: comma-separated products (default: STREAMBOT_PRODUCTS)")
    ] = None,
) -> None:
    """Measure every speed target and print the figures (all sections unless --only)."""
    if section == "orders":
        _benchmarks()("trading").print_order_benchmarks(as_json=json)
        return
    if section == "feed":
        _bench_feed(url, frames, products, as_json=json)
        return
    if section is not None:
        _fail(f"unknown benchmark {section!r}; choose 'orders', 'feed' or none")
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
    benchmarks = _benchmarks()
    for name in chosen:
        if name == "pipeline":
            benchmarks("pipeline").run_benchmarks(bots=bots, ticks=ticks, as_json=json)
        elif name == "strategies":
            benchmarks("pipeline").print_strategy_benchmarks(min(ticks, 20_000))
        elif name == "feed":
            benchmarks("feed").print_feed_benchmarks()
        elif name == "feed_throughput":
            benchmarks("feed_throughput").print_feed_throughput()
        elif name == "api":
            benchmarks("api").print_api_benchmarks()
        elif name == "trading":
            benchmarks("trading").print_trading_benchmarks()
        elif name == "simulator":
            benchmarks("simulator").print_simulator_benchmarks()
        elif name == "backtest":
            benchmarks("backtest").print_backtest_benchmarks()
        elif name == "optimize":
            benchmarks("optimize").print_optimize_benchmarks()
        elif name == "cluster":
            benchmarks("cluster").print_cluster_benchmarks()
        elif name == "memory":
            # The whole platform as ``streambot run``, its RSS slope per million ticks (issue 16).
            benchmarks("soak").print_memory_benchmarks()


def _bench_feed(url: str | None, frames: int, products: str | None, *, as_json: bool) -> None:
    """``streambot bench feed --url ws://…``: the platform's feed client (parse and publish
    included) consumes ``frames`` ticker frames from any server; prints ticks_per_s."""
    from streambot.feed.throughput import measure_feed

    if url is None:
        _fail("bench feed: --url is required (ws://HOST:PORT or wss://HOST/…)")
    if not url.startswith(("ws://", "wss://")):
        _fail(f"--url: {url!r} is not a ws:// or wss:// URL")
    if frames < 1:
        _fail("--frames must be at least 1")
    chosen = _product_list(products, load_settings().products if products is None else ())
    logging.getLogger("streambot").setLevel(logging.ERROR)
    try:
        result = asyncio.run(measure_feed(url, chosen, frames))
    except TimeoutError as exc:
        _fail(f"bench feed: {exc}")
    if as_json:
        import orjson

        print(orjson.dumps(result.as_json()).decode())
    else:
        print(result.line())


def _benchmarks() -> Callable[[str], ModuleType]:
    """The benchmarks beside the package in a source checkout (``bench/``); they are not shipped."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "bench" / "__init__.py").is_file():
        _fail(
            "the benchmarks ship with the source checkout (bench/): run `make bench` in a clone of streambot"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return lambda name: importlib.import_module(f"bench.{name}")


# --- recording and candle downloads (issue 15: feed/recorder.py, venues/coinbase/candle_download.py) ---


def _product_list(text: str | None, default: tuple[str, ...], flag: str = "--products") -> tuple[str, ...]:
    if text is None:
        return default
    products = tuple(dict.fromkeys(p.strip().upper() for p in text.split(",") if p.strip()))
    if not products:
        _fail(f"{flag} lists no product")
    for product in products:
        base, sep, quote = product.partition("-")
        if not (sep and base and quote):
            _fail(f"{flag}: {product!r} is not of the form BASE-QUOTE")
    return products


@cli.command()
def record(
    out: Annotated[Path, typer.Option("--out", help="Directory for the hourly feed-*.jsonl.zst files")],
    products: Annotated[
        str | None, typer.Option(help="Comma-separated products (default: STREAMBOT_PRODUCTS)")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Seconds to record (default: until Ctrl-C or SIGTERM)")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="WebSocket URL (default: STREAMBOT_COINBASE_WS_URL, e.g. the simulator's)"),
    ] = None,
) -> None:
    """Record the raw market-data frames (ticker + heartbeats) with their receive time: zstd JSON
    lines rotated per UTC hour, plus index.json (products and time span per file)."""
    from streambot.clock import SystemClock
    from streambot.feed.record_session import record_feed

    settings = load_settings()
    streambot_logging.configure(settings.log_level, settings.log_format)
    chosen = _product_list(products, settings.products)
    if duration is not None and duration <= 0:
        _fail("--duration must be positive")
    if out.exists() and not out.is_dir():
        _fail(f"--out: {out} exists and is not a directory")
    try:
        summary = asyncio.run(
            record_feed(url or settings.coinbase_ws_url, chosen, out, SystemClock(), duration)
        )
    except OSError as exc:
        _fail(f"--out: cannot record into {out} ({exc.strerror or exc})")
    print(summary.line(out), flush=True)


def _utc_seconds(text: str, flag: str) -> int:
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"{flag}: {text!r} is not a date like 2026-01-01 or 2026-01-01T12:00")
    return int((when.replace(tzinfo=UTC) if when.tzinfo is None else when).timestamp())


@cli.command()
def download(
    products: Annotated[str, typer.Option(help="Comma-separated products, e.g. BTC-USD,ETH-USD")],
    start: Annotated[str, typer.Option(help="First day (UTC), e.g. 2026-01-01 or 2026-01-01T12:00")],
    end: Annotated[str, typer.Option(help="End (UTC, exclusive), e.g. 2026-01-08")],
    out: Annotated[Path, typer.Option("--out", help="Directory for <PRODUCT>-<timeframe>.parquet")],
    timeframe: Annotated[str, typer.Option(help="Candle length: 1m, 5m, 15m, 30m, 1h, 2h, 6h, 1d")] = "1m",
    url: Annotated[
        str | None, typer.Option(help="REST URL (default: STREAMBOT_COINBASE_REST_URL, e.g. the simulator's)")
    ] = None,
) -> None:
    """Download public Coinbase candles into DIR/<PRODUCT>-<timeframe>.parquet (sorted, no duplicates).

    Resumable: each page of 350 candles fetched is kept in DIR/.partial/<PRODUCT>-<timeframe>/, and
    a rerun fetches only the pages missing before merging them all; delete DIR/.partial to fetch
    everything again. Only closed candles are fetched."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from streambot.clock import SystemClock
    from streambot.domain import Timeframe
    from streambot.exchange import ExchangeError
    from streambot.venues.coinbase.candle_download import CandleDownload, download_candles
    from streambot.venues.coinbase.client import CoinbaseRest

    settings = load_settings()
    streambot_logging.configure(settings.log_level, settings.log_format)
    chosen = _product_list(products, ())
    try:
        frame = Timeframe(timeframe)
    except ValueError:
        _fail(f"--timeframe: {timeframe!r} is not one of {', '.join(t.value for t in Timeframe)}")
    first, stop = _utc_seconds(start, "--start"), _utc_seconds(end, "--end")
    if first >= stop:
        _fail(f"--start {start} must be before --end {end}")
    clock = SystemClock()
    closed = int(clock.time()) // frame.seconds * frame.seconds  # the forming candle is not fetched
    stop = min(stop, closed)
    if first >= stop:
        _fail(f"--start {start} is not before the last closed {frame.value} candle")
    rest_url = url or settings.coinbase_rest_url
    if out.exists() and not out.is_dir():
        _fail(f"--out: {out} exists and is not a directory")
    downloads = [CandleDownload(p, frame, first, stop, out) for p in chosen]

    async def fetch() -> dict[str, int]:
        client = CoinbaseRest(rest_url, clock=clock)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        try:
            with Progress(*columns, transient=False) as progress:
                tasks = {
                    d.product_id: progress.add_task(f"{d.product_id} {frame.value}", total=len(d.missing()))
                    for d in downloads
                }
                return await download_candles(
                    client, downloads, source=rest_url, on_page=lambda p, _: progress.advance(tasks[p])
                )
        finally:
            await client.close()

    try:
        counts = asyncio.run(fetch())
    except ExchangeError as exc:
        if exc.status in (400, 404):
            _fail(f"--products: the exchange refused {exc}")
        typer.secho(f"streambot: download stopped, rerun to resume: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    except (OSError, ValueError) as exc:
        _fail(f"cannot download into {out} or from {rest_url}: {exc}")
    for download_ in downloads:
        print(f"{download_.path}: {counts[download_.product_id]} candles", flush=True)


def main() -> None:
    try:
        cli()
    except BrokenPipeError:  # e.g. piped into head
        sys.exit(0)


if __name__ == "__main__":
    main()
