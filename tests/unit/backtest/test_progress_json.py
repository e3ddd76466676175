"""``--progress-json`` lines: JSON a program can read, at most one per interval, and always the last."""

from __future__ import annotations

import io
import json

from streambot.backtest.progress_json import ProgressLines


def test_lines_are_throttled_and_the_last_one_is_always_written() -> None:
    out = io.StringIO()
    with ProgressLines(out, interval_s=3600) as progress:
        progress.update(65_536, 1_767_225_600.5)
        progress.update(131_072, 1_767_225_700.0)
        progress.update(140_000, 1_767_225_800.0)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["ticks"], line["at"]) for line in lines] == [
        (65_536, 1_767_225_600.5),
        (140_000, 1_767_225_800.0),
    ]
    assert all(isinstance(line["ticks_per_s"], int) for line in lines)


def test_every_update_is_written_when_the_interval_allows() -> None:
    out = io.StringIO()
    with ProgressLines(out, interval_s=0.0) as progress:
        for ticks in (1, 2, 3):
            progress.update(ticks, float(ticks))
    assert [json.loads(line)["ticks"] for line in out.getvalue().splitlines()] == [1, 2, 3]
