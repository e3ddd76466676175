"""Imports follow the direction in the architecture doc, and nothing imports in a circle.

Every ``streambot`` import in ``src/`` counts, wherever it stands: at the top of a module, inside a
function, or under ``TYPE_CHECKING`` (a type-only import is still a dependency of the design). The
rules name what each part *may* import; a part not listed may import nothing of streambot's, so a
new package has to be placed here on purpose.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "streambot"

FOUNDATION = frozenset({"domain", "clock", "events"})


@dataclass(frozen=True, slots=True)
class AnythingBut:
    """A part at the top of the flow: it may import every other part but these."""

    parts: frozenset[str]


# part → the parts it may import, besides itself. An entry with a dot allows that module (and
# below) of another part, not the whole part: "venues.matcher" lets the simulator use the matching
# rules without the Coinbase client.
ALLOWED: dict[str, frozenset[str] | AnythingBut] = {
    "__init__": frozenset(),
    "domain": frozenset(),
    "clock": frozenset(),
    "events": frozenset({"domain"}),
    "exchange": FOUNDATION,
    "config": FOUNDATION | {"observability.logging"},
    "bus": FOUNDATION,
    "strategies": FOUNDATION,
    "risk": FOUNDATION,
    "observability": FOUNDATION | {"bus"},
    "alerts": FOUNDATION | {"bus", "observability"},
    # Commands over Telegram act through the parts the API's routes use (bots manager, trading
    # desk, balance cache), handed to it by app.py; never the API or the process that serves it.
    "telegram": FOUNDATION | {"bus", "bots", "trading", "risk", "exchange"},
    "evaluator": FOUNDATION | {"bus", "strategies", "observability"},
    "bots": FOUNDATION | {"bus", "evaluator", "strategies", "observability"},
    "trading": FOUNDATION | {"bus", "risk", "strategies", "evaluator", "exchange", "observability"},
    "venues": FOUNDATION | {"exchange"},
    "feed": FOUNDATION | {"bus", "exchange", "observability"},
    "store": FOUNDATION | {"risk"},
    # The simulator speaks Coinbase's protocol with the matching rules of venues/matcher; it reads
    # Coinbase's wire messages and parses its key format, but never uses the client. Its own
    # process (simulator/child.py) logs as the platform does.
    "simulator": FOUNDATION
    | {"venues.matcher", "venues.coinbase.rest_messages", "venues.coinbase.key_material"}
    | {"observability.logging"},
    # Child processes of ``streambot …`` commands, followed and kept on disk: time from the clock,
    # nothing else of the platform's (a caller says how to read progress and what to publish).
    "runs": FOUNDATION,
    # The next issue's backtest: the engine's parts, never the API or the process that serves it.
    "backtest": FOUNDATION
    | {"runs"}
    | {"bus", "risk", "strategies", "evaluator", "trading", "exchange", "venues", "feed", "store", "bots"}
    | {"observability"},
    # Parameter searches replay through the backtest; product rules and settings come from the CLI.
    "optimize": FOUNDATION
    | {"bus", "risk", "strategies", "evaluator", "trading", "exchange", "venues", "feed", "store", "bots"}
    | {"backtest", "observability"},
    # The cluster's infrastructure (Redis Streams bus, bot leases, shared rate limit): a bus and
    # protocols of its own; app.py composes the roles from it and the engine's parts. The shared
    # balance cache is a kind of the trading part's, raising the exchange's error as it does.
    "cluster": FOUNDATION
    | {"bus", "observability", "exchange", "venues.coinbase.rate_limit", "trading.balances"},
    "api": AnythingBut(frozenset({"app", "cli"})),
    "app": AnythingBut(frozenset({"cli"})),
    "cli": AnythingBut(frozenset()),
}


@dataclass(frozen=True, slots=True)
class Import:
    importer: str  # dotted module, e.g. streambot.feed.client
    imported: str  # dotted module it names, resolved to a module or package of src/
    line: int


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(found: dict[str, Path]) -> list[Import]:
    def resolve(name: str) -> str | None:
        while name and name not in found:
            name = name.rpartition(".")[0]
        return name or None

    result: list[Import] = []
    for module, path in found.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: from the importing module's package
                    anchor = module.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                if name == PACKAGE or name.startswith(PACKAGE + "."):
                    target = resolve(name)
                    if target is not None and target != module:
                        result.append(Import(module, target, node.lineno))
    return result


def part(module: str) -> str:
    """The top-level part a module belongs to: streambot.feed.client → feed."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def allowed(importer: str, imported: str) -> bool:
    source, target = part(importer), part(imported)
    if target in (source, "__init__"):
        return True
    rules = ALLOWED.get(source, frozenset())
    if isinstance(rules, AnythingBut):
        return target not in rules.parts
    if target in rules:
        return True
    relative = imported.removeprefix(PACKAGE + ".")
    return any(relative == rule or relative.startswith(rule + ".") for rule in rules if "." in rule)


