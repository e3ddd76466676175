"""Readable logs: the old system's emoji markers on the console, JSON lines on request.

Markers: 📈 ticker, 🤖 evaluation/decision, ✅ done, 💾 cache, ❌ error, 🔗 connection.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

from streambot.config import LogFormat

_NOISY = ("aiohttp.access", "uvicorn.access", "alembic", "sqlalchemy.engine")


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if record.levelno >= logging.ERROR and not record.getMessage().startswith("❌"):
            line = f"{when} {record.levelname:<7} {record.name}: ❌ {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure(level: str = "INFO", fmt: LogFormat = LogFormat.CONSOLE) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt is LogFormat.JSON else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
