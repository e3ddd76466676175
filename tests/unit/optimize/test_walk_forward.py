"""Walk-forward windows: successive train/test pairs moved by the test length, whole ones only."""

from __future__ import annotations

import pytest

from streambot.optimize.walk_forward import WalkForwardError, parse_walk_forward, windows

DAY = 86_400.0


def test_windows_move_by_the_test_length() -> None:
    train, test = parse_walk_forward("3d:1d")
    assert (train, test) == (3 * DAY, DAY)
    cut = windows(0.0, 6 * DAY, train, test)
    assert [(w.train, w.test) for w in cut] == [
        ((0.0, 3 * DAY), (3 * DAY, 4 * DAY)),
        ((DAY, 4 * DAY), (4 * DAY, 5 * DAY)),
        ((2 * DAY, 5 * DAY), (5 * DAY, 6 * DAY)),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3d", "give TRAIN:TEST, e.g. 3d:1d"),
        ("3x:1d", "'3x' is not a duration such as 90m, 12h, 3d or 1w"),
        ("0d:1d", "must be longer than 0"),
    ],
)
def test_bad_walk_forward_flags(text: str, message: str) -> None:
    with pytest.raises(WalkForwardError, match=message):
        parse_walk_forward(text)


def test_data_shorter_than_one_window_says_so() -> None:
    with pytest.raises(
        WalkForwardError, match=r"the data spans 2d 00:00:00, shorter than one train and test"
    ):
        windows(0.0, 2 * DAY, 3 * DAY, DAY)
