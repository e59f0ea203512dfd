"""Per-workspace settings: the save emoji (NULL in the store: the deployment's default)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.core.grammar import emoji_name
from bot.store import workspaces as store
from bot.store.db import Database
from bot.workspace import Workspace


@dataclass(frozen=True)
class SaveEmoji:
    """A workspace's save emoji and whether it is the deployment default."""

    name: str
    default: bool


def save_emoji(database: Database, workspace: Workspace, default: str) -> str:
    """The reaction that saves an article in the workspace."""
    return save_emoji_setting(database, workspace, default).name


def save_emoji_setting(database: Database, workspace: Workspace, default: str) -> SaveEmoji:
    """The workspace's save emoji, noting whether it is its own or the default."""
    with database.read() as session:
        own = store.save_emoji(session, workspace)
    return SaveEmoji(own, False) if own else SaveEmoji(default, True)


def set_save_emoji(
    database: Database, workspace: Workspace, name: str | None, default: str, now: dt.datetime
) -> SaveEmoji:
    """Set the workspace's save emoji (None: back to the default); ValueError with a usage hint
    for anything that is not an emoji name, nothing stored."""
    wanted = emoji_name(name) if name is not None else None
    database.write_retrying(lambda session: store.set_save_emoji(session, workspace, wanted, now))
    return SaveEmoji(wanted, False) if wanted else SaveEmoji(default, True)
