"""Saved articles for export tests: several people in two workspaces, hostile titles among them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from bot.core.ingestion import expand_paths, ingest_files
from bot.store import saves
from bot.store.db import Database
from bot.store.tables import ArticleRow
from bot.workspace import Workspace

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
HOME, OTHER = Workspace("T111"), Workspace("T222")
# Newsletter text a spreadsheet would run, Slack would turn into a ping, or Markdown would read
# as the end of a link text or of a list item.
HOSTILE_TITLES = (
    '=cmd|" /C calc"!A0',
    "<!channel> Ping | everyone ] (http://evil.example) [x](http://evil.example)",
    "+SUM(1,2) and @here\nsecond line - item",
    "-2 ] broke [the](list)\n- injected item",
)
HOSTILE_SUMMARY = "@SUM(A1) <@U999> & <!here> [click](http://evil.example)\n# heading"


@dataclass(frozen=True)
class Saved:
    """One expected row of an export."""

    title: str
    company: str
    date: str
    url: str
    summary: str
    saved_at: dt.datetime


def seed_saves(database: Database, now: dt.datetime) -> list[Saved]:
    """Ingest the seeds and save articles for U1 and U2 of T111 and U1 of T222 (one of U1's
    saves removed again); U1 of T111's saves as an export lists them, latest save first."""
    ingest_files(database, expand_paths([SEEDS]))
    with database.write() as session:
        ids = list(session.scalars(select(ArticleRow.id).order_by(ArticleRow.id).limit(9)))
        for article_id, title in zip(ids, HOSTILE_TITLES, strict=False):
            session.execute(
                update(ArticleRow).where(ArticleRow.id == article_id).values(title=title)
            )
        session.execute(
            update(ArticleRow).where(ArticleRow.id == ids[0]).values(summary=HOSTILE_SUMMARY)
        )
        for n, article_id in enumerate(ids):  # the seeds have no links; one article stays so
            url = None if n == 2 else f"https://eng.example.com/posts/{n}?ref=digest&x=(y)"
            session.execute(update(ArticleRow).where(ArticleRow.id == article_id).values(url=url))

        def save(workspace: Workspace, user: str, article_id: int, minutes_ago: int) -> None:
            at = now - dt.timedelta(minutes=minutes_ago)
            saves.apply_reaction(
                session,
                workspace,
                user,
                article_id,
                removed=False,
                event_us=int(at.timestamp() * 1e6),
                at=at,
            )

        for n, article_id in enumerate(ids[:6]):
            save(HOME, "U1", article_id, 60 - n)  # ids[5] is the latest save
        saves.apply_reaction(
            session, HOME, "U1", ids[5], removed=True, event_us=int(now.timestamp() * 1e6), at=now
        )
        save(HOME, "U2", ids[6], 5)
        save(OTHER, "U1", ids[7], 5)
        save(OTHER, "U1", ids[8], 4)
        rows = {r.id: r for r in session.scalars(select(ArticleRow).where(ArticleRow.id.in_(ids)))}
        expected = [
            Saved(
                rows[i].title,
                rows[i].publisher,
                rows[i].issue_date.isoformat(),
                rows[i].url or "",
                rows[i].summary,
                (now - dt.timedelta(minutes=60 - n)).replace(microsecond=0),
            )
            for n, i in enumerate(ids[:5])
        ]
    return list(reversed(expected))