def violations(found: Iterable[Import]) -> list[str]:
    """One line per importing module and module imported against the rules."""
    return sorted(
        {
            f"{item.importer} imports {item.imported}"
            for item in found
            if not allowed(item.importer, item.imported)
        }
    )


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def package_of(module: str, found: dict[str, Path]) -> str:
    return module if found[module].name == "__init__.py" else module.rpartition(".")[0]


def package_cycles(found: dict[str, Path], edges: Iterable[Import]) -> list[list[str]]:
    """Cycles between packages (folders): a package counts with everything below it."""
    graph: dict[str, set[str]] = defaultdict(set)
    for item in edges:
        source, target = package_of(item.importer, found), package_of(item.imported, found)
        if source.startswith(target + ".") or target.startswith(source + ".") or source == target:
            continue  # a package and its own subpackages are one unit here
        graph[source].add(target)
    return cycles(graph)


def part_cycles(edges: Iterable[Import]) -> list[list[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for item in edges:
        if part(item.importer) != part(item.imported):
            graph[part(item.importer)].add(part(item.imported))
    return cycles(graph)


def module_cycles(edges: Iterable[Import]) -> list[list[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for item in edges:
        graph[item.importer].add(item.imported)
    return cycles(graph)


def test_every_part_of_the_package_has_a_rule() -> None:
    unknown = sorted({part(module) for module in modules()} - set(ALLOWED))
    assert not unknown, f"place these parts in ALLOWED (tests/unit/test_layers.py): {unknown}"


def test_imports_follow_the_direction_of_the_architecture() -> None:
    found = violations(imports(modules()))
    assert not found, "imports against the architecture's direction:\n" + "\n".join(found)


def test_no_two_parts_import_each_other_in_a_circle() -> None:
    found = part_cycles(imports(modules()))
    assert not found, f"parts that import each other in a circle: {found}"


def test_no_two_packages_import_each_other_in_a_circle() -> None:
    found_modules = modules()
    found = package_cycles(found_modules, imports(found_modules))
    assert not found, f"packages that import each other in a circle: {found}"


def test_no_two_modules_import_each_other_in_a_circle() -> None:
    found = module_cycles(imports(modules()))
    assert not found, f"modules that import each other in a circle: {found}"


def test_the_checker_sees_a_violation_and_a_cycle() -> None:
    """The rules bite: a strategy importing the bus, and two modules importing each other."""
    assert not allowed("streambot.strategies.base", "streambot.bus.in_process")
    assert not allowed("streambot.simulator.server", "streambot.venues.coinbase.client")
    assert allowed("streambot.simulator.server", "streambot.venues.matcher.book")
    assert not allowed("streambot.api.deps", "streambot.app")
    assert allowed("streambot.app", "streambot.api.server")
    edges = [Import("streambot.a", "streambot.b", 1), Import("streambot.b", "streambot.a", 1)]
    assert module_cycles(edges) == [["streambot.a", "streambot.b"]]
