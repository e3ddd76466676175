"""Coinbase CDP API secrets as signing keys: an ECDSA P-256 key as SEC1/PKCS8 PEM (signed ES256) or
an Ed25519 key as PKCS8 PEM or raw base64 (32-byte seed or 64-byte seed+public, signed EdDSA).

Shared by the client's signer and the simulator's verifier (which reads a client's secret the way
the client does); imports nothing of either. A secret is never quoted in an error.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class AuthError(ValueError):
    """The API secret is not a key this client can sign with (the message never quotes it)."""


def load_private_key(secret: str) -> tuple[PrivateKey, str]:
    """The signing key and its JWT algorithm (``ES256`` or ``EdDSA``)."""
    # Secrets pasted into .env files often carry literal "\n" instead of line breaks.
    text = secret.strip().replace("\\n", "\n")
    if "-----BEGIN" in text:
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise AuthError(
                f"the API secret is not a readable PEM private key ({type(exc).__name__})"
            ) from None
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise AuthError("the API secret is neither a PEM key nor base64") from None
        if len(raw) not in (32, 64):
            raise AuthError(f"a base64 Ed25519 secret must decode to 32 or 64 bytes, not {len(raw)}")
        key = ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise AuthError(f"EC keys must be on P-256, not {key.curve.name}")
        return key, "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key, "EdDSA"
    raise AuthError(f"unsupported key type {type(key).__name__}; use an EC P-256 or Ed25519 key")
