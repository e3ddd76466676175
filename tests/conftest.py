"""Shared by every test: the reliability tests' figures are repeated in pytest's summary."""

from __future__ import annotations

import pytest

from tests.chaos import reported


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if reported:
        terminalreporter.section("reliability figures")
        for line in reported:
            terminalreporter.write_line(line)
