"""Follower DMs through the Slack stand-in: one per issue, Save buttons, thread links,
exactly once after lost answers, and followers whose DMs fail for good."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from slack_bolt.oauth.oauth_flow import OAuthFlow
from slack_sdk.models.blocks import Block
from support.helpers import NO_BACKOFF, clean_env
from support.slack_api import SlackStub

from bot import bootstrap
from bot.config import Settings
from bot.core import follows
from bot.core.ingestion import ingest_files
from bot.delivery.engine import Engine
from bot.delivery.follower_dms import FollowerDms
from bot.delivery.pacer import Pacer
from bot.delivery.poster import SlackPoster, make_lookup_client, make_web_client
from bot.slack.installations import installed_tokens, oauth_client
from bot.slack.oauth import oauth_settings, record_nothing
from bot.slack.rendering import ACTION_FOLLOW_SAVE
from bot.store.db import Database
from bot.store.queries import find_by_company, get_issue
from bot.store.tables import DeliveryMessageRow, DeliveryRow
from bot.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
NEWEST = dt.date(2026, 5, 13)
WS = Workspace("T111")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sender(database: Database, stub: SlackStub) -> FollowerDms:
    client = make_web_client("xoxb-dm", stub.url, timeout=2)
    lookup = make_lookup_client(
        "xoxb-dm", stub.url, timeout=2, retries=1, sleep=lambda _s: None, backoff=NO_BACKOFF
    )
    messenger = SlackPoster(client, lookup_client=lookup)
    return FollowerDms(
        database, lambda _ws: messenger, lease=dt.timedelta(seconds=5), pacer=Pacer(0.0, None)
    )


def setup(
    database: Database, tmp: Path, *followers: tuple[str, str], edit: Any = None
) -> list[int]:
    older = [p for p in sorted((REPO / "seeds").glob("*.txt")) if str(NEWEST) not in p.name]
    ingest_files(database, older)
    for user, what in followers:
        assert follows.follow(database, WS, user, what, now()).ok
    newest = tmp / f"{NEWEST}.txt"
    shutil.copy(REPO / "seeds" / f"{NEWEST}.txt", newest)
    if edit is not None:
        newest.write_text(edit(newest.read_text(encoding="utf-8")), encoding="utf-8")
    ingest_files(database, [newest])
    with database.read() as session:
        issue = get_issue(session, NEWEST)
        assert issue is not None
        return [a.id for a in issue.articles]


def save_buttons(message: dict[str, Any]) -> list[int]:
    return [
        int(b["accessory"]["value"])
        for b in message["blocks"]
        if b.get("accessory", {}).get("action_id") == ACTION_FOLLOW_SAVE
    ]


def test_one_dm_per_follower_with_save_buttons(database: Database, tmp_path: Path) -> None:
    ids = setup(
        database,
        tmp_path,
        ("U1", "company Cloudflare"),
        ("U1", "topic queues"),
        ("U2", "company AWS"),
    )
    with database.read() as session:
        aws = [a.id for a in find_by_company(session, "AWS", 50).page.items if a.id in ids]
    with SlackStub() as stub:
        dms = sender(database, stub)
        assert sorted(dms.run()) == ["sent", "sent"]
        assert dms.run() == []  # nothing more to send
        [u1] = stub.dms("U1")
        [u2] = stub.dms("U2")
        assert u1["metadata"]["event_type"] == "engineering_digest_follow"
        for message in (u1, u2):
            assert Block.parse_all(message["blocks"])  # valid Block Kit
            assert [b.to_dict() for b in Block.parse_all(message["blocks"])] == message["blocks"]
        assert save_buttons(u2) == sorted(aws, key=ids.index)  # in issue order
        assert len(aws) >= 3
        assert "Cloudflare" in u1["text"] and "2026-05-13" in u1["blocks"][0]["text"]["text"]
        # DMs go to the person (their user id), never to a channel.
        assert {c.params["channel"] for c in stub.calls_to("chat.postMessage")} == {"U1", "U2"}


def test_a_company_followed_before_its_first_article_gets_exactly_one_dm(
    database: Database, tmp_path: Path
) -> None:
    # Databricks first appears in the newest issue: followed while waiting, as typed or
    # under the feed name /digest company maps onto it.
    ids = setup(
        database,
        tmp_path,
        ("U1", "company databricks"),
        ("U2", "company Databricks Engineering Blog"),
        ("U3", "company Databrick"),  # /digest company Databrick finds nothing: nor does this
    )
    with database.read() as session:
        by_company = [a.id for a in find_by_company(session, "Databricks", 50).page.items]
    assert len(by_company) >= 2 and set(by_company) <= set(ids)
    with SlackStub() as stub:
        dms = sender(database, stub)
        assert sorted(dms.run()) == ["sent", "sent"]
        assert dms.run() == []  # exactly once, however often the worker runs
        for user in ("U1", "U2"):
            [dm] = stub.dms(user)
            assert sorted(save_buttons(dm)) == sorted(by_company)
            assert "High Performance Rate Limiting at Databricks" in dm["text"]
        assert stub.dms("U3") == []
    waiting = {f.label: f.waiting for f in follows.following(database, WS, "U3")}
    assert waiting == {"Databrick": True}


def test_each_article_of_a_dm_is_linked_with_company_date_and_a_trimmed_summary(
    database: Database, tmp_path: Path
) -> None:
    title = "AWS WorkSpaces Now Lets AI Agents Operate Legacy Desktop Applications Without APIs"
    url = "https://aws.example.com/blogs/workspaces-agents"
    ids = setup(
        database,
        tmp_path,
        ("U1", "company AWS"),
        edit=lambda text: text.replace(f"{title} · AWS", f"[{title}]({url}) · AWS"),
    )
    with SlackStub() as stub:
        assert sender(database, stub).run() == ["sent"]
        [dm] = stub.dms("U1")
    with database.read() as session:
        issue = get_issue(session, NEWEST)
        assert issue is not None
        article = next(a for a in issue.articles if a.title == title)
    assert article.id in ids and article.url == url
    [block] = [b for b in dm["blocks"] if b.get("accessory", {}).get("value") == str(article.id)]
    text = block["text"]["text"]
    assert f"*<{url}|{title}>*" in text and "_AWS · 2026-05-13_" in text
    summary = text.split("\n")[-1]
    assert len(article.summary) > 300 and summary.endswith("…") and len(summary) <= 280
    assert article.summary.startswith(summary[:-1].rstrip())


def test_thread_link_only_for_channels_the_person_is_in(database: Database, tmp_path: Path) -> None:
    ids = setup(database, tmp_path, ("U1", "company Cloudflare"), ("U2", "company Cloudflare"))
    cloudflare = ids[-1]
    with database.write() as session:
        for n, channel in enumerate(("CPRIV", "CPUB"), start=1):
            delivery = DeliveryRow(
                team_id=WS.team_id, channel_id=channel, issue_id=_issue_id(session), state="posted"
            )
            session.add(delivery)
            session.flush()
            session.add(
                DeliveryMessageRow(
                    team_id=WS.team_id,
                    delivery_id=delivery.id,
                    part=1,
                    channel_id=channel,
                    ts=f"100.00020{n}",
                    article_id=cloudflare,
                )
            )
    with SlackStub() as stub:
        stub.set_members("CPUB", "U1", "U9")
        # U2 is in the private channel, but the bot is not: membership cannot be told there.
        stub.add_channel("CPRIV", private=True)
        stub.set_members("CPRIV", "U1", "U2")
        for n, channel in enumerate(("CPRIV", "CPUB"), start=1):
            stub._state.messages[channel].append({"type": "message", "ts": f"100.00020{n}"})
        sender(database, stub).run()
        [u1] = stub.dms("U1")
        [u2] = stub.dms("U2")
        assert "https://example.slack.com/archives/CPUB/p100000202" in str(u1["blocks"])
        assert "archives/" not in str(u2["blocks"])  # never a guess
        Block.parse_all(u1["blocks"])


def _issue_id(session: Any) -> int:
    issue = get_issue(session, NEWEST)
    assert issue is not None
    return issue.id


def test_lost_answer_is_found_in_the_dm_not_sent_twice(database: Database, tmp_path: Path) -> None:
    setup(database, tmp_path, ("U1", "company Cloudflare"))
    with SlackStub() as stub:
        dms = sender(database, stub)
        stub.drop_response_next("chat.postMessage")  # stored by Slack, answer lost
        assert dms.run() == ["retry_later"]
        assert len(stub.dms("U1")) == 1
        assert dms.run() == ["found"]  # looked up by metadata in the DM channel
        assert dms.run() == []
        assert len(stub.dms("U1")) == 1
        assert stub.calls_to("conversations.open")  # the DM channel was not known yet


def test_undecided_lookup_releases_and_never_reposts(database: Database, tmp_path: Path) -> None:
    setup(database, tmp_path, ("U1", "company Cloudflare"))
    with SlackStub() as stub:
        dms = sender(database, stub)
        stub.drop_response_next("chat.postMessage")
        dms.run()
        stub.fail_next("conversations.history", 500, times=5)
        assert dms.run() == ["retry_later"]  # could not tell: not posted again
        assert len(stub.dms("U1")) == 1
        stub.reset_faults()
        assert dms.run() == ["found"]
        assert len(stub.dms("U1")) == 1


def test_refused_post_is_retried_and_sent_once(database: Database, tmp_path: Path) -> None:
    setup(database, tmp_path, ("U1", "company Cloudflare"))
    with SlackStub() as stub:
        dms = sender(database, stub)
        stub.fail_next("chat.postMessage", 200, error="invalid_auth")  # the workspace's trouble
        assert dms.run() == ["retry_later"]
        assert stub.dms("U1") == []
        assert dms.run() == ["sent"]
        assert not stub.calls_to("conversations.history")  # nothing to look up: Slack refused
        assert [p.stop_reason for p in follows.followers(database)] == [None]


def test_a_follower_who_left_stops_being_messaged(database: Database, tmp_path: Path) -> None:
    setup(database, tmp_path, ("U1", "company Cloudflare"), ("U2", "company Cloudflare"))
    with SlackStub() as stub:
        stub.fail_channel("U1", "account_inactive")
        dms = sender(database, stub)
        assert sorted(dms.run()) == ["sent", "stopped"]
        people = {p.user_id: p for p in follows.followers(database)}
        assert people["U1"].stop_reason == "account_inactive" and people["U1"].stopped_at
        assert people["U2"].stop_reason is None and people["U2"].sent == 1
        # Later issues are not matched for U1 at all.
        stub.reset_faults()
        assert dms.run() == []
        assert stub.dms("U1") == []


@pytest.mark.slow
def test_operators_see_a_stopped_follower_in_follows_list(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    setup(
        database,
        tmp_path,
        ("U1", "company Cloudflare"),
        ("U2", "company Cloudflare"),
        ("U2", "company Snowflake Labs"),  # not in the archive: waits for a first article
    )
    with SlackStub() as stub:
        stub.fail_channel("U1", "user_not_found")
        assert sorted(sender(database, stub).run()) == ["sent", "stopped"]
    env = clean_env(DATABASE_URL=database_url)
    command = [sys.executable, "-m", "bot", "follows", "list"]
    shown = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stderr
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in shown.stdout.splitlines()]
    # workspace, user, follows, of them waiting for a first article, DMs sent, DMs waiting, state
    rows = {row[1]: row for row in cells if row}
    assert rows["U1"][4:] == ["0", "0", "STOPPED (user_not_found)"]
    assert rows["U2"][4] == "1" and rows["U2"][6] == "active"
    assert rows["U2"][2:4] == ["2", "1"]
    assert rows["U1"][2:4] == ["1", "0"]
    listed = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, check=False
    )
    people = {p["user"]: p for p in json.loads(listed.stdout)}
    assert people["U1"]["stopped"] == "user_not_found" and people["U2"]["stopped"] is None
    assert people["U2"]["dms_sent"] == 1 and people["U1"]["workspace"] == "T111"
    assert (people["U2"]["follows_waiting"], people["U1"]["follows_waiting"]) == (1, 0)


CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-secret-abcdef0123456789"


def install(stub: SlackStub, settings: Settings, database: Database, team: str) -> None:
    """Add to Slack in a workspace: Bolt's code exchange against the stand-in, stored."""
    tokens = installed_tokens(settings, database, now)
    flow = OAuthFlow(
        client=oauth_client(settings),
        settings=oauth_settings(settings, database, tokens, record_nothing),
    )
    installation = flow.run_installation(stub.authorize(team))
    assert installation is not None
    flow.store_installation(None, installation)  # type: ignore[arg-type]


