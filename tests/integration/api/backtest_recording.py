"""A small recording as ``streambot record`` writes it (``{"t", "frame"}`` lines, zstd), generated:
two products on seeded random walks, Coinbase ticker frames exactly as sent."""

from __future__ import annotations

from typing import Any

from tests.recordings import T0, write_recording

__all__ = ["BOTS", "T0", "write_recording"]

BOTS: list[dict[str, Any]] = [
    {
        "name": "ema fast",
        "strategy": "ema_crossover",
        "product_id": "BTC-USD",
        "params": {"fast": 5, "slow": 13},
        "budget": "2000",
    },
    {"name": "rsi", "strategy": "rsi_reversion", "product_id": "ETH-USD", "params": {}, "budget": "800"},
]
