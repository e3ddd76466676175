"""Schemathesis against the real app over loopback: no 5xx, every response matches the schema."""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.integration.api.conftest import StartApi

EXAMPLES_PER_OPERATION = 25


def _property(strategy: Any, base_url: str, headers: dict[str, str], checks: list[Any]) -> Any:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks)

    return run


def _fuzz(schema_doc: dict[str, Any], base_url: str, headers: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_dict(schema_doc)
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises here
        run = _property(operation.as_strategy(), base_url, headers, checks)
        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis reports a FailureGroup
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    return failures


async def test_the_openapi_schema_holds_under_generated_requests(start: StartApi) -> None:
    api = await start(api_rate_limit=10_000.0, api_rate_burst=10_000, demo_bots=True)
    async with api.http.get(api.url("/openapi.json")) as response:
        schema_doc = await response.json()
    failures = await asyncio.to_thread(_fuzz, schema_doc, api.api.url, api.auth)
    assert not failures, "\n\n".join(failures)
