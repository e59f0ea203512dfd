"""Logging safety net: secrets never reach a log line, whatever a library decides to print."""

from __future__ import annotations

import logging

from bot.config import Settings

REDACTED = "[redacted]"


class SecretFilter(logging.Filter):
    """Replace configured secret values in every record's message and arguments."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        if not self._secrets:
            return True
        message = record.getMessage()
        clean = message
        for secret in self._secrets:
            clean = clean.replace(secret, REDACTED)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_secret_filter(settings: Settings) -> None:
    """Attach the filter to every root handler."""
    secrets = [
        value.get_secret_value()
        for value in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
        )
        if value is not None
    ]
    log_filter = SecretFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(log_filter)
