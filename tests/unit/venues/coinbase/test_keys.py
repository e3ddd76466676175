"""CDP key files: the 0600 rule, the shapes Coinbase downloads, errors that never quote the secret."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from streambot.venues.coinbase.keys import KeyFileError, load_key_file, resolve_api_key


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
    legacy = load_key_file(write(tmp_path, {"id": "k2", "privateKey": secret}))
    assert legacy.name == "k2"


def test_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, {"name": "k", "privateKey": pem()}, mode=0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_key_file(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"privateKey": "x"}, "no key name"),
        ({"name": "k"}, "no private key"),
        ({"name": "k", "privateKey": "c2VjcmV0LXRleHQ="}, "32 or 64 bytes"),
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
    env = resolve_api_key("name", "secret", tmp_path / "ignored.json")
    assert env is not None
    assert env.name == "name"
