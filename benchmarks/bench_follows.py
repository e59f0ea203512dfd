"""Matching one new 31-article issue against 100,000 follows across 50 workspaces.

A synthetic archive (benchmarks/generate_corpus.py, one year by default) is ingested, 100,000
follows are spread over 50 workspaces (company follows weighted by how much a company
publishes, topic follows of one or two words drawn Zipf-like from article titles), then one
new 31-article issue is ingested and `bot.core.follows.match_new` (claim the new articles,
match them against the distinct things followed, record one DM per person) is timed; three
issues, one after another, the median printed. In the same run, on the same data, baselines:
`SELECT count(*)` of the follows, and reading every follow into Python. Then 2,000 follows of
companies not in the archive (waiting for a first article, each to be bound when it appears)
are added and one more new issue is matched with them.

    python benchmarks/bench_follows.py [--days 365] [--postgres URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import report
from sqlalchemy import func, select, text

from bot.core import follows
from bot.core.ingestion import expand_paths, ingest_files
from bot.store.db import Database, open_database
from bot.store.follows import waiting_key
from bot.store.fulltext import after_bulk_load, topic_key
from bot.store.tables import (
    ArticleCompanyRow,
    ArticleRow,
    CompanyRow,
    FollowedRow,
    FollowRow,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKSPACES = 50
FOLLOWS = 100_000
ARTICLES = 31
PEOPLE = 1000  # per workspace: 2 follows each on average
WAITING = 2000  # follows of companies not in the archive yet, each a distinct name


def new_issue(day: dt.date) -> str:
    """A 31-article issue in the seeds' layout, its deep dives taken from the seed issues."""
    lines = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        lines += [
            line
            for line in path.read_text().splitlines()
            if " · " in line and len(line) > 200 and not line.startswith("Engineering")
        ]
    random.Random(3).shuffle(lines)
    dives = "\n\n".join(lines[:ARTICLES])
    return (
        f"Engineering @ Scale — {day.isoformat()}#\n\nSignal of the Day#\n\n"
        "Followers hear about new articles within a minute.\n\nDeep Dives#\n\n"
        f"{dives}\n\nPatterns Across Companies#\n\nMatching runs once per article.\n"
    )


def make_follows(database: Database, rng: random.Random) -> int:
    """100,000 follows: 60 % companies (by sqrt of output), 40 % topics (Zipf, title words)."""
    with database.read() as session:
        weights = dict(
            session.execute(
                select(ArticleCompanyRow.company_id, func.count()).group_by(
                    ArticleCompanyRow.company_id
                )
            )
            .tuples()
            .all()
        )
        labels = dict(session.execute(select(CompanyRow.id, CompanyRow.name)).tuples().all())
        titles = session.scalars(select(ArticleRow.title).limit(20_000)).all()
    # People follow specific subjects ("kafka", "rate limiting"), not words in every title:
    # words in at most 0.5 % of titles, most followed first by how often they occur.
    counts: dict[str, int] = {}
    for title in titles:
        for word in {w.lower() for w in re.findall(r"[A-Za-z]{4,}", title)}:
            counts[word] = counts.get(word, 0) + 1
    words = sorted(
        (w for w, n in counts.items() if n <= 0.005 * len(titles)), key=counts.__getitem__
    )
    words.reverse()
    zipf = [1.0 / (rank + 1) for rank in range(len(words))]
    companies = list(weights)
    # More people follow the big publishers, but not in proportion to their output.
    company_weights = [weights[c] ** 0.5 for c in companies]
    rows: list[dict[str, Any]] = []
    things: dict[tuple[str, str], int | None] = {}
    seen: set[tuple[str, str, str]] = set()
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    while len(rows) < FOLLOWS:
        team = f"T{rng.randrange(WORKSPACES):04d}"
        user = f"U{rng.randrange(PEOPLE):05d}"
        if rng.random() < 0.6:
            company = rng.choices(companies, company_weights)[0]
            key, label, kind, company_id = str(company), labels[company], "company", company
        else:
            query = " ".join(rng.choices(words, zipf, k=rng.choice((1, 1, 2))))
            key, label, kind, company_id = topic_key(query), query, "topic", None
        if (team, user, kind + key) in seen:
            continue
        seen.add((team, user, kind + key))
        things[(kind, key)] = company_id
        rows.append(
            {
                "enterprise_id": "",
                "team_id": team,
                "user_id": user,
                "kind": kind,
                "key": key,
                "label": label[:200],
                "created_at": now,
            }
        )
    with database.write() as session:
        session.execute(
            FollowedRow.__table__.insert(),
            [{"kind": k, "key": key, "company_id": c} for (k, key), c in things.items()],
        )
        ids = {
            (k, key): i
            for i, k, key in session.execute(
                select(FollowedRow.id, FollowedRow.kind, FollowedRow.key)
            ).tuples()
        }
        for row in rows:
            row["followed_id"] = ids[(row["kind"], row["key"])]
        for start in range(0, len(rows), 10_000):
            session.execute(FollowRow.__table__.insert(), rows[start : start + 10_000])
    return len({r["key"] for r in rows if r["kind"] == "topic"})


