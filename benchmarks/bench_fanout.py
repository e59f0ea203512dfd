"""Fan-out benchmark: one 31-article issue (33 messages) to many channels through the worker.

    python benchmarks/bench_fanout.py [--runs 2000,4000] [--postgres URL] [--baseline COMMIT]
        [--teams 50 --per-team 40] [--team-limit 10]

The Slack stand-in runs in its own process and enforces one message per second per channel
and (headline run) a per-workspace limit of --team-limit posts per sliding second, both with
429 + Retry-After. The floor is what those limits impose: the larger of (messages per channel
- 1) seconds and ceil(messages per workspace / team limit) - 1 seconds. Reports total time
(worker start to last message), the ratio to the floor, lost, duplicate and misordered
messages, 429s received, the worker's peak RSS, and CPU per message of the worker, the stand-in
and (when it runs on this machine) the PostgreSQL server.

Runs: `2000` (50 workspaces x 40 channels) and `4000` (100 x 40, 132,000 messages, 1,000 a
second into the stand-in at the workspace limit), each the Procfile's `worker:` command (its
settings included) in many-workspace mode with every team installed with its own bot token in
the encrypted installation store;
`4000-two-workers` (the same with two worker processes sharing the fan-out: PostgreSQL only);
`headline` (--teams x --per-team), `channel-only` (those channels in one workspace with
SLACK_BOT_TOKEN, per-channel limit only), `200` (200 channels, one workspace). With several
workers the benchmark samples which worker holds each delivery being sent, and reports how many
deliveries each was seen sending.

`--baseline COMMIT` runs the same runs with that commit's code and its own copy of this script
(in a temporary git worktree), right before this tree's, so both columns come from one sitting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import report  # noqa: E402
from slack_sdk.oauth.installation_store import Installation  # noqa: E402
from sqlalchemy import text, update  # noqa: E402
from support.slack_api import SlackStub  # noqa: E402

from bot.core.ingestion import expand_paths, ingest_files  # noqa: E402
from bot.store import subscriptions  # noqa: E402
from bot.store.db import Database, open_database  # noqa: E402
from bot.store.installations import EncryptedInstallationStore  # noqa: E402
from bot.store.tables import ArticleCompanyRow, ArticleRow, IssueRow  # noqa: E402
from bot.workspace import Workspace  # noqa: E402

CLIENT_ID = "1.bench"
KEY = Fernet.generate_key().decode()

ISSUE = dt.date(2026, 3, 31)  # 31 deep dives: parent + 31 replies + patterns = 33 messages
PARTS = 33


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int, *, system: bool = True) -> float:
    """User + system (or only user) CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + (int(fields[12]) if system else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def local_postgres_cpu_seconds() -> float:
    """CPU time used so far by this machine's PostgreSQL server processes (the postmaster's
    ended children included); 0 where there are none."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        if "(postgres)" not in text:
            continue
        fields = text.rsplit(")", 1)[1].split()
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def procfile_worker() -> tuple[dict[str, str], list[str]]:
    """The Procfile's `worker:` command as a deployment runs it: its leading NAME=value
    settings, and its command with `python` this interpreter."""
    line = next(
        line.split(":", 1)[1]
        for line in (REPO / "Procfile").read_text().splitlines()
        if line.startswith("worker:")
    )
    words = shlex.split(line)
    settings = {}
    while words and "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        settings[name] = value
    if words[0] == "python":
        words[0] = sys.executable
    return settings, words


def threads_of(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def install(database: Database, teams: list[str]) -> None:
    """Each team installed the app (as /slack/oauth_redirect would store it): token xoxb-<team>."""
    from cryptography.fernet import MultiFernet

    store = EncryptedInstallationStore(CLIENT_ID, database, MultiFernet([Fernet(KEY)]))
    for team in teams:
        store.save(
            Installation(
                app_id="ABENCH",
                team_id=team,
                bot_token=f"xoxb-{team}",
                bot_id=f"B{team}",
                bot_user_id=f"U{team}",
                bot_scopes=["chat:write", "channels:join", "channels:history"],
                user_id="UBENCH",
            )
        )


def prepare(url: str, layout: list[tuple[str, str]], multi: bool) -> None:
    """Archive with the 31-article issue dated today and every (team, channel) subscribed, due
    now; with many teams, each one's installation."""
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
        for team, channel in layout:
            subscriptions.subscribe(
                session,
                Workspace(team),
                channel,
                hour=slot.hour,
                minute=slot.minute,
                timezone="UTC",
                days="daily",
                user_id="UBENCH",
                now=slot - dt.timedelta(hours=1),
            )
    if multi:
        install(database, sorted({team for team, _ in layout}))
    database.dispose()


def serve_stub(conn: Connection, team_limit: float | None, teams: dict[str, str]) -> None:
    """The stand-in's own process: answers 'posts', 'check <json>' and 'stop' on the pipe."""
    with SlackStub(
        rate_limit_per_channel=1, rate_limit_per_team=team_limit, teams=teams, lean=True
    ) as stub:
        conn.send(stub.url)
        while True:
            command = conn.recv()
            if command == "posts":
                conn.send((stub.posts, stub.rate_limited))
            elif command == "check":
                conn.send(check(stub, conn.recv()))
            else:
                return


def check(stub: SlackStub, layout: list[tuple[str, str]]) -> dict[str, float]:
    """Lost, duplicate and misordered messages over every (team, channel), and when the first
    and the last message were posted (wall clock: the stand-in's ts)."""
    lost = duplicates = misordered = 0
    first, last = math.inf, 0.0
    for team, channel in layout:
        parents = stub.messages(channel, team)
        for message in parents + (stub.thread(channel, parents[0]["ts"], team) if parents else []):
            first, last = min(first, float(message["ts"])), max(last, float(message["ts"]))
        duplicates += max(0, len(parents) - 1)
        if not parents:
            lost += PARTS
            continue
        parts = [
            m["metadata"]["event_payload"]["part"]
            for m in stub.thread(channel, parents[0]["ts"], team)
        ]
        duplicates += len(parts) - len(set(parts))
        lost += len(set(range(1, PARTS)) - set(parts))
        misordered += parts != sorted(parts)
    return {
        "lost": lost,
        "duplicates": duplicates,
        "misordered_threads": misordered,
        "first_post_at": first,
        "last_post_at": last,
    }


def sample_senders(database: Database, seen: dict[str, set[int]]) -> None:
    """Note which worker (pid) holds each delivery being sent now."""
    with database.read() as session:
        rows = session.execute(
            text("SELECT id, lease_owner FROM deliveries WHERE lease_owner IS NOT NULL")
        ).all()
    for delivery_id, owner in rows:
        seen.setdefault(owner_pid(owner), set()).add(delivery_id)


def owner_pid(owner: str) -> str:
    """The pid part of a lease owner (bot.owners: host|pid|start|attempt), or the owner itself."""
    parts = owner.split("|")
    return parts[1] if len(parts) == 4 else owner


def run(
    url: str, name: str, teams: int, per_team: int, team_limit: float | None, workers: int = 1
) -> dict[str, Any]:
    channels = teams * per_team
    multi = teams > 1
    team_ids = [f"TFAN{t:02d}" for t in range(teams)] if multi else ["T111"]
    tokens = {f"xoxb-{team}": team for team in team_ids} if multi else {}
    layout = [
        (team_ids[i // per_team] if multi else "T111", f"CFAN{i:04d}") for i in range(channels)
    ]
    prepare(url, layout, multi)
    parent, child = mp.Pipe()
    stub_process = mp.get_context("fork").Process(
        target=serve_stub, args=(child, team_limit, tokens), daemon=True
    )
    stub_process.start()
    stub_url = parent.recv()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SLACK_API_URL": stub_url,
        "LOG_LEVEL": "WARNING",
        "DIGEST_WORKSPACE_POSTS_PER_MINUTE": str(team_limit * 60 if team_limit else 0),
    }
    if multi:
        env |= {
            "SLACK_CLIENT_ID": CLIENT_ID,
            "SLACK_CLIENT_SECRET": "bench-secret",
            "DIGEST_ENCRYPTION_KEY": KEY,
        }
    else:
        env["SLACK_BOT_TOKEN"] = "xoxb-T111"  # noqa: S105  the stand-in's
    settings, command = procfile_worker()
    env |= settings
    database_cpu = local_postgres_cpu_seconds()
    start = time.perf_counter()
    started_at = time.time()
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(workers)
    ]
    watch = Database(url) if workers > 1 else None
    senders: dict[str, set[int]] = {}
    peak = 0.0
    most_threads = 0
    deadline = start + 1200
    samples = 0
    while time.perf_counter() < deadline and all(p.poll() is None for p in processes):
        peak = max(peak, *(peak_rss_mb(p.pid) for p in processes))
        most_threads = max(most_threads, *(threads_of(p.pid) for p in processes))
        parent.send("posts")
        posts, _ = parent.recv()
        if posts >= channels * PARTS:
            break
        samples += 1
        if watch is not None and samples % 5 == 0:
            sample_senders(watch, senders)
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    time.sleep(2)  # late duplicates would show up here
    peak = max(peak, *(peak_rss_mb(p.pid) for p in processes))
    worker_cpu = sum(cpu_seconds(p.pid) for p in processes)
    worker_user = sum(cpu_seconds(p.pid, system=False) for p in processes)
    stub_cpu = cpu_seconds(stub_process.pid or 0)
    database_cpu = local_postgres_cpu_seconds() - database_cpu
    errors = ""
    for process in processes:
        process.send_signal(signal.SIGTERM)
        errors += process.communicate(timeout=60)[1].decode()
    if watch is not None:
        watch.dispose()
    error_lines = [line for line in errors.splitlines() if "ERROR" in line]
    for line in error_lines[:5]:
        print(f"worker error: {line[:300]}", file=sys.stderr)
    parent.send("posts")
    posts, rate_limited = parent.recv()
    parent.send("check")
    parent.send(layout)
    verdict = parent.recv()
    first_post_at, last_post_at = verdict.pop("first_post_at"), verdict.pop("last_post_at")
    parent.send("stop")
    stub_process.join(30)
    per_team_messages = per_team * PARTS
    channel_floor = PARTS - 1.0
    team_floor = math.ceil(per_team_messages / team_limit) - 1.0 if team_limit else 0.0
    floor = max(channel_floor, team_floor)
    return {
        "run": name,
        "backend": url.split(":")[0].split("+")[0],
        "code": report.commit(),
        "workers": workers,
        "teams": teams,
        "channels": channels,
        "messages": channels * PARTS,
        "team_limit_per_s": team_limit or "none",
        "seconds": round(elapsed, 1),
        "floor_seconds": floor,
        "ratio_to_floor": round(elapsed / floor, 3),
        # Where the time went: starting up (imports, planning, first claims), then posting.
        "first_post_after_seconds": round(first_post_at - started_at, 1),
        "posting_seconds": round(last_post_at - first_post_at, 1),
        "posted": posts,
        **verdict,
        "rate_limited_429s": rate_limited,
        "worker_peak_rss_mb": round(peak, 1),  # the largest of the workers
        "deliveries_seen_sending_per_worker": (
            "/".join(str(len(seen)) for seen in senders.values()) if workers > 1 else "-"
        ),
        "worker_threads_max": most_threads,
        "worker_errors": len(error_lines),
        "worker_cpu_ms_per_message": round(1000 * worker_cpu / max(posts, 1), 2),  # all workers
        "worker_cpu_in_kernel": round(1 - worker_user / max(worker_cpu, 1e-9), 2),
        "stand_in_cpu_ms_per_message": round(1000 * stub_cpu / max(posts, 1), 2),
        # A PostgreSQL server on this machine shares its cores with the worker and the stand-in.
        "local_postgres_cpu_ms_per_message": round(1000 * database_cpu / max(posts, 1), 2),
        "load_average_1min_at_end": round(os.getloadavg()[0], 1),
    }


CASES: dict[str, tuple[int, int, float | None, int]] = {
    "2000": (50, 40, 10.0, 1),
    "4000": (100, 40, 10.0, 1),
    "4000-two-workers": (100, 40, 10.0, 2),
}


def baseline_results(commit: str, runs: list[str], postgres: str | None) -> list[dict[str, Any]]:
    """The one-worker runs measured with another commit's code and its own copy of this script
    (its `headline` run, sized like each of ours), from a temporary worktree."""
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], check=True)
        try:
            results = tree / "benchmarks" / "results"
            for name in runs:
                teams, per_team, limit, workers = CASES[name]
                if workers != 1:
                    continue
                for stale in results.glob("fanout-*.json"):
                    stale.unlink()
                command = [sys.executable, "benchmarks/bench_fanout.py", "--runs", "headline"]
                command += ["--teams", str(teams), "--per-team", str(per_team)]
                command += ["--team-limit", str(limit)]
                if postgres:
                    command += ["--postgres", postgres]
                env = {**os.environ, "PYTHONPATH": str(tree)}
                subprocess.run(command, cwd=tree, env=env, check=True)
                for result in sorted(results.glob("fanout-*.json")):
                    row = json.loads(result.read_text())
                    found.append({**row, "run": f"baseline {name}", "code": commit, "workers": 1})
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], check=False)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--per-team", type=int, default=40)
    parser.add_argument("--team-limit", type=float, default=10.0, help="posts/s per workspace")
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (its schema is wiped)")
    parser.add_argument("--runs", default="2000,4000")
    parser.add_argument("--baseline", help="a commit to measure the same runs with, first")
    args = parser.parse_args()
    cases = {
        **CASES,
        "headline": (args.teams, args.per_team, args.team_limit, 1),
        "channel-only": (1, args.teams * args.per_team, None, 1),
        "200": (1, 200, None, 1),
    }
    results = []
    if args.baseline:
        results += baseline_results(args.baseline, args.runs.split(","), args.postgres)
    at = report.commit()
    for name in args.runs.split(","):
        teams, per_team, limit, workers = cases[name]
        if workers == 1:
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{Path(tmp) / 'fanout.db'}"
                results.append(run(url, name, teams, per_team, limit))
            print(json.dumps(results[-1]), flush=True)
        if args.postgres:
            url = report.fresh_postgres(args.postgres)
            results.append(run(url, name, teams, per_team, limit, workers))
            print(json.dumps(results[-1]), flush=True)
    report.print_table(
        f"Fan-out of one 31-article issue (33 messages per channel), commit {at}",
        results,
        lambda r: f"{r['run']} {r['backend']}",
        {
            "ratio_to_floor": "2000: <= 1.05, 4000: <= 1.1",
            "lost": "0",
            "duplicates": "0",
            "worker_peak_rss_mb": "2000: < 120, 4000: < 150",
        },
        hidden=("run", "backend"),
    )
    report.save(results, lambda r: f"fanout-{r['run'].replace(' ', '-')}-{r['backend']}", at)
    return 0


if __name__ == "__main__":
    sys.exit(main())
