"""Archive benchmark: parse+ingest throughput and memory, parse accuracy, lookup latency.

    python benchmarks/bench_archive.py [--corpus DIR] [--days 3650] [--postgres URL]

Generates the synthetic corpus (benchmarks/generate_corpus.py) unless --corpus is given, ingests
it into a fresh SQLite file (and a PostgreSQL database with --postgres) in a child process (so its
peak RSS is the ingest's own), then times company and topic lookups over a realistic query mix.
Prints a table and writes benchmarks/results/archive-<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

TARGETS = {
    "ingest_articles_per_s": 5000,
    "company_p99_ms": 10,
    "topic_p99_ms": 25,
    "ingest_peak_mb": 200,
}

COMPANY_QUERIES = (
    ["AWS"] * 8
    + ["Cloudflare"] * 6
    + ["InfoQ"] * 4
    + ["meta", "Google", "microsoft", "GitHub"] * 2
    + ["cloudflare", "Facebook", "Amazon AWS AI Blog", "The Netflix Tech Blog", "o'reilly"]
    + ["Grafana Labs", "Pulse AI", "Brett Terpstra", "Hugging Face", "Jane Street", "Zalando"]
    + ["Cloudflar", "Databrick", "Grafna", "zzzq", "Netflx"]
)
TOPIC_QUERIES = (
    ["AI"] * 6
    + ["data", "scale", "latency", "agents", "security"] * 2
    + ["rate limiting", "rate limit", "event driven", "kafka schema", "zero trust", "postgres"]
    + ["continuous profiling", "webassembly", "kubernetes autoscaling", "vector search"]
    + ['"rate limiting', "AND OR NEAR(", "c++", "🚀 rollout", "x" * 300]
)


def ingest_child(url: str, corpus: Path) -> None:
    """Run in a child process: ingest and print JSON stats."""
    sys.path.insert(0, str(HERE.parent))
    from bot.ingestion import expand_paths, ingest_files
    from bot.store.db import open_database

    database = open_database(url, upgrade=True)
    files = expand_paths([corpus])
    start = time.perf_counter()
    report = ingest_files(database, files)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "files": len(files),
                "articles": report.articles,
                "seconds": seconds,
                "failed": len(report.failed),
                "peak_mb": peak_kb / 1024,
            }
        )
    )


def accuracy(url: str, corpus: Path) -> tuple[float, list[str]]:
    """Share of articles whose stored title and companies match the generator's manifest."""
    from sqlalchemy import select

    from bot.store.db import Database
    from bot.store.tables import ArticleRow

    database = Database(url)
    with database.read() as session:
        stored = {
            (row.issue_date.isoformat(), row.position): (row.title, row.publisher)
            for row in session.execute(
                select(
                    ArticleRow.issue_date,
                    ArticleRow.position,
                    ArticleRow.title,
                    ArticleRow.publisher,
                )
            )
        }
    total = right = 0
    misses: list[str] = []
    for line in (corpus / "manifest.jsonl").read_text().splitlines():
        issue = json.loads(line)
        for position, article in enumerate(issue["articles"]):
            total += 1
            got = stored.get((issue["date"], position))
            want = (article["title"], " / ".join(article["companies"]))
            if got == want:
                right += 1
            elif len(misses) < 5:
                misses.append(
                    f"{issue['date']}#{position}: got {got[1] if got else None!r}, want {want[1]!r}"
                )
    database.dispose()
    return right / max(1, total), misses


def latencies(url: str, queries: list[str], kind: str, rounds: int) -> list[float]:
    """Milliseconds per lookup, first page of 10, in a shuffled realistic mix."""
    from bot.store.db import Database
    from bot.store.queries import find_by_company, search_topic

    database = Database(url)
    lookup = find_by_company if kind == "company" else search_topic
    rng = random.Random(1)
    mix = [rng.choice(queries) for _ in range(rounds)]
    times: list[float] = []
    with database.read() as session:
        for query in mix[:20]:  # warm caches
            lookup(session, query)
    for query in mix:
        with database.read() as session:
            start = time.perf_counter()
            lookup(session, query, 10, 0)
            times.append((time.perf_counter() - start) * 1000)
    database.dispose()
    return times


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def run_backend(name: str, url: str, corpus: Path, rounds: int) -> dict[str, float]:
    child = subprocess.run(
        [sys.executable, __file__, "--ingest-child", url, "--corpus", str(corpus)],
        capture_output=True,
        text=True,
        check=True,
    )
    stats = json.loads(child.stdout.strip().splitlines()[-1])
    share, misses = accuracy(url, corpus)
    company = latencies(url, COMPANY_QUERIES, "company", rounds)
    topic = latencies(url, TOPIC_QUERIES, "topic", rounds)
    result = {
        "backend": name,
        "files": stats["files"],
        "articles": stats["articles"],
        "ingest_seconds": round(stats["seconds"], 2),
        "ingest_articles_per_s": round(stats["articles"] / stats["seconds"]),
        "ingest_peak_mb": round(stats["peak_mb"], 1),
        "parser_process_peak_mb": round(stats["parser_peak_mb"], 1),
        "parse_accuracy_pct": round(100 * share, 2),
        "company_p50_ms": round(pct(company, 50), 2),
        "company_p99_ms": round(pct(company, 99), 2),
        "topic_p50_ms": round(pct(topic, 50), 2),
        "topic_p99_ms": round(pct(topic, 99), 2),
        "queries_each": rounds,
    }
    for miss in misses:
        print("  mismatch:", miss)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--days", type=int, default=3650)
    parser.add_argument("--postgres", help="also run against this PostgreSQL URL (it is wiped)")
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--ingest-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest_child:
        ingest_child(args.ingest_child, args.corpus)
        return 0
    sys.path.insert(0, str(HERE.parent))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus
        if corpus is None:
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
        backends = [("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}")]
        if args.postgres:
            from sqlalchemy import create_engine, text

            from bot.config import normalise_database_url

            engine = create_engine(normalise_database_url(args.postgres))
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
            backends.append(("postgresql", args.postgres))
        results = [run_backend(name, url, corpus, args.rounds) for name, url in backends]
    table = Table(title="Archive benchmark (synthetic ten-year corpus)")
    table.add_column("metric")
    for result in results:
        table.add_column(str(result["backend"]), justify="right")
    table.add_column("target", justify="right")
    targets = {
        "ingest_articles_per_s": ">= 5000",
        "company_p99_ms": "< 10",
        "topic_p99_ms": "< 25",
        "ingest_peak_mb": "< 200",
        "parse_accuracy_pct": ">= 95",
    }
    for key in results[0]:
        if key == "backend":
            continue
        table.add_row(key, *(str(r[key]) for r in results), targets.get(key, ""))
    Console().print(table)
    RESULTS.mkdir(exist_ok=True)
    for result in results:
        (RESULTS / f"archive-{result['backend']}.json").write_text(
            json.dumps(result, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
