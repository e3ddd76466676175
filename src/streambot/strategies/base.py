"""What a strategy is, what it may see, and how the platform finds one by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from streambot.domain import BotId, Position, ProductId, Signal, Ticker


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: immutable, and unknown names are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(slots=True)
class BotContext:
    """A bot's own state as its strategy sees it. The executor updates it, the strategy only reads."""

    bot_id: BotId
    product_id: ProductId
    budget: Decimal
    position: Position = field(default_factory=Position)
    order_in_flight: bool = False
    last_fill_price: float = 0.0  # price of the last fill, 0.0 before any

    @property
    def holding(self) -> bool:
        return self.position.base > 0


class Strategy(Protocol):
    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None: ...


P = TypeVar("P", bound=StrategyParams)


@dataclass(frozen=True)
class StrategySpec(Generic[P]):
    name: str
    description: str
    params_model: type[P]
    factory: Callable[[P], Strategy]

    def defaults(self) -> dict[str, Any]:
        return {
            name: info.get_default(call_default_factory=True)
            for name, info in self.params_model.model_fields.items()
            if not info.is_required()
        }

    def json_schema(self) -> dict[str, Any]:
        return self.params_model.model_json_schema()


class StrategyError(ValueError):
    """A strategy name or its parameters were not acceptable; ``field`` names what was wrong."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


_REGISTRY: dict[str, StrategySpec[Any]] = {}


def register(spec: StrategySpec[Any]) -> StrategySpec[Any]:
    _REGISTRY[spec.name] = spec
    return spec


def strategies() -> Mapping[str, StrategySpec[Any]]:
    from streambot.strategies import builtin  # noqa: F401  (registers the built-ins)

    return _REGISTRY


def get_spec(name: str) -> StrategySpec[Any]:
    spec = strategies().get(name)
    if spec is None:
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
        where = ".".join(str(part) for part in first["loc"]) or "params"
        raise StrategyError(f"params.{where}: {first['msg']}", field=f"params.{where}") from exc
    return validated


def build(name: str, params: Mapping[str, Any] | None) -> Strategy:
    spec = get_spec(name)
    return spec.factory(validate_params(name, params))
