"""Saving by reaction, and what a person's Home tab shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.store import saves
from bot.store.db import WRITE_RETRY_SECONDS, Database, Session
from bot.store.follows import Follow, list_follows
from bot.store.queries import IssueView, Page, get_issue
from bot.workspace import Workspace

HOME_SAVED = 10


@dataclass(frozen=True)
class Home:
    """What the Home tab shows: the latest issue, the person's newest saves and follows."""

    latest: IssueView | None
    saved: Page
    follows: tuple[Follow, ...] = ()


def reaction_time(event_ts: object, event_time: object, now: dt.datetime) -> int:
    """When a reaction happened, in microseconds: its event_ts, else the event's time, else now."""
    # Events arrive in any order (and lazily, on a thread pool): the event's own time decides.
    micros = saves.event_micros(event_ts)
    if micros is None:
        micros = saves.event_micros(event_time) or int(now.timestamp() * 1e6)
    return micros


def record_reaction(
    database: Database,
    workspace: Workspace,
    event_id: str,
    reaction: saves.Reaction,
    now: dt.datetime,
    posted_by: Workspace | None = None,
    *,
    within: float | None = None,
) -> bool:
    """Save or unsave the article a bot post stands for (posted by `posted_by`'s installation,
    default the person's workspace's); True when the person's saves changed. `within`: give up
    (raise) after that many seconds of a busy database."""
    return database.write_retrying(
        lambda session: saves.record_reaction(
            session, workspace, event_id, reaction, now, posted_by
        ),
        within=WRITE_RETRY_SECONDS if within is None else within,
    )


def posted_by(database: Database, channel_id: str, ts: str) -> Workspace | None:
    """The workspace whose installation posted a message (in a channel shared between
    workspaces, any of them); None when the bot did not post it as an article."""
    with database.read() as session:
        found = saves.message_anywhere(session, channel_id, ts)
    return found[0] if found else None


def home(database: Database, workspace: Workspace, user_id: str) -> Home:
    """The latest issue, the person's newest saves and their follows (in that workspace)."""
    with database.read() as session:
        return Home(
            get_issue(session, None),
            saves.saved_articles(session, workspace, user_id, HOME_SAVED, 0),
            tuple(list_follows(session, workspace, user_id)),
        )


def save_article(
    database: Database,
    workspace: Workspace,
    user_id: str,
    article_id: int,
    event_us: int,
    now: dt.datetime,
) -> bool:
    """Save an article from a button (a follower's DM), as the reaction does; False when the
    article is gone. The newest action by its time wins, like reactions."""

    def apply(session: Session) -> bool:
        if not saves.article_exists(session, article_id):
            return False
        saves.apply_reaction(
            session, workspace, user_id, article_id, removed=False, event_us=event_us, at=now
        )
        return True

    return database.write_retrying(apply)
