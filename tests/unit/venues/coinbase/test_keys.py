"""CDP key files: the 0600 rule, the shapes Coinbase downloads, errors that never quote the secret."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from streambot.venues.coinbase.key_material import AuthError
from streambot.venues.coinbase.keys import KeyFileError, check_key_name, load_key_file, resolve_api_key

NAME = "organizations/org-1/apiKeys/key-1"
KEY_ID = "6f1f9c3e-2b1d-4a6e-9a43-0c6a1a0d9b11"


def pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def write(tmp_path: Path, data: object, mode: int = 0o600) -> Path:
    path = tmp_path / "cdp_api_key.json"
    path.write_text(json.dumps(data))
    os.chmod(path, mode)
    return path


def test_a_private_key_file_loads(tmp_path: Path) -> None:
    secret = pem()
    key = load_key_file(write(tmp_path, {"name": "organizations/o/apiKeys/k", "privateKey": secret}))
    assert key.name == "organizations/o/apiKeys/k"
    assert key.secret == secret
    assert secret not in repr(key)
    legacy = load_key_file(write(tmp_path, {"id": KEY_ID, "privateKey": secret}))
    assert legacy.name == KEY_ID


def test_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, {"name": "k", "privateKey": pem()}, mode=0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_key_file(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"privateKey": "x"}, "no key name"),
        ({"name": "k"}, "no private key"),
        ({"name": NAME, "privateKey": "c2VjcmV0LXRleHQ="}, "32 or 64 bytes"),
        (
            {"name": NAME, "privateKey": "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0\n-----END"},
            "not a readable PEM",
        ),
        ({"name": "key-1", "privateKey": "c2VjcmV0LXRleHQ="}, "must look like organizations/"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, content: object, message: str) -> None:
    with pytest.raises(KeyFileError, match=message) as raised:
        load_key_file(write(tmp_path, content))
    assert "c2VjcmV0" not in str(raised.value)


def test_missing_file_and_resolution_order(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        load_key_file(tmp_path / "nope.json")
    assert resolve_api_key(None, None, None) is None
    secret = pem()
    env = resolve_api_key(NAME, secret, tmp_path / "ignored.json")
    assert env is not None
    assert env.name == NAME


@pytest.mark.parametrize(
    ("name", "secret", "message"),
    [
        ("key-1", None, "must look like organizations/{org_id}/apiKeys/{key_id}"),
        ("organizations/o/apiKeys/", None, "must look like"),
        ("-----BEGIN EC PRIVATE KEY-----", None, "swapped"),
        (
            NAME,
            "-----BEGIN EC PRIVATE KEY-----\nbm90IGEga2V5\n-----END EC PRIVATE KEY-----",
            "not a readable PEM",
        ),
        (NAME, "bm90IGEga2V5", "32 or 64 bytes"),
        (NAME, "not base64 at all!", "neither a PEM key nor base64"),
    ],
)
def test_keys_from_the_environment_are_checked_in_one_sentence(
    name: str, secret: str | None, message: str
) -> None:
    with pytest.raises(AuthError, match=message) as raised:
        resolve_api_key(name, secret or pem(), None)
    text = str(raised.value)
    assert text.startswith("STREAMBOT_COINBASE_API_KEY/STREAMBOT_COINBASE_API_SECRET: ")
    assert "\n" not in text
    assert "bm90IGEga2V5" not in text


def test_key_names_of_both_cdp_forms_pass() -> None:
    assert check_key_name(f" {NAME} ") == NAME
    assert check_key_name(KEY_ID) == KEY_ID
