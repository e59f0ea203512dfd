"""`python -m bot parse|ingest|db …`: reading digest files into the archive, and its schema."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import database_exists, err, fail, load_settings, open_db, out, setup_logging

if TYPE_CHECKING:
    from bot.core.ingestion import FileOutcome
    from bot.store.db import Upgrade

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


def parse(
    files: Annotated[list[Path], typer.Argument(help="Digest files to read.", metavar="FILE")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Parse digest files and print them (JSON with --json); bad files go to stderr."""
    from bot.core.ingestion import parse_files, stored_knowledge
    from bot.digest.companies import PublisherKnowledge

    settings = load_settings()
    knowledge = PublisherKnowledge()
    if database_exists(settings):
        database = open_db(settings, upgrade=False)
        try:
            knowledge = stored_knowledge(database)
        finally:
            database.dispose()
    issues: list[dict[str, object]] = []
    failed = False
    for path, issue, error in parse_files(list(files), knowledge):
        if issue is None:
            failed = True
            err.print(f"{path}: {error}", markup=False)
            continue
        if as_json:
            issues.append(issue.to_json())
        else:
            out.print(f"{issue.date}  {len(issue.articles)} deep dives  ({path})", markup=False)
            for article in issue.articles:
                out.print(f"  - {article.title} · {article.publisher}", markup=False)
    if as_json:
        sys.stdout.write(json.dumps(issues, ensure_ascii=False, indent=2) + "\n")
    raise typer.Exit(1 if failed else 0)


def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders of digest issues.", metavar="PATH")
    ],
) -> None:
    """Store issues in the archive: new, updated in place, or unchanged; bad files skipped."""
    from bot.core.ingestion import expand_paths, ingest_files

    settings = load_settings()
    setup_logging(settings)
    files = expand_paths(paths)
    if not files:
        fail("no digest files found (.txt or .md)")
    database = open_db(settings, upgrade=None)
    with _ingest_progress(len(files)) as on_file:
        result = ingest_files(database, files, on_file)
    database.dispose()
    out.print(result.summary(), markup=False)
    raise typer.Exit(1 if result.failed else 0)


@contextmanager
def _ingest_progress(total: int) -> Iterator[Callable[[FileOutcome], None]]:
    """A progress bar on a terminal's stderr; yields what to call per file (failures printed)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with progress:
        task = progress.add_task("ingest", total=total)

        def on_file(outcome: FileOutcome) -> None:
            if outcome.status is None:
                err.print(f"{outcome.path}: {outcome.error}", markup=False)
            progress.advance(task)

        yield on_file


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to DATABASE_URL (run on release for server databases)."""
    settings = load_settings()
    setup_logging(settings)
    database = open_db(settings, upgrade=False)
    try:
        done = database.upgrade()
    except Exception as exc:  # unreachable, or a migration failed: one line (nothing half-done)
        fail(f"cannot open DATABASE_URL: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        database.dispose()
    out.print(upgrade_text(done), markup=False)


def upgrade_text(done: Upgrade) -> str:
    """What `db upgrade` says it did."""
    if done.applied == 0:
        return f"database already up to date at revision {done.after}"
    migrations = f"{done.applied} migration{'s' if done.applied != 1 else ''}"
    if done.before is None:
        return f"created the database at revision {done.after} ({migrations}, {done.tables} tables)"
    return f"upgraded the database from revision {done.before} to {done.after} ({migrations})"
