"""Every `python -m bot …` / `digest-bot …` command in the README's and docs/'s code blocks exists
as written.

Each is run with `--help` appended: click parses the whole line before it prints the help, so a
renamed command or option fails here.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.helpers import clean_env, run_cli

REPO = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^( *)```[a-z]*\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
# At the start of a line, perhaps after `heroku run` or VAR=value assignments.
ENTRY = re.compile(
    r"^(?:heroku run |[A-Z_][A-Z0-9_]*=\S* )*"
    r"((?:\.venv/bin/)?python -m bot|(?:\.venv/bin/)?digest-bot)(?=\s|$)"
)


def readme_commands(text: str) -> list[str]:
    """Bot commands in fenced code blocks, comments and line continuations removed."""
    commands = []
    for match in FENCE.finditer(text):
        block = match.group(2).replace("\\\n", " ")
        for raw in block.splitlines():
            line = raw.split(" #", 1)[0].strip()
            found = ENTRY.search(line)
            if found:
                commands.append(line[found.start(1) :])
    return commands


def argv(command: str) -> list[str]:
    """The command as this test runs it, in the environment running the tests."""
    words = shlex.split(command)
    if words[0].endswith("python"):
        return [sys.executable, *words[1:]]
    script = Path(sys.executable).with_name("digest-bot")
    return [str(script), *words[1:]]


COMMANDS = readme_commands((REPO / "README.md").read_text())
# The README and every page of docs/ (the same commands appear in several; each runs once).
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
DOC_COMMANDS = list(dict.fromkeys(c for doc in DOCS for c in readme_commands(doc.read_text())))


def test_readme_has_every_cli_command() -> None:
    shown = {
        " ".join(shlex.split(c)[1:3] if "-m" not in c else shlex.split(c)[3:5]) for c in COMMANDS
    }
    for command in (
        "parse",
        "ingest",
        "search",
        "post",
        "serve",
        "worker",
        "subscriptions",
        "db",
        "doctor",
    ):
        assert any(s.split()[0] == command for s in shown if s), command
    assert any(c.startswith("digest-bot") for c in COMMANDS)


def test_extraction_follows_code_blocks_only() -> None:
    text = "`python -m bot inline`\n```bash\nheroku run python -m bot doctor  # check\nls\n```\n"
    assert readme_commands(text) == ["python -m bot doctor"]


@pytest.mark.parametrize("command", DOC_COMMANDS)
def test_readme_command_runs_as_written(command: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    if command.startswith("python -m bot "):  # the same Typer app, run in this process
        result = run_cli(*shlex.split(command)[3:], "--help", cwd=tmp_path, env=env)
    else:  # an installed script: its own process
        result = subprocess.run(
            [*argv(command), "--help"],
            cwd=tmp_path,
            env=clean_env(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    assert "Usage:" in result.stdout


def test_every_command_option_is_documented() -> None:
    import typer

    from bot.cli import app

    readme = "\n".join(doc.read_text() for doc in DOCS)
    missing = []
    # Typer's command objects (its own copy of click's): groups have .commands, options .opts.
    stack: list[tuple[str, Any]] = [("", typer.main.get_command(app))]
    while stack:
        path, command = stack.pop()
        subcommands = getattr(command, "commands", {})
        stack += [(f"{path} {name}", sub) for name, sub in subcommands.items()]
        for param in command.params:
            for option in param.opts if param.param_type_name == "option" else ():
                if option.startswith("--") and option != "--help" and option not in readme:
                    missing.append(f"{path.strip()} {option}")
    assert not missing, missing


@pytest.mark.slow
def test_offline_readme_commands_run_for_real_after_the_quickstart(tmp_path: Path) -> None:
    """The commands that need neither Slack nor a network, run as written from the clone."""
    offline = ("parse", "ingest seeds", "search", "subscriptions", "db", "post")
    runnable = [
        c
        for c in DOC_COMMANDS
        if c.startswith("python -m bot ")
        and c.removeprefix("python -m bot ").startswith(offline)
        and ("post" not in c.split()[3] or "--dry-run" in c)
        and "path/to" not in c
        and "$(" not in c  # a shell substitution: the README's "See it post" runs under bash
    ]
    assert len(runnable) >= 10, runnable
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'quickstart.db'}")
    for command in ["python -m bot ingest seeds", *runnable]:
        result = subprocess.run(
            argv(command),
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
        assert "Traceback" not in result.stderr, command


def see_it_post_block() -> str:
    """The shell block of the README's "See it post"."""
    section = (REPO / "README.md").read_text().split("### See it post", 1)[1]
    found = FENCE.search(section)
    assert found is not None
    return found.group(2)


@pytest.mark.slow
def test_see_it_post_runs_as_written_and_the_worker_posts(tmp_path: Path) -> None:
    """On a fresh machine (the seeds ingested by the Quickstart into the default SQLite file),
    the README's block makes the worker post the newest seed issue within a minute."""
    import datetime as dt
    import os
    import signal
    import time

    from support.slack_api import SlackStub

    from bot.core.ingestion import expand_paths, ingest_files
    from bot.store.db import open_database

    database_url = f"sqlite:///{tmp_path / 'digest.db'}"
    database = open_database(database_url, upgrade=True)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    database.dispose()
    block = see_it_post_block()
    channel = "C0123456789"
    assert channel in block
    # `date '+1 minute'` names the coming minute: not in the last seconds of one, when the
    # subscription would be made after the minute it names had begun.
    while dt.datetime.now(dt.UTC).second >= 55:
        time.sleep(0.5)
    log = tmp_path / "block.log"
    with SlackStub() as stub:
        env = clean_env(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN="xoxb-see-it-post",
            SLACK_API_URL=stub.url,
            DIGEST_POST_INTERVAL="0",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        shell = subprocess.Popen(
            ["bash", "-ec", block],
            cwd=tmp_path,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 100
            while len(stub.all_messages(channel)) < 30 and time.monotonic() < deadline:
                assert shell.poll() is None, log.read_text()
                time.sleep(0.5)
        finally:
            os.killpg(shell.pid, signal.SIGTERM)
            shell.wait(30)
        parents = stub.messages(channel)
    output = log.read_text()
    assert len(parents) == 1, output
    assert "2026-05-13" in parents[0]["text"], parents[0]["text"]
    assert "delivery to C0123456789 of 2026-05-13: posted (30 messages)" in output
