"""`python -m bot workspaces list|remove` and `--team`, as an operator runs them (in-process)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from cryptography.fernet import Fernet
from support.helpers import SEED_NEWEST, run_cli, subscribe
from support.slack_api import SlackStub

from bot.core import workspaces
from bot.core.ingestion import expand_paths, ingest_files
from bot.delivery.deliverer import Deliverer, everywhere
from bot.delivery.poster import ChannelPacer, SlackPoster, make_web_client
from bot.store import subscriptions
from bot.store.db import Database
from bot.store.tables import SubscriptionRow
from bot.workspace import Workspace
from tests.conftest import SEEDS

ONE, TWO = Workspace("T0ONE"), Workspace("T0TWO")
NOW = dt.datetime.now(dt.UTC)


def bot(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` run in this process with these settings."""
    return run_cli(*args, cwd=cwd, env=env)


def two_workspaces(database: Database, stub: SlackStub) -> None:
    """T0ONE: two channels, one failing, a posted issue; T0TWO: one channel, named."""
    ingest_files(database, expand_paths([SEEDS]))
    with database.write() as session:
        for workspace, channel in ((ONE, "C1"), (ONE, "C2"), (TWO, "C1")):
            subscriptions.subscribe(
                session,
                workspace,
                channel,
                hour=9,
                minute=0,
                timezone="UTC",
                days="daily",
                user_id="U1",
                now=NOW,
            )
        session.query(SubscriptionRow).filter_by(team_id="T0ONE", channel_id="C2").update(
            {"failing": True, "last_error": "not_in_channel"}
        )
    poster = SlackPoster(make_web_client("xoxb-any", stub.url), ChannelPacer(0))
    Deliverer(database, everywhere(poster)).deliver_issue(ONE, "C1", SEED_NEWEST)
    workspaces.adopt(database, TWO, NOW, "Second Co")
    workspaces.set_installer(database, TWO, "U0INST")


def test_list_and_remove_as_an_operator(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    multi = {
        "DATABASE_URL": database_url,
        "SLACK_CLIENT_ID": "111.222",
        "SLACK_CLIENT_SECRET": "client-secret-0123456789",
        "DIGEST_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    try:
        with SlackStub() as stub:
            two_workspaces(database, stub)
        listed = bot(["workspaces", "list"], tmp_path, **multi)
        assert listed.returncode == 0, listed.stderr
        lines = {line.split()[1]: line for line in listed.stdout.splitlines() if "T0" in line}
        assert set(lines) == {"T0ONE", "T0TWO"}
        one, two = lines["T0ONE"].split("│"), lines["T0TWO"].split("│")
        assert [c.strip() for c in one[2:5]] == ["", "no", "2"] and one[6].strip() == "1"
        assert "UTC" in one[5]  # its last delivery
        assert [c.strip() for c in two[2:7]] == ["Second Co", "yes", "1", "—", "0"]
        # --team is required with several workspaces; it picks one.
        ambiguous = bot(["subscriptions", "list"], tmp_path, **multi)
        assert ambiguous.returncode == 1
        assert ambiguous.stderr.count("\n") == 1 and "--team is required" in ambiguous.stderr
        only_two = bot(["subscriptions", "list", "--team", "T0TWO"], tmp_path, **multi)
        assert only_two.returncode == 0 and "C1" in only_two.stdout and "C2" not in only_two.stdout
        added = bot(["subscriptions", "add", "C7", "10:00", "--team", "T0TWO"], tmp_path, **multi)
        assert added.returncode == 0, added.stderr
        unknown = bot(["subscriptions", "list", "--team", "T0NOPE"], tmp_path, **multi)
        assert unknown.returncode == 1 and "unknown workspace T0NOPE" in unknown.stderr
        hostile = bot(["subscriptions", "list", "--team", "'; DROP TABLE x"], tmp_path, **multi)
        assert hostile.returncode == 1 and "not a Slack team id" in hostile.stderr
        # Remove one workspace: its data goes, the other's and the archive stay.
        missing = bot(["workspaces", "remove", "T0NOPE"], tmp_path, **multi)
        assert missing.returncode == 1 and missing.stderr.strip().count("\n") == 0
        removed = bot(["workspaces", "remove", "T0TWO"], tmp_path, **multi)
        assert removed.returncode == 0, removed.stderr
        assert "removed workspace T0TWO" in removed.stdout
        with database.read() as session:
            assert subscriptions.list_subscriptions(session, TWO) == []
            assert len(subscriptions.list_subscriptions(session, ONE)) == 2
        # Half configured (no secret, no key): one line, exit 2, nothing removed.
        half_configured = {"DATABASE_URL": database_url, "SLACK_CLIENT_ID": "111.222"}
        half = bot(["workspaces", "remove", "T0ONE"], tmp_path, **half_configured)
        assert half.returncode == 2 and half.stderr.count("\n") == 1
        assert "SLACK_CLIENT_SECRET is not set" in half.stderr
        after = bot(["workspaces", "list"], tmp_path, **multi)
        assert "T0TWO" not in after.stdout and "T0ONE" in after.stdout
        archive = bot(["search", "date", "latest"], tmp_path, **multi)
        assert archive.returncode == 0 and "2026-05-13" in archive.stdout  # the archive stays
    finally:
        database.dispose()


def test_single_workspace_commands_use_the_tokens_team(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    try:
        subscribe(database, "C5", now=NOW)  # the stand-in's workspace, T111
        with SlackStub() as stub:
            env = {
                "DATABASE_URL": database_url,
                "SLACK_BOT_TOKEN": "xoxb-single",
                "SLACK_API_URL": stub.url,
            }
            listed = bot(["subscriptions", "list"], tmp_path, **env)
            assert listed.returncode == 0 and "C5" in listed.stdout, listed.stderr
            other = bot(["subscriptions", "list", "--team", "T0OTHER"], tmp_path, **env)
            assert other.returncode == 1 and "not the workspace of SLACK_BOT_TOKEN" in other.stderr
            assert bot(["subscriptions", "remove", "C5"], tmp_path, **env).returncode == 0
            assert stub.calls_to("auth.test")
    finally:
        database.dispose()
