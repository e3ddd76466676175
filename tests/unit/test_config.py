from __future__ import annotations

import pytest
from pydantic import ValidationError

from streambot.config import Mode, Settings
from streambot.domain import DEFAULT_PRODUCTS


def test_defaults_are_paper_on_the_simulator_with_eight_products(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.mode is Mode.PAPER
    assert settings.products == DEFAULT_PRODUCTS
    assert len(settings.products) == 8
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000


def test_products_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMBOT_PRODUCTS", " btc-usd, ETH-USD ,,BTC-USD")
    assert Settings().products == ("BTC-USD", "ETH-USD")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STREAMBOT_MODE": "live"}, "needs STREAMBOT_COINBASE_API_KEY"),
        ({"STREAMBOT_MODE": "paperish"}, "mode"),
        ({"STREAMBOT_PRODUCTS": "BTCUSD"}, "not of the form BASE-QUOTE"),
        ({"STREAMBOT_HOST": "0.0.0.0"}, "not a loopback address"),
        ({"STREAMBOT_PORT": "99999"}, "port"),
        ({"STREAMBOT_MAX_BOT_BUDGET": "0"}, "max_bot_budget"),
        ({"STREAMBOT_MAX_BOT_BUDGET": "1e308"}, "max_bot_budget"),
        ({"STREAMBOT_MAX_REQUEST_BYTES": "10"}, "max_request_bytes"),
        ({"STREAMBOT_TELEGRAM_ALLOWED_CHATS": "123,@friend"}, "'@friend' is not a numeric chat id"),
        ({"STREAMBOT_TELEGRAM_ALLOWED_CHATS": "--5"}, "not a numeric chat id"),
    ],
)
def test_invalid_configuration_is_rejected_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_bad_input_bounds_default_to_a_million_and_one_mebibyte(monkeypatch: pytest.MonkeyPatch) -> None:
    from decimal import Decimal

    settings = Settings()
    assert settings.max_bot_budget == Decimal(1_000_000)
    assert settings.max_request_bytes == 1_048_576
    monkeypatch.setenv("STREAMBOT_MAX_BOT_BUDGET", "2500.5")
    assert Settings().max_bot_budget == Decimal("2500.5")


def test_telegram_command_chats_are_the_alert_chat_and_the_allowed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().telegram_command_chats == frozenset()
    monkeypatch.setenv("STREAMBOT_TELEGRAM_CHAT_ID", "42")
    monkeypatch.setenv("STREAMBOT_TELEGRAM_ALLOWED_CHATS", " 7, -1001234567890 ,7")
    settings = Settings()
    assert settings.telegram_allowed_chats == (7, -1001234567890)
    assert settings.telegram_command_chats == frozenset({42, 7, -1001234567890})
    # A channel name receives alerts but cannot command (updates carry numeric chat ids).
    monkeypatch.setenv("STREAMBOT_TELEGRAM_CHAT_ID", "@alerts_channel")
    assert Settings().telegram_command_chats == frozenset({7, -1001234567890})


def test_the_crash_tests_fault_point_is_off_by_default_and_only_takes_a_known_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().fault_point is None
    monkeypatch.setenv("STREAMBOT_FAULT_POINT", "after_send")
    assert Settings().fault_point == "after_send"
    monkeypatch.setenv("STREAMBOT_FAULT_POINT", "after_lunch")
    with pytest.raises(ValidationError, match="fault_point"):
        Settings()
