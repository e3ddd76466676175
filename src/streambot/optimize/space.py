"""A strategy's search space: which parameters an optimisation varies, over which values.

Read from the strategy's parameters model (``strategies.search``: ``json_schema_extra=search(…)``
next to each searched field), then narrowed or fixed by the user:

- ``--param fast=5:30`` or ``fast=5:30:1`` (low:high[:step], inclusive) searches that range;
- ``--param sell_on_cross=true`` fixes a value; ``--param mode=reversion,breakout`` picks among
  values (bools and literals);
- ``--space FILE``: a JSON object of the same, ``{"fast": {"low": 5, "high": 30, "step": 1},
  "mode": {"choices": ["breakout"]}, "sell_on_cross": true}``.

Every bound and value is checked by the model itself, so a wrong one gets the API's sentence
(``params.fast: Input should be greater than or equal to 2``), prefixed with the flag it came in.
"""

from __future__ import annotations

import enum
import math
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import optuna
import orjson
from pydantic.fields import FieldInfo

from streambot.strategies.base import StrategyParams, StrategySpec
from streambot.strategies.candle_strategy import CandleParams
from streambot.strategies.registry import StrategyError, validate_params
from streambot.strategies.search import SEARCH_KEY

Kind = Literal["int", "float", "decimal", "choice", "fixed"]
_BASE_FIELDS = frozenset(CandleParams.model_fields) | frozenset(StrategyParams.model_fields)


class SpaceError(ValueError):
    """A parameter range the strategy cannot take; the message names the flag and the parameter."""


@dataclass(frozen=True, slots=True)
class ParamRange:
    """One parameter: searched between ``low`` and ``high`` by ``step``, among ``choices``, or fixed."""

    name: str
    kind: Kind
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    value: Any = None  # when fixed

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "fixed":
            return self.value
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        value = trial.suggest_float(
            self.name, self.low, self.high, step=None if self.log else self.step, log=self.log
        )
        if self.kind == "decimal":  # the shortest text of the float: 12.5, not 12.4999…
            return Decimal(repr(round(value, 10)))
        return value

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"{self.name} = {_json_value(self.value)}"
        if self.kind == "choice":
            return f"{self.name} ∈ {{{', '.join(str(_json_value(c)) for c in self.choices)}}}"
        step = f" step {self.step:g}" if self.step else ""
        return f"{self.name} ∈ [{self.low:g}, {self.high:g}]{step}{' log' if self.log else ''}"


