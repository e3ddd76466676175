"""Schemathesis against the real app over loopback, with the token: no 5xx, every response matches
the schema, every status code answered is documented. Prints its figures (tests/chaos.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.chaos import report, scale
from tests.integration.api.conftest import StartApi

pytestmark = pytest.mark.chaos

EXAMPLES_PER_OPERATION = scale(25, 200)


def _property(
    strategy: Any, base_url: str, headers: dict[str, str], checks: list[Any], statuses: Counter[int]
) -> Any:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=checks)

    return run


def _fuzz(
    schema_doc: dict[str, Any], base_url: str, headers: dict[str, str], statuses: Counter[int]
) -> list[str]:
    schema = schemathesis.openapi.from_dict(schema_doc)
    checks = [
        not_a_server_error,
        response_schema_conformance,
        content_type_conformance,
        status_code_conformance,
    ]
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises here
        run = _property(operation.as_strategy(), base_url, headers, checks, statuses)
        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis reports a FailureGroup
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    return failures


async def test_the_openapi_schema_holds_under_generated_requests(start: StartApi) -> None:
    api = await start(api_rate_limit=10_000.0, api_rate_burst=10_000, demo_bots=True)
    async with api.http.get(api.url("/openapi.json")) as response:
        schema_doc = await response.json()
    statuses: Counter[int] = Counter()
    failures = await asyncio.to_thread(_fuzz, schema_doc, api.api.url, api.auth, statuses)
    report(
        "api_schemathesis",
        operations=sum(len(ops) for ops in schema_doc["paths"].values()),
        cases=sum(statuses.values()),
        server_errors=sum(n for status, n in statuses.items() if status >= 500),
        failing_operations=len(failures),
        statuses=" ".join(f"{status}:{n}" for status, n in sorted(statuses.items())),
    )
    assert not failures, "\n\n".join(failures)
