"""The package is layered: a module imports only its own layer or lower ones, and no import cycle exists.

Every `import` is read from the AST, at module level and inside functions alike, so a function-level import
cannot hide an upward edge or a cycle.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "exposure_lab"
LAYERS = {
    0: ("errors", "config"),
    1: ("checkpoints", "inference", "schedules"),
    2: ("data", "models", "losses", "metrics"),
    3: ("tasks", "callbacks"),
    4: ("evaluation", "prediction", "runs", "sweep"),
    5: ("commands", "cli"),
}
LAYER_OF = {part: layer for layer, parts in LAYERS.items() for part in parts}
MAX_ROOT_MODULES = 9


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """`exposure_lab.metrics.suite` for src/exposure_lab/metrics/suite.py; packages by their `__init__`."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(path, package): path for path in sorted(package.rglob("*.py"))}


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's own modules that `path` imports anywhere in its body."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    own = module_name(path, next(p for p in path.parents if p.name == "exposure_lab"))
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = own.split(".")[: len(own.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
            ]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def layer(module: str) -> int:
    """The layer of `exposure_lab.<part>…`; the package itself (`__version__`) is layer 0."""
    parts = module.split(".")
    return 0 if len(parts) == 1 else LAYER_OF[parts[1]]


def upward_imports(package: Path = PACKAGE) -> list[str]:
    modules = all_modules(package)
    edges = []
    for name, path in modules.items():
        for target in sorted(imported_modules(path, modules)):
            if layer(target) > layer(name):
                edges.append(f"{name} (L{layer(name)}) imports {target} (L{layer(target)})")
    return edges


def import_cycles(package: Path = PACKAGE) -> list[list[str]]:
    """Strongly connected groups (more than one module, or a module importing itself) of the import graph."""
    modules = all_modules(package)
    graph = {name: imported_modules(path, modules) - {name} for name, path in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_top_level_part_has_a_layer():
    parts = {name.split(".")[1] for name in all_modules() if "." in name}
    assert parts <= set(LAYER_OF), f"parts without a layer: {sorted(parts - set(LAYER_OF))}"


def test_no_module_imports_a_higher_layer():
    assert upward_imports() == []


def test_the_import_graph_has_no_cycle():
    assert import_cycles() == []


def test_the_package_root_holds_few_modules():
    root = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "from exposure_lab.tasks.paired import X\n",
            ["exposure_lab.metrics.m (L2) imports exposure_lab.tasks.paired (L3)"],
        ),
        (
            "def f():\n    from exposure_lab.runs import run_dir\n",
            ["exposure_lab.metrics.m (L2) imports exposure_lab.runs (L4)"],
        ),
        ("from exposure_lab.errors import X\nimport exposure_lab.inference\n", []),
    ],
)
def test_the_checker_sees_top_level_and_function_level_upward_imports(tmp_path, source, expected):
    package = tmp_path / "exposure_lab"
    for name in ("tasks/paired", "runs", "errors", "inference", "metrics/m"):
        (package / f"{name}.py").parent.mkdir(parents=True, exist_ok=True)
        (package / f"{name}.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "metrics" / "m.py").write_text(source)
    assert upward_imports(package) == expected


def test_the_checker_finds_a_cycle_hidden_in_a_function(tmp_path):
    package = tmp_path / "exposure_lab"
    (package / "metrics").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "metrics" / "a.py").write_text("from exposure_lab.metrics import b\n")
    (package / "metrics" / "b.py").write_text("def f():\n    from exposure_lab.metrics.a import g\n")
    assert import_cycles(package) == [["exposure_lab.metrics.a", "exposure_lab.metrics.b"]]
