"""`python -m bot workspaces list|remove`: the workspaces the bot serves."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import check_mode, fail, load_settings, open_db, out, table

workspaces_app = typer.Typer(
    help="Workspaces the bot serves: list them, remove one and all its data.",
    no_args_is_help=True,
)


@workspaces_app.command("list")
def list_command() -> None:
    """Every workspace: team, name, installed, channels subscribed, last delivery, failing."""
    from bot.core.workspaces import summaries

    database = open_db(load_settings())
    rows = summaries(database)
    database.dispose()
    if not rows:
        out.print("no workspaces")
        return
    headers = ("team", "name", "installed", "channels", "last delivery", "failing")
    shown = table(
        headers,
        (
            (
                str(row.workspace),
                row.name,
                "yes" if row.installed else "no",
                str(row.channels),
                f"{row.last_delivery:%Y-%m-%d %H:%M} UTC" if row.last_delivery else "—",
                str(row.failing),
            )
            for row in rows
        ),
        numeric=("channels", "failing"),
    )
    out.print(shown)


@workspaces_app.command("remove")
def remove_command(
    team: Annotated[
        str, typer.Argument(help="Team id of the workspace, e.g. T0123456789.", metavar="TEAM_ID")
    ],
) -> None:
    """Delete a workspace's installation and all its data (as uninstalling does); the archive
    stays."""
    from bot import bootstrap
    from bot.core.workspaces import known, named, uninstall

    settings = load_settings()
    check_mode(settings)  # removing an installation needs the key that opens the store
    database = open_db(settings)
    found = named(known(database), team)
    if found is None:
        database.dispose()
        fail(f"unknown workspace {team[:40]} (see python -m bot workspaces list)")
    removed = uninstall(database, found, bootstrap.forget_installation(settings, database))
    database.dispose()
    out.print(f"removed workspace {found}: {removed} rows deleted", markup=False)
