"""Command line: `python -m bot parse|ingest|search|post|serve|worker|subscriptions|db`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bot.config import Settings
from bot.ingestion import FileOutcome, expand_paths, ingest_files, parse_files
from bot.store.archive import load_knowledge
from bot.store.db import Database, open_database

app = typer.Typer(
    help="Engineering @ Scale digest bot.", no_args_is_help=True, add_completion=False
)
search_app = typer.Typer(help="Look up the archive as /digest does.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(search_app, name="search")
app.add_typer(db_app, name="db")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error and exit (no traceback)."""
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """Settings from the environment; a bad value is a one-line error naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        fail(f"{name}: {first['msg']}", 2)


def open_db(settings: Settings, *, upgrade: bool | None = None) -> Database:
    """Open the configured database (the embedded SQLite file is upgraded automatically)."""
    try:
        return open_database(settings.database_url, upgrade=upgrade)
    except Exception as exc:  # a bad URL or unreachable server: say so in one line
        fail(f"cannot open DATABASE_URL: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def setup_logging(settings: Settings) -> None:
    """Plain logging to stderr at the configured level."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def parse(
    files: Annotated[list[Path], typer.Argument(help="Digest files to read.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Parse digest files and print them (JSON with --json); bad files go to stderr."""
    settings = load_settings()
    from bot.digest.companies import PublisherKnowledge

    knowledge = PublisherKnowledge()
    if _database_exists(settings):
        database = open_db(settings, upgrade=False)
        try:
            with database.read() as session:
                knowledge = load_knowledge(session)
        except Exception:  # noqa: S110  an archive without our tables adds no knowledge
            pass
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


def _database_exists(settings: Settings) -> bool:
    url = settings.database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).exists()
    return True


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of digest issues.")],
) -> None:
    """Store issues in the archive: new, updated in place, or unchanged; bad files skipped."""
    settings = load_settings()
    setup_logging(settings)
    files = expand_paths(paths)
    if not files:
        fail("no digest files found (.txt or .md)")
    database = open_db(settings, upgrade=None)
    failures: list[FileOutcome] = []

    def report(outcome: FileOutcome) -> None:
        if outcome.status is None:
            failures.append(outcome)
            err.print(f"{outcome.path}: {outcome.error}", markup=False)

    progress = Progress(
        TextColumn("ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with progress:
        task = progress.add_task("ingest", total=len(files))

        def on_file(outcome: FileOutcome) -> None:
            report(outcome)
            progress.advance(task)

        result = ingest_files(database, files, on_file)
    database.dispose()
    out.print(result.summary(), markup=False)
    raise typer.Exit(1 if result.failed else 0)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to DATABASE_URL (run on release for server databases)."""
    settings = load_settings()
    setup_logging(settings)
    database = open_db(settings, upgrade=True)
    database.dispose()
    out.print("database is up to date")


def parse_date_arg(value: str, today: dt.date | None = None) -> dt.date | None:
    """'YYYY-MM-DD', 'today', 'yesterday' or 'latest' (None) as a date."""
    today = today or dt.datetime.now(dt.UTC).date()
    word = value.strip().casefold()
    if word == "latest":
        return None
    if word == "today":
        return today
    if word == "yesterday":
        return today - dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not YYYY-MM-DD, today, yesterday or latest"
        ) from None


def main() -> None:
    """Entry point for `python -m bot` and the `digest-bot` script."""
    app()
