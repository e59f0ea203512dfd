"""`python -m bot companies …` end to end: an operator corrects company attribution.

Each test drives the real command line (typer's runner in-process, and a real `python -m bot`
subprocess where the entry point itself matters) over a real database, on SQLite and, when
DIGEST_TEST_POSTGRES_URL is set, PostgreSQL. The wrong splits are set up with the explicit
'Title · Company · Source' layout, so they do not depend on how clever the parser is.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update
from support.helpers import WS, clean_env
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from bot.digest.models import Article, Issue
from bot.slack.answers import Answers
from bot.store import saves
from bot.store.archive import CompanyCache, archive_version, store_issue
from bot.store.db import Database
from bot.store.tables import (
    ArticleRow,
    CompanyAliasRow,
    CompanyRow,
    IssueRow,
    PublisherCorrectionRow,
    TaughtNameRow,
)

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 6, 2, 12, 0, tzinfo=dt.UTC)

ISSUE = """Engineering @ Scale — 2026-06-01#
Signal of the Day#
Robots moved into warehouses this week.
Deep Dives#
Warehouse Arms at Scale · Zorblax · Source
Robotics builds arms that pick parts in warehouses.
Grippers That Learn · Zorblax · Source
Robotics trained grippers on simulated parts.
Edge Routing in the Open · Zorblax · Source
Opened its edge routing code to everyone.
Shared Caches Across Regions · Plimbo / Zorblax · Source
Robotics share a cache layer across regions.
Sharding Queues Safely · Quendle Backtests · Source
Showed the new queue sharding held up under load.
Patterns Across Companies#
Robots and queues.
"""

ROBOTICS_TITLES = {
    "Warehouse Arms at Scale",
    "Grippers That Learn",
    "Shared Caches Across Regions",
}


def cli(database_url: str, *args: str) -> tuple[int, str, str]:
    """Run `python -m bot ARGS` in-process with DATABASE_URL set; (exit, stdout, stderr)."""
    result = CliRunner().invoke(app, list(args), env={"DATABASE_URL": database_url})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def ingest_text(database_url: str, path: Path, text: str) -> str:
    path.write_text(text)
    code, out, err = cli(database_url, "ingest", str(path))
    assert code == 0, err
    return out


def articles(database: Database) -> dict[str, tuple[int, str, str, float]]:
    """Title -> (id, publisher, summary, confidence) of every stored article."""
    with database.read() as session:
        rows = session.scalars(select(ArticleRow)).all()
        return {r.title: (r.id, r.publisher, r.summary, r.confidence) for r in rows}


def answers(database: Database) -> Answers:
    return Answers(database, Settings(), lambda: NOW)  # type: ignore[call-arg]


def titles_in(message_blocks: list[dict[str, object]]) -> set[str]:
    text = json.dumps(message_blocks, ensure_ascii=False)
    every = {
        "Warehouse Arms at Scale",
        "Grippers That Learn",
        "Edge Routing in the Open",
        "Shared Caches Across Regions",
        "Sharding Queues Safely",
        "New Arms Ship",
        "Robotic Fleets",
    }
    return {t for t in every if t in text}


def snapshot(database: Database) -> object:
    """Everything a bad command must leave alone."""
    with database.read() as session:
        return (
            archive_version(session),
            sorted(
                (r.id, r.publisher, r.summary, r.confidence)
                for r in session.scalars(select(ArticleRow))
            ),
            sorted((c.id, c.key, c.name) for c in session.scalars(select(CompanyRow))),
            sorted(session.scalars(select(CompanyAliasRow.alias))),
            sorted(session.scalars(select(PublisherCorrectionRow.wrong_key))),
            sorted(session.scalars(select(TaughtNameRow.key))),
            sorted(session.scalars(select(IssueRow.content_hash))),
        )


def test_fix_longer_keeps_ids_and_saves_and_takes_effect_at_once(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    ingest_text(database_url, tmp_path / "2026-06-01.txt", ISSUE)
    before = articles(database)
    with database.write() as session:
        saves.apply_reaction(
            session,
            WS,
            "U1",
            before["Warehouse Arms at Scale"][0],
            removed=False,
            event_us=1,
            at=dt.datetime.now(dt.UTC),
        )
    service = answers(database)  # one web process: its answer cache must not serve stale data
    assert "No company called" in service.company("Zorblax Robotics").text
    assert titles_in(service.company("Zorblax").blocks) == {
        *ROBOTICS_TITLES,
        "Edge Routing in the Open",
    }
    assert titles_in(service.topic("robotics").blocks) == ROBOTICS_TITLES

    code, out, err = cli(database_url, "companies", "fix", "Zorblax", "Zorblax Robotics")

    assert code == 0, err
    assert out.splitlines()[0] == "3 articles changed"
    after = articles(database)
    assert {t: row[0] for t, row in after.items()} == {t: row[0] for t, row in before.items()}
    assert after["Warehouse Arms at Scale"][1:3] == (
        "Zorblax Robotics",
        "builds arms that pick parts in warehouses.",
    )
    assert after["Shared Caches Across Regions"][1:3] == (
        "Plimbo / Zorblax Robotics",
        "share a cache layer across regions.",
    )
    assert after["Edge Routing in the Open"][1] == "Zorblax"  # its line does not allow it
    assert after["Sharding Queues Safely"] == before["Sharding Queues Safely"]
    assert titles_in(service.company("Zorblax Robotics").blocks) == ROBOTICS_TITLES
    assert titles_in(service.company("zorblax robotics").blocks) == ROBOTICS_TITLES
    assert titles_in(service.company("Zorblax").blocks) == {"Edge Routing in the Open"}
    assert titles_in(service.company("Plimbo").blocks) == {"Shared Caches Across Regions"}
    assert titles_in(service.topic("robotics").blocks) == set()  # re-indexed for search
    assert titles_in(service.topic("builds arms").blocks) == {"Warehouse Arms at Scale"}
    with database.read() as session:
        saved = saves.saved_articles(session, WS, "U1")
    assert [(a.title, a.publisher) for a in saved.items] == [
        ("Warehouse Arms at Scale", "Zorblax Robotics")
    ]
    code, out, _ = cli(database_url, "search", "company", "Zorblax Robotics")
    assert code == 0 and "Grippers That Learn" in out and "Edge Routing" not in out


def test_fix_survives_reingest_of_the_same_and_of_edited_files(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "2026-06-01.txt"
    ingest_text(database_url, path, ISSUE)
    assert cli(database_url, "companies", "fix", "Zorblax", "Zorblax Robotics")[0] == 0
    fixed = articles(database)

    again = ingest_text(database_url, path, ISSUE)
    assert "0 new / 0 updated / 1 unchanged / 0 failed" in again
    assert articles(database) == fixed

    edited = ISSUE.replace("this week.", "this week, again.").replace(
        "Patterns Across Companies#",
        "New Arms Ship · Zorblax · Source\nRobotics ships a second arm.\n"
        "Patterns Across Companies#",
    )
    assert "0 new / 1 updated" in ingest_text(database_url, path, edited)
    now = articles(database)
    assert {t: now[t] for t in fixed} == fixed  # same ids, same splits
    assert now["New Arms Ship"][1:3] == ("Zorblax Robotics", "ships a second arm.")

    later = ISSUE.replace("2026-06-01", "2026-06-03").replace(
        "Grippers That Learn", "Robotic Fleets"
    )
    ingest_text(database_url, tmp_path / "2026-06-03.txt", later)
    service = answers(database)
    assert "Robotic Fleets" in titles_in(service.company("Zorblax Robotics").blocks)
    code, out, _ = cli(database_url, "parse", str(tmp_path / "2026-06-03.txt"), "--json")
    assert code == 0
    parsed = json.loads(out)[0]["articles"]
    assert parsed[1]["companies"] == ["Zorblax Robotics"]
    assert parsed[1]["summary"] == "trained grippers on simulated parts."


def test_fix_shorter_gives_words_back_to_the_summary(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "2026-06-01.txt"
    ingest_text(database_url, path, ISSUE)
    before = articles(database)["Sharding Queues Safely"]

    code, out, err = cli(database_url, "companies", "fix", "Quendle Backtests", "Quendle")

    assert (code, out.splitlines()[0], err) == (0, "1 article changed", "")
    row = articles(database)["Sharding Queues Safely"]
    assert row[:3] == (
        before[0],
        "Quendle",
        "Backtests Showed the new queue sharding held up under load.",
    )
    assert row[3] == 1.0  # the operator decided
    service = answers(database)
    assert titles_in(service.company("Quendle").blocks) == {"Sharding Queues Safely"}
    assert "No company called" in service.company("Quendle Backtests").text
    assert "0 new / 0 updated / 1 unchanged" in ingest_text(database_url, path, ISSUE)
    assert articles(database)["Sharding Queues Safely"] == row


def test_a_later_fix_overrides_an_earlier_one(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "2026-06-01.txt"
    ingest_text(database_url, path, ISSUE)
    assert cli(database_url, "companies", "fix", "Zorblax", "Zorblax Robotics")[0] == 0
    code, out, _ = cli(database_url, "companies", "fix", "Zorblax Robotics", "Zorblax")
    assert (code, out.splitlines()[0]) == (0, "3 articles changed")
    assert articles(database)["Grippers That Learn"][1] == "Zorblax"
    assert "0 new / 0 updated / 1 unchanged" in ingest_text(database_url, path, ISSUE)
    assert articles(database)["Grippers That Learn"][1] == "Zorblax"


def test_add_teaches_a_name_and_its_aliases(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "2026-06-01.txt"
    ingest_text(database_url, path, ISSUE)
    before = articles(database)

    code, out, err = cli(
        database_url, "companies", "add", "Zorblax Robotics", "--alias", "ZRX", "--alias", "Zbx"
    )

    assert (code, out.splitlines()[0], err) == (0, "3 articles changed", "")
    after = articles(database)
    assert {t: r[0] for t, r in after.items()} == {t: r[0] for t, r in before.items()}
    assert after["Grippers That Learn"][1:3] == (
        "Zorblax Robotics",
        "trained grippers on simulated parts.",
    )
    assert after["Edge Routing in the Open"][1] == "Zorblax"
    service = answers(database)
    for name in ("Zorblax Robotics", "ZRX", "zbx"):
        assert titles_in(service.company(name).blocks) == ROBOTICS_TITLES, name
    later = (
        ISSUE.replace("2026-06-01", "2026-06-03")
        .replace("Grippers That Learn", "Robotic Fleets")
        .replace(
            "Warehouse Arms at Scale · Zorblax · Source", "Warehouse Arms at Scale · ZRX · Source"
        )
    )
    ingest_text(database_url, tmp_path / "2026-06-03.txt", later)
    assert articles(database)["Robotic Fleets"][1] == "Zorblax Robotics"
    by_robotics = titles_in(service.company("Zorblax Robotics").blocks)
    assert {"Robotic Fleets", "Warehouse Arms at Scale"} <= by_robotics
    assert "0 new / 0 updated / 1 unchanged" in ingest_text(database_url, path, ISSUE)
    assert articles(database)["Grippers That Learn"] == after["Grippers That Learn"]


def test_an_alias_merges_a_company_filed_under_it(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    ingest_text(database_url, tmp_path / "a.txt", ISSUE.replace("Plimbo /", "PLB /"))
    code, out, _ = cli(database_url, "companies", "add", "Plimbo Labs", "--alias", "PLB")
    assert code == 0 and "1 more filed under an alias now count for Plimbo Labs" in out
    service = answers(database)
    for name in ("Plimbo Labs", "PLB", "plb"):
        assert titles_in(service.company(name).blocks) == {"Shared Caches Across Regions"}
    code, listed, _ = cli(database_url, "companies", "list", "--json")
    rows = {row["company"]: row["articles"] for row in json.loads(listed)}
    assert "PLB" not in rows and rows["Plimbo Labs"] == 1


@pytest.mark.slow
def test_bad_input_is_one_line_exit_1_and_changes_nothing(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    ingest_text(database_url, tmp_path / "2026-06-01.txt", ISSUE)
    assert cli(database_url, "companies", "fix", "Zorblax", "Zorblax Robotics")[0] == 0
    before = snapshot(database)
    cases = [
        (("fix", "Nonexistent Corp", "Nonexistent"), "no company named"),
        (("fix", "Zorblx", "Zorblax"), "did you mean"),
        (("fix", "", "Zorblax"), "WRONG is empty"),
        (("fix", "Zorblax", "   "), "RIGHT is empty"),
        (("fix", "Zorblax", "Zorblax Labs"), "fits none"),
        (("fix", "Zorblax", "Globex"), "fits none"),
        (("fix", "Zorblax", "zorblax"), "same name"),
        (("fix", "Zorblax", "!!"), "no letters or digits"),
        (("fix", "Plimbo / Zorblax Robotics", "Plimbo"), "one company at a time"),
        (("fix", "Zorblax", "Zorblax Engineering"), "is 'Zorblax' already"),
        (("add", ""), "NAME is empty"),
        (("add", "Acme", "--alias", " "), "alias is empty"),
        (("add", "x" * 201), "longer than"),
    ]
    for args, message in cases:
        code, out, err = cli(database_url, "companies", *args)
        assert code == 1, args
        assert out == "", args
        lines = err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, err)
        assert snapshot(database) == before, args
    # The real entry point, as an operator types it.
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "companies", "fix", "Zorblax", "Zorblax Labs"],
        cwd=tmp_path,
        env=clean_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: 'Zorblax Labs' fits none of the 1 articles")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert snapshot(database) == before


def test_learning_a_name_resplits_earlier_articles(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    ingest_text(database_url, tmp_path / "2026-06-01.txt", ISSUE)
    before = articles(database)
    with database.read() as session:
        version = archive_version(session)
    stating = (
        "Sources\n- Zorblax Robotics Engineering Blog\n- Quendle\n\n"
        "Engineering @ Scale — 2026-06-05#\nSignal of the Day#\nArms everywhere.\n"
        "Deep Dives#\nFleet Control · Zorblax Robotics · Source\nA fleet controller.\n"
    )

    ingest_text(database_url, tmp_path / "2026-06-05.txt", stating)

    after = articles(database)
    for title in ROBOTICS_TITLES:
        assert after[title][0] == before[title][0]
        assert after[title][1].endswith("Zorblax Robotics"), after[title]
        assert not after[title][2].startswith("Robotics")
    assert after["Edge Routing in the Open"][1] == "Zorblax"
    # 'Quendle' is stated too, but a name never cuts a longer one short.
    assert after["Sharding Queues Safely"] == before["Sharding Queues Safely"]
    service = answers(database)
    assert titles_in(service.company("Zorblax Robotics").blocks) == {*ROBOTICS_TITLES}
    with database.read() as session:
        assert archive_version(session) > version


MIXED = """Engineering @ Scale — 2026-06-01#
Signal of the Day#
Queues got faster everywhere.
Deep Dives#
Warehouse Arms at Scale · Zorblax Robotics builds arms that pick parts in warehouses.
Pickle Safety · Hugging Face Loading pickled weights runs code.
Shared Caches Across Regions · Plimbo / Zorblax Robotics share a cache layer across regions.
Edge Routing in the Open · Zorblax opened its edge routing code to everyone.
"""


def test_learned_names_hold_when_earlier_files_are_ingested_again(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    earlier = tmp_path / "2026-06-01.txt"
    ingest_text(database_url, earlier, MIXED)
    ids = {t: r[0] for t, r in articles(database).items()}
    stating = (
        "Sources\n- Zorblax Robotics Blog\n- Hugging Face\n\n"
        "Engineering @ Scale — 2026-06-05#\nSignal of the Day#\nArms.\n"
        "Deep Dives#\nFleet Control · Zorblax Robotics · Source\nA fleet controller.\n"
    )
    ingest_text(database_url, tmp_path / "2026-06-05.txt", stating)
    learned = articles(database)
    expected = {
        "Warehouse Arms at Scale": "Zorblax Robotics",
        "Pickle Safety": "Hugging Face",
        "Shared Caches Across Regions": "Plimbo / Zorblax Robotics",
        "Edge Routing in the Open": "Zorblax",
    }
    assert {t: learned[t][1] for t in expected} == expected
    assert {t: learned[t][0] for t in ids} == ids

    again = ingest_text(database_url, earlier, MIXED)

    assert "0 new / 0 updated / 1 unchanged" in again
    assert articles(database) == learned


def test_a_learned_name_cuts_short_only_an_uncertain_split(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    # As the parser would store a guess it was unsure of (the name was stated nowhere).
    guessed = Issue(
        date=dt.date(2026, 6, 2),
        signal="S.",
        articles=(
            Article("Unsure", ("Quendle Backtests",), "showed sharding held.", confidence=0.5),
            Article("Sure", ("Quendle Labs",), "ships queues.", confidence=0.95),
        ),
    )
    with database.write() as session:
        store_issue(session, guessed, CompanyCache.load(session))
    before = articles(database)
    stating = (
        "Sources\n- Quendle Engineering\n\n"
        "Engineering @ Scale — 2026-06-05#\nSignal of the Day#\nQueues.\n"
        "Deep Dives#\nQueue Math · Quendle · Source\nQueue math.\n"
    )

    ingest_text(database_url, tmp_path / "2026-06-05.txt", stating)

    after = articles(database)
    assert after["Unsure"] == (
        before["Unsure"][0],
        "Quendle",
        "Backtests showed sharding held.",
        0.5,
    )
    assert after["Sure"] == before["Sure"]
    service = answers(database)
    assert "Unsure" in json.dumps(service.company("Quendle").blocks)


def test_learning_a_name_from_the_poller_resplits_earlier_articles(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    from bot.sources import Poller

    ingest_text(database_url, tmp_path / "2026-06-01.txt", ISSUE)
    watched = tmp_path / "incoming"
    watched.mkdir()
    (watched / "2026-06-05.txt").write_text(
        "Engineering @ Scale — 2026-06-05#\nSignal of the Day#\nArms everywhere.\n"
        "Deep Dives#\nFleet Control · Zorblax Robotics · Source\nA fleet controller.\n"
    )
    report = Poller(database, str(watched), None).poll()
    assert [status for _, status in report.ingested] == ["new"]
    assert articles(database)["Grippers That Learn"][1] == "Zorblax Robotics"


def test_list_counts_articles_and_low_confidence_splits(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    ingest_text(database_url, tmp_path / "2026-06-01.txt", ISSUE)
    ids = {t: r[0] for t, r in articles(database).items()}
    with database.write() as session:
        for title, confidence in (
            ("Grippers That Learn", 0.41),
            ("Edge Routing in the Open", 0.79),
        ):
            session.execute(
                update(ArticleRow).where(ArticleRow.id == ids[title]).values(confidence=confidence)
            )
        session.execute(
            update(ArticleRow)
            .where(ArticleRow.id == ids["Sharding Queues Safely"])
            .values(confidence=0.8)
        )

    code, out, _ = cli(database_url, "companies", "list", "--json")

    assert code == 0
    rows = {r["company"]: (r["articles"], r["low_confidence"]) for r in json.loads(out)}
    assert rows == {"Zorblax": (4, 2), "Plimbo": (1, 0), "Quendle Backtests": (1, 0)}
    code, text, _ = cli(database_url, "companies", "list")
    assert code == 0
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines()]
    assert [row[-2:] for row in cells if row] == [["1", "0"], ["1", "0"], ["4", "2"]]

    code, review, _ = cli(database_url, "companies", "review", "--json")
    assert code == 0
    listed = [(r["title"], r["company"], r["confidence"]) for r in json.loads(review)]
    assert listed == [
        ("Grippers That Learn", "Zorblax", 0.41),
        ("Edge Routing in the Open", "Zorblax", 0.79),
        ("Sharding Queues Safely", "Quendle Backtests", 0.8),
    ]
    code, text, _ = cli(database_url, "companies", "review", "--limit", "1")
    assert text.splitlines()[0].startswith("0.41  Zorblax | Robotics trained grippers")
    assert "Grippers That Learn" in text.splitlines()[0]
    # A fix settles a split: the operator decided it.
    cli(database_url, "companies", "fix", "Zorblax", "Zorblax Robotics")
    code, review, _ = cli(database_url, "companies", "review", "--json")
    assert [r["title"] for r in json.loads(review)] == [
        "Edge Routing in the Open",
        "Sharding Queues Safely",
    ]


def test_ingest_stores_the_parsers_confidence(database: Database) -> None:
    issue = Issue(
        date=dt.date(2026, 6, 9),
        signal="S.",
        articles=(
            Article("Sure", ("Globex",), "Globex did it.", confidence=1.0),
            Article("Unsure", ("Two",), "Sigma backtests.", confidence=0.42),
        ),
    )
    with database.write() as session:
        store_issue(session, issue, CompanyCache.load(session))
    assert {t: r[3] for t, r in articles(database).items()} == {"Sure": 1.0, "Unsure": 0.42}
