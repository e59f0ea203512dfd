"""The installation side in-process, on real databases: encrypted stores, TokenSource, forget,
and token refresh racing between the worker and request-time authorization."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from cryptography.fernet import Fernet
from slack_bolt.oauth.oauth_flow import OAuthFlow
from sqlalchemy import MetaData, Table, text, update
from support.slack_api import SlackStub

from bot.config import Settings
from bot.slack.authorize import StoredInstallationAuthorize
from bot.slack.installations import (
    InstalledTokens,
    SettingsError,
    check_mode,
    installed_tokens,
    oauth_client,
    token_source,
)
from bot.slack.oauth import NOT_INSTALLED, oauth_settings, record_nothing
from bot.store.db import Database
from bot.workspace import Workspace

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-secret-abcdef0123456789"


def settings_for(stub: SlackStub, **extra: Any) -> Settings:
    """Many-workspace settings pointing at the stand-in."""
    values = {
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_SIGNING_SECRET": "s" * 20,
        "DIGEST_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "SLACK_API_URL": stub.url,
    }
    return Settings.model_validate(values | extra)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def install(stub: SlackStub, settings: Settings, database: Database, team: str) -> None:
    """Bolt's own code exchange (oauth.v2.access through SLACK_API_URL) and store."""
    tokens = installed_tokens(settings, database, now)
    flow = OAuthFlow(
        client=oauth_client(settings),
        settings=oauth_settings(settings, database, tokens, record_nothing),
    )
    installation = flow.run_installation(stub.authorize(team))
    assert installation is not None
    flow.store_installation(None, installation)  # type: ignore[arg-type]


def make_expiring(database: Database, minutes: float) -> None:
    """Every stored bot token now expires in `minutes`."""
    soon = (now() + dt.timedelta(minutes=minutes)).replace(tzinfo=None)
    for name in ("slack_bots", "slack_installations"):
        table = Table(name, MetaData(), autoload_with=database.engine)
        with database.write() as session:
            session.execute(update(table).values(bot_token_expires_at=soon))


def test_token_source_gives_each_workspace_its_token_and_forgets(database: Database) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        settings = settings_for(stub)
        install(stub, settings, database, "TAAA")
        install(stub, settings, database, "TBBB")
        source = token_source(settings, database, now)
        assert source.token(Workspace("TAAA")) == stub.tokens_of("TAAA")[0]
        assert source.token(Workspace("TBBB")) == stub.tokens_of("TBBB")[0]
        assert source.token(Workspace("TNOPE")) is None
        source.forget(Workspace("TAAA"))
        assert source.token(Workspace("TAAA")) is None
        assert source.token(Workspace("TBBB")) == stub.tokens_of("TBBB")[0]
        with database.read() as session:
            bots = session.execute(text("SELECT team_id FROM slack_bots")).scalars().all()
            installs = session.execute(text("SELECT team_id FROM slack_installations")).scalars()
            assert bots == ["TBBB"] and list(installs) == ["TBBB"]
        # A reinstall after forgetting starts from a new installation.
        install(stub, settings, database, "TAAA")
        assert source.token(Workspace("TAAA")) == stub.tokens_of("TAAA")[1]


def test_single_workspace_token_source_is_the_environment(database: Database) -> None:
    settings = Settings.model_validate({"SLACK_BOT_TOKEN": "xoxb-only-one"})
    source = token_source(settings, database, now)
    assert source.token(Workspace("TANY")) == "xoxb-only-one"
    source.forget(Workspace("TANY"))  # nothing stored, nothing to delete
    assert source.token(Workspace("TANY")) == "xoxb-only-one"


def test_tokens_are_unreadable_without_the_key(database: Database) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        settings = settings_for(stub)
        install(stub, settings, database, "TAAA")
        with database.read() as session:
            stored = session.execute(text("SELECT bot_token FROM slack_bots")).scalar_one()
        assert "xox" not in stored
        # Another key cannot open it (a clear error, not a wrong token) ...
        other = settings_for(stub)
        with pytest.raises(SettingsError, match="cannot be decrypted"):
            token_source(other, database, now).token(Workspace("TAAA"))
        # ... and a rotated key list (new key first, old key after) still can.
        old = settings.encryption_key.get_secret_value()  # type: ignore[union-attr]
        rotated = settings_for(
            stub, DIGEST_ENCRYPTION_KEY=f"{Fernet.generate_key().decode()},{old}"
        )
        assert (
            token_source(rotated, database, now).token(Workspace("TAAA"))
            == (stub.tokens_of("TAAA")[0])
        )


