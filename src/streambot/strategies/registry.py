"""The strategies by name: the built-ins, and the user's files once loaded.

Built-in strategy modules only define their ``SPEC``; this module registers them, so no strategy
module imports the registry back and the registry needs no import at call time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from streambot.strategies.base import Strategy, StrategyParams, StrategySpec
from streambot.strategies.builtin import BUILTIN_SPECS
from streambot.strategies.exits import WithExits


class StrategyError(ValueError):
    """A strategy name or its parameters were not acceptable; ``field`` names what was wrong."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


_REGISTRY: dict[str, StrategySpec[Any]] = {}
# User strategies whose file failed to load, by name: building one says why, not "unknown".
_LOAD_FAILURES: dict[str, str] = {}


def register(spec: StrategySpec[Any]) -> StrategySpec[Any]:
    _REGISTRY[spec.name] = spec
    _LOAD_FAILURES.pop(spec.name, None)
    return spec


def strategies() -> Mapping[str, StrategySpec[Any]]:
    return _REGISTRY


def get_spec(name: str) -> StrategySpec[Any]:
    spec = strategies().get(name)
    if spec is None:
        failure = _LOAD_FAILURES.get(name)
        if failure is not None:
            raise StrategyError(f"user strategy {name!r} failed to load: {failure}", field="strategy")
        known = ", ".join(sorted(strategies()))
        raise StrategyError(f"unknown strategy {name!r}; known strategies: {known}", field="strategy")
    return spec


def validate_params(name: str, params: Mapping[str, Any] | None) -> StrategyParams:
    """The strategy's parameters with defaults filled in, or StrategyError naming the bad field."""
    spec = get_spec(name)
    try:
        validated: StrategyParams = spec.params_model.model_validate(dict(params or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        # An error of the whole model (two fields that disagree) has no location: it is "params".
        where = ".".join(["params", *(str(part) for part in first["loc"])])
        raise StrategyError(f"{where}: {first['msg']}", field=where) from exc
    return validated


def build(name: str, params: Mapping[str, Any] | None) -> Strategy:
    """A new strategy instance for one bot, wrapped with its exits when any is set."""
    spec = get_spec(name)
    validated = validate_params(name, params)
    strategy = spec.factory(validated)
    if getattr(validated, "has_exits", False):
        return WithExits(strategy, validated)
    return strategy


def describe_strategies() -> list[dict[str, Any]]:
    """Every strategy for ``GET /api/v1/strategies``: name, description, schema, defaults (JSON-ready)."""
    return [
        {
            "name": spec.name,
            "description": spec.description,
            "schema": spec.json_schema(),
            "defaults": to_jsonable_python(spec.defaults()),
        }
        for spec in sorted(strategies().values(), key=lambda spec: spec.name)
    ]


for _spec in BUILTIN_SPECS:
    register(_spec)
