"""`/digest rollup` and the Home tab's "This week", through `python -m bot serve` over real HTTP
(signed like Slack signs, the Web API a stand-in on loopback)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from support.helpers import SEED_NEWEST, due_now
from test_slack_app import blocks_text, served_bot, wait_for

from bot.core import rollups
from bot.digest.parsing import parse_issue, read_text
from bot.store.saves import apply_reaction
from bot.store.tables import ArticleRow
from bot.workspace import Workspace

pytestmark = pytest.mark.slow  # a real bot process

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
WS = Workspace("T111")


def test_rollup_settings_show_set_refuse_and_stop(database_url: str, tmp_path: Path) -> None:
    with served_bot(database_url, tmp_path, {"DIGEST_ADMINS": "UADMIN"}) as bot:
        bot.stub.users["UADMIN"] = {"tz": "Asia/Kolkata"}
        said = blocks_text(bot.command("rollup", "U1", "C1"))
        assert "gets no roll-up" in said and "/digest rollup weekly" in said
        # Defaults: weekly, Monday 09:00 in the person's Slack timezone.
        said = blocks_text(bot.command("rollup weekly", "UADMIN", "C1"))
        assert "weekly roll-up" in said and "on Mondays at 09:00 Asia/Kolkata" in said
        found = rollups.get_rollup(bot.database, WS, "C1")
        assert found and (found.period, found.weekday, found.hour, found.timezone) == (
            "week",
            0,
            9,
            "Asia/Kolkata",
        )
        assert found.set_by == "UADMIN"
        # Anyone may look; only those who may subscribe may change it.
        assert "on Mondays at 09:00 Asia/Kolkata" in blocks_text(bot.command("rollup", "U1", "C1"))
        for text in ("rollup monthly", "rollup off"):
            assert "Only the digest admins" in blocks_text(bot.command(text, "U1", "C1"))
        assert rollups.get_rollup(bot.database, WS, "C1") == found
        said = blocks_text(bot.command("rollup weekly fri 16:30 europe/berlin", "UADMIN", "C1"))
        assert "on Fridays at 16:30 Europe/Berlin" in said and "Next: Fri" in said
        said = blocks_text(bot.command("roll-up monthly 07:00", "UADMIN", "C1"))
        assert "monthly roll-up" in said and "on the 1st at 07:00 Asia/Kolkata" in said
        assert "Next: " in said and "-01 07:00 IST" in said
        # Bad input: a one-line reason, the setting unchanged.
        for text, reason in (
            ("rollup yearly", "not weekly, monthly or off"),
            ("rollup weekly 25:00", "not a time"),
            ("rollup monthly friday", "on the 1st"),
            ("rollup weekly <!channel>", "neither"),
        ):
            answer = bot.command(text, "UADMIN", "C1")
            assert reason in blocks_text(answer)
            assert "<!channel>" not in blocks_text(answer)
        assert rollups.get_rollup(bot.database, WS, "C1").period == "month"  # type: ignore[union-attr]
        # Roll-ups without daily issues: the channel is not subscribed.
        assert "not subscribed" in blocks_text(bot.command("status", "U1", "C1"))
        # Not in a DM.
        assert "not in direct messages" in blocks_text(bot.command("rollup weekly", "UADMIN", "D1"))
        said = blocks_text(bot.command("rollup off", "UADMIN", "C1"))
        assert "no longer get roll-ups" in said
        assert rollups.get_rollup(bot.database, WS, "C1") is None
        assert "had no roll-up" in blocks_text(bot.command("rollup off", "UADMIN", "C1"))
        assert "rollup weekly" in blocks_text(bot.command("help", "U1", "C1"))


def test_home_shows_this_week_so_far(database_url: str, tmp_path: Path) -> None:
    newest = parse_issue(read_text(SEEDS / f"{SEED_NEWEST.isoformat()}.txt"))
    with served_bot(database_url, tmp_path) as bot:
        due_now(bot.database)  # the newest seed issue is today's: this week has its deep dives
        bot.stub.users["U77"] = {"tz": "UTC"}
        with bot.database.write() as session:
            today = dt.datetime.now(dt.UTC).date()
            article = session.scalar(
                select(ArticleRow.id).where(ArticleRow.issue_date == today).limit(1)
            )
            assert article is not None
            now = dt.datetime.now(dt.UTC)
            apply_reaction(session, WS, "U77", article, removed=False, event_us=1, at=now)
        before = len(bot.stub.calls_to("views.publish"))
        event = {"type": "app_home_opened", "user": "U77", "channel": "D77", "tab": "home"}
        assert bot.event(event, "EvHomeWeek") == 200
        wait_for(lambda: len(bot.stub.calls_to("views.publish")) > before)
        view = bot.stub.calls_to("views.publish")[-1].params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        text = json.dumps(view, ensure_ascii=False)
        assert "This week" in text
        assert f"{len(newest.articles)} deep dives so far" in text
        assert "you saved 1 article" in text
        assert not any(b["type"] == "data_visualization" for b in view["blocks"])
        assert len(view["blocks"]) <= 100