def test_same_user_id_in_two_workspaces_gets_its_own_dms_with_its_own_token(
    database: Database, tmp_path: Path
) -> None:
    one, two = Workspace("TAAA"), Workspace("TBBB")
    older = [p for p in sorted((REPO / "seeds").glob("*.txt")) if str(NEWEST) not in p.name]
    ingest_files(database, older)
    assert follows.follow(database, one, "U1", "company Cloudflare", now()).ok
    assert follows.follow(database, two, "U1", "company AWS", now()).ok
    newest = tmp_path / f"{NEWEST}.txt"
    shutil.copy(REPO / "seeds" / f"{NEWEST}.txt", newest)
    ingest_files(database, [newest])
    with database.read() as session:
        issue = get_issue(session, NEWEST)
        assert issue is not None
        ids = [a.id for a in issue.articles]
        cloudflare = [a.id for a in find_by_company(session, "Cloudflare", 50).page.items]
        aws = [a.id for a in find_by_company(session, "AWS", 50).page.items]
    mine = {one: [i for i in ids if i in cloudflare], two: [i for i in ids if i in aws]}
    assert mine[one] and mine[two] and not set(mine[one]) & set(mine[two])
    # The Cloudflare article was posted in workspace two's channel CSAME: nothing to link for
    # workspace one's U1 (another workspace's channel, though the channel id may exist in one).
    with database.write() as session:
        delivery = DeliveryRow(
            team_id="TBBB", channel_id="CSAME", issue_id=issue.id, state="posted"
        )
        session.add(delivery)
        session.flush()
        session.add(
            DeliveryMessageRow(
                team_id="TBBB",
                delivery_id=delivery.id,
                part=1,
                channel_id="CSAME",
                ts="100.000301",
                article_id=mine[one][0],
            )
        )
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        settings = Settings.model_validate(
            {
                "SLACK_CLIENT_ID": CLIENT_ID,
                "SLACK_CLIENT_SECRET": CLIENT_SECRET,
                "SLACK_SIGNING_SECRET": "s" * 20,
                "DIGEST_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "SLACK_API_URL": stub.url,
                "DIGEST_DM_PER_SECOND": 50,
            }
        )
        install(stub, settings, database, "TAAA")
        install(stub, settings, database, "TBBB")
        stub.set_members("CSAME", "U1")
        stub._state.messages["CSAME"].append({"type": "message", "ts": "100.000301"})
        dms = bootstrap.follower_dms(settings, database)
        assert sorted(dms.run()) == ["sent", "sent"]
        assert dms.run() == []
        posts = stub.calls_to("chat.postMessage")
        assert len(posts) == 2 and {c.params["channel"] for c in posts} == {"U1"}
        token_of = {one: stub.tokens_of("TAAA")[0], two: stub.tokens_of("TBBB")[0]}
        for workspace in (one, two):
            [post] = [c for c in posts if c.token == token_of[workspace]]
            assert save_buttons(post.params) == mine[workspace]
        # Every call on behalf of workspace one used its token only, and never looked at
        # workspace two's channel.
        assert all(
            c.params.get("channel") != "CSAME" for c in stub.calls if c.token == token_of[one]
        )
        assert "archives/" not in str([c.params for c in posts if c.token == token_of[one]])


