"""Search spaces: read from the strategy's parameters model, narrowed and fixed by the user, and
refused with the model's own sentences."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

import optuna
import pytest
from pydantic import Field

from streambot.optimize.space import SpaceError, default_space, parse_param_flags, read_space_file
from streambot.strategies.base import StrategyParams, StrategySpec
from streambot.strategies.registry import get_spec


def test_builtin_markers_give_the_space() -> None:
    space = default_space(get_spec("ema_crossover"))
    searched = {r.name: r for r in space.searched}
    assert set(searched) == {"fast", "slow", "sell_on_cross"}
    assert (searched["fast"].kind, searched["fast"].low, searched["fast"].high) == ("int", 3, 50)
    assert searched["sell_on_cross"].choices == (True, False)
    assert space.fixed()["timeframe"] == "tick"  # unmarked: the default


def test_flags_narrow_fix_and_open_parameters() -> None:
    spec = get_spec("ema_crossover")
    space = parse_param_flags(
        default_space(spec),
        spec,
        ["fast=5:30:1", "sell_on_cross=true", "timeframe=tick,1m", "order_pct=10:50:5"],
    )
    ranges = {r.name: r for r in space.ranges}
    assert (ranges["fast"].low, ranges["fast"].high, ranges["fast"].step) == (5, 30, 1)
    assert ranges["sell_on_cross"].kind == "fixed"
    assert ranges["sell_on_cross"].value is True
    assert ranges["timeframe"].choices == ("tick", "1m")
    assert ranges["order_pct"].kind == "decimal"
    trial = optuna.create_study().ask()
    params = space.suggest(trial)
    assert 5 <= params["fast"] <= 30
    assert isinstance(params["order_pct"], Decimal)


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("nope=3", "--param nope=3: ema_crossover has no parameter 'nope'; its parameters: act_on,"),
        ("fast=1:30", "--param fast=1:30 (low): params.fast: Input should be greater than or equal to 2"),
        (
            "slow=10:5000",
            "--param slow=10:5000 (high): params.slow: Input should be less than or equal to 2000",
        ),
        ("order_pct=0:50", "params.order_pct: Input should be greater than 0"),
        (
            "timeframe=2m",
            "--param timeframe=2m: params.timeframe: Input should be 'tick', '1m', '5m', '15m' or '1h'",
        ),
        ("fast=9:3", "--param fast=9:3: low 9 is above high 3"),
        ("fast", "give NAME=LOW:HIGH[:STEP], NAME=VALUE or NAME=A,B"),
    ],
)
def test_bad_flags_get_clear_errors(flag: str, message: str) -> None:
    spec = get_spec("ema_crossover")
    with pytest.raises(SpaceError) as caught:
        parse_param_flags(default_space(spec), spec, [flag])
    assert message in str(caught.value)


def test_space_file(tmp_path: Path) -> None:
    spec = get_spec("bollinger")
    path = tmp_path / "space.json"
    path.write_text(
        '{"period": {"low": 10, "high": 20, "step": 2}, "mode": {"choices": ["breakout"]}, "deviations": 2.5}'
    )
    ranges = {r.name: r for r in read_space_file(default_space(spec), spec, path).ranges}
    assert (ranges["period"].low, ranges["period"].high, ranges["period"].step) == (10, 20, 2)
    assert ranges["mode"].kind == "fixed"
    assert ranges["mode"].value == "breakout"
    assert ranges["deviations"].value == 2.5
    path.write_text('{"period": {"low": 1, "high": 20}}')
    with pytest.raises(SpaceError, match=r"params\.period: Input should be greater than or equal to 2"):
        read_space_file(default_space(spec), spec, path)


class _UserParams(StrategyParams):
    window: int = Field(default=10, ge=2, le=60)
    band: float = Field(default=1.0, gt=0, le=5)
    side: Literal["long", "short"] = "long"
    anchor: float | None = None  # no limits: nothing to search within


def test_a_user_strategy_without_markers_searches_its_own_limited_fields() -> None:
    spec = StrategySpec(name="user_thing", description="", params_model=_UserParams, factory=lambda p: None)  # type: ignore[arg-type,return-value]
    space = default_space(spec)
    searched = {r.name: r for r in space.searched}
    assert set(searched) == {"window", "band", "side"}  # exits and allow_below_fee stay at defaults
    assert (searched["window"].low, searched["window"].high) == (2, 60)
