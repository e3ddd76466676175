"""Runs of ``streambot …`` commands in child processes, followed and kept on disk (backtests, searches)."""
