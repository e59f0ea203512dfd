"""What every command group shares: consoles, one-line errors, settings, the database, `--team`."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.config import Settings
from bot.logs import LOG_FORMAT, install_secret_filter, quiet_scheduler

if TYPE_CHECKING:
    from bot.dates import DateRange
    from bot.store.db import Database
    from bot.workspace import Workspace

# Commands import what they use when they run: `worker` never loads the web server or the
# parser's word lists, and every command starts faster.

CHANNEL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
TEAM_RE = re.compile(r"^(?:E[A-Z0-9]{2,30}/)?[TE][A-Z0-9]{2,30}$")
TEAM_HELP = "Workspace (team id, e.g. T0123456789); needed when several use the bot."
TeamOption = Annotated[str | None, typer.Option(help=TEAM_HELP, metavar="TEAM_ID")]
SECRET_SETTINGS = frozenset(
    {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_SECRET",
        "DIGEST_ENCRYPTION_KEY",
    }
)
# What Socket Mode needs, said wherever SLACK_APP_TOKEN is refused or malformed.
SOCKET_MODE_SETUP = (
    "make an app-level token (xapp-…) with connections:write under Basic Information → "
    "App-Level Tokens, and Socket Mode on"
)

# Wider than any row a table of ours has: piped output keeps each row on one line (for grep).
PIPED_WIDTH = 1000


def _console(*, stderr: bool = False) -> Console:
    """A console that never wraps plain lines; piped, tables take their natural width."""
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = PIPED_WIDTH
    return console


out = _console()
err = _console(stderr=True)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Collection[str] = ()
) -> Table:
    """The one style of every table the CLI prints: cells are plain text (a name with square
    brackets is not rich markup), `numeric` columns right-aligned."""
    shown = Table(highlight=False)
    for header in headers:
        shown.add_column(Text(header), justify="right" if header in numeric else "left")
    for row in rows:
        shown.add_row(*(Text(cell) for cell in row))
    return shown


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
        return open_database(
            settings.database_url,
            upgrade=upgrade,
            busy_timeout=settings.database_busy_timeout,
            request_path=request_path,
        )
    except Exception as exc:  # a bad URL or unreachable server: say so in one line
        fail(f"cannot open DATABASE_URL: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def database_exists(settings: Settings) -> bool:
    """Whether the configured database is there (a SQLite file not yet created is not)."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).exists()
    return True


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
    quiet_scheduler(settings.log_level)
    install_secret_filter(settings)


def parse_day_option(value: str) -> dt.date | None:
    """A `--date`/day argument (YYYY-MM-DD, today, yesterday, latest); bad: exit 2."""
    from bot.clock import utc_now
    from bot.core.grammar import parse_day

    try:
        return parse_day(value, utc_now().date())
    except ValueError as exc:
        fail(str(exc), 2)


def resolve_workspace(settings: Settings, database: Database, team: str | None) -> Workspace:
    """The workspace a CLI command acts on (one-line error and exit 1 when it cannot tell).

    Many workspaces: `--team`, or the only one there is. One workspace: the token's (auth.test,
    adopting rows from before workspaces); without a token, the only known one.
    """
    from bot.core.workspaces import known as known_workspaces
    from bot.core.workspaces import named
    from bot.slack.identity import IdentityError, adopt_token_workspace
    from bot.workspace import UNASSIGNED, Workspace

    if team is not None and not TEAM_RE.match(team):
        fail(f"{team[:40]!r} is not a Slack team id (like T0123456789)")
    known = known_workspaces(database)
    if not settings.multi_workspace and settings.slack_bot_token is not None:
        try:
            mine = adopt_token_workspace(settings, database)
        except IdentityError as exc:
            if len(known) != 1:
                fail(f"cannot tell this token's workspace: {exc}")
            mine = known[0]
        if team is not None and named([mine], team) is None:
            fail(f"--team {team} is not the workspace of SLACK_BOT_TOKEN ({mine})")
        return mine
    if team is not None:
        found = named(known, team)
        if found is None and settings.multi_workspace:
            fail(f"unknown workspace {team} (see python -m bot workspaces list)")
        return found or Workspace(team)
    if len(known) == 1:
        return known[0]
    if not settings.multi_workspace:
        return UNASSIGNED  # no token: rows wait for the token's workspace
    if not known:
        fail("no workspace has installed the app yet")
    fail(f"--team is required: {len(known)} workspaces use the bot ({_names(known)})")


def _names(known: list[Workspace]) -> str:
    shown = ", ".join(str(w) for w in known[:5])
    return shown + (", …" if len(known) > 5 else "")


def date_range(since: str | None, until: str | None) -> DateRange:
    """--since/--until as a range; a bad or reversed one is a one-line error (exit 2)."""
    from bot.core.grammar import parse_bound
    from bot.dates import DateRange, RangeError

    try:
        return DateRange(
            parse_bound(since, end=False) if since else None,
            parse_bound(until, end=True) if until else None,
        )
    except RangeError as exc:
        fail(f"{exc} Use YYYY-MM-DD (or YYYY-MM, YYYY), --since not after --until.", 2)
