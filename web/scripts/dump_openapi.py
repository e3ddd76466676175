"""Print the API's OpenAPI schema as JSON (used by `npm run api`): the platform is built on a
temporary data dir, never started, and closed again."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from streambot.api.app import create_app
from streambot.app import Platform
from streambot.config import Settings


async def schema(data_dir: Path) -> dict[str, object]:
    platform = await Platform.open(Settings(data_dir=data_dir, api_token="schema-dump", demo_bots=False))
    try:
        return create_app(platform).openapi()
    finally:
        await platform.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        json.dump(asyncio.run(schema(Path(data_dir))), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
