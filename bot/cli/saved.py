"""`python -m bot saved export`: a person's saved articles (what /digest saved lists)."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from bot.cli.common import TeamOption, fail, load_settings, open_db, resolve_workspace

USER_RE = re.compile(r"^[UW][A-Z0-9]{1,30}$")

saved_app = typer.Typer(help="People's saved articles (what /digest saved lists).")


@saved_app.command("export")
def saved_export(
    user: Annotated[
        str, typer.Option("--user", help="The person (Slack user id).", metavar="USER_ID")
    ],
    team: TeamOption = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv (title, company, date, url, summary, saved_at) or md.",
            metavar="csv|md",
        ),
    ] = "csv",
) -> None:
    """Print a person's saved articles in a workspace, latest save first: CSV (formula cells
    start with a quote) or a Markdown reading list; what `/digest saved export` sends by DM."""
    from bot.core import exports

    if fmt.casefold() not in exports.FORMATS:
        fail(f"--format {fmt[:20]!r}: use csv or md", 2)
    if not USER_RE.match(user):
        fail(f"{user[:40]!r} is not a Slack user id (like U0123456789)", 2)
    settings = load_settings()
    database = open_db(settings)
    workspace = resolve_workspace(settings, database, team)
    articles = exports.saved_articles(database, workspace, user)
    if not articles:
        where = f" in workspace {workspace}" if str(workspace) else ""
        fail(f"{user} has no saved articles{where}", 2)
    chosen: exports.Format = "csv" if fmt.casefold() == "csv" else "md"
    typer.echo(exports.render(articles, chosen), nl=False)
