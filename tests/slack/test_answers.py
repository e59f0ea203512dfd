"""The /digest answers: who may change a channel's schedule; lookups cached per archive version."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from bot.config import Settings
from bot.core.grammar import parse_request
from bot.core.ingestion import IngestPace, ingest_files
from bot.dates import DateRange
from bot.slack.answer_cache import AnswerCache
from bot.slack.answers import Answers, Asker
from bot.slack.rendering import Repeat, render_text
from bot.store.archive import archive_version
from bot.store.db import Database
from bot.store.queries import find_by_company
from bot.store.saves import apply_reaction
from bot.workspace import Workspace

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

D = dt.date
NOW = dt.datetime(2026, 5, 13, 12, 0, tzinfo=dt.UTC)


def answers(database: Database, admins: str = "") -> Answers:
    settings = Settings(DIGEST_ADMINS=admins)  # type: ignore[call-arg]
    return Answers(database, settings, lambda: NOW, lambda _user: "America/New_York")


def test_anyone_may_subscribe_without_admins(database: Database) -> None:
    reply = answers(database).answer(parse_request("subscribe"), Asker("U1", "C1"))
    assert "09:00 America/New_York" in reply.text


def test_only_admins_may_change_schedules_when_set(database: Database) -> None:
    service = answers(database, admins="UADMIN, UOTHER")
    refused = service.answer(parse_request("subscribe 08:00 UTC"), Asker("U1", "C1"))
    assert "Only the digest admins" in refused.text
    refused = service.answer(parse_request("unsubscribe"), Asker("U1", "C1"))
    assert "Only the digest admins" in refused.text
    allowed = service.answer(parse_request("subscribe 08:00 UTC"), Asker("UOTHER", "C1"))
    assert "08:00 UTC" in allowed.text
    status = service.answer(parse_request("status"), Asker("U1", "C1"))
    assert "Schedule: 08:00 UTC" in status.text  # anyone may look


ISSUE = """Engineering @ Scale — 2026-06-01

Signal of the Day
Quuxcorp moved its queue to a zanzibar-style authorization model.

Deep Dives
How Quuxcorp Rebuilt Zanzibar Checks · Quuxcorp · Source
Quuxcorp replaced per-request checks with a zanzibar tuple store and cut p99 in half.

Patterns Across Companies
Authorization moves into shared tuple stores.
"""


def test_lookup_answers_follow_every_ingest(database: Database, tmp_path: Path) -> None:
    service = answers(database)
    asker = Asker("U1", "C1")
    topic, company, day = (
        parse_request("topic zanzibar"),
        parse_request("company Quuxcorp"),
        parse_request("date 2026-06-01"),
    )
    assert "Nothing in the archive matches" in service.answer(topic, asker).text
    assert "No company called" in service.answer(company, asker).text
    assert "No issue on 2026-06-01" in service.answer(day, asker).text
    assert service.answer(topic, asker) is service.answer(topic, asker)  # served from the cache

    path = tmp_path / "2026-06-01.txt"
    path.write_text(ISSUE)
    ingest_files(database, [path])
    assert "How Quuxcorp Rebuilt Zanzibar Checks" in service.answer(topic, asker).text
    assert "How Quuxcorp Rebuilt Zanzibar Checks" in service.answer(company, asker).text
    assert "Engineering @ Scale — 2026-06-01" in service.answer(day, asker).text

    path.write_text(ISSUE.replace("Rebuilt", "Redesigned"))  # edited in place
    ingest_files(database, [path])
    assert "How Quuxcorp Redesigned Zanzibar Checks" in service.answer(topic, asker).text
    assert "Redesigned" in service.answer(company, asker).text


def test_archive_version_bumps_only_on_change(database: Database, tmp_path: Path) -> None:
    def version() -> int:
        with database.read() as session:
            return archive_version(session)

    start = version()
    seeds = sorted(SEEDS.glob("*.txt"))
    one_transaction = IngestPace(files=16, seconds=float("inf"))
    ingest_files(database, seeds, pace=one_transaction)  # five issues, one transaction: one bump
    after_seeds = version()
    assert after_seeds == start + 1
    ingest_files(database, seeds)  # unchanged
    assert version() == after_seeds
    path = tmp_path / "2026-06-01.txt"
    path.write_text(ISSUE)
    ingest_files(database, [path])
    assert version() == after_seeds + 1


def test_cache_size_zero_disables_it(database: Database) -> None:
    settings = Settings(DIGEST_ANSWER_CACHE="0")  # type: ignore[call-arg]
    service = Answers(database, settings, lambda: NOW)
    first = service.answer(parse_request("topic anything"), Asker("U1", "C1"))
    again = service.answer(parse_request("topic anything"), Asker("U1", "C1"))
    assert first == again and first is not again


def test_answer_cache_by_version_and_least_recently_used() -> None:
    cache = AnswerCache(2)
    a, b, c = render_text("a"), render_text("b"), render_text("c")
    cache.put("a", 1, a)
    assert cache.get("a", 1) is a
    assert cache.get("a", 2) is None  # the archive changed since
    cache.put("a", 2, b)
    cache.put("a", 1, a)  # a slower request built from an older archive: not kept
    assert cache.get("a", 2) is b
    cache.put("b", 2, b)
    cache.get("a", 2)
    cache.put("c", 2, c)  # evicts "b", the least recently used
    assert cache.get("b", 2) is None
    assert cache.get("a", 2) is b and cache.get("c", 2) is c
    assert (cache.hits, cache.misses) == (5, 2)


def test_status_says_when_the_newest_issue_is_too_old_to_post(database: Database) -> None:
    service = answers(database)
    service.answer(parse_request("subscribe 09:00 UTC daily"), Asker("U1", "C1"))
    empty = service.answer(parse_request("status"), Asker("U1", "C1")).text
    assert "the archive is empty" in empty
    ingest_files(database, [SEEDS / "2026-05-01.txt"])  # 12 days before NOW
    stale = service.answer(parse_request("status"), Asker("U1", "C1")).text
    assert "Nothing new to post: the newest issue, 2026-05-01, is 13 days old" in stale
    assert "DIGEST_MAX_ISSUE_AGE_DAYS" in stale
    assert "Next post: Thu 2026-05-14 09:00 UTC, if a new issue has arrived" in stale
    ingest_files(database, [SEEDS / "2026-05-13.txt"])
    fresh = service.answer(parse_request("status"), Asker("U1", "C1")).text
    assert "Next post: Thu 2026-05-14 09:00 UTC, issue 2026-05-13." in fresh
    assert "Nothing new" not in fresh


def listed_dates(reply_text: str) -> set[str]:
    """The issue dates in an answer's fallback lines ('• Title (Company, 2026-05-13)')."""
    return set(re.findall(r", (\d{4}-\d{2}-\d{2})\)$", reply_text, re.MULTILINE))


