"""Busy-database benchmark: how long a reaction save waits while a large ingest is writing.

    python benchmarks/bench_busy.py [--corpus DIR] [--postgres URL] [--interval 0.02]

Ingests the synthetic ten-year corpus (benchmarks/generate_corpus.py, 3,650 files) in a child
process with `ingest_files`, while this process performs the bot's reaction save, exactly as the
event listener does it after acking Slack (`Database.write_retrying` + `saves.record_reaction`),
every `--interval` seconds. Measured from the first stored file to the end of the ingest: the
wait of each save (p50/p95/p99/max), saves lost (an exception), and the ingest's articles/s.

Each backend runs four ingests in the same run, so the change is compared with its baseline:
the old ingest pace (64 files per transaction, back to back) and the new one (`DEFAULT_PACE`:
at most 16 files and about 50 ms per transaction, and a 3 ms pause on SQLite) alone, for their
speed; then the old pace with the old plain save (one attempt, SQLite's 15 s busy timeout), and
the new pace with the retrying save.
Writes benchmarks/results/busy-<backend>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.config import normalise_database_url  # noqa: E402
from bot.core.ingestion import DEFAULT_PACE, IngestPace, expand_paths, ingest_files  # noqa: E402
from bot.store import saves  # noqa: E402
from bot.store.db import Database, open_database  # noqa: E402
from bot.store.tables import ArticleRow, DeliveryMessageRow, DeliveryRow, IssueRow  # noqa: E402
from bot.workspace import Workspace  # noqa: E402

WS = Workspace("T111")  # the Slack stand-in's workspace

# Before: 64 files per transaction, no time bound, no pause.
OLD_PACE = IngestPace(files=64, seconds=float("inf"), sqlite_pause=0.0)
PACES = {"old": OLD_PACE, "new": DEFAULT_PACE}
TARGET_P99_MS = 500.0
CHANNEL = "CBUSY"


def ingest_child(url: str, corpus: Path, pace: str) -> None:
    """In a child process: ingest the corpus; 'storing' at the first stored file, then JSON."""
    database = Database(url)
    files = expand_paths([corpus])
    marked: list[bool] = []

    def on_file(_outcome: Any) -> None:
        if not marked:
            marked.append(True)
            print("storing", flush=True)

    start = time.perf_counter()  # the whole ingest, as `python -m bot ingest` runs it
    report = ingest_files(database, files, on_file, PACES[pace])
    seconds = time.perf_counter() - start
    database.dispose()
    print(json.dumps({"articles": report.articles, "failed": len(report.failed), "s": seconds}))


def posted_articles(database: Database, tmp: Path, count: int = 20) -> list[str]:
    """An issue outside the corpus's dates, as if the bot had posted its deep dives to CHANNEL.

    Its message timestamps; the ingest never touches it, so every save has its article.
    """
    dives = "\n".join(
        f"Busy Thing {i} · Acme · Source\nAcme made thing {i} fast." for i in range(count)
    )
    issue = tmp / "2031-01-01.txt"
    issue.write_text(
        f"Engineering @ Scale — 2031-01-01\n\nSignal of the Day\nBusy.\n\nDeep Dives\n{dives}\n"
    )
    ingest_files(database, [issue])
    stamps = []
    with database.write() as session:
        issue_id = session.scalar(select(IssueRow.id).order_by(IssueRow.date.desc()).limit(1))
        ids = session.scalars(select(ArticleRow.id).where(ArticleRow.issue_id == issue_id)).all()
        delivery = DeliveryRow(channel_id=CHANNEL, issue_id=issue_id, state="posted")
        session.add(delivery)
        session.flush()
        for part, article_id in enumerate(ids[:count], start=1):
            ts = f"1790000000.{part:06d}"
            session.add(
                DeliveryMessageRow(
                    delivery_id=delivery.id,
                    part=part,
                    channel_id=CHANNEL,
                    ts=ts,
                    article_id=article_id,
                )
            )
            stamps.append(ts)
    return stamps


def save_once(database: Database, ts: str, n: int, *, retrying: bool) -> None:
    """One reaction save as the listener performs it (the plain variant: as before the fix)."""
    now = dt.datetime.now(dt.UTC)
    reaction = saves.Reaction(f"U{n % 50}", CHANNEL, ts, n % 2 == 1, int(time.time() * 1e6))
    event_id = f"EvBusy{uuid.uuid4().hex}"

    def work(session: Any) -> bool:
        return saves.record_reaction(session, WS, event_id, reaction, now)

    if retrying:
        database.write_retrying(work)
    else:
        with database.write() as session:
            work(session)


def measure(
    url: str, corpus: Path, pace: str, saving: str | None, interval: float, tmp: Path
) -> dict[str, Any]:
    """Ingest in a child while saving here (unless `saving` is None); stats of the storing phase."""
    database = open_database(url, upgrade=True)
    stamps = posted_articles(database, tmp)
    child = subprocess.Popen(
        [sys.executable, __file__, "--ingest-child", url, str(corpus), pace],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    storing = threading.Event()
    lines: list[str] = []

    def read_child() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "storing":
                storing.set()
            lines.append(line)

    reader = threading.Thread(target=read_child, daemon=True)
    reader.start()
    storing.wait(300)
    waits: list[float] = []
    lost: list[str] = []
    n = 0
    due = time.perf_counter()
    while saving is not None and child.poll() is None:
        # A fixed rate (not "interval after the last one"): slow saves do not mean fewer saves.
        due += interval
        start = time.perf_counter()
        try:
            save_once(database, stamps[n % len(stamps)], n, retrying=saving == "retrying")
        except Exception as exc:
            lost.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        else:
            waits.append((time.perf_counter() - start) * 1000)
        n += 1
        time.sleep(max(0.0, due - time.perf_counter()))
    child.wait()
    reader.join(10)
    database.dispose()
    stats = json.loads(lines[-1])
    return {
        "ingest_pace": {"name": pace, **vars(PACES[pace])},
        "write": {None: "no saves", "plain": "plain (before)"}.get(saving, saving),
        "saves": len(waits) + len(lost),
        "lost": len(lost),
        "lost_examples": lost[:3],
        "wait_p50_ms": percentile(waits, 50),
        "wait_p95_ms": percentile(waits, 95),
        "wait_p99_ms": percentile(waits, 99),
        "wait_max_ms": max(waits, default=0.0),
        "ingest_articles": stats["articles"],
        "ingest_seconds": stats["s"],
        "ingest_articles_per_s": stats["articles"] / stats["s"],
    }


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def fresh_postgres(base: str) -> tuple[str, Callable[[], None]]:
    """A new empty database on the server of `base`; returns its URL and a dropper."""
    name = f"bench_busy_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_database_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_database_url(base)).set(database=name)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def run_backend(
    backend: str, base: str | None, corpus: Path, tmp: Path, interval: float
) -> dict[str, Any]:
    # Ingest speed alone (old and new pace, same run), then the waits: before and after.
    variants = [("old", None), ("new", None), ("old", "plain"), ("new", "retrying")]
    runs = []
    for i, (pace, saving) in enumerate(variants):
        if backend == "sqlite":
            url, drop = f"sqlite:///{tmp / f'busy-{i}.db'}", (lambda: None)
        else:
            assert base is not None
            url, drop = fresh_postgres(base)
        try:
            run = measure(url, corpus, pace, saving, interval, tmp)
        finally:
            drop()
        print(json.dumps({"backend": backend, **run}), flush=True)
        runs.append(run)
    final = runs[-1]
    speed = {r["ingest_pace"]["name"]: r["ingest_articles_per_s"] for r in runs[:2]}
    return {
        "backend": backend,
        "benchmark": "busy",
        "machine": f"{os.cpu_count()} cores",
        "commit": git_commit(),
        "files": len(expand_paths([corpus])),
        "save_interval_s": interval,
        "runs": runs,
        "ingest_speed_new_vs_old": speed["new"] / speed["old"],
        "target_p99_ms": TARGET_P99_MS,
        "targets_met": {
            "wait_p99_ms": final["wait_p99_ms"] < TARGET_P99_MS,
            "no_save_lost": final["lost"] == 0,
        },
    }


def git_commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return done.stdout.strip()


def print_table(results: list[dict[str, Any]]) -> None:
    head = f"{'backend':10} {'ingest':>6} {'write':15} {'saves':>5} {'lost':>4} "
    head += f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'ingest art/s':>12}"
    print(head)
    for result in results:
        for r in result["runs"]:
            print(
                f"{result['backend']:10} {r['ingest_pace']['name']:>6} {r['write']:15} "
                f"{r['saves']:>5} {r['lost']:>4} {r['wait_p50_ms']:>8.1f} {r['wait_p95_ms']:>8.1f} "
                f"{r['wait_p99_ms']:>8.1f} {r['wait_max_ms']:>8.1f} "
                f"{r['ingest_articles_per_s']:>12,.0f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="reuse a generated corpus")
    parser.add_argument("--postgres", help="also run on this PostgreSQL server (temp databases)")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between saves")
    parser.add_argument("--no-write", action="store_true", help="don't write results/*.json")
    parser.add_argument("--ingest-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest_child:
        url, corpus, pace = args.ingest_child
        ingest_child(url, Path(corpus), pace)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-busy-") as tmp_name:
        tmp = Path(tmp_name)
        corpus = args.corpus
        if corpus is None:
            corpus = tmp / "corpus"
            generator = [sys.executable, str(HERE / "generate_corpus.py"), str(corpus)]
            subprocess.run(generator, check=True)
        results = [run_backend("sqlite", None, corpus, tmp, args.interval)]
        if args.postgres:
            results.append(run_backend("postgresql", args.postgres, corpus, tmp, args.interval))
    print_table(results)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        for result in results:
            path = RESULTS / f"busy-{result['backend']}.json"
            path.write_text(json.dumps(result, indent=2) + "\n")
            print(f"wrote {path.relative_to(REPO)}")
    missed = [
        f"{r['backend']}:{k}" for r in results for k, ok in r["targets_met"].items() if not ok
    ]
    print("targets missed: " + (", ".join(missed) if missed else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
