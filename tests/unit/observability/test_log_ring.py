"""The log ring: bounded, filtered by level and text, redacted, and heard by its listeners."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from streambot.observability.logging import LogEntry, LogRing, protect


@pytest.fixture
def ring() -> Iterator[LogRing]:
    ring = LogRing(capacity=5, level=logging.DEBUG)
    logger = logging.getLogger("tests.log_ring")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(ring)
    try:
        yield ring
    finally:
        logger.removeHandler(ring)


def test_keeps_the_newest_records_up_to_its_capacity(ring: LogRing) -> None:
    logger = logging.getLogger("tests.log_ring")
    for n in range(8):
        logger.info("🤖 record %d", n)
    assert [e.message for e in ring.entries] == [f"🤖 record {n}" for n in range(3, 8)]
    assert ring.last_id == 8
    assert [e.id for e in ring.select(after_id=6)] == [7, 8]
    assert [e.id for e in ring.select(limit=2)] == [7, 8], "the newest, oldest first"


def test_filters_by_level_and_text_in_message_or_logger(ring: LogRing) -> None:
    logger = logging.getLogger("tests.log_ring")
    logger.debug("💾 cache hit")
    logger.warning("🔗 feed reconnecting")
    logger.error("❌ order refused")
    assert [e.level for e in ring.select(level="WARNING")] == ["WARNING", "ERROR"]
    assert [e.message for e in ring.select(search="FEED")] == ["🔗 feed reconnecting"]
    assert len(ring.select(search="log_ring")) == 3


def test_listeners_hear_each_record_and_secrets_never_reach_it(ring: LogRing) -> None:
    heard: list[LogEntry] = []
    stop = ring.listen(heard.append)
    protect("sekrit-token-123")
    logging.getLogger("tests.log_ring").warning("token was sekrit-token-123")
    stop()
    logging.getLogger("tests.log_ring").warning("after")
    assert [e.message for e in heard] == ["token was [redacted]"]


def test_a_traceback_is_part_of_the_message(ring: LogRing) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("tests.log_ring").exception("❌ failed")
    entry = ring.entries[-1]
    assert entry.message.startswith("❌ failed\nTraceback")
    assert "ValueError: boom" in entry.message
