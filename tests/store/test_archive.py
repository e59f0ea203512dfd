"""Ingest and lookups against a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.core.ingestion import expand_paths, ingest_files
from bot.store.db import Database
from bot.store.fulltext import search_terms
from bot.store.queries import find_by_company, get_issue, nearby_dates, search_topic
from bot.store.tables import ArticleCompanyRow, ArticleRow, IssueRow

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"


def ingest(database: Database, *paths: Path) -> tuple[int, int, int, int]:
    report = ingest_files(database, expand_paths(list(paths)))
    return report.new, report.updated, report.unchanged, len(report.failed)


def counts(database: Database) -> tuple[int, int, int]:
    with database.read() as session:
        return (
            session.scalar(select(func.count()).select_from(IssueRow)) or 0,
            session.scalar(select(func.count()).select_from(ArticleRow)) or 0,
            session.scalar(select(func.count()).select_from(ArticleCompanyRow)) or 0,
        )


def test_ingest_is_idempotent(database: Database) -> None:
    assert ingest(database, SEEDS) == (5, 0, 0, 0)
    before = counts(database)
    assert before[:2] == (5, 102)
    assert ingest(database, SEEDS) == (0, 0, 5, 0)
    assert counts(database) == before


def test_edited_issue_updates_in_place_and_keeps_ids(database: Database, tmp_path: Path) -> None:
    original = (SEEDS / "2026-05-13.txt").read_text()
    path = tmp_path / "2026-05-13.txt"
    path.write_text(original)
    ingest(database, path)
    with database.read() as session:
        ids = dict(session.execute(select(ArticleRow.title, ArticleRow.id)).tuples().all())
    edited = original.replace("Airbnb faced the challenge", "Airbnb met the challenge")
    edited = edited.replace(
        "A Bartender Pro Review · Bartender Managing user interface real estate",
        "A Bartender Pro Review · Bartender Managing UI real estate",
    )
    lines = edited.splitlines()
    drop = next(
        i for i, line in enumerate(lines) if line.startswith("Trusted Sources for Deployment")
    )
    del lines[drop : drop + 2]
    lines.insert(drop, "Brand New Article · Initech Teams shipped it.\n")
    path.write_text("\n".join(lines))
    assert ingest(database, path) == (0, 1, 0, 0)
    with database.read() as session:
        rows = session.scalars(select(ArticleRow).order_by(ArticleRow.position)).all()
    by_title = {r.title: r for r in rows}
    assert (
        by_title["Viaduct 1.0 and the future of Airbnb’s data mesh"].id
        == ids["Viaduct 1.0 and the future of Airbnb’s data mesh"]
    )
    assert (
        "met the challenge" in by_title["Viaduct 1.0 and the future of Airbnb’s data mesh"].summary
    )
    assert by_title["A Bartender Pro Review"].id == ids["A Bartender Pro Review"]
    assert "Trusted Sources for Deployment Protection" not in by_title
    assert by_title["Brand New Article"].id not in ids.values()
    unchanged = [t for t in ids if t in by_title]
    assert all(by_title[t].id == ids[t] for t in unchanged)
    assert [r.position for r in rows] == list(range(len(rows)))
    with database.read() as session:
        found = search_topic(session, "met the challenge decentralizing").page.items
    assert [a.title for a in found][:1] == ["Viaduct 1.0 and the future of Airbnb’s data mesh"]


def test_bad_file_is_skipped_whole_and_the_rest_go_in(database: Database, tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text((SEEDS / "2026-04-08.txt").read_text())
    bad = tmp_path / "bad.txt"
    bad.write_text("Engineering @ Scale — 2026-07-01#\nSignal of the Day#\nonly a signal\n")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02")
    report = ingest_files(database, expand_paths([tmp_path]))
    assert (report.new, len(report.failed)) == (1, 2)
    assert {f.path.name for f in report.failed} == {"bad.txt", "binary.txt"}
    with database.read() as session:
        assert get_issue(session, dt.date(2026, 7, 1)) is None
        assert get_issue(session, dt.date(2026, 4, 8)) is not None


@pytest.fixture
def archive(database: Database) -> Database:
    ingest(database, SEEDS)
    return database


def test_company_lookup_newest_first_aliases_and_joint(archive: Database) -> None:
    with archive.read() as session:
        result = find_by_company(session, "CLOUDFLARE", limit=50)
        dates = [a.issue_date for a in result.page.items]
        assert result.company == "Cloudflare" and dates == sorted(dates, reverse=True)
        expected = json.loads(
            (Path(__file__).parents[1] / "fixtures" / "seed_articles.json").read_text()
        )
        cloudflare = [t for arts in expected.values() for t, cs in arts if "Cloudflare" in cs]
        assert sorted(a.title for a in result.page.items) == sorted(cloudflare)
        assert find_by_company(session, "Facebook").company == "Meta"
        assert find_by_company(session, "Amazon AWS AI Blog").company == "AWS"
        assert find_by_company(session, "The Netflix Tech Blog").company == "Netflix"
        assert (
            find_by_company(session, "o'reilly").company == "O’Reilly"
            or find_by_company(session, "o'reilly").company == "O'Reilly"
        )
        databricks = [a.title for a in find_by_company(session, "databricks").page.items]
        assert "Fine-tune LLM with Databricks Unity Catalog and Amazon SageMaker AI" in databricks
        aws = [a.title for a in find_by_company(session, "aws", limit=50).page.items]
        assert "Build financial document processing with Pulse AI and Amazon Bedrock" in aws
        assert find_by_company(session, "Grafana").company == "Grafana Labs"


def test_company_near_miss_suggests(archive: Database) -> None:
    with archive.read() as session:
        miss = find_by_company(session, "Cloudflar")
        assert miss.company is None and miss.suggestions[0] == "Cloudflare"
        assert find_by_company(session, "Databrick").suggestions[0] == "Databricks"
        assert find_by_company(session, "zzzzqqq").suggestions == ()


def test_company_pagination(archive: Database) -> None:
    with archive.read() as session:
        first = find_by_company(session, "AWS", limit=10)
        second = find_by_company(session, "AWS", limit=10, offset=10)
        assert first.page.has_more and first.page.next_offset == 10
        assert not {a.id for a in first.page.items} & {a.id for a in second.page.items}


def test_topic_search_stems_and_ranks(archive: Database) -> None:
    with archive.read() as session:
        hits = search_topic(session, "rate limit").page.items
        assert hits and hits[0].title == "High Performance Rate Limiting at Databricks"
        titles = [a.title for a in search_topic(session, "kafka schema", limit=5).page.items]
        assert titles[0] == "Confluent Moves Schema IDs to Kafka Headers"
        page1 = search_topic(session, "AI", limit=10)
        page2 = search_topic(session, "AI", limit=10, offset=10)
        assert page1.page.has_more
        assert not {a.id for a in page1.page.items} & {a.id for a in page2.page.items}


@pytest.mark.parametrize(
    "query",
    [
        '"rate limiting',
        "AND OR NEAR(",
        "NEAR(a b)",
        "c++",
        "*",
        "-",
        "foo-bar",
        "title:x",
        "🚀 rate 🚀",
        "'; DROP TABLE articles; --",
        "(((",
        "x" * 5000,
        "   ",
        "\x00",
    ],
)
def test_hostile_topic_queries_never_raise(archive: Database, query: str) -> None:
    with archive.read() as session:
        search_topic(session, query)
        find_by_company(session, query)


def test_date_lookup_latest_and_nearby(archive: Database) -> None:
    with archive.read() as session:
        latest = get_issue(session, None)
        assert latest is not None and latest.date == dt.date(2026, 5, 13)
        assert len(latest.articles) == 28
        assert get_issue(session, dt.date(2026, 4, 5)) is None
        assert nearby_dates(session, dt.date(2026, 4, 5)) == (
            dt.date(2026, 3, 31),
            dt.date(2026, 4, 1),
            dt.date(2026, 4, 8),
        )


def test_migrated_schema_has_full_text_search(database: Database) -> None:
    with database.read() as session:
        version = session.scalar(text("SELECT version_num FROM alembic_version"))
        assert version
    database.upgrade()  # idempotent
    ingest(database, SEEDS / "2026-05-01.txt")
    with database.read() as session:
        assert search_topic(session, "schema kafka headers").page.items


def test_bulk_load_refreshes_search_statistics(database: Database, tmp_path: Path) -> None:
    """A large first import leaves the planner fresh statistics (PostgreSQL: ANALYZE + GIN)."""
    for day in range(120):
        date = dt.date(2020, 1, 1) + dt.timedelta(days=day)
        (tmp_path / f"{date}.txt").write_text(
            f"Engineering @ Scale — {date}\n\nSignal of the Day\nQueues everywhere.\n\n"
            f"Deep Dives\nBackpressure number {day} · Acme · Source\nAcme shed load early.\n"
        )
    report = ingest_files(database, expand_paths([tmp_path]))
    assert report.new == 120
    with database.read() as session:
        if session.get_bind().dialect.name == "postgresql":
            analyzed = session.scalar(
                text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'articles'")
            )
            assert analyzed is not None
            matches = session.scalar(
                text("SELECT count(*) FROM articles WHERE search @@ to_tsquery('backpressure')")
            )
            assert matches == 120
        page = search_topic(session, "backpressure", 50, 100).page
        assert len(page.items) == 20 and not page.has_more


def test_search_terms_drop_operators_and_repeats() -> None:
    assert search_terms('"rate AND limiting" OR NEAR( c++ 🚀') == ["rate", "limiting", "c"]
    assert search_terms("a " * 40 + "A b") == ["a", "b"]
    assert len(search_terms(" ".join(f"w{i}" for i in range(40)))) == 16


def test_two_files_with_one_date_in_a_run_the_later_fails(
    database: Database, tmp_path: Path
) -> None:
    text = (SEEDS / "2026-04-08.txt").read_text()
    first = tmp_path / "a-2026-04-08.txt"
    first.write_text(text)
    second = tmp_path / "b-2026-04-08-edited.txt"
    second.write_text(text.replace("Signal of the Day", "Signal of the Day\nEdited first line.", 1))
    report = ingest_files(database, expand_paths([tmp_path]))
    assert (report.new, report.updated, len(report.failed)) == (1, 0, 1)
    assert report.failed[0].path == second
    assert "same issue date 2026-04-08" in str(report.failed[0].error)
    assert first.name in str(report.failed[0].error)
    with database.read() as session:
        stored = get_issue(session, dt.date(2026, 4, 8))
        assert stored is not None and "Edited first line" not in stored.signal


def test_an_issue_with_too_many_deep_dives_is_refused(database: Database, tmp_path: Path) -> None:
    dives = "\n".join(
        f"Scaling Thing {i} · Acme · Source\nAcme scaled thing {i}." for i in range(101)
    )
    path = tmp_path / "huge.txt"
    path.write_text(
        f"Engineering @ Scale — 2026-08-01\n\nSignal of the Day\nBig.\n\nDeep Dives\n{dives}\n"
    )
    report = ingest_files(database, [path])
    assert report.new == 0 and len(report.failed) == 1
    assert "too many deep dives: 101 (at most 100 per issue)" in str(report.failed[0].error)
    with database.read() as session:
        assert get_issue(session, dt.date(2026, 8, 1)) is None
