"""The package's layers, checked on its source (an AST scan, no import): so that they stay true.

- Each module imports only from its own layer or the layers below it (LAYERS, bottom first), and
  nothing imports in a circle.
- In map/: the engine, then the state of one conversion, then datatype filters, the parts domains
  share, the clinical domains, and the document layer (dispatch, document) on top. A domain never
  imports another domain (a domain package's modules may import each other).
- No private name (``_x``) is imported from another module.
- No module is longer than MAX_LINES.
- No function-level import in map/ (they were there to dodge import cycles) except a lazy load
  said so on its line or the line above.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ccda2fhir"
MAX_LINES = 400

# Bottom first. A module may import its own layer (without a cycle) and any layer below.
LAYERS = [
    ["ccda2fhir.errors", "ccda2fhir.limits", "ccda2fhir.report", "ccda2fhir.data", "ccda2fhir.version"],
    ["ccda2fhir.parse", "ccda2fhir.walk"],
    ["ccda2fhir.assemble", "ccda2fhir.conform"],
    ["ccda2fhir.map.engine", "ccda2fhir._templates"],
    ["ccda2fhir.map.state"],
    ["ccda2fhir.map.datatypes"],
    ["ccda2fhir.map.shared"],
    ["ccda2fhir.map.domains"],
    ["ccda2fhir.map.dispatch", "ccda2fhir.map.document", "ccda2fhir.map"],
    ["ccda2fhir.patient_ids", "ccda2fhir.validate"],
    ["ccda2fhir.pipeline"],
    ["ccda2fhir.pool"],
    ["ccda2fhir.convert"],
    ["ccda2fhir.bulk", "ccda2fhir.templates_check"],
    ["ccda2fhir.spark", "ccda2fhir.serve"],
    ["ccda2fhir", "ccda2fhir.__main__", "ccda2fhir._preload", "ccda2fhir._twins"],
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "_templates.py"}
GENERATED = {"ccda2fhir._templates"}   # written by setup.py (the templates compiled ahead of time)


def _layer(module: str) -> int:
    best, rank = -1, None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    if rank is None:
        raise AssertionError(f"{module} is in no layer of tests/test_layers.py: add it")
    return rank


def _domain(module: str) -> str | None:
    """The clinical domain a module belongs to (its module, or its package under map/domains)."""
    parts = module.split(".")
    return parts[3] if parts[:3] == ["ccda2fhir", "map", "domains"] and len(parts) > 3 else None


class Import:
    def __init__(self, source: str, target: str, names: list[str], node: ast.AST, top: bool) -> None:
        self.source, self.target, self.names, self.line, self.top = source, target, names, node.lineno, top


def _imports(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "ccda2fhir":
                    out.append(Import(module, alias.name, [], node, id(node) in top))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "ccda2fhir":
                continue
            names = [a.name for a in node.names]
            submodules = [n for n in names if f"{target}.{n}" in MODULES or f"{target}.{n}" in GENERATED]
            for n in submodules:       # from . import registry: the module registry
                out.append(Import(module, f"{target}.{n}", [], node, id(node) in top))
            rest = [n for n in names if n not in submodules]
            if rest or not submodules:
                out.append(Import(module, target, rest, node, id(node) in top))
    return out


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports(module, path)]


def test_every_module_imports_only_its_layer_and_those_below():
    wrong = [f"{i.source} (line {i.line}) imports {i.target}" for i in IMPORTS
             if (i.target in MODULES or i.target in GENERATED) and _layer(i.target) > _layer(i.source)]
    assert wrong == []


def test_a_domain_never_imports_another_domain():
    wrong = [f"{i.source} (line {i.line}) imports {i.target}" for i in IMPORTS
             if _domain(i.source) and _domain(i.target) and _domain(i.source) != _domain(i.target)]
    assert wrong == []


def test_no_private_name_is_imported_from_another_module():
    wrong = [f"{i.source} (line {i.line}) imports {n} from {i.target}" for i in IMPORTS for n in i.names
             if n.startswith("_") and not n.startswith("__") and i.target != i.source]
    assert wrong == []


def test_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for i in IMPORTS:
        if i.target in MODULES and i.target != i.source:
            graph.setdefault(i.source, set()).add(i.target)
    # A package's __init__ re-exporting its modules is no cycle with them: the modules' imports
    # of the package are what count, so an edge into a package from its own module is dropped.
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by what its parts do"


def test_no_function_level_imports_in_map_but_documented_lazy_loads():
    wrong = []
    for module, path in MODULES.items():
        if not module.startswith("ccda2fhir.map"):
            continue
        lines = path.read_text().splitlines()
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
                said = " ".join(lines[max(0, node.lineno - 2): node.lineno])
                if "lazy load" not in said:
                    wrong.append(f"{module} line {node.lineno}: {lines[node.lineno - 1].strip()}")
    assert wrong == []


def test_the_layers_know_every_module():
    for module in MODULES:
        _layer(module)
