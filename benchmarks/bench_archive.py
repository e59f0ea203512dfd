"""Archive benchmark: parse+ingest throughput and memory, parse accuracy, lookup latency.

    python benchmarks/bench_archive.py [--corpus DIR] [--days 3650] [--postgres URL] [--rounds N]

Generates the synthetic corpus (benchmarks/generate_corpus.py) into a temp dir unless --corpus
is given, ingests it with `ingest_files` into a fresh SQLite file (and into the PostgreSQL
database given by --postgres, whose public schema is wiped) in a child process, so the ingest's
peak RSS is its own, then measures:

- parse accuracy: share of articles whose stored title and companies equal manifest.jsonl;
- company lookup latency (find_by_company, first page of 10) over a mix of popular, mid and rare
  companies, aliases and misses that trigger suggestions;
- topic search latency (search_topic, first page of 10) over very common words, multi-word
  phrases, rare words and hostile strings.

Each lookup runs in its own read transaction (as one Slack request does). Prints a table and
writes benchmarks/results/archive-<backend>.json.
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
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"

# metric -> (comparison, bound)
TARGETS: dict[str, tuple[str, float]] = {
    "ingest_articles_per_s": (">=", 5000),
    "ingest_peak_rss_mb": ("<", 200),
    "company_p99_ms": ("<", 10),
    "topic_p99_ms": ("<", 25),
    "parse_accuracy_pct": (">=", 99),
}

ALIASES = ["cloudflare", "Facebook", "aws", "Amazon Web Services", "google cloud", "o'reilly"]
ALIASES += ["Facebook Engineering", "CLOUDFLARE", "meta ai", "Grafana"]
MISSES = ["Cloudflar", "Databrick", "Grafna", "Netflx", "Shopfy", "Kubernets", "zzzq", "Acme"]
MISSES += ["Amazon Web", "Micro soft"]
TOPICS = {
    "common": ["AI", "data", "scale", "the", "latency", "agents", "security", "model"],
    "multi": ["rate limiting", "event driven", "zero trust", "kafka schema", "vector search"],
    "rare": ["webassembly", "continuous profiling", "kubevirt", "emdash", "bloom filter", "zstd"],
    "hostile": [
        '"rate limiting',
        "AND OR NEAR(",
        "c++",
        "🚀 rollout",
        "x" * 300,
        "' OR 1=1; --",
        "*",
        "NOT",
        "title:foo",
        "a " * 40,
        "%_\\",
        "",
    ],
}


# --- ingest (child process) ---------------------------------------------------------------


def ingest_child(url: str, corpus: Path) -> None:
    """Run in a child process: migrate, ingest the whole corpus, print JSON stats."""
    sys.path.insert(0, str(REPO))
    from bot.core.ingestion import expand_paths, ingest_files
    from bot.store.db import open_database

    database = open_database(url, upgrade=True)
    files = expand_paths([corpus])
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    report = ingest_files(database, files)
    seconds = time.perf_counter() - start
    database.dispose()
    stats = {
        "files": len(files),
        "articles": report.articles,
        "new": report.new,
        "failed": len(report.failed),
        "seconds": seconds,
        "rss_before_ingest_mb": before_kb / 1024,
        "main_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # The parse worker of ingest_files (if it used one), reaped by now.
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "failures": [f"{o.path.name}: {o.error}" for o in report.failed[:5]],
    }
    print(json.dumps(stats))


def run_ingest(url: str, corpus: Path) -> dict[str, Any]:
    child = subprocess.run(
        [sys.executable, __file__, "--ingest-child", url, "--corpus", str(corpus)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        sys.stderr.write(child.stderr)
        raise SystemExit(f"ingest child failed (exit {child.returncode})")
    stats: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    # Largest RSS of any reaped descendant (the ingest process or its parse worker) so far.
    stats["children_maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return stats


# --- accuracy -----------------------------------------------------------------------------


def accuracy(url: str, corpus: Path) -> tuple[int, int, list[str]]:
    """(right, total, first mismatches): stored title and companies vs the generator's manifest."""
    from sqlalchemy import select

    from bot.store.db import Database
    from bot.store.tables import ArticleRow

    database = Database(url)
    stored: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
    with database.read() as session:
        for date, position, title, publisher in session.execute(
            select(
                ArticleRow.issue_date, ArticleRow.position, ArticleRow.title, ArticleRow.publisher
            )
        ):
            stored[date.isoformat()][position] = (title, publisher)
    database.dispose()
    total = right = 0
    misses: list[str] = []
    for line in (corpus / "manifest.jsonl").read_text().splitlines():
        issue = json.loads(line)
        got_issue = stored.get(issue["date"], {})
        positions = sorted(got_issue)  # stored positions may start at 0 or 1
        expected = issue["articles"]
        for index in range(max(len(expected), len(positions))):
            total += 1
            want = (
                (expected[index]["title"], " / ".join(expected[index]["companies"]))
                if index < len(expected)
                else None
            )
            got = got_issue[positions[index]] if index < len(positions) else None
            if got == want:
                right += 1
            elif len(misses) < 8:
                misses.append(
                    f"{issue['date']} #{index + 1}:\n      got  {got!r}\n      want {want!r}"
                )
    return right, total, misses


