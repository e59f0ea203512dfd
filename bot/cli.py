"""Command line: `python -m bot parse|ingest|search|post|serve|worker|subscriptions|follows|…`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from bot.companies_cli import companies_app
from bot.config import Settings
from bot.logs import LOG_FORMAT, install_secret_filter
from bot.search_cli import search_app
from bot.workspaces_cli import TEAM_HELP, workspaces_app

if TYPE_CHECKING:
    from bot.delivery import Deliverer, DeliveryResult
    from bot.ingestion import FileOutcome
    from bot.store.db import Database
    from bot.workspace import Workspace

# Commands import what they use when they run: `worker` never loads the web server or the
# parser's word lists, and every command starts faster.

CHANNEL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
SECRET_SETTINGS = frozenset(
    {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_SECRET",
        "DIGEST_ENCRYPTION_KEY",
    }
)

app = typer.Typer(
    help="Engineering @ Scale digest bot.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(search_app, name="search")
app.add_typer(db_app, name="db")
app.add_typer(companies_app, name="companies")
app.add_typer(workspaces_app, name="workspaces")

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
        for line in settings_errors(exc):
            err.print(f"error: {line}", markup=False)
        raise typer.Exit(2) from None


def settings_errors(exc: ValidationError) -> list[str]:
    """One line per invalid variable: its name, what is wrong, and the value unless secret."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        shown = "" if name in SECRET_SETTINGS else f" (got {str(error.get('input'))[:60]!r})"
        lines.append(f"{name}: {message[:1].lower()}{message[1:]}{shown}")
    return lines


