"""Every request body model: booleans strict, unknown fields refused."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from pydantic import ValidationError

import streambot.api.routes
from streambot.api.routes.risk import KillSwitchIn
from streambot.api.schemas import Input


def _input_models() -> list[type[Input]]:
    for module in pkgutil.iter_modules(streambot.api.routes.__path__):
        importlib.import_module(f"streambot.api.routes.{module.name}")
    found: list[type[Input]] = []
    todo = list(Input.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return found


def test_every_boolean_of_a_request_body_is_strict() -> None:
    models = _input_models()
    assert KillSwitchIn in models
    loose = []
    for model in models:
        for name, field in model.model_fields.items():
            if field.annotation in (bool, bool | None) and not any(
                getattr(meta, "strict", False) for meta in field.metadata
            ):
                loose.append(f"{model.__name__}.{name}")
    assert not loose, f"use StrictBool: {loose}"


@pytest.mark.parametrize("value", ["yes", "true", 1, "on", 0])
def test_the_kill_switch_takes_only_true_or_false(value: object) -> None:
    with pytest.raises(ValidationError):
        KillSwitchIn.model_validate_json(f'{{"on": {value!r}}}'.replace("'", '"'))
    assert KillSwitchIn.model_validate_json('{"on": true}').on is True
