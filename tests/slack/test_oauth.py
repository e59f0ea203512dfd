"""Add to Slack over real HTTP: `python -m bot serve` with SLACK_CLIENT_ID, the Slack stand-in
playing Slack's OAuth (codes, oauth.v2.access, per-token identities), both backends."""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text, update
from support.helpers import clean_env, due_now, free_port
from support.signing import event_body, post, sign, slash_command_body
from support.slack_api import SlackStub

from bot.core import lookups
from bot.core.ingestion import expand_paths, ingest_files
from bot.slack.oauth import NOT_INSTALLED
from bot.slack.rendering import issue_messages
from bot.store import subscriptions
from bot.store.db import Database, open_database
from bot.workspace import Workspace

pytestmark = pytest.mark.slow  # real bot processes

REPO = Path(__file__).resolve().parents[2]
SECRET = "oauth-signing-secret-0123456789"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-secret-abcdef0123456789"
KEY = Fernet.generate_key().decode()


@dataclass
class Served:
    """A many-workspace bot served over HTTP, its stand-in Slack and database."""

    base: str
    stub: SlackStub
    database: Database
    log: Path

    def get(self, path: str, cookie: str | None = None) -> tuple[int, str, dict[str, str]]:
        """GET and return (status, body, headers), also for 4xx/5xx."""
        headers = {"Cookie": cookie} if cookie else {}
        request = urllib.request.Request(self.base + path, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                headers = {k.lower(): v for k, v in response.headers.items()}
                return response.status, response.read().decode(), headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), {k.lower(): v for k, v in exc.headers.items()}

    def start_install(self) -> tuple[str, str]:
        """GET /slack/install: the state in the Add to Slack link, and the cookie set."""
        status, body, headers = self.get("/slack/install")
        assert status == 200, body
        link = html.unescape(re.search(r'<a href="([^"]+)"', body).group(1))  # type: ignore[union-attr]
        query = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)
        assert query["client_id"] == [CLIENT_ID]
        assert "commands" in query["scope"][0].split(",")
        cookie = headers["set-cookie"].split(";")[0]
        state = query["state"][0]
        assert cookie == f"slack-app-oauth-state={state}"
        return state, cookie

    def redirect(self, code: str, state: str, cookie: str | None) -> tuple[int, str]:
        """Slack sends the browser back with the code and the state."""
        query = urllib.parse.urlencode({"code": code, "state": state})
        status, body, _ = self.get(f"/slack/oauth_redirect?{query}", cookie)
        return status, body

    def install(self, team: str, user: str = "UADMIN") -> None:
        """The whole Add to Slack round trip for one workspace."""
        state, cookie = self.start_install()
        status, body = self.redirect(self.stub.authorize(team, user_id=user), state, cookie)
        assert status == 200, body

    def command(self, team: str, text_: str, user: str = "U1") -> tuple[int, str]:
        """A signed /digest from a workspace."""
        body = slash_command_body(
            text_, user_id=user, response_url=self.stub.response_url(f"{team}-{time.time()}")
        ).replace("team_id=T111", f"team_id={team}")
        status, answer, _ = post(self.base + "/slack/events", body, sign(body, SECRET))
        return status, answer


def multi_env(stub: SlackStub, url: str, **extra: str) -> dict[str, str]:
    """The environment of a many-workspace deployment (no SLACK_BOT_TOKEN)."""
    return clean_env(
        DATABASE_URL=url,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
        SLACK_SIGNING_SECRET=SECRET,
        DIGEST_ENCRYPTION_KEY=KEY,
        SLACK_API_URL=stub.url,
        LOG_LEVEL="DEBUG",
        WEB_CONCURRENCY="1",
        **extra,
    )


@contextmanager
def served(url: str, tmp: Path, stub: SlackStub) -> Iterator[Served]:
    """`python -m bot serve` in many-workspace mode until the block ends."""
    database = open_database(url, upgrade=True)
    ingest_files(database, expand_paths([REPO / "seeds"]))
    port = free_port()
    log = tmp / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=multi_env(stub, url),
            cwd=tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90  # a loaded 2-core machine starts gunicorn slowly
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    process.kill()
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.1)
        try:
            yield Served(base, stub, database, log)
        finally:
            process.terminate()
            process.wait(10)
            database.dispose()


