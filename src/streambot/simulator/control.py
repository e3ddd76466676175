"""A client's subscribe/unsubscribe frames, read the way Coinbase's Go server reads them.

Malformed frames get the errors Go's JSON decoder gives, word for word: clients match on them.
"""

from __future__ import annotations

import orjson


class ControlError(Exception):
    """A subscribe/unsubscribe frame Coinbase would answer with a flat error frame."""


def _go_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def parse_control(data: str | bytes) -> tuple[str, str, list[str], str | None]:
    """(type, channel, product_ids, jwt) of a client frame, or the error Coinbase's Go server gives."""
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ControlError("failure to subscribe") from None
    if not isinstance(message, dict):
        raise ControlError(
            f"json: cannot unmarshal {_go_kind(message)} into Go value of type RawControlMessage"
        )
    for name in ("type", "channel", "jwt"):
        value = message.get(name)
        if value is not None and not isinstance(value, str):
            raise ControlError(
                f"json: cannot unmarshal {_go_kind(value)} into Go struct field "
                f"RawControlMessage.{name} of type string"
            )
    raw_ids = message.get("product_ids")
    if raw_ids is None:
        product_ids: list[str] = []
    elif isinstance(raw_ids, list):
        for item in raw_ids:
            if not isinstance(item, str):
                raise ControlError(
                    f"json: cannot unmarshal {_go_kind(item)} into Go struct field "
                    "RawControlMessage.product_ids of type string"
                )
        product_ids = raw_ids
    else:
        raise ControlError(
            f"json: cannot unmarshal {_go_kind(raw_ids)} into Go struct field "
            "RawControlMessage.product_ids of type []string"
        )
    return message.get("type") or "", message.get("channel") or "", product_ids, message.get("jwt") or None
