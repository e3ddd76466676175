"""Warnings that would repeat per frame: the first of a kind at WARNING, the rest at DEBUG."""

from __future__ import annotations

import logging


class OnceLogger:
    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._warned: set[tuple[str, str]] = set()

    def warn(self, category: str, key: str, message: str, *args: object) -> None:
        """First occurrence per (category, key) at WARNING, the rest at DEBUG: never a log flood."""
        if (category, key) in self._warned:
            self._log.debug(message, *args)
            return
        self._warned.add((category, key))
        self._log.warning(message + " (further ones are logged at DEBUG)", *args)
