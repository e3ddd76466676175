"""Where a study lives: Optuna's RDB storage on SQLite (default, in the data dir) or PostgreSQL.

``postgresql://user@host:port/db`` is taken as Optuna's RDB storage takes it, driven by psycopg 3
(SQLAlchemy's default PostgreSQL driver, psycopg2, is not a dependency). A server that cannot be
reached fails within ``CONNECT_TIMEOUT_S`` with the driver's reason, never after a long hang.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import optuna
from optuna.storages import RDBStorage

CONNECT_TIMEOUT_S = 4
SQLITE_BUSY_TIMEOUT_S = 60
HEARTBEAT_S = 10
HEARTBEAT_GRACE_S = 60  # several worker processes write one SQLite file: wait for the lock


class StorageError(ValueError):
    """The storage URL cannot be used; the message says why (the password masked)."""


def masked(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def driver_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def open_storage(url: str) -> RDBStorage:
    """The storage at ``url``, its tables created if new; ``StorageError`` with the reason."""
    target = driver_url(url)
    connect_args: dict[str, Any] = {}
    if target.startswith("postgresql"):
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_S}
    elif target.startswith("sqlite"):
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    elif "://" not in target:
        raise StorageError(
            f"--storage {masked(url)!r} is not a database URL (sqlite:///FILE or "
            "postgresql://user@host:port/db)"
        )
    try:
        with warnings.catch_warnings():  # the heartbeat is marked experimental since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                target,
                engine_kwargs={"connect_args": connect_args},
                # A worker that dies (killed, machine lost) leaves its trial RUNNING; without a heartbeat
                # for a grace period the next optimize on the study marks it failed.
                heartbeat_interval=HEARTBEAT_S,
                grace_period=HEARTBEAT_GRACE_S,
            )
    except Exception as exc:  # the driver's own error: unreachable host, refused, auth, no such db…
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise StorageError(
            f"--storage {masked(url)}: cannot open it ({reason[0] if reason else exc})"
        ) from None


def finished_trials(study: optuna.Study) -> int:
    """Trials that ran to their end: completed or pruned (a failed or interrupted one is not)."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


__all__ = ["StorageError", "driver_url", "finished_trials", "masked", "open_storage"]
