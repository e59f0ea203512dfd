"""Settings read from the environment (the only place that reads it)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
        env_file=None, extra="ignore", populate_by_name=True, allow_inf_nan=False
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(None, alias="SLACK_API_URL")
    # Both set: one deployment serves every workspace that installs the app (OAuth).
    slack_client_id: SecretStr | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET")
    slack_redirect_uri: str | None = Field(None, alias="SLACK_REDIRECT_URI")
    encryption_key: SecretStr | None = Field(None, alias="DIGEST_ENCRYPTION_KEY")
    token_refresh_minutes: float = Field(
        120.0, alias="DIGEST_TOKEN_REFRESH_MINUTES", gt=1, le=24 * 60
    )
    save_emoji: str = Field("bookmark", alias="DIGEST_SAVE_EMOJI")
    admins: str = Field("", alias="DIGEST_ADMINS")
    source_dir: str | None = Field(None, alias="DIGEST_SOURCE_DIR")
    feed_url: str | None = Field(None, alias="DIGEST_FEED_URL")
    poll_minutes: float = Field(5.0, alias="DIGEST_POLL_MINUTES", gt=0)
    max_issue_age_days: float = Field(2.0, alias="DIGEST_MAX_ISSUE_AGE_DAYS", ge=0)
    catchup_grace_hours: float = Field(6.0, alias="DIGEST_CATCHUP_GRACE_HOURS", ge=0)
    post_interval: float = Field(1.0, alias="DIGEST_POST_INTERVAL", ge=0)
    answer_cache_size: int = Field(1024, alias="DIGEST_ANSWER_CACHE", ge=0)
    edit_window_days: float = Field(7.0, alias="DIGEST_EDIT_WINDOW_DAYS", ge=0)
    lease_seconds: float = Field(15.0, alias="DIGEST_LEASE_SECONDS", gt=0, le=3600)
    # Slack's workspace-wide chat.postMessage limit is unpublished ("several hundred messages
    # per minute"); 0 turns the cap off. A lower real limit is learned from 429s.
    workspace_posts_per_minute: float = Field(
        600.0, alias="DIGEST_WORKSPACE_POSTS_PER_MINUTE", ge=0
    )
    fanout_threads: int = Field(32, alias="DIGEST_FANOUT_THREADS", ge=1, le=256)
    follow_poll_seconds: float = Field(15.0, alias="DIGEST_FOLLOW_POLL_SECONDS", gt=0, le=30)
    dm_per_second: float = Field(1.0, alias="DIGEST_DM_PER_SECOND", gt=0, le=50)
    port: int = Field(3000, alias="PORT", ge=1, le=65535)
    web_concurrency: int = Field(2, alias="WEB_CONCURRENCY", ge=1, le=64)
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    known_publishers_file: str | None = Field(None, alias="DIGEST_KNOWN_PUBLISHERS_FILE")

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
        from bot.core.grammar import emoji_name

        if not value.strip().strip(":"):
            return "bookmark"
        try:
            return emoji_name(value)  # ':name:' and skin tones as /digest emoji takes them
        except ValueError:
            raise ValueError(
                "must be a Slack emoji name: lowercase letters, digits, _ - + ' (1-100)"
            ) from None

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
