"""In-process order matching with Coinbase's rules, fees and failure codes: no I/O, no clock.

The simulator serves it over Coinbase's REST and WebSocket protocol; backtests will trade on it
directly. ``engine.MatchingEngine`` is the entry point.
"""
