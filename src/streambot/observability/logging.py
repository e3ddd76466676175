"""Readable logs: the old system's emoji markers on the console, JSON lines on request.

Markers: 📈 ticker, 🤖 evaluation/decision, ✅ done, 💾 cache, ❌ error, 🔗 connection.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import logging.handlers
import queue
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

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


LOG_FILE = Path("logs") / "backend.log"  # under the data dir, where the old bot's users look

_file_writers: list[logging.handlers.QueueListener] = []  # the one running, if any


def _stop_file_writer() -> None:
    while _file_writers:
        listener = _file_writers.pop()
        listener.stop()  # writes what is queued, then joins the thread
        for handler in listener.handlers:
            handler.close()


atexit.register(_stop_file_writer)


def file_handler(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    """Records go to ``path`` (rotated at ``max_bytes``, ``backups`` old files kept) from a thread:
    the loop only puts them on a queue, a file write or a rotation never holds it up."""
    _stop_file_writer()
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    writer.setFormatter(ConsoleFormatter())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, writer)
    listener.start()
    _file_writers.append(listener)
    handler = logging.handlers.QueueHandler(records)
    handler.addFilter(_REDACT)  # before the record is queued: the message is final then
    return handler


def configure(
    level: str = "INFO",
    fmt: LogFormat = LogFormat.CONSOLE,
    *,
    log_file: Path | None = None,
    max_bytes: int = 10_485_760,
    backups: int = 5,
) -> None:
    """stderr in ``fmt``; with ``log_file`` also that file, rotated, in the console format (the
    old bot's users ``tail -f logs/backend.log | grep -E "📈|🤖|✅|💾"``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt is LogFormat.JSON else ConsoleFormatter())
    handler.addFilter(_REDACT)
    handlers: list[logging.Handler] = [handler]
    if log_file is not None:
        handlers.append(file_handler(log_file, max_bytes, backups))
    else:
        _stop_file_writer()
    root = logging.getLogger()
    root.handlers[:] = [*handlers, LOG_RING]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def guard_uvicorn_logs() -> None:
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log record as the dashboard's log view shows it (already redacted)."""

    id: int
    ts: float  # the record's own time (UNIX s), as logging stamped it
    level: str
    logger: str
    message: str


LogListener = Callable[[LogEntry], None]


class LogRing(logging.Handler):
    """The platform's recent log records in a bounded ring, for GET /api/v1/logs and the live
    log view. Listeners hear every new entry; they run in the thread that logged, so they must
    only hand the entry over (the live push does so onto its own loop)."""

    def __init__(self, capacity: int = 2000, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.entries: deque[LogEntry] = deque(maxlen=capacity)
        self.last_id = 0
        self._listeners: list[LogListener] = []
        self._ids = itertools.count(1)
        self.addFilter(_REDACT)

    def listen(self, listener: LogListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_text is None:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                message += "\n" + redact(record.exc_text)
            entry = LogEntry(next(self._ids), record.created, record.levelname, record.name, message)
            self.entries.append(entry)
            self.last_id = entry.id
            for listener in tuple(self._listeners):
                listener(entry)
        except Exception:
            self.handleError(record)

    def select(
        self, *, after_id: int = 0, level: str = "DEBUG", search: str = "", limit: int = 500
    ) -> list[LogEntry]:
        """The newest ``limit`` entries after ``after_id``, at ``level`` or above, whose logger or
        message contains ``search`` (any case), oldest first."""
        floor = logging.getLevelNamesMapping()[level]
        needle = search.casefold()
        out: list[LogEntry] = []
        for entry in reversed(self.entries):
            if entry.id <= after_id or len(out) >= limit:
                break
            if logging.getLevelNamesMapping().get(entry.level, 0) < floor:
                continue
            if needle and needle not in entry.message.casefold() and needle not in entry.logger.casefold():
                continue
            out.append(entry)
        out.reverse()
        return out


LOG_RING = LogRing()
"""The process's log ring: one per process, like the root logger it hangs on."""


def install_log_ring(ring: LogRing = LOG_RING) -> LogRing:
    """Hang the ring on the root logger (once), whatever else handles the records."""
    root = logging.getLogger()
    if ring not in root.handlers:
        root.addHandler(ring)
    return ring


@contextlib.contextmanager
def quieter(level: int, name: str = "streambot") -> Iterator[None]:
    """Only records of ``level`` and above from ``name``'s loggers while inside, the level it had
    restored after: a replay of millions of ticks logs each refused signal, which its summary
    already counts, and a caller in the same process (a test, the API) keeps its own logging."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(max(level, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        logger.setLevel(before)
