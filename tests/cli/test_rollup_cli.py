"""`python -m bot rollup`: the figures as JSON (exact shape), the dry run, and bad input."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from support.helpers import run_cli, subscribe

from bot.core import rollups
from bot.core.ingestion import expand_paths, ingest_files
from bot.digest.companies import company_key
from bot.digest.parsing import parse_issue, read_text
from bot.store.db import Database
from bot.store.saves import apply_reaction
from bot.store.tables import ArticleRow
from bot.workspace import Workspace

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
NOW = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


@pytest.fixture
def archive(database: Database) -> Database:
    ingest_files(database, expand_paths([SEEDS]))
    subscribe(database, "C1", now=NOW)  # workspace T111 (support.helpers.WS)
    return database


def cli(url: str, tmp: Path, *args: str) -> tuple[int, str, str]:
    done = run_cli("rollup", *args, cwd=tmp, env={"DATABASE_URL": url})
    return done.returncode, done.stdout, done.stderr


def save(database: Database, team: str, user: str, article: int) -> None:
    with database.write() as session:
        apply_reaction(session, Workspace(team), user, article, removed=False, event_us=1, at=NOW)


def test_json_has_exactly_the_contracts_shape_and_the_seed_files_figures(
    archive: Database, database_url: str, tmp_path: Path
) -> None:
    issues = [parse_issue(read_text(p)) for p in sorted(SEEDS.glob("*.txt"))]
    in_week = [i for i in issues if dt.date(2026, 3, 30) <= i.date <= dt.date(2026, 4, 5)]
    companies: Counter[str] = Counter()
    for issue in in_week:
        for article in issue.articles:
            companies.update({company_key(c) for c in article.companies})
    with archive.read() as session:
        ids = list(
            session.scalars(
                select(ArticleRow.id)
                .where(ArticleRow.issue_date == dt.date(2026, 4, 1))
                .order_by(ArticleRow.position)
            )
        )
        titles = {
            i: t for i, t in session.execute(select(ArticleRow.id, ArticleRow.title)).tuples()
        }
    save(archive, "T111", "U1", ids[2])
    save(archive, "T111", "U2", ids[2])
    save(archive, "T111", "U1", ids[0])
    for user in ("U1", "U2", "U3"):  # the same people ids in another workspace: not counted
        save(archive, "T999", user, ids[5])
    code, stdout, stderr = cli(
        database_url,
        tmp_path,
        "--channel",
        "C1",
        "--team",
        "T111",
        "--ending",
        "2026-04-02",
        "--json",
    )
    assert code == 0, stderr
    found = json.loads(stdout)
    assert list(found) == [
        "period",
        "start",
        "end",
        "issues",
        "deep_dives",
        "top_companies",
        "most_saved",
    ]
    assert found["period"] == "2026-W14"
    assert (found["start"], found["end"]) == ("2026-03-30", "2026-04-05")
    assert found["issues"] == len(in_week) == 2
    assert found["deep_dives"] == sum(len(i.articles) for i in in_week)
    assert len(found["top_companies"]) == 10
    for entry in found["top_companies"]:
        assert list(entry) == ["name", "articles"]
        assert companies[company_key(entry["name"])] == entry["articles"]
    assert [e["articles"] for e in found["top_companies"]] == sorted(
        companies.values(), reverse=True
    )[:10]
    assert found["most_saved"] == [
        {"title": titles[ids[2]], "saves": 2},
        {"title": titles[ids[0]], "saves": 1},
    ]
    # Two workspaces know the bot now (T999 by its saves): which one must be said.
    code, stdout, stderr = cli(database_url, tmp_path, "--channel", "C1", "--json")
    assert code == 2 and "--team is required" in stderr and stdout == ""


def test_months_and_the_default_last_complete_period(
    archive: Database, database_url: str, tmp_path: Path
) -> None:
    code, stdout, stderr = cli(
        database_url,
        tmp_path,
        "--channel",
        "C1",
        "--period",
        "month",
        "--ending",
        "2026-05-20",
        "--json",
    )
    assert code == 0, stderr
    found = json.loads(stdout)
    assert (found["period"], found["start"], found["end"]) == (
        "2026-05",
        "2026-05-01",
        "2026-05-31",
    )
    assert found["issues"] == 2 and found["most_saved"] == []
    code, stdout, _ = cli(database_url, tmp_path, "--channel", "C1", "--period", "month", "--json")
    expected = rollups.last_complete("month", dt.datetime.now(dt.UTC), "UTC")
    assert code == 0 and json.loads(stdout)["period"] == expected.label


def test_dry_run_prints_the_thread_and_the_figures(
    archive: Database, database_url: str, tmp_path: Path
) -> None:
    code, stdout, stderr = cli(
        database_url, tmp_path, "--channel", "C1", "--ending", "2026-04-02", "--dry-run"
    )
    assert code == 0, stderr
    assert "message to C1" in stdout and "the week 2026-W14" in stdout
    assert "reply 1 in thread" in stdout and "Signals of the Day" in stdout
    assert "Patterns Across Companies" in stdout
    assert "AWS" in stdout and "█" in stdout
    assert "dry run: 3 messages, nothing sent" in stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--channel", "#general", "--json"), "not a Slack channel id"),
        (("--channel", "C1", "--ending", "2026-13-01", "--json"), "not a date"),
        (("--channel", "C1", "--period", "year", "--json"), "week or month"),
        (("--channel", "C404", "--json"), "unknown channel C404"),
        (("--channel", "C1", "--team", "T404", "--json"), "unknown workspace"),
        (("--channel", "C1", "--team", "not a team", "--json"), "unknown workspace"),
        (("--channel", "C1"), "SLACK_BOT_TOKEN is not set"),
    ],
)
def test_bad_input_is_a_short_error(
    archive: Database, database_url: str, tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    code, stdout, stderr = cli(database_url, tmp_path, *args)
    assert code == 2
    assert said in stderr and stdout == ""
    assert len(stderr.strip().splitlines()) == 1


def test_posting_goes_through_the_ledger_once_and_a_rerun_posts_nothing(
    archive: Database, database_url: str, tmp_path: Path
) -> None:
    from support.slack_api import SlackStub

    with SlackStub() as stub:
        env = {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": "xoxb-rollup-cli",
            "SLACK_API_URL": stub.url,
            "DIGEST_POST_INTERVAL": "0",
        }
        args = ("rollup", "--channel", "C1", "--ending", "2026-04-02")
        done = run_cli(*args, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == (
            "posted the roll-up of 2026-W14 (2026-03-30 to 2026-04-05) to C1: 3 messages"
        )
        again = run_cli(*args, cwd=tmp_path, env=env)
        assert again.returncode == 0, again.stderr
        assert "was already posted to C1; nothing sent" in again.stdout
        (parent,) = stub.messages("C1")
        assert parent["metadata"]["event_payload"] == {
            "delivery_id": parent["metadata"]["event_payload"]["delivery_id"],
            "part": 0,
            "period": "2026-W14",
        }
        assert len(stub.thread("C1", parent["ts"])) == 2
        assert len(stub.all_messages("C1")) == 3
