"""Print the API's OpenAPI schema as JSON without starting the platform (used by `npm run api`)."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from streambot.api.app import create_app
from streambot.app import Platform
from streambot.config import Settings


async def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        # Built as the snapshot test builds it (paper simulator on loopback), never started.
        settings = Settings(data_dir=Path(data_dir), api_token="schema-dump", demo_bots=False)
        platform = await Platform.open(settings)
        try:
            schema = create_app(platform).openapi()
        finally:
            await platform.stop()
    json.dump(schema, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
