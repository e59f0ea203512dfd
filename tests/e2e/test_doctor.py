"""`python -m bot doctor` against the Slack stand-in and a real database, as an admin runs it."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import clean_env, subscribe
from support.slack_api import SlackStub

from bot.store.db import open_database

pytestmark = pytest.mark.slow  # real bot processes

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
TOKEN = "xoxb-doctor-token-0123456789"
SECRET = "doctor-signing-secret-0123"


def doctor(env: dict[str, str], cwd: Path) -> tuple[int, list[str], str]:
    """Run doctor; (exit status, its lines, everything it printed)."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "doctor"],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    text = result.stdout + result.stderr
    return result.returncode, result.stdout.splitlines(), text


def line(lines: list[str], start: str) -> str:
    """The one line that starts with `start`."""
    found = [x for x in lines if x.startswith(start)]
    assert len(found) == 1, lines
    return found[0]


def fresh_issue(folder: Path) -> Path:
    """The newest seed re-dated to today, in a source folder."""
    folder.mkdir(exist_ok=True)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    path = folder / f"{today}.txt"
    path.write_text((SEEDS / "2026-05-13.txt").read_text().replace("2026-05-13", today))
    return path


@pytest.fixture
def stub() -> SlackStub:
    with SlackStub() as running:
        yield running


def settings_env(database_url: str, stub: SlackStub, source: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": stub.url,
        "DIGEST_ADMINS": "UADMIN",
        "DIGEST_SOURCE_DIR": str(source),
    }


def test_healthy_deployment_passes_every_check(
    database_url: str, stub: SlackStub, tmp_path: Path
) -> None:
    database = open_database(database_url)
    from bot.core.ingestion import ingest_files

    ingest_files(database, [fresh_issue(tmp_path / "in")])
    subscribe(database, "C0GENERAL", user_id=None, now=dt.datetime.now(dt.UTC))
    database.dispose()
    stub.add_channel("C0GENERAL", member=True)
    status, lines, text = doctor(settings_env(database_url, stub, tmp_path / "in"), tmp_path)
    assert status == 0, text
    assert all(x.startswith("[ok]") for x in lines[:-1]), lines
    assert "1 issues, newest" in line(lines, "[ok]   archive")
    assert "migrated" in line(lines, "[ok]   database")
    assert "member of #c0general" in line(lines, "[ok]   channel C0GENERAL")
    assert lines[-1] == "all checks passed"
    assert TOKEN not in text and SECRET not in text
    assert [c.method for c in stub.calls] == ["auth.test", "conversations.info"]


def test_each_problem_is_one_failing_line_with_a_fix(
    database_url: str, stub: SlackStub, tmp_path: Path
) -> None:
    env = settings_env(database_url, stub, tmp_path / "in")
    (tmp_path / "in").mkdir()
    # Database empty.
    status, lines, text = doctor(env, tmp_path)
    assert status == 1
    assert "no issues → run python -m bot ingest" in line(lines, "[FAIL] archive")
    # Issues stale: only the seeds, all older than DIGEST_MAX_ISSUE_AGE_DAYS.
    database = open_database(database_url)
    from bot.core.ingestion import expand_paths, ingest_files

    ingest_files(database, expand_paths([SEEDS]))
    subscribe(database, "C0JOINED", "C0NOTIN", user_id=None, now=dt.datetime.now(dt.UTC))
    database.dispose()
    stub.add_channel("C0JOINED", member=True)
    stub.add_channel("C0NOTIN", member=False, name="random")
    status, lines, text = doctor(env, tmp_path)
    assert status == 1
    # An old archive is a warning (the next issue is posted), with the command that posts now.
    stale = line(lines, "[warn] archive: archive is old: 5 issues, newest 2026-05-13")
    assert "DIGEST_MAX_ISSUE_AGE_DAYS (2)" in stale
    assert stale.endswith("to post this one anyway: python -m bot post --channel C… --date latest")
    # Channel not joined (the other one is fine).
    assert "not a member of #random → /invite" in line(lines, "[FAIL] channel C0NOTIN")
    line(lines, "[ok]   channel C0JOINED")
    line(lines, "[ok]   scopes")
    # A scope missing from the installed app.
    stub.scopes -= {"users:read", "groups:history"}
    status, lines, text = doctor(env | {"DIGEST_MAX_ISSUE_AGE_DAYS": "100000"}, tmp_path)
    assert status == 1
    missing = line(lines, "[FAIL] scopes")
    assert "missing groups:history, users:read" in missing and "reinstall" in missing
    line(lines, "[ok]   archive")
    # Token invalid: said once; nothing that needs the token is attempted after it.
    stub.invalid_tokens.add(TOKEN)
    status, lines, text = doctor(env, tmp_path)
    assert status == 1
    assert "invalid_auth → copy the Bot User OAuth Token" in line(lines, "[FAIL] slack token")
    assert not [x for x in lines if x.startswith("[FAIL] scopes")]
    assert TOKEN not in text and SECRET not in text and "Traceback" not in text


def test_missing_settings_unreachable_database_and_sources(tmp_path: Path) -> None:
    password = "pg-pass-word-987"
    env = {
        "DATABASE_URL": f"postgresql://bot:{password}@127.0.0.1:9/digest",
        "DIGEST_FEED_URL": "http://127.0.0.1:9/feed.xml",
        "DIGEST_SOURCE_DIR": str(tmp_path / "nowhere"),
    }
    status, lines, text = doctor(env, tmp_path)
    assert status == 1
    assert "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET not set" in line(lines, "[FAIL] settings")
    assert "DIGEST_ADMINS is not set" in line(lines, "[warn] settings")
    assert "unreachable" in line(lines, "[FAIL] database")
    assert "DIGEST_FEED_URL unreachable" in line(lines, "[FAIL] sources: DIGEST_FEED")
    assert "is not a folder" in line(lines, "[FAIL] sources: DIGEST_SOURCE_DIR")
    assert password not in text and "Traceback" not in text


def test_unmigrated_database_says_to_upgrade(tmp_path: Path) -> None:
    (tmp_path / "empty.db").write_bytes(b"")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    status, lines, _ = doctor(env, tmp_path)
    assert status == 1
    failed = line(lines, "[FAIL] database")
    assert "no schema" in failed and "run python -m bot db upgrade" in failed


def test_a_direct_message_is_never_called_not_a_member(
    database_url: str, stub: SlackStub, tmp_path: Path
) -> None:
    # Subscribed before /digest refused direct messages: conversations.info of a DM has no
    # is_member (Slack's IM shape), which is not "the bot is not a member".
    database = open_database(database_url)
    from bot.core.ingestion import ingest_files

    ingest_files(database, [fresh_issue(tmp_path / "in")])
    subscribe(database, "D0DIRECT", "C0GENERAL", user_id=None, now=dt.datetime.now(dt.UTC))
    database.dispose()
    stub.add_channel("C0GENERAL", member=True)
    status, lines, text = doctor(settings_env(database_url, stub, tmp_path / "in"), tmp_path)
    assert status == 0, text  # a warning, not a failure
    dm = [x for x in lines if "channel D0DIRECT" in x]
    assert len(dm) == 1, lines
    assert "not a member" not in dm[0] and "/invite" not in dm[0]
    assert "direct message" in dm[0] and dm[0].startswith("[warn]"), dm
    assert "member of #c0general" in line(lines, "[ok]   channel C0GENERAL")
    assert "Traceback" not in text
