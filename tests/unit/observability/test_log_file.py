"""logs/backend.log: written from a thread, rotated, secrets redacted, greppable for the markers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from streambot.observability import logging as streambot_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    streambot_logging.configure("INFO")  # stops the file writer
    root.handlers[:] = handlers
    root.setLevel(level)


def test_records_reach_the_rotating_file(tmp_path: Path, restore_logging: None) -> None:
    path = tmp_path / "data" / streambot_logging.LOG_FILE
    streambot_logging.configure("INFO", log_file=path, max_bytes=2000, backups=2)
    streambot_logging.protect("very-secret-token")
    log = logging.getLogger("streambot.test")
    log.info("🤖 Triggering bot evaluations for ETH-USD (2 bots)")
    log.info("token is very-secret-token")
    log.debug("not at INFO")
    for i in range(60):
        log.info("✅ Bot evaluations completed for ETH-USD (%d evaluations)", i)
    streambot_logging.configure("INFO")  # flushes and stops the writer thread
    files = sorted(path.parent.glob("backend.log*"))
    assert [f.name for f in files] == ["backend.log", "backend.log.1", "backend.log.2"]
    text = "".join(f.read_text(encoding="utf-8") for f in files)
    assert "very-secret-token" not in text
    assert "✅ Bot evaluations completed for ETH-USD (59 evaluations)" in path.read_text(encoding="utf-8")
    assert "not at INFO" not in text
    assert all(f.stat().st_size <= 2200 for f in files)
