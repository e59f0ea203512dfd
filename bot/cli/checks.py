"""`python -m bot doctor`: check a deployment end to end, one finding per line with what to do.

Every check reads settings, the database or Slack and reports; nothing is changed. Secrets are
never part of a finding: settings are named, not shown, and the database URL loses its password.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.cli.common import SOCKET_MODE_SETUP
from bot.config import DEFAULT_DATABASE_URL, Settings
from bot.slack.scopes import required_scopes
from bot.store.db import Database, safe_url, url_password

Status = Literal["ok", "warn", "FAIL"]
SLACK_TIMEOUT = 10
FEED_TIMEOUT = 10
INVITE = "/invite @Engineering @ Scale in that channel"
AUTH_FIX = (
    "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page into "
    "SLACK_BOT_TOKEN"
)
POST_ANYWAY = "python -m bot post --channel C… --date latest"
# A bot token, or a rotating one (xoxe.xoxb-…).
BOT_TOKEN_PREFIXES = ("xoxb-", "xoxe.xoxb-")


@dataclass(frozen=True)
class Finding:
    """The result of one check."""

    status: Status
    check: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """`[ok]   check: detail` plus `→ fix` when there is something to do."""
        fix = f" → {self.fix}" if self.fix else ""
        return f"[{self.status}]{' ' * (5 - len(self.status))}{self.check}: {self.detail}{fix}"


def ok(check: str, detail: str) -> Finding:
    """A check that passed."""
    return Finding("ok", check, detail)


def fail(check: str, detail: str, fix: str) -> Finding:
    """A check that failed: the bot will not work as configured."""
    return Finding("FAIL", check, detail, fix)


def warn(check: str, detail: str, fix: str) -> Finding:
    """Works, but probably not as intended."""
    return Finding("warn", check, detail, fix)


def check_settings(settings: Settings) -> Iterator[Finding]:
    """Required settings present (named, never shown), and the risky defaults."""
    if settings.multi_workspace:
        yield check_many_workspaces(settings)
        return
    yield from check_token_shapes(settings)
    missing = [] if settings.slack_bot_token else ["SLACK_BOT_TOKEN"]
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        missing.append("SLACK_SIGNING_SECRET")
    if missing:
        yield fail("settings", f"{', '.join(missing)} not set", "see docs/slack-app.md")
    else:
        mode = "Socket Mode" if settings.slack_app_token else "HTTP (/slack/events)"
        yield ok("settings", f"Slack credentials set; serve runs {mode}")
    if not settings.admin_ids:
        yield warn(
            "settings",
            "DIGEST_ADMINS is not set: anyone in a channel can change its schedule",
            "set DIGEST_ADMINS to the Slack user ids (U…) of the digest admins",
        )


def check_token_shapes(settings: Settings) -> Iterator[Finding]:
    """Each token set is the kind its setting needs, by its prefix (the token never shown)."""
    for name, value, prefixes, fix in (
        ("SLACK_BOT_TOKEN", settings.slack_bot_token, BOT_TOKEN_PREFIXES, AUTH_FIX),
        ("SLACK_APP_TOKEN", settings.slack_app_token, ("xapp-",), SOCKET_MODE_SETUP),
    ):
        if value is not None and not value.get_secret_value().startswith(prefixes):
            yield fail("settings", f"{name} does not start with {prefixes[0]}", fix)


def shown_url(url: str) -> str:
    """A URL as a finding names it: without a user, password, query or fragment (where a key
    or token could be)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_many_workspaces(settings: Settings) -> Finding:
    """SLACK_CLIENT_ID set: client secret, a usable encryption key and the signing secret."""
    from bot.slack.installations import SettingsError, check_mode

    try:
        check_mode(settings)
    except SettingsError as exc:
        return fail("settings", str(exc), "see docs/slack-app.md, 'Distribute to many workspaces'")
    if settings.slack_signing_secret is None:
        return fail("settings", "SLACK_SIGNING_SECRET not set", "see docs/slack-app.md")
    return ok("settings", "many workspaces: Add to Slack at /slack/install, tokens encrypted")


