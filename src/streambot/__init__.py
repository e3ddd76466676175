"""streambot: a streaming trading-bot platform for Coinbase Advanced Trade."""

__version__ = "0.1.0"
