"""Where ``streambot optimize`` searches a parameter: declared next to the parameter itself.

A strategy's parameters model says, per field, the range worth searching (narrower than what is
merely valid) and its step, as pydantic ``Field`` metadata, so built-in and user strategies are
searched the same way::

    fast: int = Field(default=12, ge=2, le=500, json_schema_extra=search(5, 50, step=1))
    deviations: float = Field(default=2.0, gt=0, le=10, json_schema_extra=search(1.0, 4.0, step=0.25))
    mode: Literal["reversion", "breakout"] = Field(default="reversion", json_schema_extra=search())

``search()`` without bounds searches every value of a bool or a literal. A field without the
marker keeps its default unless the user opens it (``--param NAME=LOW:HIGH[:STEP]`` or
``--space FILE``); a strategy that marks no field at all has its own numeric, bool and literal
fields with finite limits searched within those limits. The marker also shows in the strategy's
JSON schema (``GET /api/v1/strategies``) as ``"search": {...}``.
"""

from __future__ import annotations

from typing import Any

SEARCH_KEY = "search"


def search(
    low: float | None = None, high: float | None = None, *, step: float | None = None, log: bool = False
) -> dict[str, Any]:
    """The ``json_schema_extra`` of a searched field: ``low``…``high`` (inclusive) by ``step``
    (none: continuous for floats, 1 for ints), on a log scale when ``log``; no bounds for bools
    and literals (all their values)."""
    if (low is None) != (high is None):
        raise ValueError("search(): give both low and high, or neither")
    if low is not None and high is not None and low > high:
        raise ValueError(f"search(): low {low} is above high {high}")
    if step is not None and step <= 0:
        raise ValueError("search(): step must be positive")
    spec: dict[str, Any] = {}
    if low is not None:
        spec["low"] = low
        spec["high"] = high
    if step is not None:
        spec["step"] = step
    if log:
        spec["log"] = True
    return {SEARCH_KEY: spec}


__all__ = ["SEARCH_KEY", "search"]