def open_db(
    settings: Settings, *, upgrade: bool | None = None, request_path: bool = False
) -> Database:
    """Open the configured database (the embedded SQLite file is upgraded automatically)."""
    from bot.store.db import open_database

    try:
        return open_database(settings.database_url, upgrade=upgrade, request_path=request_path)
    except Exception as exc:  # a bad URL or unreachable server: say so in one line
        fail(f"cannot open DATABASE_URL: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def check_mode(settings: Settings, *, socket_mode: bool = False) -> None:
    """Many workspaces need a client secret and an encryption key: one line if not."""
    from bot.slack.installations import SettingsError
    from bot.slack.installations import check_mode as check

    try:
        check(settings, socket_mode=socket_mode)
    except SettingsError as exc:
        fail(str(exc), 2)


def check_startup(settings: Settings, database: Database, *, writes: bool) -> None:
    """Before `serve`, `worker` or `doctor` start: the database answers, takes writes (when the
    command writes) and the stored tokens open with DIGEST_ENCRYPTION_KEY; one line if not."""
    from bot.slack.installations import SettingsError, check_stored_tokens

    try:
        database.ping()
        read_only = writes and database.read_only()
        if not read_only:
            check_stored_tokens(settings, database)
    except SettingsError as exc:
        fail(str(exc), 2)
    except Exception as exc:  # unreachable server, locked or damaged file: one line
        reason = str(exc).splitlines()[0][:200] if str(exc) else ""
        fail(f"cannot use DATABASE_URL: {type(exc).__name__}: {reason}")
    if read_only:
        fail("DATABASE_URL is read-only: the bot stores saves, follows and subscriptions")


def setup_logging(settings: Settings) -> None:
    """Plain logging to stderr at the configured level."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=LOG_FORMAT,
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    install_secret_filter(settings)


@app.command()
def parse(
    files: Annotated[list[Path], typer.Argument(help="Digest files to read.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """Parse digest files and print them (JSON with --json); bad files go to stderr."""
    from bot.digest.companies import PublisherKnowledge
    from bot.ingestion import parse_files
    from bot.store.archive import load_knowledge

    settings = load_settings()
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
    from bot.ingestion import expand_paths, ingest_files

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
    database = open_db(settings, upgrade=True)
    database.dispose()
    out.print("database is up to date")


def _parse_day_option(value: str) -> dt.date | None:
    from bot.clock import utc_now
    from bot.core.grammar import parse_day

    try:
        return parse_day(value, utc_now().date())
    except ValueError as exc:
        fail(str(exc), 2)


@app.command()
def post(
    channel: Annotated[str, typer.Option(help="Slack channel id, e.g. C0123456789.")],
    date: Annotated[str, typer.Option(help="YYYY-MM-DD, today, yesterday or latest.")] = "latest",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print instead of posting.")] = False,
    team: Annotated[str | None, typer.Option(help=TEAM_HELP)] = None,
) -> None:
    """Post an issue to a channel as a thread (once: the delivery ledger remembers)."""
    from bot import bootstrap
    from bot.core import lookups
    from bot.slack.rendering import issue_messages
    from bot.terminal import print_thread
    from bot.workspaces_cli import preview_emoji, resolve_workspace

    settings = load_settings()
    setup_logging(settings)
    day = _parse_day_option(date)
    if not CHANNEL_RE.match(channel):
        fail(f"{channel!r} is not a Slack channel id (like C0123456789; not a #name)", 2)
    database = open_db(settings)
    found = lookups.issue(database, day)
    issue = found.issue
    if issue is None:
        fail(found.missing_text())
    if dry_run:
        thread = issue_messages(issue, preview_emoji(settings, database, team))
        print_thread(out, channel, thread)
        out.print(f"(dry run: {len(thread)} messages, nothing sent)")
        return
    check_mode(settings)
    if settings.slack_bot_token is None and not settings.multi_workspace:
        fail("SLACK_BOT_TOKEN is not set (use --dry-run to preview without Slack)", 2)
    workspace = resolve_workspace(settings, database, team)
    deliverer = bootstrap.deliverer(settings, database)
    result = _deliver_waiting(deliverer, workspace, channel, issue.date)
    database.dispose()
    text = _outcome_text(result, issue.date, channel)
    if result.outcome in ("failed", "retry_later", "no_issue"):
        fail(text)
    out.print(text, markup=False)


def _outcome_text(result: DeliveryResult, day: dt.date, channel: str) -> str:
    """What `post` says about a delivery's outcome."""
    if result.forgotten:
        return f"could not reach Slack ({result.error}); nothing was sent. Run again to retry"
    if result.outcome == "posted" and result.edited:
        return (
            f"brought issue {day} in {channel} up to date: {result.edited} messages edited, "
            f"{result.posted} added"
        )
    messages = {
        "posted": f"posted issue {day} to {channel}: {result.posted} messages",
        "already": f"issue {day} was already posted to {channel} and is up to date; nothing sent",
        "skipped": f"nothing posted to {channel}: {result.error}",
        "failed": f"Slack refused: {result.error}{_refusal_hint(result.error, channel)}",
        "retry_later": f"Slack did not answer reliably ({result.error}); run again to resume",
        "no_issue": f"no issue {day}",
    }
    return messages[result.outcome]


def _refusal_hint(error: str | None, channel: str) -> str:
    from bot.core.status import INVITE_HINT

    if error in ("not_in_channel", "channel_not_found"):
        return f" (the bot is not in {channel}: {INVITE_HINT} there, then run this again)"
    return ""


def _deliver_waiting(
    deliverer: Deliverer, workspace: Workspace, channel: str, day: dt.date
) -> DeliveryResult:
    """Deliver; while another live process holds the delivery, wait for it (saying so)."""
    import time

    from bot.lease import describe

    said = ""
    while True:
        result = deliverer.deliver_issue(workspace, channel, day, retry_failed=True, update=True)
        if result.outcome != "busy":
            return result
        holder = describe(result.holder) if result.holder else "another process"
        if holder != said:
            err.print(
                f"waiting: {holder} is posting issue {day} to {channel} right now", markup=False
            )
            said = holder
        time.sleep(1.0)


@app.command()
def serve(
    port: Annotated[
        int | None, typer.Option(help="HTTP port (default $PORT, else 3000).", min=1, max=65535)
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "0.0.0.0",  # noqa: S104
    socket: Annotated[bool, typer.Option("--socket", help="Use Socket Mode.")] = False,
) -> None:
    """Serve slash commands, events and interactivity (HTTP at /slack/events, or Socket Mode)."""
    from bot import bootstrap
    from bot.slack.server import WSGIApp, serve_http, serve_socket_mode

    settings = load_settings()
    setup_logging(settings)
    socket_mode = socket or settings.slack_app_token is not None
    check_mode(settings, socket_mode=socket_mode)
    if settings.slack_bot_token is None and not settings.multi_workspace:
        fail("SLACK_BOT_TOKEN is not set (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)", 2)
    if socket_mode and settings.slack_app_token is None:
        fail("SLACK_APP_TOKEN is not set (Socket Mode needs an xapp- token)", 2)
    signing = settings.slack_signing_secret
    if not socket_mode and signing is None:
        fail("SLACK_SIGNING_SECRET is not set", 2)
    if not socket_mode and signing is not None and not signing.get_secret_value().strip():
        fail("SLACK_SIGNING_SECRET is empty (copy the app's Signing Secret)", 2)
    database = open_db(settings)  # fails fast on a bad URL; upgrades the embedded SQLite
    check_startup(settings, database, writes=True)
    from bot.slack.identity import adopt_at_start

    adopt_at_start(settings, database)  # once, before the web processes fork
    if socket_mode:
        assert settings.slack_app_token is not None  # noqa: S101
        bolt = bootstrap.bolt_app(settings, database, socket_mode=True)
        serve_socket_mode(bolt, settings.slack_app_token.get_secret_value())
        return
    database.dispose()
    assert settings.slack_signing_secret is not None  # noqa: S101  checked above
    secret = settings.slack_signing_secret.get_secret_value()

    def make_app() -> WSGIApp:
        """One Bolt app per web worker process, with its own connection pool."""
        database = open_db(settings, upgrade=False, request_path=True)
        return bootstrap.wsgi_app(settings, database, secret)

    serve_http(make_app, host, port or settings.port, workers=settings.web_concurrency, threads=16)


@app.command()
def doctor() -> None:
    """Check this deployment: settings, database, archive, Slack token and scopes, sources,
    subscriptions. One line per check with what to do; exit status 1 if any check failed."""
    from bot.clock import utc_now
    from bot.doctor import run_checks, web_client

    settings = load_settings()
    if settings.multi_workspace and _database_exists(settings):
        database = open_db(settings, upgrade=False)
        check_startup(settings, database, writes=False)
        database.dispose()
    failed = 0
    for finding in run_checks(settings, utc_now(), web_client(settings)):
        out.print(finding.line(), markup=False)
        failed += finding.status == "FAIL"
    out.print(f"{failed} check(s) failed" if failed else "all checks passed", markup=False)
    raise typer.Exit(1 if failed else 0)


def main() -> None:
    """Entry point for `python -m bot` and the `digest-bot` script."""
    app()


subs_app = typer.Typer(help="Channel subscriptions (what /digest subscribe manages).")
app.add_typer(subs_app, name="subscriptions")


TeamOption = Annotated[str | None, typer.Option(help=TEAM_HELP)]


@subs_app.command("list")
def subscriptions_list(team: TeamOption = None) -> None:
    """Every subscribed channel with its schedule, next post and last delivery (and channels
    with a half-sent `post` thread)."""
    from bot.clock import utc_now
    from bot.core.status import all_statuses
    from bot.workspaces_cli import resolve_workspace

    settings = load_settings()
    database = open_db(settings)
    workspace = resolve_workspace(settings, database, team)
    max_age = dt.timedelta(days=settings.max_issue_age_days)
    statuses = all_statuses(database, workspace, utc_now(), max_age)
    if not statuses:
        out.print("no subscriptions")
        return
    for status in statuses:
        suffix = "" if status.subscribed else " (not subscribed)"
        out.print(status.channel_id + suffix, style="bold", markup=False)
        for line in status.text.splitlines():
            out.print(f"  {line}", markup=False)


@subs_app.command("add")
def subscriptions_add(
    channel: Annotated[str, typer.Argument(help="Slack channel id.")],
    schedule: Annotated[
        list[str] | None, typer.Argument(help="[HH:MM] [TIMEZONE] [weekdays|daily]")
    ] = None,
    team: TeamOption = None,
) -> None:
    """Subscribe a channel (default 09:00 UTC on weekdays)."""
    from bot.clock import utc_now
    from bot.core import subscriptions
    from bot.core.grammar import parse_schedule
    from bot.workspaces_cli import resolve_workspace

    settings = load_settings()
    if not CHANNEL_RE.match(channel):
        fail(f"{channel!r} is not a Slack channel id (like C0123456789; not a #name)", 2)
    try:
        wanted = parse_schedule(" ".join(schedule or []))
    except ValueError as exc:
        fail(str(exc), 2)
    database = open_db(settings)
    workspace = resolve_workspace(settings, database, team)
    sub = subscriptions.subscribe(
        database, workspace, channel, wanted, timezone="UTC", user_id=None, now=utc_now()
    )
    out.print(f"{channel}: {sub.time_text} {sub.timezone}, {sub.days}", markup=False)


@subs_app.command("remove")
def subscriptions_remove(
    channel: Annotated[str, typer.Argument(help="Slack channel id.")], team: TeamOption = None
) -> None:
    """Stop posting to a channel."""
    from bot.core import subscriptions
    from bot.workspaces_cli import resolve_workspace

    settings = load_settings()
    database = open_db(settings)
    workspace = resolve_workspace(settings, database, team)
    if not subscriptions.unsubscribe(database, workspace, channel):
        fail(f"{channel} was not subscribed")
    out.print(f"{channel} unsubscribed")


follows_app = typer.Typer(
    help="People following companies and topics (what /digest follow manages)."
)
app.add_typer(follows_app, name="follows")


@follows_app.command("list")
def follows_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per follower.")] = False,
) -> None:
    """Every follower: workspace, user, follows, DMs sent and waiting, and whether DMs to them
    stopped for good (with Slack's reason, e.g. account_inactive)."""
    from bot.core.follows import followers

    database = open_db(load_settings())
    people = followers(database)
    if as_json:
        out.print(
            json.dumps(
                [
                    {
                        "workspace": str(p.workspace),
                        "user": p.user_id,
                        "follows": p.follows,
                        "dms_sent": p.sent,
                        "dms_waiting": p.pending,
                        "stopped": p.stop_reason,
                    }
                    for p in people
                ]
            ),
            markup=False,
        )
        return
    if not people:
        out.print("no followers")
        return
    for p in people:
        state = f"STOPPED ({p.stop_reason})" if p.stopped_at else "active"
        out.print(
            f"{p.workspace or '-'}  {p.user_id}  {p.follows} follows  {p.sent} DMs sent  "
            f"{p.pending} waiting  {state}",
            markup=False,
        )


@app.command()
def worker() -> None:
    """Run scheduled posting and source polling (one process; see Procfile `worker:`)."""
    from bot import bootstrap
    from bot.heap import calm_collector, cap_arenas

    settings = load_settings()
    setup_logging(settings)
    check_mode(settings)
    if settings.slack_bot_token is None and not settings.multi_workspace:
        fail("SLACK_BOT_TOKEN is not set (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)", 2)
    cap_arenas()
    database = open_db(settings)
    check_startup(settings, database, writes=True)
    runner = bootstrap.worker(settings, database)
    calm_collector()
    runner.start()
