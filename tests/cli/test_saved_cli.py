"""`python -m bot saved export`: a person's saves to stdout, as an operator runs it (in-process)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from support.helpers import run_cli
from support.saved import HOSTILE_TITLES, seed_saves
from support.slack_api import SlackStub

from bot.core.exports import CSV_COLUMNS
from bot.store.db import Database

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def export(database_url: str, cwd: Path, *args: str, many: bool = False) -> tuple[int, str, str]:
    env = {"DATABASE_URL": database_url}
    if many:
        env |= {
            "SLACK_CLIENT_ID": "1.2",
            "SLACK_CLIENT_SECRET": "secret-0123456789",
            "DIGEST_ENCRYPTION_KEY": "x" * 43 + "=",
        }
    result = run_cli("saved", "export", *args, cwd=cwd, env=env)
    return result.returncode, result.stdout, result.stderr


def test_csv_is_the_persons_saves_in_the_named_workspace(database_url: str, tmp_path: Path) -> None:
    expected = seed_saves(Database(database_url), NOW)
    code, out, err = export(database_url, tmp_path, "--team", "T111", "--user", "U1")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    titles = [r["title"] for r in rows]
    guarded = {HOSTILE_TITLES[0], HOSTILE_TITLES[2], HOSTILE_TITLES[3]}
    assert titles == [("'" if s.title in guarded else "") + s.title for s in expected]
    assert [r["saved_at"] for r in rows] == [
        s.saved_at.isoformat(timespec="seconds") for s in expected
    ]
    # Another workspace's U1 has other saves.
    code, other, _ = export(database_url, tmp_path, "--team", "T222", "--user", "U1")
    assert code == 0 and len(list(csv.DictReader(io.StringIO(other, newline="")))) == 2


def test_markdown_reading_list(database_url: str, tmp_path: Path) -> None:
    expected = seed_saves(Database(database_url), NOW)
    code, out, err = export(
        database_url, tmp_path, "--team", "T111", "--user", "U1", "--format", "md"
    )
    assert code == 0, err
    assert out.startswith("# Saved articles\n")
    tokens = MarkdownIt("commonmark").parse(out)
    items = [t for t in tokens if t.type == "list_item_open" and t.level == 1]
    assert len(items) == len(expected)
    hrefs = [t.attrs["href"] for t in tokens for t in t.children or [] if t.type == "link_open"]
    assert hrefs == [s.url for s in expected if s.url]


def test_one_workspace_needs_no_team(database_url: str, tmp_path: Path) -> None:
    seed_saves(Database(database_url), NOW)
    # No token and no workspace adopted yet: the team must be named, as for other commands.
    code, out, err = export(database_url, tmp_path, "--user", "U2")
    assert code == 2 and "no saved articles" in err and out == ""
    code, out, err = export(database_url, tmp_path, "--team", "T111", "--user", "U2")
    assert code == 0 and len(out.splitlines()) == 2, err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--user", "U1", "--format", "pdf"), "--format 'pdf': use csv or md"),
        (("--user", "alice"), "'alice' is not a Slack user id"),
        (("--user", "U404"), "U404 has no saved articles in workspace T111"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    database_url: str, tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    seed_saves(Database(database_url), NOW)
    code, out, err = export(database_url, tmp_path, "--team", "T111", *args)
    assert code == 2, (code, err)
    assert err.startswith("error: ") and said in err and len(err.splitlines()) == 1
    assert out == ""


def test_a_bad_team_is_refused_as_by_every_command(database_url: str, tmp_path: Path) -> None:
    code, out, err = export(database_url, tmp_path, "--team", "nope", "--user", "U1")
    assert code == 1 and err == "error: 'nope' is not a Slack team id (like T0123456789)\n"
    assert out == ""


def test_many_workspaces_name_the_team(database_url: str, tmp_path: Path) -> None:
    seed_saves(Database(database_url), NOW)
    code, _, err = export(database_url, tmp_path, "--user", "U1", many=True)
    assert code == 1 and err.startswith("error: --team is required: 2 workspaces")


def test_doctor_names_a_missing_files_write(database_url: str, tmp_path: Path) -> None:
    seed_saves(Database(database_url), NOW)
    env = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-doctor-0123456789",
        "SLACK_SIGNING_SECRET": "doctor-signing-secret-0123",
    }
    with SlackStub() as stub:
        env["SLACK_API_URL"] = stub.url
        granted = run_cli("doctor", cwd=tmp_path, env=env)
        assert [x for x in granted.stdout.splitlines() if x.startswith("[ok]   scopes")]
        stub.scopes.discard("files:write")  # installed before the export needed it
        result = run_cli("doctor", cwd=tmp_path, env=env)
    assert result.returncode == 1
    [scopes] = [x for x in result.stdout.splitlines() if x.startswith("[FAIL] scopes")]
    assert "missing files:write" in scopes and "reinstall" in scopes
