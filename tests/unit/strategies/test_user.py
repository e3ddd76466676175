"""User strategies from a directory: loaded by name; a broken file is reported, never fatal."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from streambot.domain import Side
from streambot.strategies.registry import StrategyError, build, describe_strategies, get_spec, strategies
from streambot.strategies.user import LoadError, load_user_strategies
from tests.unit.strategies.support import context, feed_closes

GOOD = '''
"""Buys every tick it is flat: a user strategy as small as they come."""
from decimal import Decimal

from pydantic import Field

from streambot.domain import Side, Signal, Ticker
from streambot.strategies.base import BotContext, StrategyParams, StrategySpec


class Params(StrategyParams):
    order_pct: Decimal = Field(default=Decimal(5), gt=0, le=100)


class Eager:
    def __init__(self, params: Params) -> None:
        self.params = params

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        if ctx.holding:
            return None
        return Signal(Side.BUY, "eager", budget_pct=self.params.order_pct)


SPEC = StrategySpec(name="eager", description="Buys when flat.", params_model=Params, factory=Eager)
'''

CANDLES = """
from streambot.domain import Side, Signal
from streambot.strategies.base import BotContext, StrategySpec
from streambot.strategies.candle_strategy import CandleParams, CandleStrategy
from streambot.strategies.indicators import StreamIndicator, ema
from streambot.strategies.indicators.hub import Frame


class Params(CandleParams):
    period: int = 3


class AboveEma(CandleStrategy[Params]):
    def setup(self, frame: Frame) -> None:
        period = self.params.period
        self.average: StreamIndicator[float] = self.share(frame, ("EMA", period), lambda: ema(period))

    def evaluate(self, price: float, final: bool, ctx: BotContext) -> Signal | None:
        value = self.average.value
        if value is not None and price > value * 1.1 and not ctx.holding:
            return Signal(Side.BUY, f"close {price:g} is 10% over EMA {value:g}", budget_pct=10)
        return None


SPEC = StrategySpec(name="above_ema", description="Candles.", params_model=Params, factory=AboveEma)
"""


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    load_user_strategies(tmp_path / "empty")  # unregister whatever the test loaded


def write(directory: Path, name: str, source: str) -> None:
    (directory / name).write_text(textwrap.dedent(source))


def test_a_good_file_is_loaded_by_name_and_listed(directory: Path) -> None:
    write(directory, "eager.py", GOOD)
    write(directory, "above_ema.py", CANDLES)
    write(directory, "_helpers.py", "raise RuntimeError('never imported')")
    outcome = load_user_strategies(directory)
    assert set(outcome) == {"eager", "above_ema"}
    assert not any(isinstance(o, LoadError) for o in outcome.values())
    assert get_spec("eager").origin == str(directory / "eager.py")
    assert "eager" in {entry["name"] for entry in describe_strategies()}

    eager = build("eager", {"stop_loss_pct": 5})
    said = feed_closes(eager, context(), [100.0])[0]
    assert said is not None
    assert said.side is Side.BUY
    assert said.budget_pct == Decimal(5)

    candles = build("above_ema", {"period": 3})
    said_list = feed_closes(candles, context(), [10.0, 10.0, 10.0, 10.0, 20.0, 20.0])
    assert [s.reason for s in said_list if s is not None] == ["close 20 is 10% over EMA 15"]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("def broken(:\n    pass\n", "broken.py:1: SyntaxError"),
        ("import os\nimport streambot_no_such_module\n", "broken.py:2: ModuleNotFoundError: No module named"),
        ("x = 1\n", "broken.py: defines no SPEC"),
        ("SPEC = 42\n", "broken.py: SPEC is a int, not a StrategySpec"),
        ("import sys\nsys.exit(3)\n", "broken.py:2: SystemExit: 3"),
        (GOOD, "broken.py: SPEC.name is 'eager' but the file is broken.py"),
        (
            GOOD.replace("self.params = params", "raise ValueError('bad default')").replace(
                '"eager"', '"broken"'
            ),
            "broken.py:17: ValueError: bad default",
        ),
    ],
    ids=["syntax", "import", "no-spec", "not-a-spec", "exit", "name", "factory"],
)
def test_a_broken_file_is_reported_with_its_reason_and_the_rest_still_load(
    directory: Path, source: str, reason: str
) -> None:
    write(directory, "broken.py", source)
    write(directory, "eager.py", GOOD)
    outcome = load_user_strategies(directory)
    failure = outcome["broken"]
    assert isinstance(failure, LoadError)
    assert failure.reason.startswith(reason), failure.reason
    assert not isinstance(outcome["eager"], LoadError)
    build("eager", {})
    with pytest.raises(StrategyError) as error:
        build("broken", {})
    assert str(error.value) == f"user strategy 'broken' failed to load: {failure.reason}"
    assert error.value.field == "strategy"


def test_a_user_file_cannot_replace_a_builtin(directory: Path) -> None:
    builtin = get_spec("threshold")
    write(directory, "threshold.py", GOOD.replace('name="eager"', 'name="threshold"'))
    write(
        directory,
        "sneaky.py",
        GOOD.replace("SPEC = StrategySpec(", "SPEC = register(StrategySpec(")
        .replace("factory=Eager)", "factory=Eager))")
        .replace('name="eager"', 'name="threshold"')
        .replace(
            "from streambot.strategies.base import",
            "from streambot.strategies.registry import register\nfrom streambot.strategies.base import",
        ),
    )
    outcome = load_user_strategies(directory)
    assert isinstance(outcome["threshold"], LoadError)
    assert "built-in" in outcome["threshold"].reason
    assert isinstance(outcome["sneaky"], LoadError)
    assert get_spec("threshold") is builtin


def test_reloading_forgets_files_that_are_gone(directory: Path) -> None:
    write(directory, "eager.py", GOOD)
    load_user_strategies(directory)
    assert "eager" in strategies()
    (directory / "eager.py").unlink()
    assert load_user_strategies(directory) == {}
    assert "eager" not in strategies()
    assert load_user_strategies(directory / "missing") == {}