def test_last_days_end_today_in_the_askers_timezone(database: Database) -> None:
    ingest_files(database, [SEEDS / "2026-05-13.txt", SEEDS / "2026-05-01.txt"])
    settings = Settings(DIGEST_ADMINS="")  # type: ignore[call-arg]
    late = dt.datetime(2026, 5, 13, 23, 30, tzinfo=dt.UTC)
    request = parse_request("company AWS last 1 days")
    in_utc = Answers(database, settings, lambda: late, lambda _user: "UTC")
    assert listed_dates(in_utc.answer(request, Asker("U1", "C1")).text) == {"2026-05-13"}
    # Already May 14th at UTC+14: the one day asked for holds no issue.
    ahead = Answers(database, settings, lambda: late, lambda _user: "Pacific/Kiritimati")
    assert "in these dates" in ahead.answer(request, Asker("U1", "C1")).text
    unknown = Answers(database, settings, lambda: late, lambda _user: "Not/AZone")
    assert listed_dates(unknown.answer(request, Asker("U1", "C1")).text) == {"2026-05-13"}
    wide = in_utc.answer(parse_request("company AWS last 13 days"), Asker("U1", "C1"))
    assert listed_dates(wide.text) == {"2026-05-13", "2026-05-01"}


def test_cached_answers_are_kept_apart_by_date_range(database: Database) -> None:
    ingest_files(database, [SEEDS / "2026-05-13.txt", SEEDS / "2026-05-01.txt"])
    service = answers(database)
    asker = Asker("U1", "C1")
    everything = service.answer(parse_request("company AWS"), asker)
    may_1 = service.answer(parse_request("company AWS in 2026-05-01"), asker)
    assert listed_dates(everything.text) == {"2026-05-13", "2026-05-01"}
    assert listed_dates(may_1.text) == {"2026-05-01"}
    assert service.answer(parse_request("company AWS"), asker) == everything


def test_saved_with_a_range_answers_from_the_asking_workspace_only(database: Database) -> None:
    ingest_files(database, [SEEDS / "2026-05-13.txt", SEEDS / "2026-05-01.txt"])
    with database.read() as session:
        may_13 = find_by_company(session, "AWS", limit=1, dates=DateRange(D(2026, 5, 13))).page
        may_1 = find_by_company(session, "AWS", limit=1, dates=DateRange(until=D(2026, 5, 1))).page
    here, elsewhere = Workspace("T1"), Workspace("T2")
    with database.write() as session:
        apply_reaction(session, here, "U1", may_1.items[0].id, removed=False, event_us=1, at=NOW)
        apply_reaction(session, here, "U1", may_13.items[0].id, removed=False, event_us=2, at=NOW)
        apply_reaction(
            session, elsewhere, "U1", may_1.items[0].id, removed=False, event_us=3, at=NOW
        )
    service = answers(database)
    asker = Asker("U1", "C1", here)
    request = parse_request("saved in 2026-05-13")
    assert listed_dates(service.answer(request, asker).text) == {"2026-05-13"}
    # The same user id in another workspace saved only May 1st's article.
    other = service.answer(request, Asker("U1", "C1", elsewhere)).text
    assert listed_dates(other) == set() and "from these dates" in other
    again = service.page(
        Repeat("saved", "", 0, DateRange(until=D(2026, 5, 1))), asker, shareable=True
    )
    assert listed_dates(again.text) == {"2026-05-01"}