def assert_no_secrets(log: str, stub: SlackStub) -> None:
    """No token the stand-in issued, no refresh token, no app secret in the log."""
    for token in [*stub.identities, *stub.used_refresh_tokens, *stub.refresh_tokens]:
        assert token not in log
    assert CLIENT_SECRET not in log and KEY not in log and SECRET not in log
    assert "xoxb-" not in log and "xoxe" not in log


def test_add_to_slack_two_workspaces_each_with_its_own_token(
    database_url: str, tmp_path: Path
) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        with served(database_url, tmp_path, stub) as bot:
            bot.install("TAAA", user="UADMINA")
            bot.install("TBBB", user="UADMINB")
            token_a, token_b = stub.tokens_of("TAAA")[0], stub.tokens_of("TBBB")[0]
            # The code exchange went to the stand-in (SLACK_API_URL), with the app's credentials.
            assert len(stub.calls_to("oauth.v2.access")) == 2

            stub.reset()
            for team in ("TAAA", "TBBB", "TAAA"):
                status, answer = bot.command(team, "company Cloudflare")
                assert status == 200
                assert "Cloudflare" in answer  # answered inline, within Slack's 3 s
            # Authorized from the stored installations: no Web API call (auth.test) at all.
            assert stub.calls == []

            # Only the installer (or a Slack admin) may subscribe in a workspace that installed
            # the app. Subscribing looks the person's timezone up and joins the channel: both
            # with the asking workspace's token (lookups built once per process included).
            stub.reset()
            status, answer = bot.command("TBBB", "subscribe 09:00", user="UADMINA")
            assert status == 200 and "Only the digest admins" in answer
            stub.reset()
            status, answer = bot.command("TBBB", "subscribe 09:00", user="UADMINB")
            assert status == 200 and "09:00" in answer
            methods = {c.method for c in stub.calls}
            assert {"users.info", "conversations.join"} <= methods
            assert [(c.method, c.token) for c in stub.calls if c.token != token_b] == []

            # An event from workspace B: the Home tab is published with B's token only.
            stub.reset()
            home = event_body({"type": "app_home_opened", "user": "U9", "tab": "home"}, "Ev1")
            home = home.replace('"T111"', '"TBBB"')
            status, _, _ = post(bot.base + "/slack/events", home, sign(home, SECRET))
            assert status == 200
            deadline = time.time() + 10
            while not stub.calls_to("views.publish") and time.time() < deadline:
                time.sleep(0.05)
            assert [c.token for c in stub.calls_to("views.publish")] == [token_b]
            assert {c.token for c in stub.calls} == {token_b}

            # Tokens are encrypted at rest: no column holds a token or anything like one.
            with bot.database.read() as session:
                rows = session.execute(
                    text("SELECT bot_token, team_id FROM slack_bots ORDER BY team_id")
                ).all()
                installs = session.execute(text("SELECT * FROM slack_installations")).all()
            assert [r[1] for r in rows] == ["TAAA", "TBBB"]
            dump = repr(rows) + repr(installs)
            assert "xox" not in dump and token_a not in dump and token_b not in dump
            assert all(r[0] and len(r[0]) > 100 for r in rows)
        assert_no_secrets(bot.log.read_text(), stub)


