"""User strategies: Python files in a directory (``STREAMBOT_STRATEGY_DIR``), loaded by name.

A file ``my_strategy.py`` defines a module-level ``SPEC = StrategySpec(name="my_strategy", ...)``
whose name is the file's name; its parameters model subclasses ``StrategyParams`` (so exits come
with it) and its factory returns an object with ``on_tick``. Subclassing ``CandleStrategy`` gives
candles, shared indicators and warm-up. Files whose name starts with ``_`` are skipped.

A file that fails (syntax error, import error, no SPEC, a name that clashes with a built-in, a
factory that raises on the defaults) is reported with the reason and its line; the others still
load, and the process stays up. A bot that names a failed strategy cannot be built, and the error
says why.

These files run with the platform's rights: the directory is the operator's, not the users' of
the API.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streambot.strategies import registry as strategy_registry
from streambot.strategies.base import StrategyParams, StrategySpec
from streambot.strategies.registry import register

log = logging.getLogger(__name__)

_MODULE_PREFIX = "streambot_user_strategy_"


@dataclass(frozen=True, slots=True)
class LoadError:
    """Why one user strategy file did not load."""

    name: str
    path: Path
    reason: str


def load_user_strategies(directory: Path) -> dict[str, StrategySpec[Any] | LoadError]:
    """Load (or reload) every ``*.py`` in ``directory``; registers those that load.

    Returns each file's outcome by strategy name. User strategies loaded before and no longer
    present are unregistered.
    """
    # Importing the registry registered the built-ins first, so a clash with one is detected.
    registry = strategy_registry._REGISTRY
    _forget_user_strategies(registry)
    if not directory.is_dir():
        log.warning("⚠️ Strategy directory %s does not exist; no user strategies loaded", directory)
        return {}
    outcomes: dict[str, StrategySpec[Any] | LoadError] = {}
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        outcome = _load_file(path, registry)
        outcomes[path.stem] = outcome
        if isinstance(outcome, LoadError):
            strategy_registry._LOAD_FAILURES[outcome.name] = outcome.reason
            log.error("❌ User strategy %s failed to load: %s", path, outcome.reason)
        else:
            register(outcome)
            log.info("🧩 User strategy %r loaded from %s", outcome.name, path)
    return outcomes


def _load_file(path: Path, registry: dict[str, StrategySpec[Any]]) -> StrategySpec[Any] | LoadError:
    name = path.stem
    if not name.isidentifier():
        return LoadError(name, path, f"{path.name}: the file name must be a Python identifier")
    existing = registry.get(name)
    if existing is not None and existing.origin == "builtin":
        return LoadError(name, path, f"{path.name}: {name!r} is a built-in strategy; rename the file")
    module_name = _MODULE_PREFIX + name
    before = dict(registry)
    try:
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            return LoadError(name, path, f"{path.name}: not importable")
        module = importlib.util.module_from_spec(module_spec)
        # Pydantic and dataclasses resolve annotations through sys.modules.
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
        found = getattr(module, "SPEC", None)
        spec = _check(found, name)
        if isinstance(spec, StrategySpec):
            _try_defaults(spec)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(module_name, None)
        return LoadError(name, path, _describe(exc, path))
    finally:
        # A file may call register() itself; only what passed the checks above is registered.
        registry.clear()
        registry.update(before)
    if not isinstance(spec, StrategySpec):
        sys.modules.pop(module_name, None)
        return LoadError(name, path, f"{path.name}: {spec}")
    return StrategySpec(
        name=spec.name,
        description=spec.description,
        params_model=spec.params_model,
        factory=spec.factory,
        origin=str(path),
    )


def _check(spec: object, name: str) -> StrategySpec[Any] | str:
    """The SPEC if it is usable, else what is wrong with it."""
    if spec is None:
        return "defines no SPEC (a StrategySpec named after the file)"
    if not isinstance(spec, StrategySpec):
        return f"SPEC is a {type(spec).__name__}, not a StrategySpec"
    if spec.name != name:
        return f"SPEC.name is {spec.name!r} but the file is {name}.py; they must match"
    if not (isinstance(spec.params_model, type) and issubclass(spec.params_model, StrategyParams)):
        return "SPEC.params_model must subclass StrategyParams"
    if not callable(spec.factory):
        return "SPEC.factory is not callable"
    return spec


def _try_defaults(spec: StrategySpec[Any]) -> None:
    """Build once with the defaults, when every parameter has one, so a broken factory shows now."""
    if any(info.is_required() for info in spec.params_model.model_fields.values()):
        return
    strategy = spec.factory(spec.params_model())
    if not callable(getattr(strategy, "on_tick", None)):
        raise TypeError(f"SPEC.factory returned a {type(strategy).__name__}, which has no on_tick")


def _describe(exc: BaseException, path: Path) -> str:
    """The error with the line of the user's file it came from."""
    if isinstance(exc, SyntaxError):
        return f"{path.name}:{exc.lineno}: SyntaxError: {exc.msg}"
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == str(path)]
    where = f"{path.name}:{frames[-1].lineno}" if frames else path.name
    return f"{where}: {type(exc).__name__}: {exc}"


def _forget_user_strategies(registry: dict[str, StrategySpec[Any]]) -> None:
    for name in [name for name, spec in registry.items() if spec.origin != "builtin"]:
        del registry[name]
        sys.modules.pop(_MODULE_PREFIX + name, None)
    strategy_registry._LOAD_FAILURES.clear()
