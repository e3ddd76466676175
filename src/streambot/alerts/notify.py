"""Where alerts go besides the log and the status WebSocket: a webhook, Telegram.

The Telegram URL carries the bot token, and webhook URLs often carry a key: neither URL is ever
logged, and errors are reported by type and status only (aiohttp's messages include the URL).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import aiohttp

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=10)


class Notifier(Protocol):
    name: str
    trades: bool  # also send trade notices (fills), not only alerts

    async def send(self, session: aiohttp.ClientSession, alert: dict[str, Any]) -> None: ...


def _text(alert: dict[str, Any]) -> str:
    if alert["event"] == "trade":
        return f"💰 streambot trade: {alert['message']}"
    icon = "❌" if alert["event"] == "raised" else "✅"
    verb = "ALERT" if alert["event"] == "raised" else "cleared"
    return f"{icon} streambot {verb} [{alert['severity']}] {alert['code']}: {alert['message']}"


async def _post(session: aiohttp.ClientSession, name: str, url: str, body: dict[str, Any]) -> None:
    try:
        async with session.post(url, json=body, timeout=TIMEOUT) as response:
            if response.status >= 300:
                log.warning("❌ %s notification refused: HTTP %d", name, response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("❌ %s notification failed: %s", name, type(exc).__name__)


class WebhookNotifier:
    name = "webhook"

    def __init__(self, url: str, *, trades: bool = False) -> None:
        self._url = url
        self.trades = trades

    async def send(self, session: aiohttp.ClientSession, alert: dict[str, Any]) -> None:
        await _post(session, self.name, self._url, {**alert, "text": _text(alert)})


class TelegramNotifier:
    name = "telegram"

    def __init__(
        self, token: str, chat_id: str, api_url: str = "https://api.telegram.org", *, trades: bool = False
    ) -> None:
        self._url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self._chat_id = chat_id
        self.trades = trades

    async def send(self, session: aiohttp.ClientSession, alert: dict[str, Any]) -> None:
        await _post(session, self.name, self._url, {"chat_id": self._chat_id, "text": _text(alert)})