def test_check_mode_names_what_is_missing(tmp_path: Any) -> None:
    with SlackStub() as stub:
        good = settings_for(stub)
    check_mode(good)
    with pytest.raises(SettingsError, match="DIGEST_ENCRYPTION_KEY is not set"):
        check_mode(good.model_copy(update={"encryption_key": None}))
    with pytest.raises(SettingsError, match="Socket Mode"):
        check_mode(good, socket_mode=True)
    with pytest.raises(SettingsError, match="SLACK_CLIENT_ID is not set"):
        check_mode(good.model_copy(update={"slack_client_id": None}))
    check_mode(Settings.model_validate({"SLACK_BOT_TOKEN": "xoxb-1"}))  # one workspace: fine


def _race(tokens: InstalledTokens, settings: Settings, workspace: Workspace) -> list[Any]:
    """The worker's refresh and request-time authorization, all at once on a stale token."""
    stale = tokens.store.find(workspace)
    authorize = StoredInstallationAuthorize(tokens, NOT_INSTALLED)
    start = threading.Barrier(8)
    results: list[Any] = []

    def worker() -> None:
        start.wait()
        results.append(("worker", tokens.refresh_due()))

    def request() -> None:
        start.wait()
        assert stale is not None
        results.append(("request", authorize.fresh(stale)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    threads += [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_a_rotating_token_is_refreshed_once_however_many_race(database: Database) -> None:
    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET, token_rotation=True)
        settings = settings_for(stub)
        install(stub, settings, database, "TAAA")
        tokens = installed_tokens(settings, database, now)
        workspace = Workspace("TAAA")
        first = stub.tokens_of("TAAA")[0]
        # Twelve hours left: nothing to do, for the worker or a request.
        assert tokens.refresh_due() == 0
        assert tokens.token(workspace) == first
        # About to expire: the worker refreshes it, and so would each request before using it.
        make_expiring(database, minutes=0.5)
        results = _race(tokens, settings, workspace)
        assert len(results) == 8
        refreshes = [c for c in stub.calls_to("oauth.v2.access") if c.params.get("grant_type")]
        assert len(refreshes) == 1  # single-use refresh token spent exactly once
        new = stub.tokens_of("TAAA")[1]
        assert tokens.token(workspace) == new
        # Every request that held the stale token goes on with the new one: it refreshed it,
        # or waited for the lease and read what another had refreshed.
        answers = [result for who, result in results if who == "request"]
        assert len(answers) == 6 and all(r is not None and r.bot_token == new for r in answers)
        # The next token is good for twelve hours: no further refresh.
        assert tokens.refresh_due() == 0
        assert len([c for c in stub.calls_to("oauth.v2.access") if c.params.get("grant_type")]) == 1


def test_stand_in_knows_each_token_like_slack(database: Database) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    with SlackStub() as stub:
        stub.oauth_app(CLIENT_ID, CLIENT_SECRET)
        settings = settings_for(stub)
        install(stub, settings, database, "TAAA")
        install(stub, settings, database, "TBBB")
        a, b = stub.tokens_of("TAAA")[0], stub.tokens_of("TBBB")[0]
        assert WebClient(a, base_url=stub.url).auth_test()["team_id"] == "TAAA"
        assert WebClient(b, base_url=stub.url).auth_test()["team_id"] == "TBBB"
        errors = []
        stub.expire(a)
        stub.revoke("TBBB")
        for token in (a, b, "xoxb-never-issued"):
            with pytest.raises(SlackApiError) as caught:
                WebClient(token, base_url=stub.url).auth_test()
            errors.append(caught.value.response["error"])
        assert errors == ["token_expired", "token_revoked", "invalid_auth"]
        assert stub.tokens_used("auth.test")[-3:] == [a, b, "xoxb-never-issued"]


def test_doctor_checks_the_many_workspace_settings() -> None:
    from bot.cli.checks import check_settings

    with SlackStub() as stub:
        good = settings_for(stub)
    assert [f.status for f in check_settings(good)] == ["ok"]
    keyless = list(check_settings(good.model_copy(update={"encryption_key": None})))
    assert keyless[0].status == "FAIL" and "DIGEST_ENCRYPTION_KEY" in keyless[0].line()
    key = good.encryption_key.get_secret_value()  # type: ignore[union-attr]
    assert all(key not in f.line() for f in check_settings(good))
