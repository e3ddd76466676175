"""The ``--bots`` file: a JSON list of bots with the fields of ``POST /api/v1/bots``.

Each entry is validated by the same model as the API's request body (``bots.BotCreate``), and
then by the bot manager as the API's bots are (strategy, parameters, fees): the same rules and
the same sentences, prefixed with which entry (``bots[2].params.fast: …``).
"""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import ValidationError

from streambot.backtest.engine import BotFileError
from streambot.bots import BotCreate


def parse_bots(raw: object) -> list[BotCreate]:
    if not isinstance(raw, list):
        raise BotFileError('the bots file must hold a JSON list of bots, e.g. [{"name": …}]')
    if not raw:
        raise BotFileError("the bots list is empty: give at least one bot")
    bots: list[BotCreate] = []
    for index, entry in enumerate(raw):
        try:
            bots.append(BotCreate.model_validate(entry))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            raise BotFileError(f"bots[{index}]{'.' + where if where else ''}: {message}") from None
    return bots


def read_bots(path: Path) -> list[BotCreate]:
    """The bots of ``path``; ``BotFileError`` names what is wrong (and where)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BotFileError(f"{path}: {exc.strerror or exc}") from None
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BotFileError(f"{path}: not JSON ({exc})") from None
    return parse_bots(raw)
