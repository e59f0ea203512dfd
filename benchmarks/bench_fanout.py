"""Fan-out benchmark: one 31-article issue to 200 channels through the real worker.

    python benchmarks/bench_fanout.py [--channels 200] [--postgres URL]

The Slack stand-in enforces one message per second per channel (429 + Retry-After beyond it).
The floor is what that limit imposes: (messages per channel - 1) seconds. Reports total time,
the ratio to the floor, lost and duplicate messages, 429s received, and the worker's peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from slack_stub import SlackStub  # noqa: E402
from sqlalchemy import update  # noqa: E402

from bot.ingestion import expand_paths, ingest_files  # noqa: E402
from bot.store import subscriptions  # noqa: E402
from bot.store.db import open_database  # noqa: E402
from bot.store.tables import ArticleCompanyRow, ArticleRow, IssueRow  # noqa: E402
from bot.workspace import Workspace  # noqa: E402

WS = Workspace("T111")  # the Slack stand-in's workspace

ISSUE = dt.date(2026, 3, 31)  # 31 deep dives: parent + 31 replies + patterns = 33 messages
PARTS = 33


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(url: str, channels: int) -> dt.datetime:
    """Archive with the 31-article issue dated today and `channels` subscriptions due now."""
    database = open_database(url, upgrade=True)
    ingest_files(database, expand_paths([REPO / "seeds" / f"{ISSUE}.txt"]))
    now = dt.datetime.now(dt.UTC)
    slot = now - dt.timedelta(minutes=1)
    with database.write() as session:
        for table, column in (
            (IssueRow, IssueRow.date),
            (ArticleRow, ArticleRow.issue_date),
            (ArticleCompanyRow, ArticleCompanyRow.issue_date),
        ):
            session.execute(update(table).where(column == ISSUE).values({column.key: slot.date()}))
        for i in range(channels):
            subscriptions.subscribe(
                session,
                WS,
                f"CFAN{i:04d}",
                hour=slot.hour,
                minute=slot.minute,
                timezone="UTC",
                days="daily",
                user_id="UBENCH",
                now=slot - dt.timedelta(hours=1),
            )
    database.dispose()
    return slot


def run(url: str, channels: int) -> dict[str, float | int | str]:
    prepare(url, channels)
    with SlackStub(rate_limit_per_channel=1) as stub:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_API_URL": stub.url,
            "LOG_LEVEL": "WARNING",
        }
        start = time.perf_counter()
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ids = [f"CFAN{i:04d}" for i in range(channels)]
        peak = 0.0
        deadline = start + 600
        while time.perf_counter() < deadline:
            peak = max(peak, peak_rss_mb(worker.pid))
            if sum(len(stub.all_messages(c)) for c in ids) >= channels * PARTS:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        time.sleep(2)  # late duplicates would show up here
        peak = max(peak, peak_rss_mb(worker.pid))
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        lost = duplicates = misordered = 0
        for channel in ids:
            parents = stub.messages(channel)
            duplicates += max(0, len(parents) - 1)
            if not parents:
                lost += PARTS
                continue
            parts = [
                m["metadata"]["event_payload"]["part"]
                for m in stub.thread(channel, parents[0]["ts"])
            ]
            duplicates += len(parts) - len(set(parts))
            lost += len(set(range(1, PARTS)) - set(parts))
            misordered += parts != sorted(parts)
        floor = PARTS - 1.0
        return {
            "backend": url.split(":")[0].split("+")[0],
            "channels": channels,
            "messages": channels * PARTS,
            "seconds": round(elapsed, 1),
            "floor_seconds": floor,
            "ratio_to_floor": round(elapsed / floor, 3),
            "lost": lost,
            "duplicates": duplicates,
            "misordered_threads": misordered,
            "rate_limited_429s": stub.rate_limited,
            "worker_peak_rss_mb": round(peak, 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (its schema is wiped)")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run(f"sqlite:///{Path(tmp) / 'fanout.db'}", args.channels))
    if args.postgres:
        from sqlalchemy import create_engine, text

        from bot.config import normalise_database_url

        engine = create_engine(normalise_database_url(args.postgres))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        results.append(run(args.postgres, args.channels))
    table = Table(
        title=f"Fan-out of one 31-article issue to {args.channels} channels (1 msg/s/channel)"
    )
    table.add_column("metric")
    for result in results:
        table.add_column(str(result["backend"]), justify="right")
    table.add_column("target", justify="right")
    targets = {
        "ratio_to_floor": "<= 1.2",
        "lost": "0",
        "duplicates": "0",
        "worker_peak_rss_mb": "< 150",
    }
    for key in results[0]:
        if key != "backend":
            table.add_row(key, *(str(r[key]) for r in results), targets.get(key, ""))
    Console().print(table)
    (HERE / "results").mkdir(exist_ok=True)
    for result in results:
        (HERE / "results" / f"fanout-{result['backend']}.json").write_text(
            json.dumps(result, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