def make_waiting(database: Database, rng: random.Random) -> None:
    """2,000 follows of invented company names no article carries, as /digest follow stores
    them (waiting under the name's key)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    names = {
        "".join(rng.choices(string.ascii_lowercase, k=9)).title() + " Systems"
        for _ in range(WAITING)
    }
    with database.write() as session:
        session.execute(
            FollowedRow.__table__.insert(),
            [
                {"kind": "company", "key": waiting_key(n), "company_id": None, "name": n}
                for n in names
            ],
        )
        ids = dict(
            session.execute(
                select(FollowedRow.name, FollowedRow.id).where(FollowedRow.name.is_not(None))
            )
            .tuples()
            .all()
        )
        session.execute(
            FollowRow.__table__.insert(),
            [
                {
                    "enterprise_id": "",
                    "team_id": f"T{rng.randrange(WORKSPACES):04d}",
                    "user_id": f"W{i:05d}",
                    "followed_id": ids[n],
                    "kind": "company",
                    "key": waiting_key(n),
                    "label": n,
                    "created_at": now,
                }
                for i, n in enumerate(sorted(names))
            ],
        )


def baseline_seconds(database: Database) -> tuple[float, float]:
    """Baselines on the same data: counting the follows (the cheapest statement that touches
    each of them) and reading every follow into Python (what matching follow by follow costs
    at least)."""
    with database.read() as session:
        start = time.perf_counter()
        session.scalar(select(func.count()).select_from(FollowRow))
        counted = time.perf_counter() - start
        start = time.perf_counter()
        session.execute(
            select(FollowRow.team_id, FollowRow.user_id, FollowRow.kind, FollowRow.key)
        ).all()
        read = time.perf_counter() - start
    return counted, read


PAIRS = text(
    "SELECT count(*) FROM (SELECT DISTINCT f.enterprise_id, f.team_id, f.user_id, h.article_id "
    "FROM follow_matches AS h JOIN follows AS f ON f.followed_id = h.followed_id "
    "WHERE h.article_id IN (SELECT id FROM articles WHERE issue_date = :day)) AS pairs"
)


def timed_match(database: Database, corpus: Path, day: dt.date) -> tuple[float, int, int]:
    """Ingest one new issue, then time its matching: seconds, DMs, and the (person, article)
    pairs they will carry (counted afterwards, untimed: settled when each DM is sent)."""
    path = corpus.parent / f"new-{day}.txt"
    path.write_text(new_issue(day))
    report = ingest_files(database, [path])
    with database.read() as session:
        new_ids = set(session.scalars(select(ArticleRow.id).where(ArticleRow.issue_date == day)))
    assert len(new_ids) == ARTICLES, (len(new_ids), report)
    start = time.perf_counter()
    dms = follows.match_new(database, dt.datetime.now(dt.UTC), 2)
    seconds = time.perf_counter() - start
    with database.read() as session:
        pairs = session.scalar(PAIRS, {"day": day}) or 0
    return seconds, dms, pairs


def run(url: str, days: int, corpus: Path) -> dict[str, Any]:
    """One backend: archive, follows, then the timed matches of new issues (and baselines)."""
    database = open_database(url, upgrade=True)
    ingest_files(database, expand_paths([corpus]))
    distinct_topics = make_follows(database, random.Random(11))
    with database.write() as session:
        after_bulk_load(session)
    with database.read() as session:
        newest = session.scalar(select(func.max(ArticleRow.issue_date)))
        things = session.scalar(select(func.count()).select_from(FollowedRow)) or 0
        who = select(FollowRow.team_id, FollowRow.user_id).distinct().subquery()
        people = session.scalar(select(func.count()).select_from(who)) or 0
    assert newest is not None
    follows.match_new(database, dt.datetime.now(dt.UTC), 2)  # the archive's own articles
    runs = [timed_match(database, corpus, newest + dt.timedelta(days=n)) for n in (1, 2, 3)]
    counted, read = baseline_seconds(database)
    make_waiting(database, random.Random(13))
    waiting = timed_match(database, corpus, newest + dt.timedelta(days=4))
    database.dispose()
    seconds = sorted(r[0] for r in runs)
    return {
        "backend": url.split(":")[0].split("+")[0],
        "archive_days": days,
        "follows": FOLLOWS,
        "workspaces": WORKSPACES,
        "people": people,
        "distinct_things_followed": things,
        "distinct_topics": distinct_topics,
        "new_articles": ARTICLES,
        "dms_created": runs[0][1],
        "person_article_pairs": runs[0][2],
        "match_seconds_median": round(seconds[1], 3),
        "match_seconds_runs": [round(r[0], 3) for r in runs],
        "match_seconds_with_2000_waiting": round(waiting[0], 3),
        "baseline_count_follows_seconds": round(counted, 3),
        "baseline_read_all_follows_seconds": round(read, 3),
    }


def main() -> int:
    """Run on SQLite (and PostgreSQL), print side by side, write results JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (its schema is wiped)")
    args = parser.parse_args()
    at = report.commit()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        subprocess.run(
            [
                sys.executable,
                str(HERE / "generate_corpus.py"),
                str(corpus),
                "--days",
                str(args.days),
            ],
            check=True,
        )
        (corpus / "manifest.jsonl").unlink()
        results.append(run(f"sqlite:///{Path(tmp) / 'follows.db'}", args.days, corpus))
        if args.postgres:
            results.append(run(report.fresh_postgres(args.postgres), args.days, corpus))
    title = f"Matching one {ARTICLES}-article issue against {FOLLOWS:,} follows"
    targets = {"match_seconds_median": "< 1 s"}
    report.print_table(title, results, lambda r: str(r["backend"]), targets)
    report.save(results, lambda r: f"follows-{r['backend']}", at)
    return 0


if __name__ == "__main__":
    sys.exit(main())
