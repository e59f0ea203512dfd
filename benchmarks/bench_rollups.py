"""Roll-up benchmark: a week's and a month's roll-up over a ten-year archive, beside COUNT(*).

    python benchmarks/bench_rollups.py [--corpus DIR] [--days 3650] [--postgres URL] [--rounds N]

Generates the synthetic corpus (benchmarks/generate_corpus.py) unless --corpus is given, ingests
it into a fresh SQLite file (and into the PostgreSQL database given by --postgres, whose public
schema is WIPED), and gives the archive what a busy channel has after ten years: a posted daily
thread per issue in one channel (the ledger rows the roll-up links to) and 20,000 saves by 400
people in its workspace (plus 5,000 in another workspace, which must not count). Then, for
random weeks and months across the ten years, each in its own read transaction as the worker
would run it:

- rollup: every figure of the roll-up (`bot.core.rollups.rollup`: issues with their signals and
  patterns, deep dives, top 10 companies, this workspace's 5 most saved, the channel's threads);
- messages: the same plus rendering the thread (`render_rollup`), what the worker posts;
- count: a plain `SELECT COUNT(*)` of the period's articles, the floor any query over those
  rows pays (round trip, transaction, index range).

Prints a table and writes benchmarks/results/rollups.json (target: p99 < 200 ms).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
TARGET_MS = 200.0
CHANNEL = "C0ROLLUP"
SAVES, OTHER_SAVES, PEOPLE = 20_000, 5_000, 400


def generate(corpus: Path, days: int, seed: int) -> None:
    script = str(HERE / "generate_corpus.py")
    args = [str(corpus), "--days", str(days), "--seed", str(seed)]
    subprocess.run([sys.executable, script, *args], check=True)


def wipe_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    from bot.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def prepare(url: str, corpus: Path, seed: int) -> dict[str, Any]:
    """Migrate, ingest the corpus, add a channel's threads and the workspaces' saves."""
    from sqlalchemy import insert, select

    from bot.core.ingestion import expand_paths, ingest_files
    from bot.store.db import open_database
    from bot.store.tables import ArticleRow, DeliveryMessageRow, DeliveryRow, IssueRow, SaveRow

    database = open_database(url, upgrade=True)
    start = time.perf_counter()
    report = ingest_files(database, expand_paths([corpus]))
    ingest_s = time.perf_counter() - start
    rng = random.Random(seed)
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with database.write() as session:
        issues = session.execute(select(IssueRow.id, IssueRow.date)).tuples().all()
        deliveries = [
            {"team_id": "T1", "channel_id": CHANNEL, "issue_id": i, "state": "posted"}
            for i, _ in issues
        ]
        ids = session.scalars(insert(DeliveryRow).returning(DeliveryRow.id), deliveries).all()
        session.execute(
            insert(DeliveryMessageRow),
            [
                {
                    "team_id": "T1",
                    "delivery_id": d,
                    "part": 0,
                    "channel_id": CHANNEL,
                    "ts": f"{1_600_000_000 + n}.000100",
                    "posted_at": now,
                }
                for n, d in enumerate(ids)
            ],
        )
        articles = list(session.scalars(select(ArticleRow.id)))
        saves = []
        for team, count in (("T1", SAVES), ("T2", OTHER_SAVES)):
            pairs: set[tuple[int, int]] = set()
            while len(pairs) < count:
                pairs.add((rng.randrange(PEOPLE), rng.choice(articles)))
            saves += [
                {"team_id": team, "user_id": f"U{u:05d}", "article_id": a, "saved_at": now}
                for u, a in pairs
            ]
        session.execute(insert(SaveRow), saves)
    database.dispose()
    return {
        "issues": len(issues),
        "articles": report.articles,
        "ingest_seconds": round(ingest_s, 1),
        "saves": SAVES,
        "other_workspace_saves": OTHER_SAVES,
    }


def periods(first: dt.date, last: dt.date, rounds: int, seed: int) -> dict[str, list[Any]]:
    """Random whole weeks and months within the archive's span."""
    from bot.core.rollups import period_containing

    rng = random.Random(seed)
    span = (last - first).days
    chosen: dict[str, list[Any]] = {"week": [], "month": []}
    for kind in ("week", "month"):
        while len(chosen[kind]) < rounds:
            day = first + dt.timedelta(days=rng.randrange(span))
            period = period_containing(kind, day)  # type: ignore[arg-type]
            if period.start >= first and period.end <= last:
                chosen[kind].append(period)
    return chosen


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(ordered[-1], 2),
    }


