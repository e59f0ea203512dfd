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
