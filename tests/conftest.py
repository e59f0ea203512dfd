"""Shared fixtures: a fresh migrated database per test, on SQLite and (when configured) PostgreSQL.

Set DIGEST_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres) to also run
every database test against a real PostgreSQL server; `.ci/run` does.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.config import normalise_database_url
from bot.store.db import Database, open_database

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
POSTGRES_URL = os.environ.get("DIGEST_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]

_template_ready = False
# One template per xdist worker: each drops and re-creates its own.
TEMPLATE_DB = f"digest_test_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def _admin_engine():  # type: ignore[no-untyped-def]
    return create_engine(normalise_database_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")


def _postgres_url(name: str) -> str:
    url = make_url(normalise_database_url(POSTGRES_URL)).set(database=name)
    return url.render_as_string(hide_password=False)


def _ensure_template() -> None:
    """Migrate one template database per run; each test then copies it (fast)."""
    global _template_ready
    if _template_ready:
        return
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{TEMPLATE_DB}"'))
    admin.dispose()
    database = open_database(_postgres_url(TEMPLATE_DB), upgrade=True)
    database.dispose()
    _template_ready = True


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, migrated database (parametrised over the configured backends)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'digest.db'}"
        open_database(url, upgrade=True).dispose()
        yield url
        return
    _ensure_template()
    name = f"digest_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"'))
    try:
        yield _postgres_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """An open Database on a fresh schema."""
    db = Database(database_url)
    yield db
    db.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses a database once per configured backend."""
    if "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", BACKENDS, indirect=True)
