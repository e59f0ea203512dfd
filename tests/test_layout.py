"""The dependency rule's checks fail when broken: scripts/check_cycles.py and the contracts."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def _check_cycles() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_cycles", REPO / "scripts/check_cycles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root / "pkg"


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg import b\n",
            "b.py": "def later():\n    from pkg.sub import c\n",
            "sub/__init__.py": "",
            "sub/c.py": "from pkg.a import thing\n",
        },
    )
    checker = _check_cycles()
    edges = checker.graph(package)
    assert edges["pkg.b"] == {"pkg.sub.c"}
    assert checker.cycles(edges) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    assert checker.loop(edges, ["pkg.a", "pkg.b", "pkg.sub.c"]) == [
        "pkg.a",
        "pkg.b",
        "pkg.sub.c",
        "pkg.a",
    ]


def test_type_checking_imports_and_one_way_imports_are_no_cycle(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from . import b\n",
            "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
        },
    )
    checker = _check_cycles()
    assert checker.cycles(checker.graph(package)) == []


def test_bot_has_no_import_cycles() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts/check_cycles.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout
    assert run.stdout.startswith("no import cycles among")
