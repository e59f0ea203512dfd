"""Fail if any import cycle exists among bot/'s modules, imports inside functions included.

import-linter's contracts (pyproject.toml) see module-level and function-level imports alike,
but none of them says "no cycles anywhere"; this script does, and prints one loop per cycle.
Imports under `if TYPE_CHECKING:` never run, so they are left out.
Usage: python scripts/check_cycles.py [--graph] [PACKAGE_DIR]
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of a source file under the directory holding its package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The bot modules a module imports anywhere in its body (TYPE_CHECKING blocks excluded)."""
    found: set[str] = set()
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            skip.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(_nearest(alias.name, known))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else _nearest(base, known))
    return {module for module in found if module and module != name}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nearest(dotted: str, known: set[str]) -> str:
    """The longest known module that is dotted or one of its parents ("" outside bot)."""
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return ""


def graph(package: Path) -> dict[str, set[str]]:
    """Every module of a package and the package's modules it imports."""
    files = {module_name(path, package.parent): path for path in package.rglob("*.py")}
    known = set(files)
    return {
        name: imported(ast.parse(path.read_text()), name, path.name == "__init__.py", known)
        for name, path in files.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def loop(edges: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest import loop through the first module of a cycle (breadth first)."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    queue = [start]
    for node in queue:
        for target in sorted(edges[node] & members):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    return component


def main() -> int:
    """Print one loop per cycle and exit 1 if there is one."""
    args = [arg for arg in sys.argv[1:] if arg != "--graph"]
    package = Path(args[0]).resolve() if args else ROOT / "bot"
    edges = graph(package)
    if "--graph" in sys.argv:
        for name in sorted(edges):
            print(name, "->", ", ".join(sorted(edges[name])))
    found = cycles(edges)
    for component in found:
        print(f"import cycle ({len(component)} modules):", " -> ".join(loop(edges, component)))
    if found:
        return 1
    print(f"no import cycles among {len(edges)} modules in {package.name}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
