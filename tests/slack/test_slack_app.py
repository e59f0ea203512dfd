"""The Slack app end to end: `python -m bot serve` over real HTTP, signed like Slack signs,
with the Web API pointed at a recording stand-in on loopback."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import create_engine, select
from sqlalchemy import text as sql
from support.helpers import WS, clean_env, free_port
from support.served_app import record_post
from support.signing import block_actions_body, event_body, post, sign, slash_command_body
from support.slack_api import SlackStub

from bot.config import normalise_database_url
from bot.core.ingestion import expand_paths, ingest_files
from bot.slack.rendering import ACTION_FOLLOW_SAVE
from bot.store.db import Database, open_database
from bot.store.tables import ArticleRow
from bot.workspace import Workspace

pytestmark = pytest.mark.slow  # real bot processes

REPO = Path(__file__).resolve().parents[2]
SECRET = "test-signing-secret-0123"
TOKEN = "xoxb-test-token-0123456789"


class Bot:
    """A served bot and what it talks to."""

    def __init__(
        self, url: str, stub: SlackStub, database: Database, process: subprocess.Popen[bytes]
    ):
        self.url, self.stub, self.database, self.process = url, stub, database, process

    def command(
        self, text: str, user: str = "U111", channel: str = "C111", team: str = "T111"
    ) -> dict[str, Any]:
        """Send /digest TEXT; returns the message the user sees (HTTP body or response_url)."""
        before = len(self.stub.responses)
        body = slash_command_body(
            text,
            user_id=user,
            channel_id=channel,
            response_url=self.stub.response_url("cmd"),
            team_id=team,
        )
        status, raw, _ = post(self.url, body, sign(body, SECRET))
        assert status == 200
        if raw.strip():
            return dict(json.loads(raw))
        deadline = time.time() + 5
        while time.time() < deadline:
            if len(self.stub.responses) > before:
                return dict(self.stub.responses[-1].params)
            time.sleep(0.05)
        raise AssertionError("no answer within 5 s")

    def event(
        self, event: dict[str, Any], event_id: str, retry: int | None = None, team: str = "T111"
    ) -> int:
        body = event_body(event, event_id, team)
        headers = sign(body, SECRET)
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        status, _, _ = post(self.url, body, headers)
        return status


@contextmanager
def served_bot(url: str, tmp: Path, extra_env: dict[str, str] | None = None) -> Iterator[Bot]:
    """`python -m bot serve` on a free loopback port over the archive at `url` (seeds ingested)."""
    database = open_database(url, upgrade=True)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    with SlackStub() as stub:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": stub.url,
            "PORT": str(port),
            "LOG_LEVEL": "DEBUG",
            **(extra_env or {}),
        }
        env.pop("SLACK_APP_TOKEN", None)
        log = (tmp / "serve.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"],
            env=env,
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        # Start-up takes seconds on a loaded machine (imports, auth.test, gunicorn's fork).
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            process.kill()
            raise AssertionError((tmp / "serve.log").read_text())
        try:
            yield Bot(base + "/slack/events", stub, database, process)
        finally:
            process.terminate()
            process.wait(10)
            log.close()
            database.dispose()
            logged = (tmp / "serve.log").read_text()
            assert TOKEN not in logged and SECRET not in logged


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("bot")
    with served_bot(f"sqlite:///{tmp / 'digest.db'}", tmp) as served:
        yield served


def blocks_text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", []), ensure_ascii=False) + message.get("text", "")


def assert_valid(message: dict[str, Any]) -> None:
    assert message.get("text")
    blocks = message.get("blocks") or []
    assert len(blocks) <= 50
    parsed = Block.parse_all(blocks)
    assert [block.to_dict() for block in parsed] == blocks  # exactly what the models produce
    for block in parsed:
        block.validate_json()


def test_healthz(bot: Bot) -> None:
    with urllib.request.urlopen(bot.url.replace("/slack/events", "/healthz")) as r:  # noqa: S310
        assert json.loads(r.read()) == {"ok": True, "database": "ok"}


def test_help_for_empty_and_unknown(bot: Bot) -> None:
    for text in ("", "help", "frobnicate the things"):
        message = bot.command(text)
        assert message.get("response_type", "ephemeral") == "ephemeral"
        assert "/digest company" in blocks_text(message)
        assert_valid(message)
    assert "Unknown subcommand" in blocks_text(bot.command("frobnicate"))


def test_company_lookup_alias_and_suggestion(bot: Bot) -> None:
    message = bot.command("company CLOUDFLARE")
    text = blocks_text(message)
    assert "Articles by Cloudflare" in text and "2026-05-13" in text
    assert "Share in channel" in text
    assert "Show more" in blocks_text(bot.command("company aws"))
    assert_valid(message)
    miss = blocks_text(bot.command("company Cloudflar"))
    assert "Did you mean" in miss and "Cloudflare" in miss
    assert "Meta" in blocks_text(bot.command("company Facebook"))


def test_topic_date_and_nearby_dates(bot: Bot) -> None:
    assert "High Performance Rate Limiting" in blocks_text(bot.command("topic rate limit"))
    issue = blocks_text(bot.command("date 2026-05-01"))
    assert "Signal of the Day" in issue and "State of Routing in Model Serving" in issue
    assert "2026-05-13" in blocks_text(bot.command("date latest"))
    nearby = blocks_text(bot.command("date 2026-04-05"))
    assert "No issue on 2026-04-05" in nearby and "2026-04-08" in nearby
    assert "not a date" in blocks_text(bot.command("date someday"))


def test_answers_follow_an_ingest_by_another_process(bot: Bot, tmp_path: Path) -> None:
    """Lookups may be cached by the server, but never past a change to the archive."""
    assert "Nothing in the archive matches" in blocks_text(bot.command("topic zanzibar"))
    assert "No company called" in blocks_text(bot.command("company Quuxcorp"))
    path = tmp_path / "2019-06-03.txt"
    path.write_text(
        "Engineering @ Scale — 2019-06-03\n\nSignal of the Day\nTuple stores win.\n\n"
        "Deep Dives\nHow Quuxcorp Rebuilt Zanzibar Checks · Quuxcorp · Source\n"
        "Quuxcorp moved authorization to a zanzibar tuple store.\n"
    )
    ingest_files(bot.database, [path])  # as `python -m bot ingest` or the worker's poller would
    assert "How Quuxcorp Rebuilt Zanzibar Checks" in blocks_text(bot.command("topic zanzibar"))
    assert "How Quuxcorp Rebuilt Zanzibar Checks" in blocks_text(bot.command("company quuxcorp"))


@pytest.mark.parametrize(
    "hostile",
    [
        '"rate limiting',
        "AND OR NEAR(",
        "c++ *",
        "<!channel> @here <@U999>",
        "🚀🔥",
        "x" * 5000,
        "(((",
        "title:foo",
        "-",
    ],
)
def test_hostile_text_never_breaks_or_pings(bot: Bot, hostile: str) -> None:
    for verb in ("topic", "company", "date", ""):
        message = bot.command(f"{verb} {hostile}".strip())
        assert_valid(message)
        text = blocks_text(message)
        assert "<!channel>" not in text and "<@U999>" not in text and "<!here>" not in text


def test_show_more_and_share(bot: Bot) -> None:
    first = bot.command("company AWS")
    actions = next(b for b in first["blocks"] if b["type"] == "actions")["elements"]
    more = next(e for e in actions if e["action_id"] == "digest_more")
    body = block_actions_body(
        "digest_more",
        more["value"],
        user_id="U111",
        response_url=bot.stub.response_url("more"),
        channel_id="C111",
    )
    before = len(bot.stub.responses)
    status, _, _ = post(bot.url, body, sign(body, SECRET))
    assert status == 200
    page2 = wait_response(bot, before)
    assert page2.get("replace_original") is True
    assert "Results 11–" in blocks_text(page2)
    share = next(e for e in actions if e["action_id"] == "digest_share")
    body = block_actions_body(
        "digest_share",
        share["value"],
        user_id="U111",
        response_url=bot.stub.response_url("share"),
        channel_id="C111",
    )
    before = len(bot.stub.responses)
    status, _, _ = post(bot.url, body, sign(body, SECRET))
    shared = wait_response(bot, before)
    assert shared["response_type"] == "in_channel"
    assert "Share in channel" not in blocks_text(shared)
    assert_valid(shared)


def wait_response(bot: Bot, before: int) -> dict[str, Any]:
    deadline = time.time() + 5
    while time.time() < deadline:
        if len(bot.stub.responses) > before:
            return dict(bot.stub.responses[-1].params)
        time.sleep(0.05)
    raise AssertionError("no response_url post")


def test_forged_and_stale_requests_are_refused(bot: Bot) -> None:
    body = slash_command_body("company AWS", response_url=bot.stub.response_url("x"))
    assert post(bot.url, body, sign(body, "wrong-secret"))[0] == 401
    assert post(bot.url, body, sign(body, SECRET, timestamp=int(time.time()) - 400))[0] == 401
    tampered = body.replace("AWS", "Meta")
    assert post(bot.url, tampered, sign(body, SECRET))[0] == 401


def _record_post(database: Database, channel: str, ts: str, workspace: Workspace = WS) -> int:
    """Pretend the bot posted the first article of the latest issue at `ts` in `channel`."""
    return record_post(database, workspace, channel, ts)


def reaction(
    kind: str, user: str, channel: str, ts: str, emoji: str = "bookmark"
) -> dict[str, Any]:
    return {
        "type": kind,
        "user": user,
        "reaction": emoji,
        "item_user": "UBOT",
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }


def wait_for(predicate: Any, timeout: float = 5) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_save_and_unsave_by_reaction_once_per_event(bot: Bot) -> None:
    _record_post(bot.database, "C500", "1790000000.000500")
    user = "U500"
    assert "not saved anything" in blocks_text(bot.command("saved", user=user))
    assert (
        bot.event(reaction("reaction_added", user, "C500", "1790000000.000500"), "EvSave1") == 200
    )
    wait_for(lambda: "Viaduct" in blocks_text(bot.command("saved", user=user)))
    # Nobody else sees it.
    assert "Viaduct" not in blocks_text(bot.command("saved", user="U501"))
    # Other emoji and other messages are ignored.
    bot.event(reaction("reaction_added", "U502", "C500", "1790000000.000500", "tada"), "EvOther")
    bot.event(reaction("reaction_added", "U502", "C500", "1790000000.999999"), "EvOther2")
    time.sleep(0.5)
    assert "not saved anything" in blocks_text(bot.command("saved", user="U502"))
    # Unsave, then a late retry of the original save event changes nothing.
    bot.event(reaction("reaction_removed", user, "C500", "1790000000.000500"), "EvUnsave1")
    wait_for(lambda: "not saved anything" in blocks_text(bot.command("saved", user=user)))
    bot.event(reaction("reaction_added", user, "C500", "1790000000.000500"), "EvSave1", retry=1)
    time.sleep(0.5)
    assert "not saved anything" in blocks_text(bot.command("saved", user=user))
    confirmations = [
        c for c in bot.stub.calls_to("chat.postEphemeral") if c.params.get("user") == user
    ]
    assert len(confirmations) == 2  # one save, one unsave; the retry confirmed nothing


def test_events_are_acked_before_slow_slack_calls(bot: Bot) -> None:
    """Slack needs the HTTP answer within 3 s: a slow Web API must not hold it up."""
    _record_post(bot.database, "C501", "1790000000.000501")
    bot.stub.hold_next("chat.postEphemeral", seconds=4)
    bot.stub.hold_next("views.publish", seconds=4)
    for event, event_id in (
        (reaction("reaction_added", "U503", "C501", "1790000000.000501"), "EvSlow1"),
        ({"type": "app_home_opened", "user": "U503", "tab": "home"}, "EvSlow2"),
    ):
        start = time.monotonic()
        assert bot.event(event, event_id) == 200
        assert time.monotonic() - start < 1.0
    wait_for(lambda: "Viaduct" in blocks_text(bot.command("saved", user="U503")))
    wait_for(
        lambda: any(c.params.get("user_id") == "U503" for c in bot.stub.calls_to("views.publish"))
    )


def test_app_home(bot: Bot) -> None:
    before = len(bot.stub.calls_to("views.publish"))
    assert (
        bot.event(
            {"type": "app_home_opened", "user": "U700", "channel": "D700", "tab": "home"}, "EvHome1"
        )
        == 200
    )
    wait_for(lambda: len(bot.stub.calls_to("views.publish")) > before)
    call = bot.stub.calls_to("views.publish")[-1]
    assert call.params["user_id"] == "U700"
    view = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    text = json.dumps(view)
    assert view["type"] == "home" and "2026-05-13" in text and "saved" in text.lower()
    assert len(view["blocks"]) <= 100


def test_subscribe_status_unsubscribe(bot: Bot) -> None:
    bot.stub.users["U900"] = {"tz": "Asia/Kolkata"}
    reply = blocks_text(bot.command("subscribe", user="U900", channel="C900"))
    assert "09:00 Asia/Kolkata" in reply and "weekdays" in reply and "Next post" in reply
    status = blocks_text(bot.command("status", user="U900", channel="C900"))
    assert (
        "Schedule: 09:00 Asia/Kolkata, weekdays" in status and "Last delivery: none yet" in status
    )
    changed = blocks_text(bot.command("subscribe 7:30 europe/berlin daily", channel="C900"))
    assert "07:30 Europe/Berlin" in changed and "every day" in changed
    for bad, message in (("subscribe 25:00", "not a time"), ("subscribe Mars/Olympus", "neither")):
        assert message in blocks_text(bot.command(bad, channel="C900"))
    assert "07:30 Europe/Berlin" in blocks_text(bot.command("status", channel="C900"))
    assert "no longer" in blocks_text(bot.command("unsubscribe", channel="C900"))
    assert "not subscribed" in blocks_text(bot.command("status", channel="C900"))
    assert "was not subscribed" in blocks_text(bot.command("unsubscribe", channel="C900"))


def test_a_slow_lookup_is_acked_in_time_then_answered(database_url: str, tmp_path: Path) -> None:
    """Slack gives up after 3 s: a lookup stuck on the database is acked, then answered later."""
    if database_url.startswith("sqlite"):
        pytest.skip("a table lock that stalls readers needs PostgreSQL (SQLite WAL never blocks)")
    with served_bot(database_url, tmp_path) as served:
        locker = create_engine(normalise_database_url(database_url))
        with locker.connect() as connection:
            transaction = connection.begin()
            connection.execute(sql("LOCK TABLE archive_state IN ACCESS EXCLUSIVE MODE"))
            before = len(served.stub.responses)
            body = slash_command_body(
                "company Cloudflare", response_url=served.stub.response_url("slow")
            )
            start = time.monotonic()
            status, raw, _ = post(served.url, body, sign(body, SECRET))
            assert status == 200 and time.monotonic() - start < 3.0
            assert "Looking that up" in raw
            time.sleep(0.5)
            assert len(served.stub.responses) == before  # still blocked: nothing sent yet
            transaction.rollback()  # the database frees up
        answer = wait_response(served, before)
        assert "Articles by Cloudflare" in blocks_text(answer)
        assert answer.get("response_type") == "ephemeral"
        locker.dispose()


def click(bot: Bot, button: dict[str, Any], name: str) -> dict[str, Any]:
    """Click a button of an answer as Slack sends it; the message posted to response_url."""
    body = block_actions_body(
        button["action_id"],
        button["value"],
        user_id="U111",
        response_url=bot.stub.response_url(name),
        channel_id="C111",
    )
    before = len(bot.stub.responses)
    status, _, _ = post(bot.url, body, sign(body, SECRET))
    assert status == 200
    return wait_response(bot, before)


@pytest.mark.parametrize("filler", ["🚀" * 165, "👩‍🚀" * 120, "\x01" * 400, '"\\' * 240])
def test_buttons_of_a_long_query_keep_working(bot: Bot, filler: str) -> None:
    """Show more and Share repeat the very same lookup, whatever the query is made of."""
    first = bot.command(f"topic scale {filler}")
    assert_valid(first)
    actions = next(b for b in first["blocks"] if b["type"] == "actions")["elements"]
    for button in actions:
        assert len(button["value"].encode()) <= 2000
    more = click(bot, next(e for e in actions if e["action_id"] == "digest_more"), "more")
    assert "expired" not in blocks_text(more) and "Results 11–" in blocks_text(more)
    assert_valid(more)
    share = click(bot, next(e for e in actions if e["action_id"] == "digest_share"), "share")
    assert share["response_type"] == "in_channel"
    # The shared answer is the first page the person saw.
    assert share["blocks"][2:4] == first["blocks"][2:4]


def test_fallback_text_is_escaped_once(bot: Bot) -> None:
    # As Slack sends typed '<', '>' and '&' (escaped), decoded once and escaped once again.
    for text in (
        "topic &lt;!channel&gt; &amp; rate limiting",
        "company &lt;@U999&gt;&amp;Cloudflare",
    ):
        message = bot.command(text)
        fallback = message["text"]
        assert (
            "&amp;lt;" not in fallback
            and "&amp;amp;" not in fallback
            and "&amp;gt;" not in fallback
        )
        assert "<!channel>" not in fallback and "<@U999>" not in fallback
        assert "&lt;" in fallback


def issue_dates(message: dict[str, Any]) -> list[str]:
    """The issue dates of the articles listed in an answer (from each article's meta line)."""
    return re.findall(r" · (\d{4}-\d{2}-\d{2})_", blocks_text(message))


def test_date_ranges_page_and_share_the_same_lookup(bot: Bot) -> None:
    first = bot.command("company AWS since 2026-04-08")
    assert_valid(first)
    assert first["response_type"] == "ephemeral"
    assert "since 2026-04-08" in first["blocks"][0]["text"]["text"]
    assert len(issue_dates(first)) == 10 and min(issue_dates(first)) >= "2026-04-08"
    actions = next(b for b in first["blocks"] if b["type"] == "actions")["elements"]
    more = click(bot, next(e for e in actions if e["action_id"] == "digest_more"), "more")
    assert_valid(more)
    assert "Results 11–" in blocks_text(more) and "since 2026-04-08" in blocks_text(more)
    assert issue_dates(more) and min(issue_dates(more)) >= "2026-04-08"
    unlimited = bot.command("company AWS")
    assert min(issue_dates(click_more(bot, unlimited))) < "2026-04-08"  # the range mattered
    share = click(bot, next(e for e in actions if e["action_id"] == "digest_share"), "share")
    assert share["response_type"] == "in_channel"
    assert share["blocks"][:4] == first["blocks"][:4]


def test_date_ranges_over_http_and_the_cli_on_each_backend(
    database_url: str, tmp_path: Path
) -> None:
    """Ranged lookups, their Show more and Share, ranged saves and `search --since/--until`."""
    with served_bot(database_url, tmp_path) as served:
        first = served.command("company AWS since 2026-04-08")
        assert len(issue_dates(first)) == 10 and min(issue_dates(first)) >= "2026-04-08"
        actions = next(b for b in first["blocks"] if b["type"] == "actions")["elements"]
        more = click(served, next(e for e in actions if e["action_id"] == "digest_more"), "more")
        assert "Results 11–" in blocks_text(more) and min(issue_dates(more)) >= "2026-04-08"
        share = click(served, next(e for e in actions if e["action_id"] == "digest_share"), "s")
        assert share["blocks"][:4] == first["blocks"][:4]
        may = served.command("topic kafka in 2026-05")
        assert "from 2026-05-01 to 2026-05-31" in blocks_text(may)
        assert issue_dates(may) and {d[:7] for d in issue_dates(may)} == {"2026-05"}
        assert {d[:7] for d in issue_dates(served.command("topic kafka"))} > {"2026-05"}
        with served.database.read() as session:
            april, mayday = (
                session.scalars(select(ArticleRow.id).where(ArticleRow.issue_date == day)).first()
                for day in (dt.date(2026, 4, 1), dt.date(2026, 5, 13))
            )
        for article in (april, mayday):
            body = block_actions_body(
                ACTION_FOLLOW_SAVE,
                str(article),
                user_id="U700",
                response_url=served.stub.response_url("save"),
                channel_id="DU700",
            )
            before = len(served.stub.responses)
            assert post(served.url, body, sign(body, SECRET))[0] == 200
            assert "Saved" in blocks_text(wait_response(served, before))
        assert issue_dates(served.command("saved in 2026-05", user="U700")) == ["2026-05-13"]
        assert issue_dates(served.command("saved until 2026-04", user="U700")) == ["2026-04-01"]
        hint = served.command("company AWS in 2026-13")
        assert "is not a date" in hint["text"] and "\n" not in hint["text"]
    env = {"DATABASE_URL": database_url}
    shown = run_bot("search", "company", "aws", "--since", "2026-04-08", "--offset", "10", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "since 2026-04-08" in shown.stdout and "Results 11–" in shown.stdout
    dates = re.findall(r"· (\d{4}-\d{2}-\d{2})$", shown.stdout, re.MULTILINE)
    assert dates and min(dates) >= "2026-04-08"
    refused = run_bot(
        "search", "topic", "kafka", "--since", "2026-05", "--until", "2026-04", env=env
    )
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1


def run_bot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` with only the given settings."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def click_more(bot: Bot, message: dict[str, Any]) -> dict[str, Any]:
    actions = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    return click(bot, next(e for e in actions if e["action_id"] == "digest_more"), "more")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("company AWS since 2026-13-01", "“2026-13-01” is not a date."),
        ("topic kafka from 2026-05-01 to 2026-04-01", "ends (2026-04-01) before it starts"),
        ("topic kafka last 0 days", "“last 0 days” is out of range."),
        ("company Meta last 99999 days", "“last 99999 days” is out of range."),
    ],
)
def test_a_bad_date_range_gets_a_one_line_hint(bot: Bot, text: str, said: str) -> None:
    answer = bot.command(text)
    assert_valid(answer)
    assert answer["response_type"] == "ephemeral"
    assert said in answer["text"] and "\n" not in answer["text"]
    assert "last 30 days" in answer["text"] and len(answer["blocks"]) == 1


def test_a_topic_with_in_is_not_a_range(bot: Bot) -> None:
    answer = bot.command("topic kafka headers in 2026-05")
    assert "from 2026-05-01 to 2026-05-31" in blocks_text(answer)
    assert "Confluent Moves Schema IDs" in blocks_text(answer)
    plain = bot.command("topic rate limiting in practice")
    assert "Articles about “rate limiting in practice”" in blocks_text(plain)
