"""The long-polling loop: updates in, commands from allowed chats answered, all others ignored
and counted (``streambot_telegram_ignored_updates`` on /metrics)."""

from __future__ import annotations

import logging
from collections import Counter

from streambot.clock import Clock
from streambot.telegram.bot_api import BotApi, BotApiError, CallbackQuery, Message, Update
from streambot.telegram.commands import TelegramCommands

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 60.0


class TelegramControl:
    def __init__(
        self,
        api: BotApi,
        commands: TelegramCommands,
        *,
        allowed_chats: frozenset[int],
        clock: Clock,
        poll_timeout_s: int = 30,
    ) -> None:
        self._api = api
        self._commands = commands
        self._allowed = allowed_chats
        self._clock = clock
        self._poll_timeout_s = poll_timeout_s
        self._offset: int | None = None
        self.ignored: Counter[str] = Counter()  # by kind: "message", "callback"
        self.handled = 0
        self.poll_errors = 0

    async def run(self) -> None:
        """Poll until cancelled; a failing Bot API is retried with backoff on the clock."""
        log.info("🔗 Telegram control polling for commands from %d chats", len(self._allowed))
        failures = 0
        while True:
            try:
                updates = await self._api.get_updates(self._offset, self._poll_timeout_s)
            except BotApiError as exc:
                failures += 1
                self.poll_errors += 1
                delay = min(MAX_BACKOFF_S, 2.0 ** min(failures, 6))
                # The first failure at WARNING, repeats at DEBUG: an outage is one line, not one a minute.
                log.log(
                    logging.WARNING if failures == 1 else logging.DEBUG,
                    "❌ Telegram getUpdates failed (%s); retrying in %.0f s",
                    exc,
                    delay,
                )
                await self._clock.sleep(delay)
                continue
            if failures:
                log.info("🔗 Telegram getUpdates works again after %d failures", failures)
                failures = 0
            for update in updates:
                # Past this update whatever happens: a command that fails is not run again.
                self._offset = update.update_id + 1
                await self.process(update)

    async def process(self, update: Update) -> None:
        try:
            if update.message is not None:
                await self._on_message(update.message)
            elif update.callback_query is not None:
                await self._on_callback(update.callback_query)
        except BotApiError as exc:
            log.warning("❌ Telegram reply failed: %s", exc)

    async def _on_message(self, message: Message) -> None:
        if message.text is None:
            return
        chat_id = message.chat.id
        if chat_id not in self._allowed:
            self.ignored["message"] += 1
            log.info("⚠️ Telegram command from chat %d ignored: not an allowed chat", chat_id)
            return
        reply = await self._commands.handle(chat_id, message.text)
        if reply is None:
            return
        self.handled += 1
        await self._api.send_message(chat_id, reply.text, reply.buttons)

    async def _on_callback(self, query: CallbackQuery) -> None:
        message = query.message
        chat_id = message.chat.id if message is not None else None
        if chat_id is None or chat_id not in self._allowed:
            self.ignored["callback"] += 1
            log.info("⚠️ Telegram button press from chat %s ignored: not an allowed chat", chat_id)
            return
        verb, _, code = (query.data or "").partition(":")
        if verb == "confirm":
            text = await self._commands.confirm(chat_id, code)
        elif verb == "cancel":
            text = self._commands.cancel(chat_id, code)
        else:
            text = "This button is not one of streambot's."
        self.handled += 1
        await self._api.answer_callback_query(query.id, text)
        await self._api.send_message(chat_id, text)
