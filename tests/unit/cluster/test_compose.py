"""docker-compose.yml describes the cluster's topology; `docker compose config` validates it where
the compose plugin exists (this machine has the docker client without a daemon, maybe without
the plugin), and its structure is checked here in any case."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"


def _compose_available() -> str | None:
    """Why ``docker compose`` cannot run here, or None."""
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"the docker client has no compose plugin ({(probe.stderr or probe.stdout).strip()[:120]})"
    return None


def test_docker_compose_config_accepts_the_file() -> None:
    reason = _compose_available()
    if reason is not None:
        pytest.skip(f"docker compose config not run: {reason}")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "STREAMBOT_API_TOKEN": "compose-check"},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_the_compose_file_describes_the_cluster_topology() -> None:
    document = yaml.safe_load(COMPOSE.read_text())
    services = document["services"]
    assert {"redis", "postgres", "feed", "worker", "api"} <= set(services)
    assert services["feed"]["command"] == ["feed"]
    assert services["worker"]["command"] == ["worker"]
    assert services["api"]["command"] == ["api"]
    env = services["worker"]["environment"]
    assert env["STREAMBOT_REDIS_URL"].startswith("redis://redis:")
    assert env["STREAMBOT_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert (ROOT / "Dockerfile").is_file()
    assert 'ENTRYPOINT ["streambot"]' in (ROOT / "Dockerfile").read_text()
