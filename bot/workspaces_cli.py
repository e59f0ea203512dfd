"""`python -m bot workspaces …` and `--team`: which workspace an operator's command acts on."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.store.db import Database
    from bot.workspace import Workspace

workspaces_app = typer.Typer(
    help="Workspaces the bot serves: list them, remove one and all its data.",
    no_args_is_help=True,
)

TEAM_RE = re.compile(r"^(?:E[A-Z0-9]{2,30}/)?[TE][A-Z0-9]{2,30}$")
TEAM_HELP = "Workspace (team id, e.g. T0123456789); needed when several use the bot."


def find_workspace(known: list[Workspace], team: str) -> Workspace | None:
    """The known workspace a `--team` names: its team id, E…/T…, or an org-wide install's E…."""
    for workspace in known:
        if team in (workspace.team_id, str(workspace)):
            return workspace
        if not workspace.team_id and workspace.enterprise_id == team:
            return workspace
    return None


def resolve_workspace(settings: Settings, database: Database, team: str | None) -> Workspace:
    """The workspace a CLI command acts on (one-line error and exit 1 when it cannot tell).

    Many workspaces: `--team`, or the only one there is. One workspace: the token's (auth.test,
    adopting rows from before workspaces); without a token, the only known one.
    """
    from bot.cli import fail
    from bot.slack.identity import IdentityError, adopt_token_workspace
    from bot.store import workspaces
    from bot.workspace import UNASSIGNED, Workspace

    if team is not None and not TEAM_RE.match(team):
        fail(f"{team[:40]!r} is not a Slack team id (like T0123456789)")
    with database.read() as session:
        known = workspaces.known(session)
    if not settings.multi_workspace and settings.slack_bot_token is not None:
        try:
            mine = adopt_token_workspace(settings, database)
        except IdentityError as exc:
            if len(known) != 1:
                fail(f"cannot tell this token's workspace: {exc}")
            mine = known[0]
        if team is not None and find_workspace([mine], team) is None:
            fail(f"--team {team} is not the workspace of SLACK_BOT_TOKEN ({mine})")
        return mine
    if team is not None:
        found = find_workspace(known, team)
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


@workspaces_app.command("list")
def list_command() -> None:
    """Every workspace: team, name, installed, channels subscribed, last delivery, failing."""
    from rich.table import Table

    from bot.cli import load_settings, open_db, out
    from bot.store import workspaces

    database = open_db(load_settings())
    with database.read() as session:
        rows = workspaces.summaries(session)
    database.dispose()
    if not rows:
        out.print("no workspaces")
        return
    table = Table("team", "name", "installed", "channels", "last delivery", "failing")
    for row in rows:
        last = f"{row.last_delivery:%Y-%m-%d %H:%M} UTC" if row.last_delivery else "—"
        table.add_row(
            str(row.workspace),
            row.name,
            "yes" if row.installed else "no",
            str(row.channels),
            last,
            str(row.failing),
        )
    out.print(table)


@workspaces_app.command("remove")
def remove_command(
    team: Annotated[str, typer.Argument(help="Team id of the workspace, e.g. T0123456789.")],
) -> None:
    """Delete a workspace's installation and all its data (as uninstalling does); the archive
    stays."""
    from bot import bootstrap
    from bot.cli import check_mode, fail, load_settings, open_db, out
    from bot.core import workspaces as use_cases
    from bot.store import workspaces

    settings = load_settings()
    check_mode(settings)  # removing an installation needs the key that opens the store
    database = open_db(settings)
    with database.read() as session:
        found = find_workspace(workspaces.known(session), team)
    if found is None:
        database.dispose()
        fail(f"unknown workspace {team[:40]} (see python -m bot workspaces list)")
    removed = use_cases.uninstall(
        database, found, bootstrap.forget_installation(settings, database)
    )
    database.dispose()
    out.print(f"removed workspace {found}: {removed} rows deleted", markup=False)
