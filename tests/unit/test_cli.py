from __future__ import annotations

import pytest
from typer.testing import CliRunner

from streambot.cli import cli


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"STREAMBOT_MODE": "live"},
            "streambot: invalid configuration: STREAMBOT_MODE=live needs STREAMBOT_COINBASE_API_KEY",
        ),
        ({"STREAMBOT_PORT": "eighty"}, "streambot: invalid configuration: STREAMBOT_PORT: "),
        ({"STREAMBOT_PRODUCTS": "BTC"}, "STREAMBOT_PRODUCTS: 'BTC' is not of the form BASE-QUOTE"),
    ],
)
def test_invalid_configuration_stops_run_with_one_sentence(env: dict[str, str], expected: str) -> None:
    result = CliRunner().invoke(cli, ["run"], env=env)
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bench_rejects_nonsense_arguments() -> None:
    result = CliRunner().invoke(cli, ["bench", "--ticks", "0"])
    assert result.exit_code == 2
    assert "--ticks must be at least 1" in result.output