def test_state_is_checked_and_single_use(database_url: str, tmp_path: Path) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        with served(database_url, tmp_path, stub) as bot:
            state, cookie = bot.start_install()
            status, page = bot.redirect(stub.authorize("TAAA"), state, cookie)
            assert status == 200 and "Oops" not in page
            # Replayed: the same state again (even with a fresh code) is refused.
            status, page = bot.redirect(stub.authorize("TEVE"), state, cookie)
            assert status == 401 and "Oops" in page
            # Forged: a state this bot never issued, with a cookie to match.
            forged = "0f1e2d3c-aaaa-bbbb-cccc-000000000000"
            status, page = bot.redirect(
                stub.authorize("TEVE"), forged, f"slack-app-oauth-state={forged}"
            )
            assert status == 401 and "Oops" in page
            # Issued, but from another browser (no cookie): refused, and the state stays unused.
            state2, cookie2 = bot.start_install()
            status, _ = bot.redirect(stub.authorize("TEVE"), state2, None)
            assert status == 400
            # Expired: issued more than ten minutes ago.
            with bot.database.write() as session:
                session.execute(text("UPDATE slack_oauth_states SET expire_at = '2020-01-01'"))
            status, page = bot.redirect(stub.authorize("TEVE"), state2, cookie2)
            assert status == 401 and "Oops" in page
            # A code Slack did not issue (or already used) installs nothing.
            state3, cookie3 = bot.start_install()
            status, page = bot.redirect("T1.not-a-code", state3, cookie3)
            assert status == 401 and "Oops" in page
            # The user pressed Cancel on Slack's page: a friendly failure page, nothing stored.
            status, page, _ = bot.get("/slack/oauth_redirect?error=access_denied&state=x")
            assert status == 200 and "cancelled" in page and "Oops" not in page
            with bot.database.read() as session:
                teams = session.execute(text("SELECT team_id FROM slack_bots")).scalars().all()
            assert teams == ["TAAA"]
            # Exactly one code was ever exchanged: the refused redirects never reached Slack
            # with a forged state.
            exchanged = [c.params.get("code") for c in stub.calls_to("oauth.v2.access")]
            assert len(exchanged) == 2 and exchanged[1] == "T1.not-a-code"


def test_hostile_install_requests_get_4xx_never_500(database_url: str, tmp_path: Path) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        with served(database_url, tmp_path, stub) as bot:
            cases = [
                "/slack/oauth_redirect",
                "/slack/oauth_redirect?code=&state=",
                "/slack/oauth_redirect?state=%ff%fe&code=%00",
                "/slack/oauth_redirect?state=" + "a" * 5000,
                "/slack/oauth_redirect?state=x&state=y&code=1&code=2",
                "/slack/install?team=%ff%00<script>",
            ]
            for path in cases:
                status, body, _ = bot.get(path, cookie="slack-app-oauth-state=%ff; x=\"'")
                assert 200 <= status < 500, (path, status)
                assert "<script>" not in body
            status, _, _ = post(bot.base + "/slack/install", "x=1", {})
            assert status == 405
            status, _, _ = post(bot.base + "/slack/oauth_redirect", "x" * 10, {})
            assert status == 405
            # Still serving afterwards.
            bot.install("TAAA")
        log = bot.log.read_text()
        assert "Traceback" not in log and " 500 " not in log
        assert "a" * 300 not in log


def test_not_installed_workspace_gets_a_clear_message(database_url: str, tmp_path: Path) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        with served(database_url, tmp_path, stub) as bot:
            bot.install("TAAA")
            # Said in the answer itself (Slack shows a command's plain-text answer to the
            # person), not posted to response_url before the answer.
            status, said = bot.command("TNOPE", "company Cloudflare")
            assert (status, said) == (200, NOT_INSTALLED)
            assert stub.responses == []
            event = event_body({"type": "app_home_opened", "user": "U9", "tab": "home"}, "Ev2")
            event = event.replace('"T111"', '"TNOPE"')
            status, _, _ = post(bot.base + "/slack/events", event, sign(event, SECRET))
            assert status == 200
            # Uninstalled (installation forgotten): the same message, no 500.
            from bot.slack.installations import installed_tokens

            tokens = installed_tokens(_settings(stub, database_url), bot.database, _now)
            from bot.workspace import Workspace

            tokens.forget(Workspace("TAAA"))
            stub.reset()
            assert bot.command("TAAA", "company Cloudflare") == (200, NOT_INSTALLED)
        assert "Traceback" not in bot.log.read_text()


