"""CDP API keys from a key file, as Coinbase's portal downloads them.

The file is JSON: ``{"name": "organizations/.../apiKeys/...", "privateKey": "-----BEGIN EC ..."}``
(older downloads say ``id`` instead of ``name``). It holds a secret, so it must be readable by its
owner only (mode 0600 or stricter); a file others can read is refused, not silently used.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from streambot.venues.coinbase.key_material import AuthError, load_private_key


class KeyFileError(AuthError):
    """The key file is missing, too widely readable, or not a CDP key (never quotes the secret)."""


KEY_NAME_FORMAT = "organizations/{org_id}/apiKeys/{key_id}"
_KEY_NAME = re.compile(r"organizations/[A-Za-z0-9-]+/apiKeys/[A-Za-z0-9-]+")
# Newer CDP keys (Ed25519) are named by their id alone, a UUID.
_KEY_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_key_name(name: str) -> str:
    """The key name as Coinbase expects it in a JWT's ``kid``, or AuthError saying what is wrong.

    The message never quotes the value: a secret pasted into the wrong variable must not be shown.
    """
    name = name.strip()
    if not name:
        raise AuthError("the API key name is empty")
    if "PRIVATE KEY" in name or "-----BEGIN" in name:
        raise AuthError("the API key name holds a private key: are the key name and secret swapped?")
    if not (_KEY_NAME.fullmatch(name) or _KEY_ID.fullmatch(name)):
        raise AuthError(
            f"the API key name must look like {KEY_NAME_FORMAT} (the 'name' of the CDP key file), "
            f"not a {len(name)}-character value of another form"
        )
    return name


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    secret: str = field(repr=False)


def load_key_file(path: Path) -> ApiKey:
    """Read and check a CDP key file; the key is parsed once here so a bad one fails at start-up."""
    try:
        info = path.stat()
    except OSError as exc:
        raise KeyFileError(f"Coinbase key file {path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"Coinbase key file {path}: not a regular file")
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"Coinbase key file {path}: mode {stat.S_IMODE(info.st_mode):04o} lets other users read "
            f"the secret; run `chmod 600 {path}`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"Coinbase key file {path}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise KeyFileError(f"Coinbase key file {path}: expected a JSON object with name and privateKey")
    name = data.get("name") or data.get("id")
    secret = data.get("privateKey")
    if not isinstance(name, str) or not name:
        raise KeyFileError(f"Coinbase key file {path}: no key name (field 'name')")
    if not isinstance(secret, str) or not secret:
        raise KeyFileError(f"Coinbase key file {path}: no private key (field 'privateKey')")
    try:
        return checked_key(name, secret)
    except AuthError as exc:
        raise KeyFileError(f"Coinbase key file {path}: {exc}") from None


def checked_key(name: str, secret: str) -> ApiKey:
    """A key whose name has Coinbase's form and whose secret signs: a bad one fails at start-up,
    in one sentence, before any request."""
    name = check_key_name(name)
    load_private_key(secret)
    return ApiKey(name=name, secret=secret)


def resolve_api_key(key: str | None, secret: str | None, key_file: Path | None) -> ApiKey | None:
    """The key from the environment (name + secret) or else the key file; None when neither is set.

    Either way the key is checked (AuthError): the variables' one is named by them in the message.
    """
    if key and secret:
        try:
            return checked_key(key, secret)
        except AuthError as exc:
            raise AuthError(f"STREAMBOT_COINBASE_API_KEY/STREAMBOT_COINBASE_API_SECRET: {exc}") from None
    if key_file is not None:
        return load_key_file(key_file)
    return None
