"""The installation and OAuth-state stores of many-workspace mode: slack_sdk's SQLAlchemy stores
on the bot's database, tokens encrypted at rest, states consumed once."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from cryptography.fernet import InvalidToken, MultiFernet
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Text, and_, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator

from bot.store.db import Database, is_transient
from bot.workspace import Workspace

log = logging.getLogger(__name__)

TOKEN_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
STATE_SECONDS = 600  # an Add to Slack click must come back within ten minutes
SAVE_RETRY_SECONDS = 120.0


class SettingsError(Exception):
    """A setting that makes many-workspace mode impossible (one line, no secret)."""


class _Encrypted(TypeDecorator[str]):
    """A token column: Fernet ciphertext in the database, the token in Python."""

    impl = Text
    cache_ok = True

    def __init__(self, cipher: MultiFernet) -> None:
        super().__init__()
        self.cipher = cipher

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Encrypt on the way in."""
        return None if value is None else self.cipher.encrypt(value.encode()).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Decrypt on the way out; a value no configured key opens is an error, said so."""
        if value is None:
            return None
        try:
            return self.cipher.decrypt(value.encode()).decode()
        except InvalidToken:
            raise SettingsError(
                "a stored token cannot be decrypted with DIGEST_ENCRYPTION_KEY (was the key "
                "changed? list the old key after the new one)"
            ) from None


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy installation store with every token column encrypted.

    Reads (every request's authorization) run in plain transactions: on SQLite they never
    wait for the write lock another process (an ingest) holds. Writes read before they write
    in one transaction, so on SQLite they take the write lock up front (a deferred one fails at
    once when another process writes): they go through a second store on the same tables.
    """

    def __init__(self, client_id: str, database: Database, cipher: MultiFernet) -> None:
        super().__init__(client_id=client_id, engine=database.engine, logger=log)
        self.writer = SQLAlchemyInstallationStore(
            client_id=client_id,
            engine=database.engine.execution_options(sqlite_begin="IMMEDIATE"),
            logger=log,
        )
        for store in (self, self.writer):
            for table in (store.installations, store.bots):
                for name in TOKEN_COLUMNS:
                    if name in table.c:
                        table.c[name].type = _Encrypted(cipher)

    def save(self, installation: Installation) -> None:
        """Store an installation (and its bot), taking the write lock up front."""
        self.writer.save(installation)

    def save_bot(self, bot: Bot) -> None:
        """Store a bot, taking the write lock up front."""
        self.writer.save_bot(bot)

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Delete a workspace's bots."""
        self.writer.delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """Delete a workspace's installations (one person's, with `user_id`)."""
        self.writer.delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
        )

    def create_tables(self) -> None:
        """Never: migration 0009 creates the tables."""
        raise NotImplementedError("the tables come from the migrations (python -m bot db upgrade)")

    def find(self, workspace: Workspace) -> Installation | None:
        """The workspace's latest installation (with its bot token), or None."""
        return self.find_installation(**_store_key(workspace))

    def forget(self, workspace: Workspace) -> None:
        """Delete every installation and bot of the workspace (its tokens are gone)."""
        key = _store_key(workspace)
        key.pop("is_enterprise_install")
        self.delete_installation(**key)
        self.delete_bot(**key)

    def rotating(self) -> list[Workspace]:
        """Workspaces whose latest bot token rotates (has an expiry), oldest expiry first."""
        c = self.bots.c
        query = (
            self.bots.select()
            .with_only_columns(c.enterprise_id, c.team_id, c.is_enterprise_install)
            .where(and_(c.client_id == self.client_id, c.bot_token_expires_at.is_not(None)))
            .distinct()
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return sorted({Workspace("" if row[2] else (row[1] or ""), row[0] or "") for row in rows})


class SingleUseStateStore(SQLAlchemyOAuthStateStore):
    """OAuth states that are consumed atomically: one DELETE, so a replay racing the real
    redirect cannot both succeed."""

    def __init__(self, database: Database, expiration_seconds: int = STATE_SECONDS) -> None:
        engine = database.engine.execution_options(sqlite_begin="IMMEDIATE")
        super().__init__(expiration_seconds=expiration_seconds, engine=engine, logger=log)

    def create_tables(self) -> None:
        """Never: migration 0009 creates the table."""
        raise NotImplementedError("the tables come from the migrations (python -m bot db upgrade)")

    def issue(self, *args: Any, **kwargs: Any) -> str:
        """A new state; expired ones are swept on the way."""
        with self.engine.begin() as conn:
            conn.execute(self.oauth_states.delete().where(self.oauth_states.c.expire_at < _now()))
        return super().issue(*args, **kwargs)

    def consume(self, state: str) -> bool:
        """True once for a state issued here and not expired; False for anything else."""
        if not isinstance(state, str) or not state or len(state) > 200:
            return False
        c = self.oauth_states.c
        with self.engine.begin() as conn:
            deleted = conn.execute(
                self.oauth_states.delete().where(and_(c.state == state, c.expire_at > _now()))
            )
        return deleted.rowcount == 1


def sealed_bot_tokens(database: Database, limit: int = 100) -> list[str]:
    """Stored bot tokens as stored (ciphertext), newest installations first."""
    with database.read() as session:
        rows = session.execute(
            text(
                "SELECT bot_token FROM slack_bots WHERE bot_token IS NOT NULL "
                "ORDER BY installed_at DESC LIMIT :limit"
            ),
            {"limit": limit},
        )
        return [str(row[0]) for row in rows]


def _now() -> dt.datetime:
    # slack_sdk's state and token columns hold naive UTC.
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _store_key(workspace: Workspace) -> dict[str, Any]:
    """The store's (enterprise_id, team_id, is_enterprise_install) for a workspace."""
    return {
        "enterprise_id": workspace.enterprise_id or None,
        "team_id": workspace.team_id or None,
        "is_enterprise_install": bool(workspace.enterprise_id and not workspace.team_id),
    }


def workspace_of(installation: Installation) -> Workspace:
    """The workspace an installation belongs to (an org-wide install: the org, team "")."""
    team = "" if installation.is_enterprise_install else (installation.team_id or "")
    return Workspace(team, installation.enterprise_id or "")


def save_retrying(store: SQLAlchemyInstallationStore, installation: Installation) -> None:
    """Store an installation, retrying for up to SAVE_RETRY_SECONDS while the database is busy."""
    deadline = time.monotonic() + SAVE_RETRY_SECONDS
    pause = 0.01
    while True:
        try:
            store.save(installation)
            return
        except DBAPIError as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                log.error("could not store the refreshed token: %s", type(exc.orig).__name__)
                raise
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
