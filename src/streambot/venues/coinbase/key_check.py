"""Before trading live: does Coinbase take this API key, and may it view and trade?

One request, ``GET /key_permissions``, answers both. When Coinbase refuses the key (401), the
exchange's public clock (``GET /time``) tells a wrong key from this machine's clock being off:
JWTs are valid for two minutes from the moment they are signed, so a clock a few minutes off
makes every request fail as if the key were wrong. Every problem is one sentence (``KeyProblem``)
within ``within`` seconds; nothing here quotes the key's secret.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from streambot.clock import Clock
from streambot.exchange import ExchangeError
from streambot.venues.coinbase.client import CoinbaseRest
from streambot.venues.coinbase.key_material import AuthError
from streambot.venues.coinbase.rest_messages import RestKeyPermissions

CHECK_TIMEOUT_S: Final = 4.0
MAX_SKEW_S: Final = 30.0  # Coinbase's JWTs live 120 s; beyond this the clock is the suspect
_CLOCK_WORDS: Final = ("expired", "not yet valid", "nbf", "iat", "clock", "time skew")


class KeyProblem(AuthError):
    """The API key cannot trade here; the message is one sentence for the user."""


async def check_api_key(
    rest: CoinbaseRest,
    public: CoinbaseRest,
    clock: Clock,
    *,
    within: float = CHECK_TIMEOUT_S,
    max_skew: float = MAX_SKEW_S,
) -> RestKeyPermissions:
    """The key's permissions when it may view and trade; ``KeyProblem`` otherwise.

    ``rest`` signs with the key; ``public`` (no key, same venue) reads the exchange's clock.
    """
    where = rest.base_url
    try:
        async with asyncio.timeout(within):
            try:
                permissions = await rest.key_permissions()
            except ExchangeError as exc:
                raise await _explain(rest, public, clock, exc, max_skew) from None
    except TimeoutError:
        raise KeyProblem(
            f"Coinbase at {where} did not answer within {within:g} s: "
            "check STREAMBOT_COINBASE_REST_URL and the network"
        ) from None
    missing = [
        name
        for name, granted in (("view", permissions.can_view), ("trade", permissions.can_trade))
        if not granted
    ]
    if missing:
        raise KeyProblem(
            f"the API key lacks the {' and '.join(repr(m) for m in missing)} permission"
            f"{'s' if len(missing) > 1 else ''}: create a CDP key with View and Trade for this portfolio"
        )
    return permissions


async def _explain(
    rest: CoinbaseRest, public: CoinbaseRest, clock: Clock, exc: ExchangeError, max_skew: float
) -> KeyProblem:
    where = rest.base_url
    if exc.status == 401:
        text = str(exc).lower()
        skew: float | None = None
        with contextlib.suppress(ExchangeError):  # the public clock down too: judge by the answer
            skew = clock.time() - await public.server_time()
        if (skew is not None and abs(skew) > max_skew) or any(word in text for word in _CLOCK_WORDS):
            off = (
                f" is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} Coinbase's"
                if skew
                else " is off"
            )
            return KeyProblem(
                f"Coinbase refused the API key because this machine's clock{off}: "
                "sync the clock (NTP) and start again"
            )
        return KeyProblem(
            "Coinbase refused the API key (HTTP 401): the key name or private key is wrong, or the key "
            "was deleted; check STREAMBOT_COINBASE_KEY_FILE or STREAMBOT_COINBASE_API_KEY/_SECRET"
        )
    if exc.status == 403:
        return KeyProblem(
            f"Coinbase refused the API key (HTTP 403, {_short(exc)}): give the key View and Trade "
            "permissions, and allow this machine's IP address if the key has an allowlist"
        )
    if exc.status == 0:
        return KeyProblem(
            f"cannot reach Coinbase at {where} ({_short(exc)}): check STREAMBOT_COINBASE_REST_URL"
        )
    return KeyProblem(f"Coinbase at {where} could not check the API key: {_short(exc)}")


def _short(exc: ExchangeError) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 160 else text[:157] + "..."
