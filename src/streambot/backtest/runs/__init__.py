"""Backtests run for the API: each in a process of its own, queued, kept on disk (backtests/<id>/)."""
