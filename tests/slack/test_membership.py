"""Channels the bot is not in: the stand-in enforces membership like Slack, `/digest subscribe`
joins public channels and explains private ones, `/digest status` says when the bot is not a
member, and `bot post` joins before posting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from support.helpers import clean_env
from support.slack_api import SlackStub
from test_slack_app import blocks_text, served_bot

from bot.core.ingestion import expand_paths, ingest_files
from bot.store.db import Database

REPO = Path(__file__).resolve().parents[2]


def error_of(call: object) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()  # type: ignore[operator]
    return str(caught.value.response["error"])


def test_stand_in_enforces_membership_like_slack() -> None:
    with SlackStub() as stub:
        client = WebClient(token="xoxb-member", base_url=stub.url, retry_handlers=[])
        stub.add_channel("GPRIV", private=True)
        # Public, not joined: chat:write.public posts, but nothing can be read.
        posted = client.chat_postMessage(channel="CPUB", text="hi")
        assert error_of(lambda: client.conversations_history(channel="CPUB")) == "not_in_channel"
        assert (
            error_of(lambda: client.conversations_replies(channel="CPUB", ts=posted["ts"]))
            == "not_in_channel"
        )
        assert client.conversations_info(channel="CPUB")["channel"]["is_member"] is False
        with pytest.raises(AssertionError, match="no reaction events"):
            stub.require_member("CPUB")
        client.conversations_join(channel="CPUB")
        stub.require_member("CPUB")
        assert len(client.conversations_history(channel="CPUB")["messages"]) == 1
        # Private, not invited: invisible, cannot be joined, refuses posts.
        assert error_of(lambda: client.chat_postMessage(channel="GPRIV", text="x")) == (
            "not_in_channel"
        )
        assert error_of(lambda: client.conversations_join(channel="GPRIV")) == (
            "method_not_supported_for_channel_type"
        )
        assert error_of(lambda: client.conversations_info(channel="GPRIV")) == "channel_not_found"
        assert error_of(lambda: client.conversations_history(channel="GPRIV")) == ("not_in_channel")
        stub.set_member("GPRIV")  # /invite
        client.chat_postMessage(channel="GPRIV", text="x")
        assert client.conversations_info(channel="GPRIV")["channel"]["is_member"] is True


@pytest.mark.slow
def test_subscribe_joins_public_channels_and_explains_private_ones(
    database_url: str, tmp_path: Path
) -> None:
    with served_bot(database_url, tmp_path) as bot:
        stub = bot.stub
        stub.add_channel("GSECRET", private=True)
        before = blocks_text(bot.command("status", channel="CPUBLIC"))
        assert "not a member" in before and "/invite @Engineering @ Scale" in before
        reply = blocks_text(bot.command("subscribe 09:00 UTC", channel="CPUBLIC"))
        assert "09:00 UTC" in reply and "invite" not in reply
        assert stub.is_member("CPUBLIC")
        assert [c.params["channel"] for c in stub.calls_to("conversations.join")] == ["CPUBLIC"]
        assert "not a member" not in blocks_text(bot.command("status", channel="CPUBLIC"))

        reply = blocks_text(bot.command("subscribe 09:00 UTC", channel="GSECRET"))
        assert "09:00 UTC" in reply and "/invite @Engineering @ Scale" in reply
        assert not stub.is_member("GSECRET")
        status = blocks_text(bot.command("status", channel="GSECRET"))
        assert "not a member" in status and "/invite" in status
        stub.set_member("GSECRET")
        assert "not a member" not in blocks_text(bot.command("status", channel="GSECRET"))


@pytest.mark.slow
def test_post_joins_before_posting_and_names_the_fix_for_private_channels(
    database_url: str, tmp_path: Path
) -> None:
    database = Database(database_url)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    database.dispose()
    with SlackStub() as stub:
        stub.add_channel("GHIDDEN", private=True)
        env = clean_env(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN="xoxb-post-join",
            SLACK_API_URL=stub.url,
            DIGEST_POST_INTERVAL="0",
        )

        def post(channel: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "bot", "post", "--channel", channel, "--date", "latest"],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        done = post("COPEN")
        assert done.returncode == 0, done.stderr
        methods = [c.method for c in stub.calls if c.params.get("channel") == "COPEN"]
        assert methods.index("conversations.join") < methods.index("chat.postMessage")
        assert stub.is_member("COPEN")
        stub.require_member("COPEN")  # so reactions to what it posted reach the bot

        refused = post("GHIDDEN")
        assert refused.returncode == 1
        assert (
            "not_in_channel" in refused.stderr and "/invite @Engineering @ Scale" in refused.stderr
        )
        assert stub.messages("GHIDDEN") == []
        stub.set_member("GHIDDEN")
        assert post("GHIDDEN").returncode == 0
        assert len(stub.messages("GHIDDEN")) == 1
