"""Command line: `python -m bot parse|ingest|search|post|serve|worker|subscriptions|follows|…`.

The root Typer app; each command group lives in its own module and imports only
`bot.cli.common`, never another group.
"""

from __future__ import annotations

import typer

from bot.cli import (
    archive,
    companies,
    follows,
    post,
    rollup,
    run,
    saved,
    search,
    subscriptions,
    trends,
    workspaces,
)

# Markdown: help text wraps to the terminal (docstrings' line breaks are not kept) and square
# brackets stay text (rich markup took `[weekdays|daily]` for a style and dropped it).
app = typer.Typer(
    help="Engineering @ Scale digest bot.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
app.command()(archive.parse)
app.command()(archive.ingest)
app.command()(post.post)
app.command()(rollup.rollup)
app.command()(run.serve)
app.command()(run.doctor)
app.command()(run.worker)
app.add_typer(search.search_app, name="search")
app.add_typer(archive.db_app, name="db")
app.add_typer(companies.companies_app, name="companies")
app.add_typer(workspaces.workspaces_app, name="workspaces")
app.add_typer(subscriptions.subs_app, name="subscriptions")
app.add_typer(follows.follows_app, name="follows")
app.add_typer(saved.saved_app, name="saved")
app.add_typer(trends.trend_app, name="trend")


def main() -> None:
    """Entry point for `python -m bot` and the `digest-bot` script."""
    app()
