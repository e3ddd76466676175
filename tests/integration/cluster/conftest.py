"""The cluster's tests run on the machine's real Redis and PostgreSQL (127.0.0.1), each test in a
database and under a Redis key prefix of its own, both removed afterwards.

Where a server does not answer the tests skip, naming it; CI sets STREAMBOT_REQUIRE_REDIS and
STREAMBOT_REQUIRE_POSTGRES when it has the servers, and then an unreachable one fails instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.integration.store.test_store import _admin, _postgres_url

REDIS_URL = "redis://127.0.0.1:6379/0"


def _unavailable(reason: str, required_by: str) -> None:
    if os.environ.get(required_by) == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """Redis on 127.0.0.1:6379; what the test wrote under its prefix is deleted afterwards."""
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        _unavailable(
            f"Redis not reachable on 127.0.0.1:6379: {type(exc).__name__}: {exc}", "STREAMBOT_REQUIRE_REDIS"
        )
    try:
        yield REDIS_URL
    finally:
        await client.aclose()


@pytest.fixture
async def cluster_name(redis_url: str) -> AsyncIterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{name}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A PostgreSQL database of the test's own, dropped afterwards (the store tests' helpers: they
    skip, or fail under STREAMBOT_REQUIRE_POSTGRES, when the server does not answer)."""
    name = f"streambot_cluster_{uuid.uuid4().hex}"
    url = await _postgres_url(name)
    try:
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