def measure(name: str, url: str, corpus: Path, rounds: int, seed: int) -> dict[str, Any]:
    """Prepare one backend, then time the roll-ups and the counts."""
    from sqlalchemy import func, select

    from bot.core import rollups
    from bot.slack.rollup_rendering import render_rollup
    from bot.store.db import Database
    from bot.store.tables import ArticleRow
    from bot.workspace import Workspace

    print(f"{name}: ingesting and preparing…", flush=True)
    result: dict[str, Any] = {"backend": name, **prepare(url, corpus, seed)}
    database = Database(url)
    with database.read() as session:
        first = session.scalar(select(func.min(ArticleRow.issue_date)))
        last = session.scalar(select(func.max(ArticleRow.issue_date)))
    assert first is not None and last is not None
    workspace = Workspace("T1")
    checked = False
    for kind, chosen in periods(first, last, rounds, seed).items():
        figures, messages, counts = [], [], []
        rows = []
        for period in chosen:

            def count(p: Any = period) -> int:
                with database.read() as session:
                    return int(
                        session.scalar(
                            select(func.count())
                            .select_from(ArticleRow)
                            .where(ArticleRow.issue_date >= p.start, ArticleRow.issue_date <= p.end)
                        )
                        or 0
                    )

            # Interleaved, so a slow moment of the machine hits each kind alike.
            counts.append(timed(count))
            figures.append(timed(lambda p=period: rollups.rollup(database, workspace, CHANNEL, p)))
            messages.append(
                timed(
                    lambda p=period: render_rollup(rollups.rollup(database, workspace, CHANNEL, p))
                )
            )
            rows.append(count())
            if not checked:  # the figures are real: every issue linked, saves counted
                found = rollups.rollup(database, workspace, CHANNEL, period)
                assert found.deep_dives == rows[-1] and len(found.threads) == len(found.issues)
                checked = True
        result[kind] = {
            "periods": len(chosen),
            "articles_per_period": round(statistics.mean(rows), 1),
            "rollup": summary(figures),
            "messages": summary(messages),
            "count": summary(counts),
        }
    database.dispose()
    result["target_p99_ms"] = TARGET_MS
    result["targets_met"] = {
        kind: result[kind]["messages"]["p99_ms"] < TARGET_MS for kind in ("week", "month")
    }
    return result


def print_table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Roll-ups over a ten-year archive (ms; each in its own read transaction)")
    table.add_column("period")
    table.add_column("measure")
    for result in results:
        for stat in ("p50", "p99", "max"):
            table.add_column(f"{result['backend']} {stat}", justify="right")
    for kind in ("week", "month"):
        for measure_name in ("rollup", "messages", "count"):
            cells = []
            for result in results:
                entry = result[kind][measure_name]
                cells += [str(entry["p50_ms"]), str(entry["p99_ms"]), str(entry["max_ms"])]
            table.add_row(kind, measure_name, *cells)
    Console().print(table)
    for result in results:
        print(
            f"{result['backend']}: {result['issues']} issues, {result['articles']} articles; "
            f"{result['week']['articles_per_period']} articles a week, "
            f"{result['month']['articles_per_period']} a month; target p99 < {TARGET_MS:g} ms: "
            + ("met" if all(result["targets_met"].values()) else "MISSED")
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="reuse a generated corpus")
    parser.add_argument("--days", type=int, default=3650)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (schema is WIPED)")
    parser.add_argument("--rounds", type=int, default=200, help="periods of each kind")
    parser.add_argument("--no-write", action="store_true", help="don't write results/*.json")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="bench-rollups-") as tmp:
        corpus = args.corpus
        if corpus is None:
            corpus = Path(tmp) / "corpus"
            generate(corpus, args.days, args.seed)
        backends = [("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}")]
        if args.postgres:
            wipe_postgres(args.postgres)
            backends.append(("postgresql", args.postgres))
        results = [measure(n, u, corpus, args.rounds, args.seed) for n, u in backends]
    print_table(results)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "rollups.json"
        path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {path.relative_to(REPO)}")
    return 0 if all(all(r["targets_met"].values()) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
