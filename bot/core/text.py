"""Plain-text helpers every front end shares (no markup of any kind)."""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"


def clamp(text: str, limit: int) -> str:
    """Cut text to `limit` characters at a word boundary, ending with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + ELLIPSIS


def clean(text: str) -> str:
    """User text without control or format characters, whitespace collapsed."""
    # PostgreSQL refuses NUL in text, and bidi overrides (U+202E) garble what the bot echoes.
    kept = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    return " ".join(kept.split())
