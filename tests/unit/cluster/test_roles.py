"""The cluster's roles refuse settings they cannot run on, in one sentence naming the setting."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from streambot.cli import cli

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/streambot"


@pytest.mark.parametrize("role", ["feed", "worker", "api"])
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "the cluster's roles need STREAMBOT_REDIS_URL"),
        ({"STREAMBOT_REDIS_URL": "localhost:6379"}, "the cluster's roles need STREAMBOT_REDIS_URL"),
        (
            {"STREAMBOT_REDIS_URL": "redis://r:6379/0"},
            "share one PostgreSQL database: set STREAMBOT_DATABASE_URL",
        ),
        (
            {"STREAMBOT_REDIS_URL": "redis://r:6379/0", "STREAMBOT_DATABASE_URL": PG},
            "paper mode in a cluster trades on one shared simulator: set STREAMBOT_SIM_URL",
        ),
        (
            {
                "STREAMBOT_REDIS_URL": "redis://r:6379/0",
                "STREAMBOT_DATABASE_URL": PG,
                "STREAMBOT_SIM_URL": "http://127.0.0.1:8765",
                "STREAMBOT_BOT_LEASE_RENEW_S": "5",
                "STREAMBOT_BOT_LEASE_STALE_S": "5",
            },
            "STREAMBOT_BOT_LEASE_STALE_S must be longer than STREAMBOT_BOT_LEASE_RENEW_S",
        ),
    ],
)
def test_a_role_refuses_settings_it_cannot_run_on(role: str, env: dict[str, str], expected: str) -> None:
    result = CliRunner().invoke(cli, [role], env={"STREAMBOT_DATABASE_URL": "", **env})
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output


def test_cluster_needs_a_worker() -> None:
    result = CliRunner().invoke(cli, ["cluster", "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers must be at least 1" in result.output


def test_the_cluster_name_is_a_key_prefix() -> None:
    result = CliRunner().invoke(cli, ["worker"], env={"STREAMBOT_CLUSTER_NAME": "two words"})
    assert result.exit_code == 2
    assert "STREAMBOT_CLUSTER_NAME" in result.output
