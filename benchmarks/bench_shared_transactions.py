"""Shared transactions: a fan-out's ledger writes batched as the engine runs them, beside one
transaction per write, on SQLite and PostgreSQL.

    python benchmarks/bench_shared_transactions.py [--deliveries 500] [--parts 33] [--postgres URL]

Each of --deliveries coroutines records --parts parts one after another (`ledger.PartRecord`,
the one write a fan-out makes per message), all at once as in a fan-out; each mode on a fresh
database. Reports records per second and this process's CPU per record with
`bot.store.db.SharedTransactions` taking up to 500 queued writes per transaction (the engine's
setting) and with 1 (a transaction per write).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import report
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.core.ingestion import expand_paths, ingest_files
from bot.store import ledger
from bot.store.db import SharedTransactions, make_async_engine, open_database
from bot.store.queries import get_issue
from bot.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
ISSUE = dt.date(2026, 3, 31)
LEASE = dt.timedelta(hours=1)


def prepare(url: str, deliveries: int) -> list[int]:
    """An archive with one issue and that many deliveries of it, each claimed by its own owner."""
    database = open_database(url, upgrade=True)
    ingest_files(database, expand_paths([REPO / "seeds" / f"{ISSUE}.txt"]))
    now = dt.datetime.now(dt.UTC)
    with database.write() as session:
        issue = get_issue(session, ISSUE)
        assert issue is not None
        ids = [
            ledger.ensure_delivery(session, Workspace("TBENCH"), f"C{n:05d}", issue.id)
            for n in range(deliveries)
        ]
        for delivery_id in ids:
            ledger.claim(session, delivery_id, f"bench-{delivery_id}", now, LEASE)
    database.dispose()
    return ids


async def record_all(url: str, ids: list[int], parts: int, max_batch: int) -> tuple[float, float]:
    """Wall and CPU seconds to record every part of every delivery, each delivery in order."""
    engine = make_async_engine(url)
    writer = engine.execution_options(sqlite_begin="IMMEDIATE")
    writes = SharedTransactions(async_sessionmaker(writer, expire_on_commit=False), max_batch)
    until = dt.datetime.now(dt.UTC) + LEASE

    async def one(delivery_id: int) -> None:
        for part in range(parts):
            following = (part + 1, until) if part + 1 < parts else None
            record = ledger.PartRecord(
                delivery_id,
                f"bench-{delivery_id}",
                part,
                f"C{delivery_id:05d}",
                f"1700000000.{delivery_id:06d}{part:02d}",
                None,
                "fingerprint",
                following,
            )
            assert await writes.run(record)

    wall, cpu = time.perf_counter(), time.process_time()
    try:
        async with asyncio.TaskGroup() as group:
            for delivery_id in ids:
                group.create_task(one(delivery_id))
    finally:
        await engine.dispose()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(url: str, backend: str, args: argparse.Namespace, max_batch: int) -> dict[str, Any]:
    ids = prepare(url, args.deliveries)
    wall, cpu = asyncio.run(record_all(url, ids, args.parts, max_batch))
    records = len(ids) * args.parts
    return {
        "run": f"batch {max_batch}",
        "backend": backend,
        "code": report.commit(),
        "deliveries_at_once": len(ids),
        "records": records,
        "max_batch": max_batch,
        "seconds": round(wall, 2),
        "records_per_second": round(records / wall),
        "cpu_ms_per_record": round(1000 * cpu / records, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--parts", type=int, default=33)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (its schema is wiped)")
    args = parser.parse_args()
    results = []
    for max_batch in (500, 1):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
            results.append(measure(url, "sqlite", args, max_batch))
        if args.postgres:
            url = report.fresh_postgres(args.postgres)
            results.append(measure(url, "postgresql", args, max_batch))
    at = report.commit()
    report.print_table(
        "Ledger records: shared transactions vs one each",
        results,
        lambda r: f"{r['backend']} {r['run']}",
    )
    report.save(results, lambda r: f"shared-transactions-{r['backend']}-batch-{r['max_batch']}", at)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
