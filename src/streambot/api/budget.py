"""A bot's budget within bounds: the configured maximum, and in live mode the account's balance.

Checked where a budget comes in (creating a bot, changing its budget), so a typo of a few zeros
is a clear 422 naming the field and the bound rather than a bot sized beyond the account.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from fastapi import HTTPException, status

from streambot.api.errors import unprocessable
from streambot.api.served import ServedPlatform
from streambot.config import Mode
from streambot.exchange import ExchangeError

log = logging.getLogger(__name__)


async def check_budget(platform: ServedPlatform, budget: Decimal, product_id: str) -> None:
    """422 on ``body.budget`` when ``budget`` is above the maximum or (live) the quote balance."""
    settings = platform.settings
    maximum = settings.max_bot_budget
    if budget > maximum:
        raise unprocessable(
            ("body", "budget"),
            f"budget must be at most {maximum:f} (STREAMBOT_MAX_BOT_BUDGET), not {_shown(budget)}",
        )
    product = platform.order_path.products.get(product_id)
    if settings.mode is not Mode.LIVE or product is None:
        return  # an unknown product is refused on its own field by the bot manager
    quote = product.quote_currency
    try:
        balances = await platform.balances.balances()
    except ExchangeError as exc:
        log.warning("❌ Budget not checked, balances unavailable: %s", type(exc).__name__)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the account's balance could not be read to check the budget; try again shortly",
        ) from exc
    balance = balances.get(quote)
    held = balance.total if balance is not None else Decimal(0)
    if budget > held:
        raise unprocessable(
            ("body", "budget"),
            f"budget must be at most the account's {quote} balance of {held:f}, not {_shown(budget)}",
        )


def _shown(amount: Decimal) -> str:
    """Plain notation, unless that would be hundreds of digits (``1E+308``)."""
    return format(amount, "f") if amount.adjusted() < 21 else format(amount, "E")
