"""What an operator sees: the worker's log, one-line errors, progress, help and tables."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from rich.console import Console
from support.helpers import SETTING_PREFIXES, clean_env, due_now, free_port, start_worker
from support.slack_api import SlackStub
from typer.testing import CliRunner

from bot.cli import app
from bot.core.ingestion import expand_paths, ingest_files
from bot.store.db import Database

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"


def _worker_log(database_url: str, tmp_path: Path, level: str, until: str) -> list[str]:
    """Run `python -m bot worker` at a log level until its log shows `until`; its lines."""
    database = Database(database_url)
    ingest_files(database, expand_paths([SEEDS]))
    due_now(database, "COK", "CGONE")
    database.dispose()
    log = tmp_path / f"worker-{level}.log"
    with SlackStub() as stub:
        stub.fail_channel("CGONE")
        env = clean_env(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN="xoxb-operator",
            SLACK_API_URL=stub.url,
            DIGEST_POST_INTERVAL="0",
            LOG_LEVEL=level,
        )
        worker = start_worker(env, tmp_path, log)
        try:
            deadline = time.monotonic() + 60
            while until not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)  # what else a tick logs
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(20)
    return log.read_text().splitlines()


@pytest.mark.slow
def test_worker_log_is_one_line_per_delivery_at_info(database_url: str, tmp_path: Path) -> None:
    lines = _worker_log(database_url, tmp_path, "INFO", "delivery to CGONE")
    assert not [line for line in lines if " apscheduler" in line], lines
    deliveries = [line for line in lines if "bot.worker.dispatcher: delivery to" in line]
    assert len(deliveries) == 2, lines
    (posted,) = [line for line in deliveries if "COK" in line]
    assert " INFO " in posted and "posted (30 messages)" in posted
    # A failure is one line too, at ERROR, saying why.
    failures = [line for line in lines if "CGONE" in line]
    assert len(failures) == 1 and " ERROR " in failures[0], lines
    assert "channel_not_found" in failures[0]
    # Started, serving T111, the two deliveries, stopping: nothing else.
    assert len(lines) <= 6, lines


@pytest.mark.slow
def test_worker_log_shows_scheduler_jobs_at_debug(database_url: str, tmp_path: Path) -> None:
    lines = _worker_log(database_url, tmp_path, "DEBUG", 'Job "Worker._send_due')
    assert any("apscheduler" in line and "Running job" in line for line in lines)


def bot(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m bot …` as an operator runs it, with only these settings."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_serve_socket_with_a_refused_app_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with SlackStub() as stub:
        stub.invalid_tokens.add("xapp-1-revoked")
        run = bot(
            "serve",
            "--socket",
            cwd=tmp_path,
            env={
                "SLACK_BOT_TOKEN": "xoxb-operator",
                "SLACK_APP_TOKEN": "xapp-1-revoked",
                "SLACK_API_URL": stub.url,
            },
        )
        asked = [c.method for c in stub.calls]
    assert "apps.connections.open" in asked
    assert run.returncode == 2, run.stderr
    errors = [line for line in run.stderr.splitlines() if " INFO " not in line]
    assert errors == [
        "error: SLACK_APP_TOKEN was refused by Slack (invalid_auth); make an app-level token "
        "(xapp-…) with connections:write under Basic Information → App-Level Tokens, and "
        "Socket Mode on"
    ]
    assert "xapp-1-revoked" not in run.stdout + run.stderr


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Result]:
    """Run the CLI in-process with only the given settings (and a database in tmp_path)."""
    for name in os.environ:
        if name.startswith(SETTING_PREFIXES) or name == "LOG_LEVEL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    def run(*args: str, **env: str) -> Result:
        settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}"} | env
        return CliRunner().invoke(app, list(args), env=settings)

    return run


def test_search_date_that_is_no_date_is_an_error(cli: Callable[..., Result]) -> None:
    result = cli("search", "date", "2026-13-45")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: “2026-13-45” is not a date")
    assert result.stdout == ""


@pytest.mark.slow
@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "terminal"])
def test_post_shows_its_progress(database_url: str, tmp_path: Path, terminal: bool) -> None:
    database = Database(database_url)
    ingest_files(database, expand_paths([SEEDS / "2026-05-13.txt"]))
    database.dispose()
    with SlackStub() as stub:
        env = {
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": "xoxb-operator",
            "SLACK_API_URL": stub.url,
            "DIGEST_POST_INTERVAL": "0.05",
        }
        # rich takes TTY_COMPATIBLE=1 for a terminal (the bar is drawn with escape codes).
        run = bot(
            "post",
            "--channel",
            "C1",
            cwd=tmp_path,
            env=env | {"TTY_COMPATIBLE": "1"} if terminal else env,
        )
        assert len(stub.all_messages("C1")) == 30
    assert run.returncode == 0, run.stderr
    assert run.stdout == "posted issue 2026-05-13 to C1: 30 messages\n"
    assert "xoxb-operator" not in run.stderr
    if terminal:
        frames = run.stderr.split("\x1b[2K")
        shown = [re.search(r"posting issue 2026-05-13 to C1\b.*?(\d+)/30\b", f) for f in frames]
        counts = [int(m.group(1)) for m in shown if m]
        assert counts[-1] == 30 and any(0 < n < 30 for n in counts), frames
    else:
        assert run.stderr == (
            "posting 30 of 30 messages to C1 (issue 2026-05-13), one every 0.05 s\n"
        )


def test_db_upgrade_says_what_it_did(cli: Callable[..., Result], tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, inspect

    from bot.store.db import HEAD, MIGRATIONS

    created = cli("db", "upgrade")
    assert created.exit_code == 0, created.output
    engine = create_engine(f"sqlite:///{tmp_path / 'digest.db'}")
    tables = len(inspect(engine).get_table_names())
    engine.dispose()
    migrations = int(HEAD)  # revisions are numbered from 0001
    assert created.stdout == (
        f"created the database at revision {HEAD} ({migrations} migrations, {tables} tables)\n"
    )
    assert cli("db", "upgrade").stdout == f"database already up to date at revision {HEAD}\n"
    # A database of an older release.
    older = f"sqlite:///{tmp_path / 'older.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", older)
    command.upgrade(config, "0010")
    upgraded = cli("db", "upgrade", DATABASE_URL=older)
    applied = int(HEAD) - 10
    assert upgraded.stdout == (
        f"upgraded the database from revision 0010 to {HEAD} ({applied} migrations)\n"
    )


def _help_screens() -> dict[str, str]:
    """Every command's `--help`, 200 columns wide, keyed by the command's words."""
    import typer

    screens = {}
    stack: list[tuple[list[str], Any]] = [([], typer.main.get_command(app))]
    while stack:
        words, command = stack.pop()
        stack += [([*words, n], c) for n, c in getattr(command, "commands", {}).items()]
        shown = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, shown.output
        screens[" ".join(words)] = shown.stdout
    return screens


def test_help_keeps_brackets_wraps_text_and_names_values() -> None:
    screens = _help_screens()
    assert "[HH:MM] [TIMEZONE] [weekdays|daily]" in screens["subscriptions add"]
    assert "{CHANNEL} [SCHEDULE]..." in screens["subscriptions add"]
    assert "{FILE}..." in screens["parse"]
    # A docstring's line breaks are not the screen's: each command's summary is one row.
    doctor = next(line for line in screens[""].splitlines() if " doctor " in line)
    assert doctor.rstrip(" │").endswith("exit status 1 if any check failed."), doctor
    for words, screen in screens.items():
        options = screen.partition("─ Options ─")[2]
        # A value's placeholder says what it is (CHANNEL, DAY, N), never a Python type.
        assert not re.search(r"<(?:str|int|float|list\[\w+\])>", options), (words, options)
    assert re.search(r"--channel\s+CHANNEL\s", screens["post"])
    assert re.search(r"--team\s+TEAM_ID\s", screens["subscriptions list"])


def test_every_table_has_one_style(cli: Callable[..., Result]) -> None:
    from bot.cli.common import table

    assert cli("ingest", str(SEEDS)).exit_code == 0
    companies = cli("companies", "list").stdout.splitlines()
    assert companies[0].startswith("┏") and companies[1].startswith("┃ company")
    assert any(re.fullmatch(r"│ AWS +│ +\d+ │ +0 │", line) for line in companies), companies
    # The helper every table goes through: a cell is text, never rich markup.
    shown = io.StringIO()
    Console(file=shown, width=60).print(table(("company",), [("[bold]Acme[/bold]",)]))
    assert "│ [bold]Acme[/bold] │" in shown.getvalue()


def test_doctor_checks_token_prefixes_and_names_what_it_could_not_reach(
    cli: Callable[..., Result],
) -> None:
    closed = free_port()  # nothing listens there
    assert cli("db", "upgrade").exit_code == 0
    shown = cli(
        "doctor",
        SLACK_BOT_TOKEN="bot-token-without-prefix-0123",
        SLACK_APP_TOKEN="xoxb-not-an-app-token-0123",
        SLACK_API_URL=f"http://127.0.0.1:{closed}/api/",
        DIGEST_FEED_URL=f"http://feeder:hunter2@127.0.0.1:{closed}/feed.xml?key=feed-key-0123",
    )
    lines = shown.stdout.splitlines()
    assert shown.exit_code == 1
    assert (
        "[FAIL] settings: SLACK_BOT_TOKEN does not start with xoxb- → copy the Bot User OAuth "
        "Token (xoxb-…) from the app's OAuth & Permissions page into SLACK_BOT_TOKEN"
    ) in lines
    assert any(
        line.startswith("[FAIL] settings: SLACK_APP_TOKEN does not start with xapp- → make an")
        for line in lines
    ), lines
    assert any(
        line.startswith(
            f"[FAIL] slack token: Slack unreachable at http://127.0.0.1:{closed}/api/auth.test "
        )
        for line in lines
    ), lines
    assert any(
        line.startswith(
            f"[FAIL] sources: DIGEST_FEED_URL unreachable at http://127.0.0.1:{closed}/feed.xml "
        )
        for line in lines
    ), lines
    for secret in ("bot-token-without", "not-an-app-token", "hunter2", "feed-key"):
        assert secret not in shown.output
    # A rotating bot token (xoxe.xoxb-…) is a bot token.
    rotating = cli("doctor", SLACK_BOT_TOKEN="xoxe.xoxb-1-rotating-0123").stdout
    assert "does not start with" not in rotating


@pytest.mark.slow
def test_worker_stopped_mid_thread_finishes_it_and_exits(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    ingest_files(database, expand_paths([SEEDS / "2026-05-13.txt"]))
    due_now(database, "CMID")
    database.dispose()
    log = tmp_path / "worker.log"
    with SlackStub() as stub:
        env = clean_env(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN="xoxb-operator",
            SLACK_API_URL=stub.url,
            DIGEST_POST_INTERVAL="0.05",
        )
        worker = start_worker(env, tmp_path, log)
        try:
            deadline = time.monotonic() + 60
            while len(stub.all_messages("CMID")) < 5 and time.monotonic() < deadline:
                time.sleep(0.02)
            worker.send_signal(signal.SIGTERM)  # half-way through the thread
            status = worker.wait(30)
        finally:
            if worker.poll() is None:
                worker.kill()
        posted = len(stub.all_messages("CMID"))
    output = log.read_text()
    # It stops after its running delivery: the thread is whole, and it exits by itself.
    assert status == 0, output
    assert posted == 30, output
    assert "delivery to CMID of" in output and "posted (30 messages)" in output
