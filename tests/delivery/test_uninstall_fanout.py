"""Uninstalled during a fan-out: the workspace's channels get no post after the purge, while
the other workspaces' deliveries go on (issue 24, point 15)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.slack_api import SlackStub

from bot.core import workspaces
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer
from bot.delivery.fanout import FanOut, Pacing
from bot.delivery.transports import PosterCache
from bot.store import ledger
from bot.store.db import Database
from bot.store.group_commit import GroupCommit
from bot.store.queries import get_issue
from bot.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 4, 8)
GONE, STAYS = Workspace("TGONE"), Workspace("TSTAY")
# A post whose request was already on its way when the purge committed may still arrive.
IN_FLIGHT = 0.1


class TeamTokens:
    """xoxb-<team> for every team."""

    def token(self, workspace: Workspace) -> str | None:
        return f"xoxb-{workspace.team_id}"

    def forget(self, workspace: Workspace) -> None:
        pass


@pytest.fixture
def archive(database: Database) -> Iterator[Database]:
    ingest_files(database, expand_paths([REPO / "seeds" / f"{DAY}.txt"]))
    yield database


def test_no_post_reaches_a_workspace_after_its_purge(archive: Database) -> None:
    jobs = []
    with archive.write() as session:
        issue = get_issue(session, DAY)
        assert issue is not None
        for workspace, channels in ((GONE, 6), (STAYS, 2)):
            for n in range(channels):
                delivery = ledger.ensure_delivery(session, workspace, f"C{n}", issue.id)
                jobs.append((workspace, delivery))
    gone_token = TeamTokens().token(GONE)
    # The web process deletes the workspace (app_uninstalled): another connection pool.
    web = Database(archive.engine.url.render_as_string(hide_password=False))
    with SlackStub(teams={gone_token or "": "TGONE", "xoxb-TSTAY": "TSTAY"}) as stub:
        posts_of_gone = lambda: [  # noqa: E731
            c for c in stub.calls_to("chat.postMessage") if c.token == gone_token
        ]
        engine = FanOut(
            Deliverer(archive, PosterCache(TeamTokens(), stub.url), commit=GroupCommit(archive)),
            Pacing(channel_interval=0.3, workspace_per_minute=None),
        )
        purged: list[float] = []

        def uninstall_mid_way() -> None:
            while len(posts_of_gone()) < 12:  # every channel has its first parts
                time.sleep(0.01)
            workspaces.uninstall(web, GONE, workspaces.forget_nothing)
            purged.append(time.time())

        purge = threading.Thread(target=uninstall_mid_way)
        purge.start()
        results = engine.run(jobs)
        purge.join(30)
    web.dispose()
    late = [round(c.time - purged[0], 3) for c in posts_of_gone() if c.time > purged[0] + IN_FLIGHT]
    assert late == []
    stayed = [r for r in results if r.outcome == "posted"]
    assert len(stayed) == 2  # the other workspace's channels got the whole issue
