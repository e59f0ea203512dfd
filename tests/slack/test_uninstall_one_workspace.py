"""One workspace (SLACK_BOT_TOKEN): app_uninstalled and tokens_revoked keep every row and log one
WARNING; the manifest says this mode ignores them (its token lives in the environment)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support.signing import post, sign
from support.slack_requests import body_of
from test_slack_app import SECRET, Bot, _record_post, reaction, served_bot, wait_for

from bot.store.tables import DeliveryMessageRow, DeliveryRow, SaveRow, SubscriptionRow

TABLES = (SubscriptionRow, SaveRow, DeliveryRow, DeliveryMessageRow)


def counts(bot: Bot) -> dict[str, int]:
    with bot.database.read() as session:
        return {
            t.__tablename__: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in TABLES
        }


@pytest.mark.slow
def test_uninstall_events_keep_the_data_of_the_one_workspace(
    database_url: str, tmp_path: Path
) -> None:
    with served_bot(database_url, tmp_path) as bot:
        assert "09:00 UTC" in str(bot.command("subscribe 09:00 UTC", channel="C0SUB"))
        bot.stub.set_member("C0SUB")
        _record_post(bot.database, "C0SUB", "1790000000.000100")
        saved = reaction("reaction_added", "U1", "C0SUB", "1790000000.000100")
        assert bot.event(saved, "EvSaved") == 200
        wait_for(lambda: counts(bot)["saves"] == 1)
        before = counts(bot)
        assert all(before.values()), before
        log = tmp_path / "serve.log"
        start = log.stat().st_size
        # As Slack sends them (recorded bodies), for this workspace: T111 outside any org.
        for name in ("event_tokens_revoked", "event_app_uninstalled"):
            body = body_of(name, team_id="T111", enterprise_id=None, event_id=f"Ev{name}")
            status, _, _ = post(bot.url, body, sign(body, SECRET))
            assert status == 200

        def warnings() -> list[str]:
            added = log.read_bytes()[start:].decode(errors="replace").splitlines()
            return [line for line in added if " WARNING " in line]

        wait_for(lambda: len(warnings()) >= 2, timeout=10)
        time.sleep(0.5)  # room for a deletion to show up
        assert counts(bot) == before
        lines = warnings()
        assert len(lines) == 2, lines
        assert sorted(line.split(": ")[1].split()[0] for line in lines) == [
            "app_uninstalled",
            "tokens_revoked",
        ]
        assert all("kept" in line for line in lines), lines
        # Still answering as before.
        assert "09:00" in str(bot.command("status", channel="C0SUB"))