# --- latency ------------------------------------------------------------------------------


def company_mix(url: str) -> dict[str, list[str]]:
    """Popular, mid and rare companies as the archive holds them, aliases and misses."""
    from sqlalchemy import func, select

    from bot.store.db import Database
    from bot.store.tables import ArticleCompanyRow, CompanyRow

    database = Database(url)
    with database.read() as session:
        ranked = [
            name
            for name, _count in session.execute(
                select(CompanyRow.name, func.count())
                .join(ArticleCompanyRow, ArticleCompanyRow.company_id == CompanyRow.id)
                .group_by(CompanyRow.name)
                .order_by(func.count().desc(), CompanyRow.name)
            )
        ]
    database.dispose()
    third = max(1, len(ranked) // 3)
    return {
        "popular": ranked[:5],
        "mid": ranked[third : third + 20],
        "rare": ranked[-20:],
        "alias": ALIASES,
        "miss": MISSES,
    }


# How often each class is asked, per 100 lookups.
COMPANY_WEIGHTS = {"popular": 40, "mid": 25, "rare": 10, "alias": 15, "miss": 10}
TOPIC_WEIGHTS = {"common": 40, "multi": 25, "rare": 20, "hostile": 15}


def latencies(
    url: str, kind: str, classes: dict[str, list[str]], weights: dict[str, int], rounds: int
) -> dict[str, list[float]]:
    """Milliseconds per lookup (first page of 10), by query class, in a shuffled mix."""
    from bot.store.db import Database
    from bot.store.queries import find_by_company, search_topic

    lookup = find_by_company if kind == "company" else search_topic
    rng = random.Random(1)
    names = [c for c in classes if classes[c]]
    mix = [
        (c, rng.choice(classes[c]))
        for c in rng.choices(names, [weights[c] for c in names], k=rounds)
    ]
    for c in names:  # every query of every class at least once
        mix.extend((c, q) for q in classes[c])
    rng.shuffle(mix)
    database = Database(url)
    for _, query in mix[:50]:  # warm the pool, caches and SQLAlchemy's statement cache
        with database.read() as session:
            lookup(session, query, 10, 0)
    times: dict[str, list[float]] = defaultdict(list)
    for cls, query in mix:
        start = time.perf_counter()
        with database.read() as session:
            lookup(session, query, 10, 0)
        times[cls].append((time.perf_counter() - start) * 1000)
    database.dispose()
    return times


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def slowest(url: str, kind: str, queries: list[str]) -> list[tuple[str, float]]:
    """The slowest single queries (median of 5 runs each), for the report."""
    from bot.store.db import Database
    from bot.store.queries import find_by_company, search_topic

    lookup = find_by_company if kind == "company" else search_topic
    database = Database(url)
    out = []
    for query in queries:
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            with database.read() as session:
                lookup(session, query, 10, 0)
            runs.append((time.perf_counter() - start) * 1000)
        out.append((query[:30], round(statistics.median(runs), 2)))
    database.dispose()
    return sorted(out, key=lambda x: -x[1])[:5]


# --- driver -------------------------------------------------------------------------------


def run_backend(name: str, url: str, corpus: Path, rounds: int) -> dict[str, Any]:
    print(f"[{name}] ingesting {corpus} ...", flush=True)
    stats = run_ingest(url, corpus)
    print(f"[{name}] ingested {stats['articles']} articles in {stats['seconds']:.1f} s", flush=True)
    right, total, misses = accuracy(url, corpus)
    print(f"[{name}] parse accuracy {right}/{total}", flush=True)
    for miss in misses:
        print("  mismatch", miss)
    companies = company_mix(url)
    company = latencies(url, "company", companies, COMPANY_WEIGHTS, rounds)
    topic = latencies(url, "topic", TOPICS, TOPIC_WEIGHTS, rounds)
    all_company = [t for ts in company.values() for t in ts]
    all_topic = [t for ts in topic.values() for t in ts]
    result: dict[str, Any] = {
        "backend": name,
        "files": stats["files"],
        "articles": stats["articles"],
        "ingest_failed_files": stats["failed"],
        "ingest_seconds": round(stats["seconds"], 2),
        "ingest_articles_per_s": round(stats["articles"] / stats["seconds"]),
        # Peak RSS of the ingest process itself (getrusage in the child, RUSAGE_SELF).
        "ingest_peak_rss_mb": round(stats["main_peak_mb"], 1),
        # Its parse worker (ingest_files forks one for large runs); both run at the same time.
        "parse_worker_peak_rss_mb": round(stats["worker_peak_mb"], 1),
        # RUSAGE_CHILDREN seen by this process after the ingest child exited: max over all
        # reaped descendants so far (ingest process, its worker, the corpus generator).
        "children_maxrss_mb": round(stats["children_maxrss_mb"], 1),
        "parse_accuracy_pct": round(100 * right / max(1, total), 3),
        "parse_mismatches": total - right,
        "company_queries": len(all_company),
        "company_p50_ms": round(pct(all_company, 50), 2),
        "company_p99_ms": round(pct(all_company, 99), 2),
        "company_max_ms": round(max(all_company), 2),
        "topic_queries": len(all_topic),
        "topic_p50_ms": round(pct(all_topic, 50), 2),
        "topic_p99_ms": round(pct(all_topic, 99), 2),
        "topic_max_ms": round(max(all_topic), 2),
    }
    result["by_class"] = {
        f"{kind}:{cls}": {
            "n": len(ts),
            "p50_ms": round(pct(ts, 50), 2),
            "p99_ms": round(pct(ts, 99), 2),
        }
        for kind, groups in (("company", company), ("topic", topic))
        for cls, ts in sorted(groups.items())
    }
    result["slowest_company"] = slowest(
        url, "company", [q for qs in companies.values() for q in qs]
    )
    result["slowest_topic"] = slowest(url, "topic", [q for qs in TOPICS.values() for q in qs])
    result["company_mix"] = companies
    result["targets_met"] = {
        key: meets(result[key], *bound)
        for key, bound in TARGETS.items()
        if key in result and applies(key, name)
    }
    return result


def applies(key: str, backend: str) -> bool:
    """The ingest throughput target is set for the embedded SQLite default only."""
    return key != "ingest_articles_per_s" or backend == "sqlite"


def meets(value: float, op: str, bound: float) -> bool:
    return value >= bound if op == ">=" else value < bound


def wipe_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    from bot.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def print_table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Archive benchmark (synthetic ten-year corpus, first page of 10)")
    table.add_column("metric")
    for result in results:
        table.add_column(str(result["backend"]), justify="right")
    table.add_column("target", justify="right")
    for key, value in results[0].items():
        if key == "backend" or isinstance(value, dict | list):
            continue
        cells = []
        for result in results:
            cell = str(result[key])
            if key in TARGETS and applies(key, result["backend"]):
                ok = meets(result[key], *TARGETS[key])
                cell = f"[green]{cell} ✓[/]" if ok else f"[red]{cell} ✗[/]"
            cells.append(cell)
        target = " ".join(str(x) for x in TARGETS[key]) if key in TARGETS else ""
        if key == "ingest_articles_per_s":
            target += " (SQLite)"
        table.add_row(key, *cells, target)
    console.print(table)
    detail = Table(title="Latency by query class (ms)")
    detail.add_column("class")
    for result in results:
        detail.add_column(f"{result['backend']} p50", justify="right")
        detail.add_column(f"{result['backend']} p99", justify="right")
    for cls in results[0]["by_class"]:
        row = [cls]
        for result in results:
            entry = result["by_class"].get(cls, {})
            row += [str(entry.get("p50_ms", "")), str(entry.get("p99_ms", ""))]
        detail.add_row(*row)
    console.print(detail)
    for result in results:
        console.print(f"[bold]{result['backend']}[/] slowest company: {result['slowest_company']}")
        console.print(f"[bold]{result['backend']}[/] slowest topic:   {result['slowest_topic']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="reuse a generated corpus")
    parser.add_argument("--days", type=int, default=3650)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (schema is WIPED)")
    parser.add_argument("--rounds", type=int, default=1000, help="lookups of each kind (>= 500)")
    parser.add_argument("--no-write", action="store_true", help="don't write results/*.json")
    parser.add_argument("--ingest-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest_child:
        ingest_child(args.ingest_child, args.corpus)
        return 0
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
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
                    "--seed",
                    str(args.seed),
                ],
                check=True,
            )
        backends = [("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}")]
        if args.postgres:
            wipe_postgres(args.postgres)
            backends.append(("postgresql", args.postgres))
        results = [run_backend(name, url, corpus, args.rounds) for name, url in backends]
    print_table(results)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        for result in results:
            path = RESULTS / f"archive-{result['backend']}.json"
            path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
            print(f"wrote {path.relative_to(REPO)}")
    missed = [
        f"{r['backend']}:{k}" for r in results for k, ok in r["targets_met"].items() if not ok
    ]
    print("targets missed: " + (", ".join(missed) if missed else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
