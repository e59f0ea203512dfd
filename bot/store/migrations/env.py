"""Alembic environment: runs on the connection the bot hands over (see Database.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from bot.config import normalise_database_url
from bot.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    """Apply the migrations on one connection (SQLite alters tables in batch mode)."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on the given connection, or on DATABASE_URL-style `sqlalchemy.url`."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = normalise_database_url(config.get_main_option("sqlalchemy.url") or "sqlite:///digest.db")
    with create_engine(url).begin() as conn:
        run_migrations(conn)


run_migrations_online()
