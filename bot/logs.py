"""Logging safety net: secrets never reach a log line, whatever a library decides to print."""

from __future__ import annotations

import logging
import re

from bot.config import Settings

REDACTED = "[redacted]"
# Any Slack token (xoxb-, xoxp-, rotating xoxe.xoxb-1-…, refresh xoxe-1-…): with many workspaces
# the tokens are not known in advance, so they are recognised by their shape.
SLACK_TOKEN = re.compile(r"xox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]+")
# An OAuth code in a library's log line ("code: 4724.4644.232b", "'code': ['4724.…']"): Slack's
# codes are dotted; single-use, but one installs the app until used, so it is a secret.
OAUTH_CODE = re.compile(r"""(\bcode['"]?\s*[:=]\s*\[?\s*['"]?)[A-Za-z0-9_-]+\.[A-Za-z0-9._-]{3,}""")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# APScheduler logs every job it adds, runs and finishes at INFO: a worker's few interval jobs
# made ~3,300 lines an hour, burying the one line per delivery an operator reads.
SCHEDULER_LOGGER = "apscheduler"
# Anything a log reader could take for the end of a line.
_LINE_BREAKS = str.maketrans(
    {c: f"\\u{ord(c):04x}" for c in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}
    | {"\n": "\\n", "\r": "\\r"}
)


class OneLineFormatter(logging.Formatter):
    """Every record is exactly one line: newlines in messages, values and tracebacks escaped.

    Logged values come from requests and files; a value with a newline could otherwise forge a
    second, official-looking log line.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The standard format, with every line break escaped."""
        return super().format(record).translate(_LINE_BREAKS)


def one_line_handlers(handlers: list[logging.Handler], fmt: str = LOG_FORMAT) -> None:
    """Give handlers the one-line formatter (keeping their own format string if they have one)."""
    for handler in handlers:
        current = handler.formatter
        style_fmt = current._fmt if current is not None and current._fmt else fmt
        datefmt = current.datefmt if current is not None else None
        handler.setFormatter(OneLineFormatter(style_fmt, datefmt))


class SecretFilter(logging.Filter):
    """Replace configured secret values in every record's message and arguments."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        message = record.getMessage()
        clean = OAUTH_CODE.sub(r"\1" + REDACTED, SLACK_TOKEN.sub(REDACTED, message))
        for secret in self._secrets:
            clean = clean.replace(secret, REDACTED)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def secret_filter(settings: Settings) -> SecretFilter:
    """A filter redacting every configured secret."""
    secrets = [
        value.get_secret_value()
        for value in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
            settings.slack_client_secret,
            settings.encryption_key,
        )
        if value is not None
    ]
    return SecretFilter(secrets)


def quiet_scheduler(level: str) -> None:
    """APScheduler's job chatter only at DEBUG; at any other level its warnings and errors."""
    quiet = logging.getLevelName(level) != logging.DEBUG
    logging.getLogger(SCHEDULER_LOGGER).setLevel(logging.WARNING if quiet else logging.NOTSET)


def install_secret_filter(settings: Settings) -> None:
    """Attach the filter to every root handler, and make their lines one line each."""
    log_filter = secret_filter(settings)
    handlers = logging.getLogger().handlers
    for handler in handlers:
        handler.addFilter(log_filter)
    one_line_handlers(handlers)
