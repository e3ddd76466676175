"""What each strategy declares a chart should draw: the indicators it decides on, with a bot's periods."""

from __future__ import annotations

from streambot.strategies.registry import get_spec, strategies


def test_the_crossovers_draw_their_two_averages_with_the_bots_periods() -> None:
    lines = get_spec("ema_crossover").chart_lines({"fast": 5, "slow": 20})
    assert [(line.kind, line.label, dict(line.params)) for line in lines] == [
        ("ema", "EMA 5", {"period": 5}),
        ("ema", "EMA 20", {"period": 20}),
    ]
    assert [line.kind for line in get_spec("sma_crossover").chart_lines({})] == ["sma", "sma"]


def test_oscillators_go_in_a_pane_of_their_own_with_their_levels() -> None:
    (rsi,) = get_spec("rsi_reversion").chart_lines({"oversold": 25})
    assert (rsi.pane, rsi.levels) == ("oscillator", (25.0, 70.0))
    (macd,) = get_spec("macd_cross").chart_lines({})
    assert (macd.kind, macd.pane, macd.levels) == ("macd", "oscillator", (0.0,))


def test_every_builtin_strategy_answers_with_its_defaults() -> None:
    for name, spec in strategies().items():
        lines = spec.chart_lines({"allow_below_fee": True} if name == "threshold" else {})
        assert all(line.label for line in lines), name
    assert get_spec("threshold").chart_lines({}) == []  # decides on prices alone: nothing to draw
