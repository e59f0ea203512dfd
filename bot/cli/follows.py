"""`python -m bot follows list`: people following companies and topics."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.cli.common import load_settings, open_db, out, table

follows_app = typer.Typer(
    help="People following companies and topics (what /digest follow manages)."
)


@follows_app.command("list")
def follows_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per follower.")] = False,
) -> None:
    """Every follower: workspace, user, follows (and how many of them are companies waiting for
    a first article), DMs sent and waiting, and whether DMs to them stopped for good (with
    Slack's reason, e.g. account_inactive)."""
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
                        "follows_waiting": p.waiting,
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
    counts = ("follows", "waiting for a first article", "DMs sent", "DMs waiting")
    rows = (
        (
            str(p.workspace or "-"),
            p.user_id,
            str(p.follows),
            str(p.waiting),
            str(p.sent),
            str(p.pending),
            f"STOPPED ({p.stop_reason})" if p.stopped_at else "active",
        )
        for p in people
    )
    out.print(table(("workspace", "user", *counts, "state"), rows, numeric=counts))
