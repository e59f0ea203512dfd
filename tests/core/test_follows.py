"""Follows: grammar and limits, matching new articles (and corrections) on both backends."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core import follows, workspaces
from bot.core.ingestion import ingest_files
from bot.store import dm_ledger
from bot.store.companies import teach_company
from bot.store.db import Database
from bot.store.follows import planned_articles
from bot.store.queries import find_by_company, get_issue, search_topic
from bot.store.tables import (
    FollowedRow,
    FollowerRow,
    FollowItemRow,
    FollowMessageRow,
    FollowRow,
)
from bot.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
NEWEST = dt.date(2026, 5, 13)
WS = Workspace("T111")
OTHER = Workspace("T222", "E1")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ingest_older(database: Database, tmp: Path) -> Path:
    """Every seed but the newest; returns a copy of the newest to ingest later."""
    older = [p for p in sorted((REPO / "seeds").glob("*.txt")) if NEWEST.isoformat() not in p.name]
    ingest_files(database, older)
    newest = tmp / f"{NEWEST}.txt"
    shutil.copy(REPO / "seeds" / f"{NEWEST}.txt", newest)
    return newest


def told(database: Database) -> dict[tuple[str, str, str], set[int]]:
    """What each person's DMs list (the open ones' articles settled as sending would)."""
    with database.write() as session:
        return planned_articles(session)


def issue_ids(database: Database) -> set[int]:
    with database.read() as session:
        issue = get_issue(session, NEWEST)
        assert issue is not None
        return {a.id for a in issue.articles}


def test_follow_matches_the_new_issue_like_the_lookups(database: Database, tmp_path: Path) -> None:
    newest = ingest_older(database, tmp_path)
    assert follows.follow(database, WS, "U1", "company cloudflare", now()).ok
    assert follows.follow(database, WS, "U1", "topic rate limiting", now()).ok
    assert follows.follow(database, OTHER, "U1", "company Amazon AWS AI Blog", now()).ok  # alias
    assert follows.follow(database, WS, "U2", "topic  AI agents", now()).ok
    assert follows.follow(database, WS, "U3", "topic zzzunknownword", now()).ok
    ingest_files(database, [newest])
    created = follows.match_new(database, now(), recent_days=2)
    new = issue_ids(database)
    with database.read() as session:
        cloudflare = {a.id for a in find_by_company(session, "Cloudflare", 50).page.items}
        aws = {a.id for a in find_by_company(session, "AWS", 50).page.items}
        rate = {a.id for a in search_topic(session, "rate limiting", 50).page.items}
        agents = {a.id for a in search_topic(session, "AI agents", 50).page.items}
    got = told(database)
    assert got[("", "T111", "U1")] == (cloudflare | rate) & new
    assert got[("E1", "T222", "U1")] == aws & new
    assert got[("", "T111", "U2")] == agents & new
    assert ("", "T111", "U3") not in got
    assert all(got.values())
    assert created == 3  # one DM per (person, issue)
    # Matched once: a second run finds nothing new.
    assert follows.match_new(database, now(), recent_days=2) == 0


def test_follow_made_after_the_issue_arrived_is_not_told_about_it(
    database: Database, tmp_path: Path
) -> None:
    newest = ingest_older(database, tmp_path)
    ingest_files(database, [newest])
    assert follows.follow(database, WS, "U1", "company Cloudflare", now()).ok
    assert follows.match_new(database, now(), recent_days=2) == 0
    assert told(database) == {}


def test_new_articles_of_a_corrected_issue_reach_followers_once(
    database: Database, tmp_path: Path
) -> None:
    newest = ingest_older(database, tmp_path)
    follows.follow(database, WS, "U1", "company Cloudflare", now())
    follows.follow(database, WS, "U2", "topic quantum teleportation", now())
    ingest_files(database, [newest])
    assert follows.match_new(database, now(), recent_days=2) == 1
    before = told(database)[("", "T111", "U1")]
    text = newest.read_text()
    extra = (
        "Quantum teleportation for Cloudflare Workers · Cloudflare Cloudflare teleports "
        "requests between data centres with quantum links, trading cost for latency.\n\n"
    )
    newest.write_text(
        text.replace("Patterns Across Companies#", extra + "Patterns Across Companies#")
    )
    ingest_files(database, [newest])
    assert follows.match_new(database, now(), recent_days=2) == 2
    after = told(database)
    added = after[("", "T111", "U1")] - before
    assert len(added) == 1
    assert after[("", "T111", "U2")] == added
    with database.read() as session:
        messages = session.scalars(select(FollowMessageRow.user_id)).all()
    assert sorted(messages) == ["U1", "U1", "U2"]  # the correction's article in its own DM
    ingest_files(database, [newest])
    assert follows.match_new(database, now(), recent_days=2) == 0


def test_old_issues_imported_later_tell_nobody(database: Database, tmp_path: Path) -> None:
    newest = tmp_path / f"{NEWEST}.txt"
    shutil.copy(REPO / "seeds" / f"{NEWEST}.txt", newest)
    follows.follow(database, WS, "U1", "topic AI", now())
    ingest_files(database, [newest])
    follows.match_new(database, now(), recent_days=2)
    first = told(database)[("", "T111", "U1")]
    ingest_files(database, sorted((REPO / "seeds").glob("2026-04-*.txt")))
    follows.match_new(database, now(), recent_days=2)
    assert told(database)[("", "T111", "U1")] == first  # a month old: no DM


def test_stopped_followers_are_not_matched(database: Database, tmp_path: Path) -> None:
    newest = ingest_older(database, tmp_path)
    follows.follow(database, WS, "U1", "company Cloudflare", now())
    with database.write() as session:
        dm_ledger.stop_follower(session, WS, "U1", "account_inactive", now())
    ingest_files(database, [newest])
    assert follows.match_new(database, now(), recent_days=2) == 0
    # Following again says the person is back.
    follows.follow(database, WS, "U1", "topic rate limiting", now())
    assert [p.stop_reason for p in follows.followers(database)] == [None]


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("company Cloudflar", "Did you mean Cloudflare"),
        ("company", "Use `/digest follow company"),
        ("somethingelse Cloudflare", "Use `/digest follow company"),
        ("topic !!! ???", "Give some words to follow"),
        ("topic " + "word " * 30, "at most 8 words"),
        ("topic " + "x" * 400, "at most 8 words and 100 characters"),
    ],
)
def test_follow_refusals_are_one_line(database: Database, argument: str, expected: str) -> None:
    ingest_files(database, sorted((REPO / "seeds").glob("*.txt")))
    done = follows.follow(database, WS, "U1", argument, now())
    assert not done.ok
    assert expected in done.text
    assert "\n" not in done.text and len(done.text) < 300
    assert follows.following(database, WS, "U1") == []


def test_follows_per_person_are_limited_and_per_workspace(database: Database) -> None:
    for i in range(follows.MAX_FOLLOWS):
        assert follows.follow(database, WS, "U1", f"topic word{i}", now()).ok
    refused = follows.follow(database, WS, "U1", "topic one more", now())
    assert not refused.ok and str(follows.MAX_FOLLOWS) in refused.text
    # The same person id in another workspace is another person.
    assert follows.follow(database, OTHER, "U1", "topic one more", now()).ok
    assert len(follows.following(database, WS, "U1")) == follows.MAX_FOLLOWS
    assert len(follows.following(database, OTHER, "U1")) == 1
    again = follows.follow(database, OTHER, "U1", "topic ONE   more", now())
    assert again.ok and "already" in again.text


def test_unfollow_company_topic_and_all(database: Database) -> None:
    ingest_files(database, sorted((REPO / "seeds").glob("*.txt")))
    follows.follow(database, WS, "U1", "company Cloudflare", now())
    follows.follow(database, WS, "U1", "topic Rate-Limiting", now())
    follows.follow(database, WS, "U1", "company Airbnb", now())
    assert follows.unfollow(database, WS, "U1", "company CLOUDFLARE").ok
    assert follows.unfollow(database, WS, "U1", "topic rate limiting").ok
    assert not follows.unfollow(database, WS, "U1", "topic rate limiting").ok
    assert not follows.unfollow(database, OTHER, "U1", "company Airbnb").ok
    assert [f.label for f in follows.following(database, WS, "U1")] == ["Airbnb"]
    assert "1 removed" in follows.unfollow(database, WS, "U1", "all").text
    assert follows.following(database, WS, "U1") == []


def test_control_characters_are_dropped(database: Database) -> None:
    done = follows.follow(database, WS, "U1", "topic\x00 rate\u202e limiting\x07", now())
    assert done.ok
    [follow] = follows.following(database, WS, "U1")
    assert follow.key == "rate limiting"


def test_uninstall_purges_that_workspaces_follows_and_dm_ledger_only(
    database: Database, tmp_path: Path
) -> None:
    newest = ingest_older(database, tmp_path)
    for workspace in (WS, OTHER):
        assert follows.follow(database, workspace, "U1", "company Cloudflare", now()).ok
    assert follows.follow(database, WS, "U1", "topic only here zebra", now()).ok
    with database.write() as session:
        dm_ledger.stop_follower(session, WS, "U9", "account_inactive", now())
    ingest_files(database, [newest])
    assert follows.match_new(database, now(), recent_days=2) == 2
    told(database)  # the DMs' articles settled in the ledger

    workspaces.uninstall(database, WS, workspaces.forget_nothing)

    with database.read() as session:
        for table in (FollowRow, FollowMessageRow, FollowItemRow, FollowerRow):
            teams = set(session.scalars(select(table.team_id)))
            assert teams == ({"T222"} if table is not FollowerRow else set()), table
        keys = set(session.scalars(select(FollowedRow.key)))
    assert "only here zebra" not in keys  # nobody else followed it: gone with the workspace
    assert len(keys) == 1  # Cloudflare, still followed in the other workspace
    assert follows.following(database, OTHER, "U1")[0].label == "Cloudflare"
    assert follows.following(database, WS, "U1") == []


# --- companies not in the archive yet ---------------------------------------------------------

NOT_YET = "not in the archive yet: you will hear when it first appears"


def waiting(database: Database, workspace: Workspace, user: str) -> dict[str, bool]:
    """The person's company follows: label -> waiting for a first article."""
    mine = follows.following(database, workspace, user)
    return {f.label: f.waiting for f in mine if f.kind == "company"}


