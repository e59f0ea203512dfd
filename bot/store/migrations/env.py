"""Alembic environment: runs on the connection the bot hands over (see Database.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bot.config import normalise_database_url
from bot.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations on the given connection, or on DATABASE_URL-style `sqlalchemy.url`."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = normalise_database_url(config.get_main_option("sqlalchemy.url") or "sqlite:///digest.db")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=conn.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
