"""Trend benchmark: a 5-series trend (companies, topics) over a 10-year archive, per month.

    python benchmarks/bench_trends.py [--corpus DIR] [--days 3650] [--postgres URL] [--rounds N]

Generates the synthetic corpus (benchmarks/generate_corpus.py) unless --corpus is given,
ingests it as bench_archive.py does (a child process; the --postgres database's public schema
is WIPED), then times `bot.core.trends.trend` (what /digest trend and `python -m bot trend`
run: resolve the names, count per issue day in SQL, bucket per month) for five companies and
five topics over the whole archive and over the default last 12 months, side by side with a
plain `SELECT count(*)` over the same rows (the floor any grouping has to beat). Each trend
runs in its own read transaction, as one Slack request does. Prints a table and writes
benchmarks/results/trends.json.
"""

from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

TARGET_MS = 200.0
COMPANIES = ["AWS", "Google", "Microsoft", "Meta", "Cloudflare"]
TOPICS = ["AI", "kafka", "rate limiting", "latency", "security"]


def timed(run: Callable[[], object], rounds: int) -> dict[str, float]:
    """Milliseconds of `rounds` runs after one warm-up: p50, p99 and max."""
    run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(times[-1], 2),
    }


def plain_counts(database: Any, kind: str, names: list[str], since: Any, until: Any) -> int:
    """SELECT count(*) over the rows the trend groups (the same index or full-text match)."""
    from sqlalchemy import Date, bindparam, func, select, text

    from bot.store.fulltext import search_terms
    from bot.store.queries import resolve_company
    from bot.store.tables import ArticleCompanyRow

    total = 0
    with database.read() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        for name in names:
            if kind == "company":
                found = resolve_company(session, name)
                assert found is not None
                total += int(
                    session.scalar(
                        select(func.count()).where(
                            ArticleCompanyRow.company_id == found[0],
                            ArticleCompanyRow.issue_date.between(since, until),
                        )
                    )
                    or 0
                )
                continue
            terms = search_terms(name)
            if sqlite:
                sql = (
                    "SELECT count(*) FROM articles_fts JOIN articles AS a "
                    "ON a.id = articles_fts.rowid WHERE articles_fts MATCH :query "
                    "AND a.issue_date BETWEEN :since AND :until"
                )
                query = " ".join('"' + t.replace('"', '""') + '"' for t in terms)
            else:
                sql = (
                    "SELECT count(*) FROM articles AS a, "
                    "websearch_to_tsquery('english', :query) AS q(query) "
                    "WHERE a.search @@ q.query AND a.issue_date BETWEEN :since AND :until"
                )
                query = " ".join(terms)
            statement = text(sql).bindparams(
                bindparam("since", type_=Date()), bindparam("until", type_=Date())
            )
            params = {"query": query, "since": since, "until": until}
            total += int(session.scalar(statement, params) or 0)
    return total


def run_backend(name: str, url: str, corpus: Path, rounds: int) -> dict[str, Any]:
    from bench_archive import run_ingest

    from bot.core import trends
    from bot.dates import DateRange
    from bot.store.db import open_database

    print(f"[{name}] ingesting {corpus} ...", flush=True)
    stats = run_ingest(url, corpus)
    print(f"[{name}] ingested {stats['articles']} articles in {stats['seconds']:.1f} s", flush=True)
    database = open_database(url)
    try:
        with database.read() as session:
            from bot.store.trends import archive_span

            span = archive_span(session)
        assert span is not None
        first, last = span
        whole = DateRange(first, last)
        result: dict[str, Any] = {
            "backend": name,
            "files": stats["files"],
            "articles": stats["articles"],
            "archive": [first.isoformat(), last.isoformat()],
            "rounds": rounds,
        }
        for kind, names in (("company", COMPANIES), ("topic", TOPICS)):
            query = trends.make_query(kind, names)
            for label, dates in (("10y", whole), ("12m", DateRange())):
                found = trends.trend(database, query, dates, today=last)
                assert isinstance(found, trends.Trend)
                resolved = found.dates
                trend_ms = timed(
                    lambda q=query, d=dates: trends.trend(database, q, d, today=last), rounds
                )
                count_ms = timed(
                    lambda k=kind, n=names, r=resolved: plain_counts(
                        database, k, n, r.since, r.until
                    ),
                    rounds,
                )
                total = sum(line.total for line in found.lines)
                assert total == plain_counts(database, kind, names, resolved.since, resolved.until)
                result[f"{kind}_{label}"] = {
                    "series": len(found.lines),
                    "periods": len(found.periods),
                    "by": found.by,
                    "articles_counted": total,
                    "trend": trend_ms,
                    "plain_count": count_ms,
                }
        result["targets_met"] = {
            f"{key}_p99_under_{TARGET_MS:.0f}ms": value["trend"]["p99_ms"] < TARGET_MS
            for key, value in result.items()
            if isinstance(value, dict) and "trend" in value
        }
        return result
    finally:
        database.dispose()


def print_table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"5-series trends (target: p99 < {TARGET_MS:.0f} ms)")
    for header in ("backend", "trend", "range", "periods", "articles", "trend p50/p99 ms",
                   "COUNT(*) p50/p99 ms"):  # fmt: skip
        table.add_column(header, justify="left" if header in ("backend", "trend") else "right")
    for result in results:
        for kind in ("company", "topic"):
            for label in ("10y", "12m"):
                row = result[f"{kind}_{label}"]
                table.add_row(
                    result["backend"],
                    kind,
                    label,
                    f"{row['periods']} {row['by']}s",
                    str(row["articles_counted"]),
                    f"{row['trend']['p50_ms']} / {row['trend']['p99_ms']}",
                    f"{row['plain_count']['p50_ms']} / {row['plain_count']['p99_ms']}",
                )
    Console().print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="reuse a generated corpus")
    parser.add_argument("--days", type=int, default=3650)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (schema is WIPED)")
    parser.add_argument("--rounds", type=int, default=50, help="timed runs of each trend")
    parser.add_argument("--no-write", action="store_true", help="don't write results/trends.json")
    args = parser.parse_args()

    from bench_archive import wipe_postgres

    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus
        if corpus is None:
            corpus = Path(tmp) / "corpus"
            subprocess.run(
                [sys.executable, str(HERE / "generate_corpus.py"), str(corpus),
                 "--days", str(args.days), "--seed", str(args.seed)],
                check=True,
            )  # fmt: skip
        results = [run_backend("sqlite", f"sqlite:///{Path(tmp) / 'trends.db'}", corpus,
                               args.rounds)]  # fmt: skip
        if args.postgres:
            wipe_postgres(args.postgres)
            results.append(run_backend("postgresql", args.postgres, corpus, args.rounds))
    print_table(results)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "trends.json").write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS / 'trends.json'}")
    met = all(all(r["targets_met"].values()) for r in results)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