def test_a_company_not_in_the_archive_yet_is_followed_and_told_when_it_first_appears(
    database: Database, tmp_path: Path
) -> None:
    newest = ingest_older(database, tmp_path)  # Databricks first appears in the newest issue
    first = follows.follow(database, WS, "U1", "company databricks", now())
    assert first.ok and NOT_YET in first.text and "\n" not in first.text
    assert waiting(database, WS, "U1") == {"databricks": True}
    again = follows.follow(database, WS, "U1", "company  DATABRICKS", now())
    assert again.ok and "already follow" in again.text
    assert len(follows.following(database, WS, "U1")) == 1
    # Under another casing and with the feed words /digest company drops.
    assert follows.follow(database, WS, "U2", "company DATABRICKS", now()).ok
    assert follows.follow(database, OTHER, "U3", "company Databricks Engineering Blog", now()).ok
    ingest_files(database, [newest])
    assert follows.match_new(database, now(), recent_days=2) == 3
    with database.read() as session:
        by_databricks = {a.id for a in find_by_company(session, "databricks", 50).page.items}
    assert by_databricks  # the archive holds it now
    got = told(database)
    for person in (("", "T111", "U1"), ("", "T111", "U2"), ("E1", "T222", "U3")):
        assert got[person] == by_databricks & issue_ids(database)
    # Bound to the company: shown under its name, no longer waiting, one thing followed.
    assert waiting(database, WS, "U1") == {"Databricks": False}
    assert waiting(database, OTHER, "U3") == {"Databricks": False}
    with database.read() as session:
        assert session.scalars(select(FollowedRow.name)).all() == [None]
    assert follows.match_new(database, now(), recent_days=2) == 0


