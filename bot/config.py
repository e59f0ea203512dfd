"""Settings read from the environment (the only place that reads it)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.emoji import canonical_name

DEFAULT_DATABASE_URL = "sqlite:///digest.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def normalise_database_url(url: str) -> str:
    """Accept Heroku-style `postgres://` URLs and pick the psycopg 3 driver for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Everything the bot is configured with; tokens are secrets and never printed."""

    model_config = SettingsConfigDict(
        env_file=None,
        extra="ignore",
        populate_by_name=True,
        allow_inf_nan=False,
        # Each field's docstring is its description; docs/configuration.md is generated from them.
        use_attribute_docstrings=True,
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    """SQLAlchemy URL of the database. `postgres://…` and `postgresql://…` (Heroku style) use
    psycopg 3; the SQLite default is for one host."""
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    """`xoxb-…` bot token of the one workspace; needed by `serve`, `worker` and `post` (not `post
    --dry-run`) unless `SLACK_CLIENT_ID` is set."""
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    """Signing Secret from the app's *Basic Information*; verifies that HTTP requests come from
    Slack (needed by `serve` over HTTP)."""
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    """`xapp-…` app-level token with `connections:write`; when set, `serve` uses Socket Mode (one
    workspace only)."""
    slack_api_url: str | None = Field(None, alias="SLACK_API_URL")
    """Web API base URL; unset means Slack's own. Set only for a Slack-compatible test server, e.g.
    `http://127.0.0.1:9000/api/`."""
    # Both set: one deployment serves every workspace that installs the app (OAuth).
    slack_client_id: SecretStr | None = Field(None, alias="SLACK_CLIENT_ID")
    """The app's client id: with `SLACK_CLIENT_SECRET`, serve every workspace that installs the app
    (Add to Slack) instead of one `SLACK_BOT_TOKEN`."""
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET")
    """The app's client secret (many workspaces); used only for `oauth.v2.access` (install and
    token refresh)."""
    slack_redirect_uri: str | None = Field(None, alias="SLACK_REDIRECT_URI")
    """`https://YOUR-APP-HOST/slack/oauth_redirect`; needed only when the app lists more than one
    redirect URL (many workspaces)."""
    encryption_key: SecretStr | None = Field(None, alias="DIGEST_ENCRYPTION_KEY")
    """Fernet key that encrypts every stored token (many workspaces; required there). Several keys
    separated by commas: the first encrypts, all decrypt (key rotation)."""
    token_refresh_minutes: float = Field(
        120.0, alias="DIGEST_TOKEN_REFRESH_MINUTES", gt=1, le=24 * 60
    )
    """The worker refreshes a rotating bot token when it has less than this many minutes left (many
    workspaces with token rotation)."""
    save_emoji: str = Field("bookmark", alias="DIGEST_SAVE_EMOJI")
    """Reaction (without colons) that saves an article: the default of every workspace that has not
    chosen its own with `/digest emoji NAME`. `:name:` and a skin tone are accepted."""
    admins: str = Field("", alias="DIGEST_ADMINS")
    """One workspace only: space or comma separated user ids; when set (or when `/digest admins
    add` listed someone), only they may change a channel's schedule."""
    source_dir: str | None = Field(None, alias="DIGEST_SOURCE_DIR")
    """Folder the worker watches for new issue files (`.txt`, `.md`)."""
    feed_url: str | None = Field(None, alias="DIGEST_FEED_URL")
    """RSS/Atom feed whose entries are issues, or the HTML page of an issue; the worker polls it."""
    poll_minutes: float = Field(5.0, alias="DIGEST_POLL_MINUTES", gt=0)
    """How often, in minutes, the worker polls `DIGEST_SOURCE_DIR` and `DIGEST_FEED_URL`
    (conditional GET)."""
    max_issue_age_days: float = Field(2.0, alias="DIGEST_MAX_ISSUE_AGE_DAYS", ge=0)
    """Issues older than this many days are never posted by the schedule (no flood after downtime);
    `post` is not limited."""
    catchup_grace_hours: float = Field(6.0, alias="DIGEST_CATCHUP_GRACE_HOURS", ge=0)
    """A post missed while the worker was down is made if the worker returns within this many
    hours, else skipped with a warning."""
    post_interval: float = Field(1.0, alias="DIGEST_POST_INTERVAL", ge=0)
    """Seconds from Slack's answer to one message until the next message to the same channel (Slack
    allows about one a second per channel)."""
    answer_cache_size: int = Field(1024, alias="DIGEST_ANSWER_CACHE", ge=0)
    """Rendered `/digest company/topic/date` answers kept per web process, each used only while the
    archive is unchanged; `0` turns the cache off."""
    edit_window_days: float = Field(7.0, alias="DIGEST_EDIT_WINDOW_DAYS", ge=0)
    """The worker edits the threads of corrected issues posted within this many days; `post` reruns
    edit at any age."""
    lease_seconds: float = Field(15.0, alias="DIGEST_LEASE_SECONDS", gt=0, le=3600)
    """A sender's lease on a delivery; a live sender renews it every third of this, so one that
    died on another host is taken over within this time (on the same host at once)."""
    # Slack's workspace-wide chat.postMessage limit is unpublished ("several hundred messages
    # per minute"); 0 turns the cap off. A lower real limit is learned from 429s.
    workspace_posts_per_minute: float = Field(
        600.0, alias="DIGEST_WORKSPACE_POSTS_PER_MINUTE", ge=0
    )
    """The worker's cap on posts per workspace, counted over a sliding second (600 is ten in any
    second); a 429 pauses the workspace and lowers its rate. `0` turns the cap off."""
    fanout_threads: int = Field(32, alias="DIGEST_FANOUT_THREADS", ge=1, le=256)
    """Connections to Slack the worker keeps open at once, however many channels are due (channels
    waiting for their turn hold none)."""
    follow_poll_seconds: float = Field(15.0, alias="DIGEST_FOLLOW_POLL_SECONDS", gt=0, le=30)
    """How often, in seconds, the worker matches new articles against follows and starts sending
    the followers' direct messages."""
    dm_per_second: float = Field(1.0, alias="DIGEST_DM_PER_SECOND", gt=0, le=50)
    """Direct messages to followers per second in each workspace (each person also gets at most one
    a second)."""
    port: int = Field(3000, alias="PORT", ge=1, le=65535)
    """HTTP port of `serve` (set by the platform on Heroku and Dokku)."""
    web_concurrency: int = Field(2, alias="WEB_CONCURRENCY", ge=1, le=64)
    """Web server processes of `serve`, each with 16 threads (the Heroku convention)."""
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    """`DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL` (any case). At `INFO` the worker logs one
    line per delivery (failures at `ERROR`); the scheduler's own lines only at `DEBUG`. Tokens and
    secrets are redacted from every log line."""
    known_publishers_file: str | None = Field(None, alias="DIGEST_KNOWN_PUBLISHERS_FILE")
    """Your own list of organisations (lines `Name | alias | alias`, `#` comments), added to the
    curated list the parser weighs when it splits `Company Summary…`; an unreadable file is
    logged and ignored."""
    database_busy_timeout: float = Field(15.0, alias="DATABASE_BUSY_TIMEOUT", gt=0, le=3600)
    """SQLite only: seconds a connection waits for another process's write lock before it reports
    the database busy."""

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value.strip() or DEFAULT_DATABASE_URL)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("save_emoji")
    @classmethod
    def _emoji_name(cls, value: str) -> str:
        if not value.strip().strip(":"):
            return "bookmark"
        name = canonical_name(value)  # ':name:' and skin tones as /digest emoji takes them
        if name is None:
            raise ValueError(
                "must be a Slack emoji name: lowercase letters, digits, _ - + ' (1-100)"
            )
        return name

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str | None) -> str | None:
        # slack_sdk joins method names with urljoin, so a base with a path must end in "/".
        if value and not value.endswith("/"):
            return value + "/"
        return value or None

    @field_validator("slack_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value and (
            urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc
        ):
            raise ValueError("must be an http(s) URL like https://slack.com/api/")
        return value

    @property
    def multi_workspace(self) -> bool:
        """Whether the app serves many workspaces (SLACK_CLIENT_ID set) rather than one token's."""
        return self.slack_client_id is not None

    @property
    def admin_ids(self) -> frozenset[str]:
        """User ids allowed to change schedules (empty: everyone in the channel)."""
        return frozenset(a for a in self.admins.replace(",", " ").split() if a)
