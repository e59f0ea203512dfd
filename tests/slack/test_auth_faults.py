"""Authorization never waits on Slack's Web API: a failing or rate-limited auth.test loses no
event and delays no ack, and "not installed" is said without holding the answer up
(issue 24, points 1, 2 and 8). The app over real HTTP, Slack's stand-in failing underneath."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import BoltContext
from slack_sdk import WebClient
from support.served_app import install, reaction, record_post, saves_of, served, settings_for
from support.slack_api import SlackStub

from bot.clock import utc_now
from bot.core.ingestion import expand_paths, ingest_files
from bot.slack import request_scope
from bot.slack.listeners.commands import handle_digest
from bot.slack.oauth import NOT_INSTALLED
from bot.slack.rendering import Message, render_text
from bot.slack.services import Services, answer_executor
from bot.store.db import Database, open_database

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
TS = "1790000000.000100"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite archive with the seed issues (each test gets a copy)."""
    path = tmp_path_factory.mktemp("archive") / "digest.db"
    database = open_database(f"sqlite:///{path}", upgrade=True)
    ingest_files(database, expand_paths([SEEDS]))
    database.dispose()
    return path


@pytest.fixture
def database(archive: Path, tmp_path: Path) -> Iterator[Database]:
    copy = tmp_path / "digest.db"
    copy.write_bytes(archive.read_bytes())
    db = Database(f"sqlite:///{copy}")
    yield db
    db.dispose()


def wait_for(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.mark.parametrize("many", [True, False], ids=["many-workspaces", "one-workspace"])
@pytest.mark.parametrize(
    "fault", [{"status": 503}, {"status": 429, "retry_after": 3}], ids=["5xx", "429"]
)
def test_a_failing_auth_test_loses_no_event_and_delays_no_ack(
    database: Database, many: bool, fault: dict[str, Any]
) -> None:
    with SlackStub() as stub:
        stub.fail_auth_test(**fault)
        settings = settings_for(stub, str(database.engine.url), many=many)
        team = "TAAA" if many else "T111"
        if many:
            install(settings, database, team)
        record_post(database, team, "C1", TS)
        with served(settings, database, stub) as app:
            # The first request of the process, and the next: authorized without auth.test.
            for n in (1, 2):
                status, seconds = app.event(reaction(f"U{n}", "C1", TS), f"Ev{n}", team)
                assert status == 200 and seconds < 1.0
                assert saves_of(database, team, f"U{n}") == 1
            status, body, seconds = app.command("help", team=team)
            assert status == 200 and seconds < 1.0
            assert NOT_INSTALLED not in body and "/digest" in body
        if many:  # the installation's stored ids are all a request needs
            assert stub.calls_to("auth.test") == []


class _SlowAnswers:
    """Answers that take a second (a slow lookup)."""

    def answer(self, _request: object, _asker: object) -> Message:
        time.sleep(1.0)
        return render_text("late")


def test_the_inline_window_counts_from_the_arrival(database: Database) -> None:
    services = Services(
        _SlowAnswers(),  # type: ignore[arg-type]
        database,
        utc_now,
        "bookmark",
        answer_executor(),
    )
    acks: list[tuple[float, dict[str, Any]]] = []

    def run() -> None:
        # 1.5 s of Slack's 3 went before the listener started (e.g. waiting for a thread).
        request_scope.enter(time.monotonic() - 1.5)
        handle_digest(
            services,
            ack=lambda **kw: acks.append((time.monotonic(), kw)),  # type: ignore[arg-type]
            command={"text": "help", "user_id": "U1", "channel_id": "C1"},
            respond=lambda **kw: None,  # type: ignore[arg-type]
            context=BoltContext({"team_id": "T1"}),
            client=WebClient(),
        )

    start = time.monotonic()
    contextvars.copy_context().run(run)
    [(at, said)] = acks
    assert said["text"] == "Looking that up…"
    assert at - start < 0.8  # 2 s from the arrival, not from the listener's start


def test_not_installed_is_said_in_the_answer_or_after_it(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with SlackStub() as stub:
        settings = settings_for(stub, str(database.engine.url), many=True)
        install(settings, database, "TAAA")
        with served(settings, database, stub) as app:
            # A command: the message is the answer (Slack shows it), response_url untouched,
            # however slow response_url is.
            stub.hold_next("response_url", 5.0)
            status, body, seconds = app.command("help", team="TNOPE")
            assert (status, body) == (200, NOT_INSTALLED) and seconds < 1.0
            assert stub.responses == []
            stub.reset_faults()
            # A click: answered at once; the message follows by response_url.
            status, seconds = app.click("TNOPE", stub.response_url("click"))
            assert status == 200 and seconds < 1.0
            wait_for(lambda: len(stub.responses) == 1)
            assert stub.responses[0].params["text"] == NOT_INSTALLED
            # A response_url that drops the connection: still answered at once, one log line.
            stub.drop_response_next("response_url")
            with caplog.at_level(logging.WARNING, logger="bot.slack.request_scope"):
                status, seconds = app.click("TNOPE", stub.response_url("dropped"))
                assert status == 200 and seconds < 1.0
                wait_for(lambda: "response_url post failed" in caplog.text)
            assert len([r for r in caplog.records if "response_url" in r.getMessage()]) == 1