def test_a_waiting_follow_binds_as_the_company_lookup_would_find_its_name(
    database: Database, tmp_path: Path
) -> None:
    newest = ingest_older(database, tmp_path)
    # A name /digest company will not find, even once Databricks is in the archive.
    assert follows.follow(database, WS, "U1", "company Databrick", now()).ok
    # An alias taught before the first article: the company exists, no article of it yet.
    assert follows.follow(database, WS, "U2", "company DBX", now()).ok
    assert follows.follow(database, WS, "U3", "company Databricks", now()).ok
    with database.write() as session:
        teach_company(session, "Databricks", ["DBX"])
    # Following the taught name now finds the company: the waiting follow of it is the same one.
    again = follows.follow(database, WS, "U3", "company databricks", now())
    assert again.ok and "already follow" in again.text
    ingest_files(database, [newest])
    assert follows.match_new(database, now(), recent_days=2) == 2
    got = told(database)
    assert ("", "T111", "U1") not in got
    assert got[("", "T111", "U2")] == got[("", "T111", "U3")] != set()
    assert waiting(database, WS, "U1") == {"Databrick": True}
    assert waiting(database, WS, "U2") == {"Databricks": False}
    with database.read() as session:
        assert len(session.scalars(select(FollowedRow.id)).all()) == 2  # Databrick, Databricks


