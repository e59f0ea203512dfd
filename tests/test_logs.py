"""Log lines: one line each, whatever the logged values or exceptions contain."""

from __future__ import annotations

import io
import logging

from bot.logs import LOG_FORMAT, OneLineFormatter


def test_values_and_tracebacks_stay_on_one_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter(LOG_FORMAT))
    logger = logging.getLogger("test.one_line")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("got %s", "a\n2026-01-01 00:00:00,000 ERROR bot: forged\r\u2028\x85x")
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "forged" in lines[0] and "\\n2026-01-01" in lines[0]
    assert "Traceback" in lines[1] and "ValueError: bad\\nvalue" in lines[1]


def test_oauth_codes_are_redacted_and_error_codes_kept() -> None:
    from bot.logs import SecretFilter

    redact = SecretFilter([])
    lines = {
        "Failed to fetch oauth.v2.access result with code: 4724469134.46440.232b4e - error: x": (
            "code: [redacted] - error"
        ),
        "query: {'code': ['T1.refused-code-0123456789'], 'state': ['s']}": "'code': ['[redacted]']",
        "body_params: {'code': 'TAAA.abcdef012345', 'client_id': '1.2'}": "'code': '[redacted]'",
        "status code: 200, error code: invalid_auth": "status code: 200, error code: invalid_auth",
    }
    for message, kept in lines.items():
        record = logging.LogRecord("t", logging.WARNING, __file__, 1, message, None, None)
        redact.filter(record)
        assert kept in record.getMessage(), record.getMessage()
        assert "4724469134" not in record.getMessage() and "refused-code" not in record.getMessage()
        assert "abcdef012345" not in record.getMessage()
