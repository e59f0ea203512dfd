"""Start-up failures are one line and a non-zero exit, never a traceback or a process that
starts and then fails every request (issue 24, points 12 and 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from support.helpers import clean_env, free_port
from support.served_app import CLIENT_ID, CLIENT_SECRET, install, settings_for
from support.slack_api import SlackStub

from bot.store.db import Database, open_database

pytestmark = pytest.mark.slow  # each test starts bot or database processes

SIGNING = "startup-signing-secret-0123"


def run(command: str, env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    """`python -m bot COMMAND`: its exit status and the non-empty lines it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, lines


def one_error_line(lines: list[str]) -> str:
    """The one line a failed start prints (nothing else: no traceback, no log)."""
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


def _read_only_url(tmp: Path) -> str:
    path = tmp / "ro.db"
    open_database(f"sqlite:///{path}", upgrade=True).dispose()
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def _corrupt_url(tmp: Path) -> str:
    path = tmp / "corrupt.db"
    path.write_bytes(b"this is not a database file " * 200)
    return f"sqlite:///{path}"


CASES = {
    "postgres-unreachable": (
        lambda tmp: {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/digest"},
        "DATABASE_URL",
    ),
    "sqlite-corrupt": (lambda tmp: {"DATABASE_URL": _corrupt_url(tmp)}, "not a database"),
    "sqlite-read-only": (lambda tmp: {"DATABASE_URL": _read_only_url(tmp)}, "read-only"),
    "api-url-not-a-url": (lambda tmp: {"SLACK_API_URL": "not a url"}, "SLACK_API_URL"),
    "lease-1e300": (lambda tmp: {"DIGEST_LEASE_SECONDS": "1e300"}, "DIGEST_LEASE_SECONDS"),
}


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_start_is_one_line(case: str, command: str, tmp_path: Path) -> None:
    make, says = CASES[case]
    good = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}",
        "SLACK_BOT_TOKEN": "xoxb-startup-0123456789",
        "SLACK_SIGNING_SECRET": SIGNING,
        "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",
        "PORT": str(free_port()),
    }
    status, lines = run(command, clean_env(**(good | make(tmp_path))), tmp_path)
    assert status != 0
    assert says in one_error_line(lines)


@pytest.mark.parametrize("secret", ["", "   "])
def test_serve_refuses_an_empty_signing_secret(secret: str, tmp_path: Path) -> None:
    env = clean_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'digest.db'}",
        SLACK_BOT_TOKEN="xoxb-startup-0123456789",
        SLACK_SIGNING_SECRET=secret,
        PORT=str(free_port()),
    )
    status, lines = run("serve", env, tmp_path)
    assert status != 0
    assert "SLACK_SIGNING_SECRET" in one_error_line(lines)


@pytest.mark.parametrize("command", ["serve", "worker", "doctor"])
def test_a_wrong_encryption_key_is_refused_at_start(
    command: str, database_url: str, tmp_path: Path
) -> None:
    with SlackStub() as stub:
        settings = settings_for(stub, database_url, many=True)
        database = Database(database_url)
        install(settings, database, "TAAA")
        database.dispose()
        wrong = Fernet.generate_key().decode()  # well-formed, but not the key that sealed them
        env = clean_env(
            DATABASE_URL=database_url,
            SLACK_CLIENT_ID=CLIENT_ID,
            SLACK_CLIENT_SECRET=CLIENT_SECRET,
            SLACK_SIGNING_SECRET=SIGNING,
            DIGEST_ENCRYPTION_KEY=wrong,
            SLACK_API_URL=stub.url,
            PORT=str(free_port()),
        )
        status, lines = run(command, env, tmp_path)
    assert status != 0
    line = one_error_line(lines)
    assert "DIGEST_ENCRYPTION_KEY" in line and "stored bot tokens" in line
    assert wrong not in line
