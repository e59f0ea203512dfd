"""Plain-text helpers every front end shares (no markup of any kind)."""

from __future__ import annotations

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