def _settings(stub: SlackStub, url: str):  # type: ignore[no-untyped-def]
    from bot.config import Settings

    env = multi_env(stub, url)
    return Settings(**{k: v for k, v in env.items() if k.startswith(("SLACK_", "DIGEST_"))})


def _now():  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("drop", "says"),
    [
        ("DIGEST_ENCRYPTION_KEY", "DIGEST_ENCRYPTION_KEY is not set"),
        ("SLACK_CLIENT_SECRET", "SLACK_CLIENT_SECRET is not set"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_many_workspaces_without_a_key_is_one_startup_error(
    tmp_path: Path, command: str, drop: str, says: str
) -> None:
    with SlackStub() as stub:
        env = multi_env(stub, f"sqlite:///{tmp_path / 'digest.db'}")
    env.pop(drop)
    done = subprocess.run(
        [sys.executable, "-m", "bot", command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
    assert CLIENT_SECRET not in done.stderr and KEY not in done.stderr


def test_a_key_that_is_not_a_fernet_key_is_refused(tmp_path: Path) -> None:
    with SlackStub() as stub:
        env = multi_env(stub, f"sqlite:///{tmp_path / 'digest.db'}")
    env["DIGEST_ENCRYPTION_KEY"] = "not-a-key-but-a-secret-all-the-same"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "DIGEST_ENCRYPTION_KEY: not a Fernet key" in done.stderr
    assert "not-a-key-but" not in done.stderr


def test_socket_mode_is_single_workspace(tmp_path: Path) -> None:
    with SlackStub() as stub:
        env = multi_env(stub, f"sqlite:///{tmp_path / 'digest.db'}", SLACK_APP_TOKEN="xapp-1")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Socket Mode serves one workspace" in done.stderr


def expire_stored_tokens(database: Database) -> None:
    """Make every stored bot token look as if it expires in a minute."""
    import datetime as dt

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).replace(tzinfo=None)
    from sqlalchemy import MetaData, Table

    for name in ("slack_bots", "slack_installations"):
        table = Table(name, MetaData(), autoload_with=database.engine)
        with database.write() as session:
            session.execute(update(table).values(bot_token_expires_at=soon))


@contextmanager
def workers(url: str, tmp: Path, stub: SlackStub, count: int, **extra: str) -> Iterator[list[Path]]:
    """`count` many-workspace workers running at once."""
    procs, logs = [], []
    for n in range(count):
        log = tmp / f"worker{n}.log"
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "bot", "worker"],
                env=multi_env(stub, url, **extra),
                cwd=tmp,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
    try:
        yield logs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


def test_workers_refresh_an_expiring_token_once(database_url: str, tmp_path: Path) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET, token_rotation=True)
        with served(database_url, tmp_path, stub) as bot:
            bot.install("TAAA")
            bot.install("TBBB")
            first_a = stub.tokens_of("TAAA")[0]
            # A token with twelve hours left is not touched...
            with workers(database_url, tmp_path, stub, 1):
                time.sleep(4)
            assert not stub.calls_to("oauth.v2.access")[2:]
            # ...one about to expire is refreshed by exactly one of two racing workers.
            expire_stored_tokens(bot.database)
            with workers(database_url, tmp_path, stub, 2) as logs:
                deadline = time.time() + 30
                while time.time() < deadline and (
                    len(stub.tokens_of("TAAA")) < 2 or len(stub.tokens_of("TBBB")) < 2
                ):
                    time.sleep(0.2)
                time.sleep(2)  # room for a second, wrong refresh to show up
            refreshes = [c for c in stub.calls_to("oauth.v2.access") if c.params.get("grant_type")]
            assert len(refreshes) == 2
            assert not [c for c in refreshes if c.params.get("refresh_token") in stub.identities]
            assert len(stub.tokens_of("TAAA")) == 2 and len(stub.tokens_of("TBBB")) == 2
            # The new token is what requests use from now on.
            stub.reset()
            home = event_body({"type": "app_home_opened", "user": "U9", "tab": "home"}, "EvR")
            home = home.replace('"T111"', '"TAAA"')
            status, _, _ = post(bot.base + "/slack/events", home, sign(home, SECRET))
            assert status == 200
            deadline = time.time() + 10
            while not stub.calls_to("views.publish") and time.time() < deadline:
                time.sleep(0.05)
            assert {c.token for c in stub.calls} == {stub.tokens_of("TAAA")[1]}
            assert first_a not in {c.token for c in stub.calls}
        for log in [*logs, bot.log]:
            text_ = log.read_text()
            assert "invalid_refresh_token" not in text_ and "Traceback" not in text_
            assert_no_secrets(text_, stub)


def test_app_uninstalled_forgets_installation_and_data_of_that_workspace_only(
    database_url: str, tmp_path: Path
) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        with served(database_url, tmp_path, stub) as bot:
            bot.install("TAAA", user="UADMINA")
            bot.install("TBBB", user="UADMINB")
            for team, user in (("TAAA", "UADMINA"), ("TBBB", "UADMINB")):
                status, answer = bot.command(team, "subscribe 09:00", user=user)
                assert status == 200 and "09:00" in answer

            def rows(sql: str) -> list[str]:
                with bot.database.read() as session:
                    return sorted(str(r[0]) for r in session.execute(text(sql)).all())

            # Only a user token revoked: the bot still works there, nothing is deleted.
            user_only = {"type": "tokens_revoked", "tokens": {"oauth": ["U1"], "bot": []}}
            revoked = event_body(user_only, "EvUser").replace('"T111"', '"TAAA"')
            status, _, _ = post(bot.base + "/slack/events", revoked, sign(revoked, SECRET))
            assert status == 200
            time.sleep(1)
            assert rows("SELECT team_id FROM subscriptions") == ["TAAA", "TBBB"]

            gone = event_body({"type": "app_uninstalled"}, "EvGone").replace('"T111"', '"TAAA"')
            status, _, _ = post(bot.base + "/slack/events", gone, sign(gone, SECRET))
            assert status == 200

            deadline = time.time() + 15
            while "TAAA" in rows("SELECT team_id FROM slack_bots") and time.time() < deadline:
                time.sleep(0.1)
            # The uninstalled workspace's installation and data are gone; the other's stay.
            assert rows("SELECT team_id FROM slack_bots") == ["TBBB"]
            assert rows("SELECT team_id FROM slack_installations") == ["TBBB"]
            assert rows("SELECT team_id FROM subscriptions") == ["TBBB"]
            assert rows("SELECT count(*) FROM issues") != ["0"]  # the archive is shared, kept

            stub.reset()
            assert bot.command("TAAA", "status") == (200, NOT_INSTALLED)

            # Reinstalled: starts clean. Then its bot token revoked: purged like an uninstall.
            bot.install("TAAA", user="UADMINA")
            status, answer = bot.command("TAAA", "status", user="UADMINA")
            assert status == 200 and "not subscribed" in answer
            bot_token = {"type": "tokens_revoked", "tokens": {"bot": ["UBOTTBBB"]}}
            revoked = event_body(bot_token, "EvBot").replace('"T111"', '"TBBB"')
            status, _, _ = post(bot.base + "/slack/events", revoked, sign(revoked, SECRET))
            assert status == 200
            deadline = time.time() + 15
            while rows("SELECT team_id FROM subscriptions") and time.time() < deadline:
                time.sleep(0.1)
            assert rows("SELECT team_id FROM subscriptions") == []
        log = bot.log.read_text()
        assert "Traceback" not in log
        assert_no_secrets(log, stub)


def test_the_worker_posts_in_each_workspace_with_its_own_token(
    database_url: str, tmp_path: Path
) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        with served(database_url, tmp_path, stub) as bot:
            teams = ("TAAA", "TBBB", "TCCC")
            for team in teams:
                bot.install(team)
            due_now(bot.database)  # the newest issue, moved to today
            slot = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
            with bot.database.write() as session:
                for team in teams:  # the same channel id in each workspace: three channels
                    subscriptions.subscribe(
                        session,
                        Workspace(team),
                        "C1",
                        hour=slot.hour,
                        minute=slot.minute,
                        timezone="UTC",
                        days="daily",
                        user_id="UADMIN",
                        now=slot - dt.timedelta(hours=1),
                    )
            stub.revoke("TCCC")  # uninstalled at Slack, before the event reached us
            stub.reset()
            parts = len(issue_messages(lookups.issue(bot.database, None).issue, "bookmark"))  # type: ignore[arg-type]
            with workers(database_url, tmp_path, stub, 1, DIGEST_POST_INTERVAL="0.01") as logs:
                deadline = time.time() + 60
                while time.time() < deadline and any(
                    len(stub.all_messages("C1", team)) < parts for team in ("TAAA", "TBBB")
                ):
                    time.sleep(0.2)
                time.sleep(1)  # room for a duplicate to show up
            for team in ("TAAA", "TBBB"):
                parents = stub.messages("C1", team)
                assert len(parents) == 1, team
                replies = stub.thread("C1", parents[0]["ts"], team)
                numbers = [r["metadata"]["event_payload"]["part"] for r in replies]
                assert numbers == list(range(1, parts)), team
            # Each workspace's posts carried that workspace's own token, never another's.
            posts = stub.calls_to("chat.postMessage")
            own = {team: stub.tokens_of(team)[0] for team in teams}
            assert {own["TAAA"], own["TBBB"]} <= {c.token for c in posts} <= set(own.values())
            assert stub.all_messages("C1", "TCCC") == []
            with bot.database.read() as session:
                failing = session.execute(
                    text("SELECT team_id, failing FROM subscriptions ORDER BY team_id")
                ).all()
            # The revoked workspace's channel is flagged for its admins; the others are fine.
            assert [(t, bool(f)) for t, f in failing] == [
                ("TAAA", False),
                ("TBBB", False),
                ("TCCC", True),
            ]
        for log in logs:
            text_ = log.read_text()
            assert "Traceback" not in text_
            assert_no_secrets(text_, stub)


def test_install_failures_show_a_page_and_never_log_the_code(
    database_url: str, tmp_path: Path
) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        with served(database_url, tmp_path, stub) as bot:
            codes = []
            # The admin pressed Cancel on Slack's page: a friendly page, not "Oops".
            status, page, _ = bot.get("/slack/oauth_redirect?error=access_denied&state=x")
            assert status == 200 and "Oops" not in page
            assert "cancelled" in page and "/slack/install" in page
            # Slack drops the connection of oauth.v2.access (the retry too): a page saying so.
            state, cookie = bot.start_install()
            stub.drop_response_next("oauth.v2.access")
            stub.drop_response_next("oauth.v2.access", after=0)
            codes.append(stub.authorize("TAAA"))
            status, page = bot.redirect(codes[-1], state, cookie)
            assert status == 502 and "did not answer" in page and "/slack/install" in page
            # oauth.v2.access times out (the client gives up after 10 s): the same page.
            state, cookie = bot.start_install()
            stub.fail_next("oauth.v2.access", timeout=12, times=2)  # whether retried or not
            codes.append(stub.authorize("TAAA"))
            status, page = bot.redirect(codes[-1], state, cookie)
            assert status == 502 and "did not answer" in page
            stub.reset_faults()
            # A code Slack refuses: Bolt's page, the code named nowhere in the log.
            state, cookie = bot.start_install()
            codes.append("T1.refused-code-0123456789")
            status, page = bot.redirect(codes[-1], state, cookie)
            assert status == 401
            # Nothing was installed; then a working install still goes through.
            with bot.database.read() as session:
                assert session.execute(text("SELECT team_id FROM slack_bots")).all() == []
            bot.install("TAAA")
        log = bot.log.read_text()
        assert "Traceback" not in log
        for code in codes:
            assert code not in log and code.split(".")[1] not in log
        assert_no_secrets(log, stub)
