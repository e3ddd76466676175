from __future__ import annotations

import base64
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from streambot.clock import ManualClock, SystemClock
from streambot.venues.coinbase.auth import CdpSigner
from streambot.venues.coinbase.key_material import AuthError, load_private_key

KEY_NAME = "organizations/org-1/apiKeys/key-1"
NOW = 1_760_000_000.0
AT_NOW = ManualClock(datetime.fromtimestamp(NOW, UTC))


def ec_pem(curve: ec.EllipticCurve | None = None) -> tuple[str, ec.EllipticCurvePublicKey]:
    key = ec.generate_private_key(curve or ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert pem.startswith("-----BEGIN EC PRIVATE KEY-----")
    return pem, key.public_key()


def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def ed25519_raw(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def verify(token: str, public_key: object, algorithm: str) -> tuple[dict[str, object], dict[str, object]]:
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token,
        public_key,  # type: ignore[arg-type]
        algorithms=[algorithm],
        options={"verify_exp": False, "verify_nbf": False},
    )
    return header, claims


def test_ec_key_signs_es256_rest_token_with_the_cdp_header_and_claims() -> None:
    pem, public = ec_pem()
    signer = CdpSigner(KEY_NAME, pem, clock=AT_NOW)

    token = signer.rest_jwt("get", "api.coinbase.com", "/api/v3/brokerage/accounts")
    header, claims = verify(token, public, "ES256")

    assert header["alg"] == "ES256"
    assert header["kid"] == KEY_NAME
    nonce = header["nonce"]
    assert isinstance(nonce, str)
    assert len(nonce) == 64
    int(nonce, 16)
    assert claims == {
        "sub": KEY_NAME,
        "iss": "cdp",
        "nbf": int(NOW),
        "exp": int(NOW) + 120,
        "uri": "GET api.coinbase.com/api/v3/brokerage/accounts",
    }


def test_every_token_has_a_fresh_nonce() -> None:
    pem, _ = ec_pem()
    signer = CdpSigner(KEY_NAME, pem, clock=AT_NOW)
    headers = {jwt.get_unverified_header(signer.ws_jwt())["nonce"] for _ in range(5)}
    assert len(headers) == 5


def test_ws_token_has_no_uri_claim() -> None:
    pem, public = ec_pem()
    _, claims = verify(CdpSigner(KEY_NAME, pem, clock=AT_NOW).ws_jwt(), public, "ES256")
    assert "uri" not in claims
    assert claims["iss"] == "cdp"
    assert claims["sub"] == KEY_NAME


def test_token_validates_against_the_real_clock() -> None:
    pem, public = ec_pem()
    token = CdpSigner(KEY_NAME, pem, clock=SystemClock()).rest_jwt(
        "POST", "api.coinbase.com", "/api/v3/brokerage/orders"
    )
    claims = jwt.decode(token, public, algorithms=["ES256"])
    assert claims["uri"] == "POST api.coinbase.com/api/v3/brokerage/orders"


@pytest.mark.parametrize(
    "form", ["base64-seed", "base64-seed+public", "pkcs8-pem", "pem-with-escaped-newlines"]
)
def test_ed25519_key_signs_eddsa(form: str) -> None:
    key = ed25519_key()
    raw = ed25519_raw(key)
    public_raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    secret = {
        "base64-seed": base64.b64encode(raw).decode(),
        "base64-seed+public": base64.b64encode(raw + public_raw).decode(),
        "pkcs8-pem": pem,
        "pem-with-escaped-newlines": pem.replace("\n", "\\n"),
    }[form]
    signer = CdpSigner(KEY_NAME, secret, clock=AT_NOW)

    header, claims = verify(
        signer.rest_jwt("GET", "127.0.0.1:8080", "/api/v3/brokerage/products"), key.public_key(), "EdDSA"
    )

    assert signer.algorithm == "EdDSA"
    assert header["alg"] == "EdDSA"
    assert header["kid"] == KEY_NAME
    assert claims["uri"] == "GET 127.0.0.1:8080/api/v3/brokerage/products"
    assert claims["exp"] == int(NOW) + 120


def test_ec_key_in_pkcs8_is_accepted_too() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    assert load_private_key(pem)[1] == "ES256"


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "not a key",
        base64.b64encode(b"x" * 16).decode(),
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
    ],
)
def test_unusable_secrets_raise_without_quoting_them(secret: str) -> None:
    with pytest.raises(AuthError) as raised:
        CdpSigner(KEY_NAME, secret, clock=SystemClock())
    if secret:
        assert secret not in str(raised.value)


def test_other_curves_are_refused() -> None:
    pem, _ = ec_pem(ec.SECP384R1())
    with pytest.raises(AuthError, match="P-256"):
        load_private_key(pem)


def test_repr_shows_no_secret() -> None:
    pem, _ = ec_pem()
    signer = CdpSigner(KEY_NAME, pem, clock=SystemClock())
    assert "PRIVATE" not in repr(signer)
    assert KEY_NAME in repr(signer)