def test_a_person_following_a_company_twice_keeps_the_follow_made_before_it_arrived(
    database: Database, tmp_path: Path
) -> None:
    newest = ingest_older(database, tmp_path)
    assert follows.follow(database, WS, "U1", "company DBX", now()).ok  # waiting
    with database.write() as session:
        teach_company(session, "Databricks", ["DBX"])
    ingest_files(database, [newest])
    # Followed again by its name after the first article arrived (matching has not run yet):
    # a separate follow for now, made too late to be told about that article.
    later = follows.follow(database, WS, "U1", "company Databricks", now())
    assert later.ok and "You now follow Databricks" in later.text
    assert len(follows.following(database, WS, "U1")) == 2
    assert follows.match_new(database, now(), recent_days=2) == 1
    with database.read() as session:
        by_databricks = {a.id for a in find_by_company(session, "Databricks", 50).page.items}
    assert told(database)[("", "T111", "U1")] == by_databricks & issue_ids(database)
    [kept] = follows.following(database, WS, "U1")  # one follow, the older one
    assert (kept.label, kept.waiting) == ("Databricks", False)


def test_a_close_name_asks_did_you_mean_and_follows_the_typed_name_only_when_confirmed(
    database: Database,
) -> None:
    ingest_files(database, sorted((REPO / "seeds").glob("*.txt")))
    asked = follows.follow(database, WS, "U1", "company Databrick", now())
    assert not asked.ok and asked.suggestions == ("Databricks",) and asked.name == "Databrick"
    assert "Did you mean Databricks" in asked.text
    assert follows.following(database, WS, "U1") == []
    chosen = follows.follow_company(database, WS, "U1", "Databricks", now())
    assert chosen.ok and "You now follow Databricks" in chosen.text
    confirmed = follows.follow_company(database, WS, "U1", "Databrick", now(), as_typed=True)
    assert confirmed.ok and NOT_YET in confirmed.text
    assert waiting(database, WS, "U1") == {"Databricks": False, "Databrick": True}
    again = follows.follow(database, WS, "U1", "company databrick", now())
    assert again.ok and "already follow" in again.text and not again.suggestions


def test_unfollow_removes_a_waiting_follow(database: Database, tmp_path: Path) -> None:
    newest = ingest_older(database, tmp_path)
    follows.follow(database, WS, "U1", "company Snowflake Labs", now())
    follows.follow(database, WS, "U1", "company databricks", now())
    assert not follows.unfollow(database, OTHER, "U1", "company snowflake labs").ok
    gone = follows.unfollow(database, WS, "U1", "company SNOWFLAKE  labs")
    assert gone.ok and "no longer follow" in gone.text
    assert waiting(database, WS, "U1") == {"databricks": True}
    ingest_files(database, [newest])
    follows.match_new(database, now(), recent_days=2)
    assert follows.unfollow(database, WS, "U1", "company databricks").ok  # bound by then
    assert follows.following(database, WS, "U1") == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("!!! ???", "Give a company name"),
        ("A" * 101, "at most 100 characters"),
    ],
)
def test_bad_company_names_are_refused_in_one_line(
    database: Database, name: str, expected: str
) -> None:
    for done in (
        follows.follow(database, WS, "U1", f"company {name}", now()),
        follows.follow_company(database, WS, "U1", name, now(), as_typed=True),
    ):
        assert not done.ok and expected in done.text and len(done.text) < 300
    assert follows.following(database, WS, "U1") == []


def test_waiting_follows_count_towards_the_limit(database: Database) -> None:
    for i in range(follows.MAX_FOLLOWS - 1):
        assert follows.follow(database, WS, "U1", f"topic word{i}", now()).ok
    assert follows.follow(database, WS, "U1", "company Databricks", now()).ok
    for refused in (
        follows.follow(database, WS, "U1", "company Snowflake", now()),
        follows.follow_company(database, WS, "U1", "Snowflake", now(), as_typed=True),
    ):
        assert not refused.ok and str(follows.MAX_FOLLOWS) in refused.text
    assert len(follows.following(database, WS, "U1")) == follows.MAX_FOLLOWS


def test_operators_see_waiting_follows(database: Database) -> None:
    follows.follow(database, WS, "U1", "company Databricks", now())
    follows.follow(database, WS, "U1", "topic rate limiting", now())
    [person] = follows.followers(database)
    assert (person.follows, person.waiting) == (2, 1)
