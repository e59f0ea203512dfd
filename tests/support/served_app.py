"""The web app built as `serve` builds it (bootstrap.wsgi_app), served from this process over
real HTTP on loopback by wsgiref threads: starts in milliseconds, for tests that break the
database or Slack underneath it and time the answers."""

from __future__ import annotations

import json
import socketserver
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import func, select

from bot.clock import utc_now
from bot.config import Settings
from bot.store.db import Database
from bot.store.tables import ArticleRow, DeliveryMessageRow, DeliveryRow, IssueRow, SaveRow
from bot.workspace import Workspace
from support.signing import block_actions_body, event_body, post, sign, slash_command_body
from support.slack_api import SlackStub

SECRET = "fault-signing-secret-0123456789"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-secret-abcdef0123456789"
KEY = Fernet.generate_key().decode()
BOT_TOKEN = "xoxb-one-workspace-0123456789"


def settings_for(stub: SlackStub, url: str, *, many: bool, **extra: str) -> Settings:
    """A deployment's settings: many workspaces (OAuth) or one (SLACK_BOT_TOKEN)."""
    values = {"DATABASE_URL": url, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": stub.url}
    if many:
        values |= {
            "SLACK_CLIENT_ID": CLIENT_ID,
            "SLACK_CLIENT_SECRET": CLIENT_SECRET,
            "DIGEST_ENCRYPTION_KEY": KEY,
        }
    else:
        values["SLACK_BOT_TOKEN"] = BOT_TOKEN
    return Settings.model_validate(values | extra)


def install(settings: Settings, database: Database, team: str) -> str:
    """Store an installation of `team` as Add to Slack would (bot ids included); its token."""
    from bot.slack.installations import installed_tokens

    token = f"xoxb-{team.lower()}-0123456789"
    installed_tokens(settings, database, utc_now).store.save(
        Installation(
            app_id="A0DIGEST",
            enterprise_id=None,
            team_id=team,
            team_name=team.lower(),
            bot_token=token,
            bot_id=f"B{team}",
            bot_user_id=f"U{team}BOT",
            bot_scopes=["chat:write", "commands", "reactions:read"],
            user_id="UADMIN",
            installed_at=time.time(),
        )
    )
    return token


def record_post(database: Database, workspace: Workspace | str, channel: str, ts: str) -> int:
    """Pretend the bot posted the first article of the latest issue at `ts` in `channel`."""
    if isinstance(workspace, str):
        workspace = Workspace(workspace)
    with database.write() as session:
        issue_id = session.scalar(select(IssueRow.id).order_by(IssueRow.date.desc()).limit(1))
        article_id = session.scalar(
            select(ArticleRow.id)
            .where(ArticleRow.issue_id == issue_id)
            .order_by(ArticleRow.position)
        )
        delivery = DeliveryRow(
            team_id=workspace.team_id,
            enterprise_id=workspace.enterprise_id,
            channel_id=channel,
            issue_id=issue_id,
            state="posted",
        )
        session.add(delivery)
        session.flush()
        session.add(
            DeliveryMessageRow(
                team_id=workspace.team_id,
                enterprise_id=workspace.enterprise_id,
                delivery_id=delivery.id,
                part=1,
                channel_id=channel,
                ts=ts,
                article_id=article_id,
            )
        )
    assert article_id is not None
    return int(article_id)


def saves_of(database: Database, team: str, user: str) -> int:
    """How many save rows (saved or removed) a person has."""
    with database.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(SaveRow)
                .where(SaveRow.team_id == team, SaveRow.user_id == user)
            )
            or 0
        )


def reaction(user: str, channel: str, ts: str, kind: str = "reaction_added") -> dict[str, Any]:
    """A save-emoji reaction on a message."""
    return {
        "type": kind,
        "user": user,
        "reaction": "bookmark",
        "item_user": "UBOT",
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class Served:
    """The app on http://127.0.0.1:PORT, and its stand-in Slack."""

    base: str
    stub: SlackStub

    def command(
        self, text: str, team: str = "T111", user: str = "U1", response_url: str | None = None
    ) -> tuple[int, str, float]:
        """A signed /digest: (status, body, seconds to the answer)."""
        body = slash_command_body(
            text,
            user_id=user,
            team_id=team,
            response_url=response_url or self.stub.response_url(f"{team}-{time.time()}"),
        )
        start = time.monotonic()
        status, answer, _ = post(self.base + "/slack/events", body, sign(body, SECRET))
        return status, answer, time.monotonic() - start

    def event(
        self, event: dict[str, Any], event_id: str, team: str = "T111", retry: int | None = None
    ) -> tuple[int, float]:
        """A signed Events API delivery (a retry with X-Slack-Retry-Num): (status, seconds)."""
        body = event_body(event, event_id, team)
        headers = sign(body, SECRET)
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"}
        start = time.monotonic()
        status, _, _ = post(self.base + "/slack/events", body, headers)
        return status, time.monotonic() - start

    def click(self, team: str, response_url: str) -> tuple[int, float]:
        """A signed button click (Show more) from a workspace: (status, seconds)."""
        body = block_actions_body(
            "digest_more", "x", user_id="U1", response_url=response_url, channel_id="C1"
        ).replace("%22T111%22", f"%22{team}%22")
        start = time.monotonic()
        status, _, _ = post(self.base + "/slack/events", body, sign(body, SECRET))
        return status, time.monotonic() - start

    def healthz(self) -> tuple[int, dict[str, Any], float]:
        """GET /healthz: (status, JSON, seconds)."""
        start = time.monotonic()
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=10) as r:  # noqa: S310
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        return status, json.loads(raw), time.monotonic() - start


@contextmanager
def served(settings: Settings, database: Database, stub: SlackStub) -> Iterator[Served]:
    """Serve `bootstrap.wsgi_app` (the app each gunicorn worker runs) until the block ends."""
    from bot import bootstrap

    app = bootstrap.wsgi_app(settings, database, SECRET)
    server = make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.server_port}", stub)
    finally:
        server.shutdown()
        server.server_close()