@dataclass(frozen=True, slots=True)
class SearchSpace:
    strategy: str
    ranges: tuple[ParamRange, ...]

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return {r.name: r.suggest(trial) for r in self.ranges}

    @property
    def searched(self) -> list[ParamRange]:
        return [r for r in self.ranges if r.kind != "fixed"]

    def fixed(self) -> dict[str, Any]:
        return {r.name: r.value for r in self.ranges if r.kind == "fixed"}

    def params_of(self, sampled: Mapping[str, Any]) -> dict[str, Any]:
        """Full parameters from a trial's sampled values (as stored) and the fixed ones."""
        out: dict[str, Any] = {}
        for r in self.ranges:
            if r.kind == "fixed":
                out[r.name] = r.value
            elif r.name in sampled:
                value = sampled[r.name]
                out[r.name] = Decimal(repr(round(value, 10))) if r.kind == "decimal" else value
        return out

    def key(self) -> str:
        """A stable text of the space (part of the default study name: another space, another study)."""
        return orjson.dumps(
            [
                [
                    r.name,
                    r.kind,
                    r.low,
                    r.high,
                    r.step,
                    r.log,
                    [_json_value(c) for c in r.choices],
                    _json_value(r.value),
                ]
                for r in self.ranges
            ]
        ).decode()


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _plain_type(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``None`` (and whether None was allowed)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _choices_of(annotation: Any) -> tuple[Any, ...] | None:
    if annotation is bool:
        return (True, False)
    if get_origin(annotation) is Literal:
        return tuple(get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(member.value for member in annotation)
    return None


def _numeric_kind(annotation: Any) -> Kind | None:
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if annotation is Decimal:
        return "decimal"
    return None


def _limits(info: FieldInfo) -> tuple[float, float]:
    """The field's own limits (ge/gt/le/lt) as an inclusive low and high; ±inf when open."""
    low, high = -math.inf, math.inf
    for item in info.metadata:
        for attr, is_low, strict in (
            ("ge", True, False),
            ("gt", True, True),
            ("le", False, False),
            ("lt", False, True),
        ):
            bound = getattr(item, attr, None)
            if bound is None:
                continue
            value = float(bound)
            if strict:  # an open limit: the nearest value inside it
                value = math.nextafter(value, math.inf if is_low else -math.inf)
            if is_low:
                low = max(low, value)
            else:
                high = min(high, value)
    return low, high


def _marker(info: FieldInfo) -> dict[str, Any] | None:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get(SEARCH_KEY), dict):
        return dict(extra[SEARCH_KEY])  # type: ignore[arg-type]
    return None


def _default_range(name: str, info: FieldInfo, marker: dict[str, Any] | None, searched: bool) -> ParamRange:
    annotation, _ = _plain_type(info.annotation)
    default = info.get_default(call_default_factory=True)
    if not searched:
        return ParamRange(name, "fixed", value=default)
    choices = _choices_of(annotation)
    if choices is not None:
        return ParamRange(name, "choice", choices=choices)
    kind = _numeric_kind(annotation)
    if kind is None:
        return ParamRange(name, "fixed", value=default)
    low, high = _limits(info)
    if marker and "low" in marker:
        low, high = float(marker["low"]), float(marker["high"])
    if not (math.isfinite(low) and math.isfinite(high)):
        return ParamRange(name, "fixed", value=default)
    step = marker.get("step") if marker else None
    if kind == "int":
        step = step or 1
        low, high = float(math.ceil(low)), float(math.floor(high))
    return ParamRange(name, kind, low=low, high=high, step=step, log=bool(marker and marker.get("log")))


def default_space(spec: StrategySpec[Any]) -> SearchSpace:
    """The space the strategy declares; see the module's docstring for fields without a marker."""
    fields = spec.params_model.model_fields
    markers = {name: _marker(info) for name, info in fields.items()}
    any_marked = any(m is not None for m in markers.values())
    ranges = []
    for name, info in fields.items():
        searched = markers[name] is not None if any_marked else name not in _BASE_FIELDS
        ranges.append(_default_range(name, info, markers[name], searched))
    return SearchSpace(spec.name, tuple(ranges))


# --- the user's narrowing -----------------------------------------------------------------------


def _check_value(strategy: str, name: str, value: Any, flag: str) -> Any:
    """``value`` as the model takes it for ``name``, or SpaceError with the model's sentence."""
    try:
        validated = validate_params(strategy, {name: value})
    except StrategyError as exc:
        if exc.field == f"params.{name}":
            raise SpaceError(f"{flag}: {exc}") from None
        # Another rule of the model (fast < slow…) is judged per trial, with all values known.
        return value
    return getattr(validated, name)


def _number(text: str, kind: Kind, flag: str) -> float:
    try:
        value = float(text) if kind != "int" else int(text)
    except ValueError:
        raise SpaceError(f"{flag}: {text!r} is not {'an integer' if kind == 'int' else 'a number'}") from None
    return float(value)


def narrowed(space: SearchSpace, spec: StrategySpec[Any], name: str, given: Any, flag: str) -> SearchSpace:
    """``space`` with ``name`` searched or fixed as ``given`` says (a flag's text or a JSON value)."""
    fields = spec.params_model.model_fields
    if name not in fields:
        known = ", ".join(sorted(fields))
        raise SpaceError(f"{flag}: {spec.name} has no parameter {name!r}; its parameters: {known}")
    info = fields[name]
    annotation, optional = _plain_type(info.annotation)
    kind = _numeric_kind(annotation)
    choices = _choices_of(annotation)
    strategy = spec.name
    new: ParamRange
    if isinstance(given, str):
        given = _parse_text(given, kind, choices, optional, flag)
    if isinstance(given, dict):
        unknown = set(given) - {"low", "high", "step", "log", "choices"}
        if unknown:
            raise SpaceError(f"{flag}: unknown key {sorted(unknown)[0]!r} (low, high, step, log or choices)")
        if "choices" in given:
            values = given["choices"]
            if not isinstance(values, list) or not values:
                raise SpaceError(f"{flag}: choices must be a non-empty list")
            checked = tuple(_json_value(_check_value(strategy, name, v, flag)) for v in values)
            new = (
                ParamRange(name, "choice", choices=checked)
                if len(checked) > 1
                else ParamRange(name, "fixed", value=_check_value(strategy, name, values[0], flag))
            )
        else:
            if kind is None:
                raise SpaceError(f"{flag}: {name} is not a number; give a value or choices")
            if "low" not in given or "high" not in given:
                raise SpaceError(f"{flag}: give both low and high")
            low = _number(str(given["low"]), kind, flag)
            high = _number(str(given["high"]), kind, flag)
            if low > high:
                raise SpaceError(f"{flag}: low {low:g} is above high {high:g}")
            _check_value(strategy, name, int(low) if kind == "int" else low, f"{flag} (low)")
            _check_value(strategy, name, int(high) if kind == "int" else high, f"{flag} (high)")
            step_given = given.get("step")
            step = _number(str(step_given), kind, flag) if step_given is not None else None
            if step is not None and step <= 0:
                raise SpaceError(f"{flag}: step must be positive")
            if kind == "int":
                step = step or 1.0
            log = bool(given.get("log", False))
            if log and low <= 0:
                raise SpaceError(f"{flag}: a log scale needs low above 0")
            new = ParamRange(name, kind, low=low, high=high, step=step, log=log)
    else:
        new = ParamRange(name, "fixed", value=_check_value(strategy, name, given, flag))
    return replace(space, ranges=tuple(new if r.name == name else r for r in space.ranges))


def _parse_text(
    text: str, kind: Kind | None, choices: tuple[Any, ...] | None, optional: bool, flag: str
) -> Any:
    text = text.strip()
    if optional and text.lower() in ("none", "null"):
        return None
    if ":" in text and kind is not None:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise SpaceError(f"{flag}: give LOW:HIGH or LOW:HIGH:STEP")
        spec: dict[str, Any] = {"low": parts[0], "high": parts[1]}
        if len(parts) == 3:
            spec["step"] = parts[2]
        return spec
    values = [part.strip() for part in text.split(",")]
    parsed = [_scalar(v, kind, choices) for v in values]
    return {"choices": parsed} if len(parsed) > 1 else parsed[0]


def _scalar(text: str, kind: Kind | None, choices: tuple[Any, ...] | None) -> Any:
    if choices == (True, False):
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return text  # the model says what it takes
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            return text
    if kind in ("float", "decimal"):
        try:
            return float(text)
        except ValueError:
            return text
    return text


def parse_param_flags(space: SearchSpace, spec: StrategySpec[Any], flags: Sequence[str]) -> SearchSpace:
    for text in flags:
        name, sep, rest = text.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise SpaceError(f"--param {text!r}: give NAME=LOW:HIGH[:STEP], NAME=VALUE or NAME=A,B")
        space = narrowed(space, spec, name.strip(), rest, f"--param {text}")
    return space


def read_space_file(space: SearchSpace, spec: StrategySpec[Any], path: Path) -> SearchSpace:
    try:
        raw = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise SpaceError(f"--space {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise SpaceError(f"--space {path}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise SpaceError(
            f'--space {path}: expected a JSON object such as {{"fast": {{"low": 5, "high": 30}}}}'
        )
    for name, given in raw.items():
        space = narrowed(space, spec, name, given, f"--space {path}: {name}")
    return space


__all__ = [
    "ParamRange",
    "SearchSpace",
    "SpaceError",
    "default_space",
    "narrowed",
    "parse_param_flags",
    "read_space_file",
]
