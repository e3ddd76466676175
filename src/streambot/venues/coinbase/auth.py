"""Coinbase CDP API-key authentication: a short-lived JWT per REST request and per WS subscribe.

Keys are read by ``key_material``. Neither the secret nor a token is ever logged or shown in a repr.
"""

from __future__ import annotations

import secrets
from typing import Final

import jwt

from streambot.clock import Clock
from streambot.venues.coinbase.key_material import AuthError, load_private_key

TOKEN_LIFETIME_S: Final = 120
ISSUER: Final = "cdp"


class CdpSigner:
    """Mints CDP JWTs for one API key."""

    def __init__(self, key_name: str, secret: str, *, clock: Clock) -> None:
        if not key_name:
            raise AuthError("the API key name is empty")
        self.key_name = key_name
        self._key, self.algorithm = load_private_key(secret)
        self._clock = clock

    def __repr__(self) -> str:
        return f"CdpSigner(key_name={self.key_name!r}, algorithm={self.algorithm!r})"

    def rest_jwt(self, method: str, host: str, path: str) -> str:
        """Token for one REST request. ``host`` without scheme, ``path`` without query string."""
        return self._sign({"uri": f"{method.upper()} {host}{path}"})

    def ws_jwt(self) -> str:
        """Token for one WebSocket subscribe/unsubscribe frame (no ``uri`` claim)."""
        return self._sign({})

    def _sign(self, extra: dict[str, object]) -> str:
        now = int(self._clock.time())
        claims: dict[str, object] = {
            "sub": self.key_name,
            "iss": ISSUER,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME_S,
            **extra,
        }
        headers = {"kid": self.key_name, "nonce": secrets.token_hex(32)}
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)
