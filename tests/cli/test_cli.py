"""The command line as a new user runs it: `python -m bot …` in a fresh directory.

Most tests run the commands in this process (typer's runner, the same Typer app `python -m bot`
starts); the `slow` ones start real `python -m bot` and `digest-bot` processes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import clean_env, run_cli

from bot.core.settings import set_save_emoji
from bot.store.db import Database
from bot.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"


def bot(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` run in this process."""
    return run_cli(*args, cwd=cwd, env=env)


def bot_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None, script: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` (or the installed `script`) as its own process."""
    command = (
        [str(Path(sys.executable).with_name(script))] if script else [sys.executable, "-m", "bot"]
    )
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=clean_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_parse_json_prints_good_files_and_names_bad_ones(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("shopping list\n- eggs\n")
    files = [str(SEEDS / "2026-04-01.txt"), str(bad), str(SEEDS / "2026-05-13.txt")]
    result = bot("parse", *files, "--json", cwd=tmp_path)
    assert result.returncode == 1
    issues = json.loads(result.stdout)
    assert [i["date"] for i in issues] == ["2026-04-01", "2026-05-13"]
    assert set(issues[0]) == {"date", "signal", "patterns", "sources", "articles"}
    assert set(issues[0]["articles"][0]) == {"title", "companies", "summary", "url"}
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "notes.txt" in errors[0]


def test_parse_uses_publishers_from_all_files_and_the_archive(tmp_path: Path) -> None:
    clear = tmp_path / "a.txt"
    clear.write_text(
        "Engineering @ Scale — 2026-06-01#\nSignal of the Day#\nS.\nDeep Dives#\n"
        "Queues · Wobble Works · Source Queues got faster.\n"
    )
    ambiguous = tmp_path / "b.txt"
    ambiguous.write_text(
        "Engineering @ Scale — 2026-06-02#\nSignal of the Day#\nS.\nDeep Dives#\n"
        "More queues · Wobble Works Engineering teams sharded queues.\n"
    )
    together = json.loads(bot("parse", str(clear), str(ambiguous), "--json", cwd=tmp_path).stdout)
    assert together[1]["articles"][0]["companies"] == ["Wobble Works"]
    assert together[1]["articles"][0]["summary"] == "Engineering teams sharded queues."
    db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    assert bot("ingest", str(clear), cwd=tmp_path, env=db).returncode == 0
    from_archive = json.loads(bot("parse", str(ambiguous), "--json", cwd=tmp_path, env=db).stdout)
    assert from_archive[0]["articles"][0]["companies"] == ["Wobble Works"]


def test_ingest_summary_and_exit_status(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    first = bot("ingest", str(SEEDS), cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "5 new / 0 updated / 0 unchanged / 0 failed" in first.stdout
    again = bot("ingest", str(SEEDS), cwd=tmp_path, env=env)
    assert "0 new / 0 updated / 5 unchanged / 0 failed" in again.stdout
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "2026-04-08.txt").write_text((SEEDS / "2026-04-08.txt").read_text())
    (folder / "broken.txt").write_text("Engineering @ Scale — 2026-13-01#\n")
    mixed = bot("ingest", str(folder), cwd=tmp_path, env=env)
    assert mixed.returncode == 1
    assert "0 new / 0 updated / 1 unchanged / 1 failed" in mixed.stdout
    assert "broken.txt" in mixed.stderr and "Traceback" not in mixed.stderr


def test_default_database_is_digest_db_in_the_working_directory(tmp_path: Path) -> None:
    assert bot("ingest", str(SEEDS / "2026-05-01.txt"), cwd=tmp_path).returncode == 0
    assert (tmp_path / "digest.db").exists()
    shown = bot("search", "company", "netflix", cwd=tmp_path)
    assert "State of Routing in Model Serving" in shown.stdout
    shown = bot("search", "topic", "kafka", "headers", cwd=tmp_path)
    assert "Confluent Moves Schema IDs" in shown.stdout
    shown = bot("search", "date", "latest", cwd=tmp_path)
    assert "2026-05-01" in shown.stdout


@pytest.mark.slow
def test_post_dry_run_needs_no_credentials_and_db_upgrade(tmp_path: Path) -> None:
    assert bot_process("ingest", str(SEEDS), cwd=tmp_path).returncode == 0
    args = ("post", "--channel", "C0DEMO", "--date", "latest", "--dry-run")
    shown = bot_process(*args, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Signal of the Day" in shown.stdout and "reply 28" in shown.stdout
    assert "Patterns Across Companies" in shown.stdout
    assert bot_process("db", "upgrade", cwd=tmp_path).returncode == 0
    args = ("post", "--channel", "C0DEMO", "--date", "2026-01-01", "--dry-run")
    missing = bot_process(*args, cwd=tmp_path)
    assert missing.returncode == 1 and "No issue on 2026-01-01" in missing.stderr


@pytest.mark.slow
@pytest.mark.parametrize("script", [None, "digest-bot"])
def test_the_entry_points_start_and_show_their_commands(tmp_path: Path, script: str | None) -> None:
    shown = bot_process("--help", cwd=tmp_path, script=script)
    assert shown.returncode == 0, shown.stderr
    for command in ("parse", "ingest", "search", "post", "serve", "worker", "subscriptions"):
        assert command in shown.stdout
    refused = bot_process(
        "search", "topic", "kafka", "--since", "2026-13-01", cwd=tmp_path, script=script
    )
    assert refused.returncode == 2 and refused.stderr.startswith("error: "), refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("args", "variable"),
    [
        (("serve",), "SLACK_BOT_TOKEN"),
        (("worker",), "SLACK_BOT_TOKEN"),
        (("post", "--channel", "C1"), "SLACK_BOT_TOKEN"),
    ],
)
def test_missing_setting_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], variable: str
) -> None:
    bot("ingest", str(SEEDS / "2026-05-01.txt"), cwd=tmp_path)
    result = bot(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and "Traceback" not in result.stderr


def test_missing_signing_secret_and_secrets_never_printed(tmp_path: Path) -> None:
    token = "xoxb-super-secret-token-value"
    result = bot("serve", cwd=tmp_path, env={"SLACK_BOT_TOKEN": token})
    assert result.returncode == 2 and "SLACK_SIGNING_SECRET" in result.stderr
    assert token not in result.stderr + result.stdout
    bad = bot("search", "company", "x", cwd=tmp_path, env={"DIGEST_POLL_MINUTES": "-1"})
    assert bad.returncode == 2 and "DIGEST_POLL_MINUTES" in bad.stderr


def test_each_invalid_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {
        "LOG_LEVEL": "LOUD",
        "PORT": "70000",
        "WEB_CONCURRENCY": "many",
        "DIGEST_MAX_ISSUE_AGE_DAYS": "-3",
        "DIGEST_SAVE_EMOJI": "book mark",
        "SLACK_BOT_TOKEN": "xoxb-never-shown-0123456789",
    }
    result = bot("search", "date", "latest", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 5, lines
    names = (
        "LOG_LEVEL",
        "PORT",
        "WEB_CONCURRENCY",
        "DIGEST_MAX_ISSUE_AGE_DAYS",
        "DIGEST_SAVE_EMOJI",
    )
    for name in names:
        assert sum(line.startswith(f"error: {name}: ") for line in lines) == 1, lines
    assert "'LOUD'" in result.stderr and "DEBUG, INFO" in result.stderr
    assert "xoxb-never-shown" not in result.stderr
    ok = bot("search", "date", "latest", cwd=tmp_path, env={"LOG_LEVEL": "debug"})
    assert ok.returncode == 0, ok.stderr


def test_subscriptions_list_shows_the_max_age_rule(tmp_path: Path) -> None:
    assert bot("ingest", str(SEEDS), cwd=tmp_path).returncode == 0
    added = bot("subscriptions", "add", "C0LIST", "09:00", "UTC", "daily", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    listed = bot("subscriptions", "list", cwd=tmp_path)
    assert "Nothing new to post: the newest issue, 2026-05-13" in listed.stdout
    assert "DIGEST_MAX_ISSUE_AGE_DAYS" in listed.stdout
    lenient = bot(
        "subscriptions", "list", cwd=tmp_path, env={"DIGEST_MAX_ISSUE_AGE_DAYS": "100000"}
    )
    assert ", issue 2026-05-13." in lenient.stdout and "Nothing new" not in lenient.stdout


def test_search_with_a_date_range(tmp_path: Path) -> None:
    assert bot("ingest", str(SEEDS), cwd=tmp_path).returncode == 0
    shown = bot("search", "company", "aws", "--since", "2026-04-08", "--offset", "10", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Articles by AWS (newest first) · since 2026-04-08" in shown.stdout
    assert "Results 11–12" in shown.stdout
    dates = re.findall(r"· (\d{4}-\d{2}-\d{2})$", shown.stdout, re.MULTILINE)
    assert dates and min(dates) >= "2026-04-08"
    april = bot(
        "search", "topic", "kafka", "--since", "2026-04", "--until", "2026-04", cwd=tmp_path
    )
    assert "from 2026-04-01 to 2026-04-30" in april.stdout
    assert set(re.findall(r"· (\d{4}-\d{2})-\d{2}$", april.stdout, re.MULTILINE)) == {"2026-04"}
    for bad in (["--since", "2026-13-01"], ["--since", "2026-05-02", "--until", "2026-05-01"]):
        refused = bot("search", "topic", "kafka", *bad, cwd=tmp_path)
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.startswith("error: ") and len(refused.stderr.splitlines()) == 1


def test_post_dry_run_shows_the_teams_own_save_emoji(tmp_path: Path) -> None:
    assert bot("ingest", str(SEEDS), cwd=tmp_path).returncode == 0
    database = Database(f"sqlite:///{tmp_path / 'digest.db'}")
    try:
        set_save_emoji(database, Workspace("T0STAR"), "star", "bookmark", dt.datetime.now(dt.UTC))
    finally:
        database.dispose()
    args = ("post", "--channel", "C0DEMO", "--dry-run")
    own = bot(*args, "--team", "T0STAR", cwd=tmp_path)
    assert own.returncode == 0, own.stderr
    assert ":star: to save one" in own.stdout
    default = bot(*args, cwd=tmp_path)
    assert ":bookmark: to save one" in default.stdout and ":star:" not in default.stdout