def open_checked(settings: Settings) -> tuple[Finding, Database | None]:
    """Database reachable and migrated to the newest revision."""
    url = settings.database_url
    shown = safe_url(url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        default = " (the default)" if url == DEFAULT_DATABASE_URL else ""
        fix = "set DATABASE_URL, or run python -m bot ingest FILES here to create it"
        return fail("database", f"{shown}{default} does not exist", fix), None
    try:
        database = Database(url, settings.database_busy_timeout)
        current, head = database.revisions()
    except Exception as exc:  # unreachable server, bad URL, wrong password
        password = url_password(url)
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if password:
            reason = reason.replace(str(password), "***")
        return fail("database", f"{shown} unreachable: {reason}", "check DATABASE_URL"), None
    if current != head:
        found = current or "no schema"
        fix = "run python -m bot db upgrade (the Procfile release phase does it on deploy)"
        return fail("database", f"{shown} at {found}, newest is {head}", fix), database
    return ok("database", f"{shown} reachable, migrated ({head})"), database


def check_archive(database: Database, settings: Settings, now: dt.datetime) -> Finding:
    """Issues in the archive, and whether the newest is fresh enough to be posted."""
    from bot.core.lookups import archive_size

    count, newest = archive_size(database)
    if newest is None:
        fix = "run python -m bot ingest FILES, or set DIGEST_FEED_URL / DIGEST_SOURCE_DIR"
        return fail("archive", "no issues", fix)
    age = (now.date() - newest).days
    detail = f"{count} issues, newest {newest} ({age} days old)"
    if age > settings.max_issue_age_days:
        # Not a failure: the next issue that arrives is posted; until then `post` works.
        fix = (
            f"the worker posts no issue older than DIGEST_MAX_ISSUE_AGE_DAYS"
            f" ({settings.max_issue_age_days:g}): ingest a newer one or check the sources; to"
            f" post this one anyway: {POST_ANYWAY}"
        )
        return warn("archive", f"archive is old: {detail}", fix)
    return ok("archive", detail)


def check_token(client: WebClient) -> tuple[Finding, frozenset[str] | None]:
    """auth.test: the token is valid; its x-oauth-scopes header lists the granted scopes."""
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        return fail("slack token", f"auth.test answered {error}", AUTH_FIX), None
    except (SlackClientError, OSError) as exc:
        where = shown_url(f"{client.base_url}auth.test")
        detail = f"Slack unreachable at {where} ({type(exc).__name__})"
        return fail("slack token", detail, "check the network (and SLACK_API_URL if set)"), None
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    header = headers.get("x-oauth-scopes")
    granted = frozenset(s.strip() for s in header.split(",") if s.strip()) if header else None
    detail = f"valid for workspace {response.get('team')}, bot user {response.get('user_id')}"
    return ok("slack token", detail), granted


def check_scopes(granted: frozenset[str] | None) -> Finding:
    """Granted scopes versus the manifest's (bot.slack.scopes)."""
    wanted = required_scopes()
    if granted is None:
        return warn("scopes", "Slack did not list the granted scopes", "compare in the app config")
    missing = sorted(wanted - granted)
    if missing:
        fix = "update the app from manifest.yml and reinstall it to the workspace"
        return fail("scopes", f"missing {', '.join(missing)}", fix)
    extra = sorted(granted - wanted)
    more = f" (also granted, unused: {', '.join(extra)})" if extra else ""
    return ok("scopes", f"all {len(wanted)} granted{more}")


def check_sources(settings: Settings) -> Iterator[Finding]:
    """DIGEST_SOURCE_DIR readable, DIGEST_FEED_URL answering."""
    from bot.sources.http import fetch

    if not settings.source_dir and not settings.feed_url:
        yield warn(
            "sources",
            "neither DIGEST_FEED_URL nor DIGEST_SOURCE_DIR is set: issues arrive only by ingest",
            "set DIGEST_FEED_URL (or DIGEST_SOURCE_DIR) so the worker picks up each new issue",
        )
    if settings.source_dir:
        folder = Path(settings.source_dir)
        if folder.is_dir():
            files = [p for p in folder.iterdir() if p.suffix in (".txt", ".md")]
            yield ok("sources", f"DIGEST_SOURCE_DIR {folder} readable, {len(files)} issue files")
        else:
            yield fail("sources", f"DIGEST_SOURCE_DIR {folder} is not a folder", "fix the path")
    if settings.feed_url:
        try:
            result = fetch(settings.feed_url, None, None, timeout=FEED_TIMEOUT)
        except Exception as exc:  # any network or HTTP failure is the finding
            reason = getattr(exc, "code", None) or type(exc).__name__
            fix = "check DIGEST_FEED_URL (the worker keeps retrying it)"
            where = shown_url(settings.feed_url)
            yield fail("sources", f"DIGEST_FEED_URL unreachable at {where} ({reason})", fix)
        else:
            size = f"{len(result.body):,} bytes"
            yield ok("sources", f"DIGEST_FEED_URL answers HTTP {result.status} ({size})")


def check_subscriptions(database: Database, client: WebClient | None) -> Iterator[Finding]:
    """Each subscribed channel: not failing, and the bot a member (conversations.info)."""
    from bot.core.subscriptions import every_subscription

    subs = every_subscription(database)
    if not subs:
        fix = "in a channel: /digest subscribe 09:00 Europe/Berlin weekdays"
        yield warn("subscriptions", "no channel is subscribed", fix)
        return
    for sub in subs:
        name = f"channel {sub.channel_id}"
        if sub.failing:
            yield fail(name, f"deliveries failing: {sub.last_error}", f"{INVITE}, then subscribe")
            continue
        if client is None:
            yield ok(name, f"subscribed {sub.time_text} {sub.timezone} (membership not checked)")
            continue
        yield channel_membership(client, name, sub.channel_id)


def channel_membership(client: WebClient, name: str, channel_id: str) -> Finding:
    """conversations.info: the bot is in the channel (needed to read back its own posts)."""
    try:
        info = client.conversations_info(channel=channel_id).get("channel") or {}
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        if error == "missing_scope":
            return warn(
                name, "cannot check membership (missing_scope)", "grant the manifest's scopes"
            )
        return fail(name, f"conversations.info answered {error}", INVITE)
    except (SlackClientError, OSError) as exc:
        where = shown_url(f"{client.base_url}conversations.info")
        return warn(
            name, f"not checked: {where} unreachable ({type(exc).__name__})", "run doctor again"
        )
    if info.get("is_im") or info.get("is_mpim"):
        # A DM's conversations.info has no is_member: membership does not apply to it.
        kind = "direct message" if info.get("is_im") else "group direct message"
        return warn(
            name,
            f"a {kind}, not a channel (subscribed before /digest refused those)",
            f"python -m bot subscriptions remove {channel_id}; subscribe a channel instead",
        )
    label = f"#{info['name']}" if info.get("name") else channel_id
    if info.get("is_archived"):
        return fail(name, f"{label} is archived", "unsubscribe it: subscriptions remove")
    if not info.get("is_member"):
        return fail(name, f"the bot is not a member of {label}", INVITE)
    return ok(name, f"subscribed, the bot is a member of {label}")


def run_checks(
    settings: Settings,
    now: dt.datetime,
    make_client: Callable[[str], WebClient],
) -> Iterator[Finding]:
    """Every check in order; later checks skip what an earlier failure makes meaningless."""
    yield from check_settings(settings)
    opened, database = open_checked(settings)
    yield opened
    client = None
    try:
        if database is not None and opened.status == "ok":
            yield check_archive(database, settings, now)
        if settings.slack_bot_token is not None:
            token, granted = check_token(make_client(settings.slack_bot_token.get_secret_value()))
            yield token
            if token.status == "ok":
                yield check_scopes(granted)
                client = make_client(settings.slack_bot_token.get_secret_value())
        yield from check_sources(settings)
        if database is not None and opened.status == "ok":
            yield from check_subscriptions(database, client)
    finally:
        if database is not None:
            database.dispose()


def web_client(settings: Settings) -> Callable[[str], WebClient]:
    """A plain Web API client (no retries: a check reports what Slack answers)."""

    def make(token: str) -> WebClient:
        base = settings.slack_api_url or WebClient.BASE_URL
        return WebClient(token=token, base_url=base, timeout=SLACK_TIMEOUT)

    return make
