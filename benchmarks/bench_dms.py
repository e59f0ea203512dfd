"""Follower DMs paced within Slack's limits: N followers in M workspaces, time beside the floor.

    python benchmarks/bench_dms.py [--followers 300] [--workspaces 10] [--per-second 2]
                                   [--postgres URL]

The Slack stand-in enforces chat.postMessage limits like Slack's: one message a second into
each channel (a DM is a channel) and `--per-second` a second in each workspace (the token's
team), answering 429 + Retry-After beyond them. The bot runs with DIGEST_DM_PER_SECOND at the
same value, each workspace with its own token, and a few extra 429s are injected to show that
Retry-After is honoured. The floor is what the limits impose on the busiest workspace or person:
ceil(DMs / per-second) - 1 seconds. Reports the time to send every DM, the floor, lost and
duplicate DMs (from what the stand-in stored, by each DM's metadata), 429s, and the shortest
wait between a refused post and its retry.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import report  # noqa: E402
from sqlalchemy import select  # noqa: E402
from support.slack_api import SlackStub  # noqa: E402

from bot.core import follows  # noqa: E402
from bot.core.ingestion import ingest_files  # noqa: E402
from bot.delivery.follower_dms import FollowerDms  # noqa: E402
from bot.delivery.pacer import Pacer  # noqa: E402
from bot.delivery.transports import PosterCache, SlackClients  # noqa: E402
from bot.store.db import Database, open_database  # noqa: E402
from bot.store.tables import FollowMessageRow  # noqa: E402
from bot.workspace import Workspace  # noqa: E402

NEW_ISSUES = ("2026-05-12", "2026-05-13")  # arrive after the follows: one or two DMs each
FOLLOWED = (
    "company Cloudflare",
    "company AWS",
    "company Netflix",
    "company Google",
    "company Meta",
    "topic AI agents",
    "topic database",
    "topic latency",
    "topic kubernetes",
    "topic rate limiting",
)
INJECTED_429 = 5


class Tokens:
    """Each workspace's own bot token (what bot.slack.installations gives in many-workspace
    mode), registered with the stand-in so it counts the workspace's posts."""

    def __init__(self, stub: SlackStub, workspaces: list[Workspace]) -> None:
        self.tokens = {w: f"xoxb-bench-{w.team_id}" for w in workspaces}
        for workspace, token in self.tokens.items():
            stub.token_teams[token] = {"team_id": workspace.team_id}
            stub.teams[token] = workspace.team_id

    def token(self, workspace: Workspace) -> str | None:
        """The workspace's token."""
        return self.tokens.get(workspace)

    def forget(self, workspace: Workspace) -> None:
        """Nothing stored."""


def prepare(database: Database, followers: int, workspaces: list[Workspace]) -> None:
    """The archive without the two newest issues, the follows, then the two new issues."""
    seeds = sorted((REPO / "seeds").glob("*.txt"))
    ingest_files(database, [p for p in seeds if not p.name.startswith(NEW_ISSUES)])
    rng = random.Random(5)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    for n in range(followers):
        workspace = workspaces[n % len(workspaces)]
        user = f"U{workspace.team_id[1:]}{n:05d}"  # unique: the stand-in's DM channel per user
        for what in rng.sample(FOLLOWED, 2):
            assert follows.follow(database, workspace, user, what, now).ok
    ingest_files(database, [p for p in seeds if p.name.startswith(NEW_ISSUES)])


def retry_waits(stub: SlackStub) -> list[float]:
    """Seconds between a DM's refused post and its next attempt (each DM names itself in its
    metadata): Retry-After is 1 s, so none may be shorter."""
    tries: dict[int, list[float]] = {}
    for call in stub.calls_to("chat.postMessage"):
        payload = (call.params.get("metadata") or {}).get("event_payload") or {}
        tries.setdefault(int(payload["follow_message_id"]), []).append(call.time)
    return [b - a for times in tries.values() for a, b in itertools.pairwise(sorted(times))]


def floor_seconds(per_workspace: Counter[str], per_person: Counter[str], rate: float) -> float:
    """What the stand-in's limits impose: the busiest workspace at `rate` a second (W posts
    in any one-second window), each person's DM channel at one a second."""
    busiest = max(math.ceil(n / rate) - 1 for n in per_workspace.values())
    return float(max(busiest, max(per_person.values()) - 1))


def run(url: str, followers: int, count: int, rate: float) -> dict[str, Any]:
    """One backend: prepare, match, then send every DM through the stand-in, timed."""
    database = open_database(url, upgrade=True)
    workspaces = [Workspace(f"T{w:03d}") for w in range(count)]
    prepare(database, followers, workspaces)
    with SlackStub(rate_limit_per_channel=1, rate_limit_per_team=rate) as stub:
        pacer = Pacer(1.0, rate * 60)
        dms = FollowerDms(
            database,
            PosterCache(SlackClients(Tokens(stub, workspaces), stub.url)),
            lease=dt.timedelta(seconds=15),
            recent_days=2,
            pacer=pacer,
        )
        created = follows.match_new(database, dt.datetime.now(dt.UTC), 2)
        with database.read() as session:
            ledger = session.execute(
                select(FollowMessageRow.id, FollowMessageRow.team_id, FollowMessageRow.user_id)
            ).all()
        stub.fail_next("chat.postMessage", 429, retry_after=1, times=INJECTED_429, after=20)
        start = time.perf_counter()
        outcomes = Counter(dms.run())
        elapsed = time.perf_counter() - start
        delivered = [
            m["metadata"]["event_payload"]["follow_message_id"]
            for team, user in {(t, u) for _i, t, u in ledger}
            for m in stub.dms(user, team)
        ]
        limit_429s = stub.rate_limited
        waits = retry_waits(stub)
    database.dispose()
    expected = {i for i, _t, _u in ledger}
    floor = floor_seconds(
        Counter(t for _i, t, _u in ledger), Counter(u for _i, _t, u in ledger), rate
    )
    return {
        "backend": url.split(":")[0].split("+")[0],
        "followers": followers,
        "workspaces": count,
        "per_workspace_per_second": rate,
        "dms": created,
        "seconds": round(elapsed, 2),
        "floor_seconds": floor,
        "ratio_to_floor": round(elapsed / floor, 2) if floor else None,
        "lost": len(expected - set(delivered)),
        "duplicates": len(delivered) - len(set(delivered)),
        "sent": outcomes.get("sent", 0),
        "429s_injected": INJECTED_429,
        "429s_from_limits": limit_429s,
        "retries_after_429": len(waits),
        "shortest_wait_after_429_s": round(min(waits), 2) if waits else None,
    }


def main() -> int:
    """Run on SQLite (and PostgreSQL), print side by side, write results JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=300)
    parser.add_argument("--workspaces", type=int, default=10)
    parser.add_argument("--per-second", type=float, default=2.0)
    parser.add_argument("--postgres", help="also run on this PostgreSQL URL (its schema is wiped)")
    args = parser.parse_args()
    at = report.commit()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite:///{Path(tmp) / 'dms.db'}"
        results.append(run(sqlite, args.followers, args.workspaces, args.per_second))
    if args.postgres:
        url = report.fresh_postgres(args.postgres)
        results.append(run(url, args.followers, args.workspaces, args.per_second))
    title = "Follower DMs paced within the stand-in's limits"
    report.print_table(title, results, lambda r: str(r["backend"]))
    report.save(results, lambda r: f"dms-{r['backend']}", at)
    return 0


if __name__ == "__main__":
    sys.exit(main())
