"""Print the API's OpenAPI schema as JSON without starting the platform (used by `npm run api`)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from streambot.api.app import create_app
from streambot.app import Platform
from streambot.config import Settings


def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        # Building the app only reads the platform's attributes; nothing is started or bound.
        platform = Platform(Settings(data_dir=Path(data_dir), api_token="schema-dump", demo_bots=False))
        json.dump(create_app(platform).openapi(), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
