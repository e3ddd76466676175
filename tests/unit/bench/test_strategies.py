"""The benchmark runs and reports every figure; the figures themselves are for people to read."""

from __future__ import annotations

from bench.strategies import mixed_bot_specs, run_strategy_benchmarks

from streambot.strategies.registry import build


def test_benchmark_reports_every_target() -> None:
    rows = run_strategy_benchmarks(ticks=240)
    names = [str(row["name"]) for row in rows]
    assert any(name.startswith("indicator update EMA") for name in names)
    assert any(name.startswith("100 mixed bots") for name in names)
    assert any("1,000 identical bots, shared" in name for name in names)
    assert all(isinstance(row["value"], float) and row["value"] >= 0 for row in rows)


def test_the_mixed_bots_cover_every_builtin_and_are_valid() -> None:
    specs = mixed_bot_specs(100)
    assert {name for name, _ in specs} >= {"threshold", "grid", "dca", "bollinger", "macd_cross"}
    for name, params in specs:
        build(name, params)
