"""Readable logs: the old system's emoji markers on the console, JSON lines on request.

Markers: 📈 ticker, 🤖 evaluation/decision, ✅ done, 💾 cache, ❌ error, 🔗 connection.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum

import orjson


class LogFormat(StrEnum):
    CONSOLE = "console"  # emoji markers, one readable line per record
    JSON = "json"  # one JSON object per line, for log collectors


_NOISY = ("aiohttp.access", "uvicorn.access", "alembic", "sqlalchemy.engine")

_SECRETS: set[str] = set()
_MIN_SECRET_LEN = 6  # shorter values would redact ordinary words


def protect(*values: str | None) -> None:
    """Never let these values reach a log line (API token, exchange keys, alert credentials)."""
    _SECRETS.update(v for v in values if v and len(v) >= _MIN_SECRET_LEN)


def redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record that contains a protected value, message and traceback alike.

    Installed on the handlers and on uvicorn's logger: uvicorn logs a WebSocket's path with its
    query string, where a careless client may have put the token.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _SECRETS:
            return True
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_REDACT = RedactSecrets()


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        message = record.getMessage()
        marker = "❌ " if record.levelno >= logging.ERROR and not message.startswith("❌") else ""
        line = f"{when} {record.levelname:<7} {record.name}: {marker}{message}"
        if record.exc_info:
            line += "\n" + redact(record.exc_text or self.formatException(record.exc_info))
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
            entry["exc"] = redact(record.exc_text or self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()


def configure(level: str = "INFO", fmt: LogFormat = LogFormat.CONSOLE) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt is LogFormat.JSON else ConsoleFormatter())
    handler.addFilter(_REDACT)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def guard_uvicorn_logs() -> None:
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)
