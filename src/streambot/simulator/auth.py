"""CDP JWT verification, as Coinbase checks the tokens of Advanced Trade clients.

Only active when the simulator is given keys (key name -> public or private key PEM, or a raw
base64 Ed25519 key). A token must be ES256 or EdDSA, carry ``kid`` (a configured key name) and a
``nonce`` in its header, and ``iss`` (``cdp``, or ``coinbase-cloud`` from older SDKs), ``sub`` =
``kid``, ``nbf`` and ``exp`` in its claims; REST tokens also name the request in ``uri``
(``GET host/path``). Tokens are never logged, only why they were refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from streambot.clock import Clock
from streambot.venues.coinbase.key_material import load_private_key

log = logging.getLogger(__name__)

ISSUERS: Final = frozenset({"cdp", "coinbase-cloud"})
COINBASE_HOST: Final = "api.coinbase.com"
LEEWAY_S: Final = 5.0
MAX_LIFETIME_S: Final = 300  # Coinbase's tokens live 120 s; anything far longer is not a CDP token

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class AuthFailure(Exception):
    """Why a token was refused (for the log; the client only ever sees Coinbase's terse answer)."""


def load_public_key(text: str) -> PublicKey:
    """A verification key from a public PEM, or from any secret the client signs with (private PEM,
    raw base64 Ed25519), read the way the client reads it."""
    text = text.strip().replace("\\n", "\n")
    if "-----BEGIN" in text and "PRIVATE KEY-----" not in text:
        key = serialization.load_pem_public_key(text.encode())
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            return key
        if isinstance(key, ed25519.Ed25519PublicKey):
            return key
        raise ValueError(f"unsupported key type {type(key).__name__}; use EC P-256 or Ed25519")
    return load_private_key(text)[0].public_key()


ALL_SCOPES: Final = frozenset({"view", "trade"})
"""What a key may do unless told otherwise (``transfer`` only when given)."""


class JwtVerifier:
    def __init__(
        self,
        keys: Mapping[str, str],
        *,
        clock: Clock,
        scopes: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self._clock = clock
        self._scopes = dict(scopes or {})  # key name -> its permissions; a key not named has ALL_SCOPES
        self._keys: dict[str, tuple[PublicKey, str]] = {}
        for name, material in keys.items():
            public = load_public_key(material)
            algorithm = "ES256" if isinstance(public, ec.EllipticCurvePublicKey) else "EdDSA"
            self._keys[name] = (public, algorithm)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def scopes(self, key_name: str | None) -> frozenset[str]:
        """What the key may do: ``view``, ``trade``, ``transfer`` (every one without JWT checks)."""
        if key_name is None:
            return ALL_SCOPES | {"transfer"}
        return self._scopes.get(key_name, ALL_SCOPES)

    def verify(self, token: str, *, uri: tuple[str, str, set[str]] | None = None) -> str:
        """The key name the token was signed by, or AuthFailure. ``uri``: (method, path, hosts)
        for REST requests; WebSocket tokens have no ``uri`` claim."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthFailure(f"unreadable token header ({type(exc).__name__})") from None
        kid, algorithm = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or kid not in self._keys:
            raise AuthFailure("unknown key name in kid")
        if not isinstance(header.get("nonce"), str) or not header["nonce"]:
            raise AuthFailure("no nonce in the token header")
        public, expected = self._keys[kid]
        if algorithm != expected:
            raise AuthFailure(f"alg {algorithm!r} does not match the key ({expected})")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                public,
                algorithms=[expected],
                # nbf and exp are checked below against the simulator's clock, not the machine's.
                options={
                    "require": ["sub", "iss", "nbf", "exp"],
                    "verify_iss": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise AuthFailure(f"token refused: {exc}") from None
        try:
            not_before, expires = float(claims["nbf"]), float(claims["exp"])
        except (TypeError, ValueError):
            raise AuthFailure("token refused: nbf and exp must be numbers") from None
        now = self._clock.time()
        if expires <= now - LEEWAY_S:
            raise AuthFailure("token refused: Signature has expired")
        if not_before > now + LEEWAY_S:
            raise AuthFailure("token refused: The token is not yet valid (nbf)")
        if claims.get("iss") not in ISSUERS:
            raise AuthFailure("iss must be cdp")
        if claims.get("sub") != kid:
            raise AuthFailure("sub must equal kid")
        if expires - not_before > MAX_LIFETIME_S:
            raise AuthFailure("token lifetime too long")
        if uri is not None:
            method, path, hosts = uri
            claim = claims.get("uri")
            if not isinstance(claim, str):
                raise AuthFailure("REST tokens need a uri claim")
            claimed_method, _, rest = claim.partition(" ")
            host, slash, claimed_path = rest.partition("/")
            if claimed_method != method or host not in hosts or slash + claimed_path != path:
                raise AuthFailure(f"uri claim does not match {method} {path}")
        return kid
