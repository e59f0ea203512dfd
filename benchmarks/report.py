"""What the fan-out, follows and DM benchmarks share: a wiped PostgreSQL schema, the commit,
the side-by-side table and the results JSON."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from bot.config import normalise_database_url

RESULTS = Path(__file__).resolve().parent / "results"


def fresh_postgres(url: str) -> str:
    """The URL, its public schema wiped (the benchmark migrates it afresh)."""
    engine = create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def commit() -> str:
    """The short hash of the checked-out commit (the code measured)."""
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=RESULTS.parent.parent,
    ).stdout.strip()


def print_table(
    title: str,
    results: list[dict[str, Any]],
    column: Callable[[dict[str, Any]], str],
    targets: dict[str, str] | None = None,
    hidden: tuple[str, ...] = ("backend",),
) -> None:
    """Every metric side by side, one column per result, and the target where there is one."""
    table = Table(title=title)
    table.add_column("metric")
    for result in results:
        table.add_column(column(result), justify="right")
    if targets:
        table.add_column("target", justify="right")
    for key in results[0]:
        if key not in hidden:
            row = [str(r.get(key, "")) for r in results]
            table.add_row(key, *row, *([targets.get(key, "")] if targets else []))
    Console().print(table)


def save(results: list[dict[str, Any]], name: Callable[[dict[str, Any]], str], at: str) -> None:
    """Each result as benchmarks/results/<name>.json, with the commit and the machine."""
    RESULTS.mkdir(exist_ok=True)
    for result in results:
        result["commit"] = at
        result["machine"] = f"{os.cpu_count()} cores, shared"
        (RESULTS / f"{name(result)}.json").write_text(json.dumps(result, indent=2) + "\n")
