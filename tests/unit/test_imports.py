"""How the package imports: no cycle among its modules, and the tools that need no torch load none.

The import graph is read from the source with ``ast``: module-level imports and those inside functions
(both run, sooner or later); imports under ``if TYPE_CHECKING:`` never run and do not count.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "explorer"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str) -> set[str]:
    """The modules of ``explorer`` that module ``name`` imports, at module level or in a function."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imports_in(path.read_text(), package) - {name}


def imports_in(source: str, package: str) -> set[str]:
    """The modules of ``explorer`` that ``source`` (a module of ``package``) imports, TYPE_CHECKING aside."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:   # `from explorer import graph` imports the module explorer.graph
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return {m for m in found if m in MODULES}


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_counts_function_level_imports_and_not_type_checking_ones():
    source = ("from typing import TYPE_CHECKING\nfrom explorer import graph\nfrom . import format\n"
              "if TYPE_CHECKING:\n    from explorer.notebook import Drawing\n"
              "def f():\n    import explorer.views\n    from .demos.regression import fit\n")
    assert imports_in(source, "explorer") == {"explorer.graph", "explorer.format", "explorer.views",
                                              "explorer.demos.regression"}
    assert "explorer.notebook" in GRAPH["explorer"]           # inside the package's display function


def test_the_package_has_no_import_cycle():
    assert cycles(GRAPH) == []


def test_the_exploration_does_not_import_its_notebook_display():
    assert "explorer.notebook" not in GRAPH["explorer.exploration"]


def test_the_capture_is_a_data_layer_that_imports_no_drawing():
    drawings = {"explorer.dot", "explorer.module_view", "explorer.table", "explorer.export", "explorer.notebook"}
    for capture in ("explorer.graph", "explorer.live", "explorer.modules"):
        assert not GRAPH[capture] & drawings, capture


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


@pytest.mark.parametrize("code", [
    "import explorer.local_app, explorer.shots",
    "import explorer",
    "import explorer.cli, explorer.commands.shot",
])
def test_the_tools_without_torch_load_no_torch(code):
    loaded = loaded_after(code)
    assert "torch" not in loaded and "streamlit" not in loaded


def command_line(*argv: str) -> str:
    return (f"import runpy, sys\nsys.argv = ['explorer', *{list(argv)!r}]\n"
            "try:\n    runpy.run_module('explorer', run_name='__main__')\nexcept SystemExit:\n    pass")


def test_the_command_lines_help_loads_no_torch():
    loaded = loaded_after(command_line("--help"))
    assert "torch" not in loaded and "explorer.shots" not in loaded


def test_a_subcommand_loads_its_own_modules_only():
    assert "explorer.shots" not in loaded_after(command_line("explore", "--help"))
    assert "explorer.shots" in loaded_after(command_line("shot", "--help"))


def test_the_package_names_its_exports_and_loads_each_when_first_used():
    code = "import explorer, sys\nassert 'explorer.exploration' not in sys.modules\nexplorer.explore"
    assert "explorer.exploration" in loaded_after(code)


def test_the_package_exports_its_names_lazily_and_refuses_others():
    import explorer

    assert set(explorer.__all__) <= set(dir(explorer))
    assert explorer.ExpressionError.__module__ == "explorer.expression"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        explorer.nothing  # noqa: B018
