"""The dashboard's typed client is generated from the API's OpenAPI schema; it must not go stale."""

from __future__ import annotations

import json
from pathlib import Path

from streambot.api.app import create_app
from streambot.app import Platform
from streambot.config import Settings

SNAPSHOT = Path(__file__).resolve().parents[3] / "web" / "src" / "api" / "openapi.json"


async def test_the_dashboard_client_was_generated_from_the_current_schema(tmp_path: Path) -> None:
    platform = await Platform.open(Settings(data_dir=tmp_path, api_token="schema-check", demo_bots=False))
    try:
        current = json.loads(json.dumps(create_app(platform).openapi()))
    finally:
        await platform.stop()
    assert json.loads(SNAPSHOT.read_text()) == current, (
        "web/src/api/openapi.json differs from the API: run `make api-client` and commit the result"
    )