def test_the_pacer_keeps_each_workspace_and_person_within_slacks_limits() -> None:
    sent: list[tuple[float, str, str]] = []
    pacer = Pacer(channel_interval=0.2, workspace_per_minute=4 * 60)  # 4 a second

    async def post(workspace: str, user: str, retry_after: float | None = None) -> None:
        async with pacer.turn(workspace, user) as turn:
            sent.append((time.monotonic(), workspace, user))
            if retry_after is not None:
                turn.rate_limited(retry_after)

    async def scenario() -> None:
        start = time.monotonic()
        await asyncio.gather(*(post("TA", f"U{i}") for i in range(8)), post("TB", "U1"))
        ta = sorted(t for t, w, _u in sent if w == "TA")
        assert ta[4] - ta[0] >= 0.99  # never more than 4 of one workspace within a second
        tb = [t for t, w, _u in sent if w == "TB"]
        assert tb[0] - start < 0.1  # TB waited for nothing of TA's
        await post("TA", "U1")
        await post("TA", "U1")  # the same person: 0.2 s after Slack's answer
        assert sent[-1][0] - sent[-2][0] >= 0.19
        # A 429's Retry-After holds the whole workspace back, and only that one.
        await post("TA", "U9", retry_after=0.5)
        before = time.monotonic()
        await asyncio.gather(post("TA", "U10"), post("TB", "U10"))
        by = {w: t for t, w, u in sent if u == "U10"}
        assert by["TA"] - before >= 0.45 and by["TB"] - before < 0.1
        assert pacer.lane_rate("TA") < 4

    asyncio.run(scenario())


def test_dms_created_while_a_run_sends_join_it(database: Database) -> None:
    """A new issue matched during a long, paced run of DMs is sent in that run, not after it."""
    engine = Engine(database, Pacer(0.0, None))
    sent: list[int] = []
    created = [[3, 7], []]

    async def send(job: int) -> int:
        await asyncio.sleep(0.3 if job == 1 else 0.0)
        sent.append(job)
        return job

    async def more() -> list[int]:
        return created.pop(0) if created else []

    results = asyncio.run(engine.fan_out([1, 2], send, lambda _j, _e: -1, more=more, every=0.1))
    assert sorted(results) == [1, 2, 3, 7]
    assert sent.index(3) < sent.index(1) and sent.index(7) < sent.index(1)  # joined the run
