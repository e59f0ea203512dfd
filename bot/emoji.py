"""Slack emoji names: the one rule both the settings (SAVE_EMOJI) and `/digest emoji` apply."""

from __future__ import annotations

import re

# Slack's emoji names (standard and custom): lowercase letters, digits, _ - + and '.
_EMOJI_RE = re.compile(r"[a-z0-9_+'-]{1,100}", re.ASCII)


def canonical_name(text: str) -> str | None:
    """The emoji name in ':name:', 'name' or ':name::skin-tone-2:'; None if it is not one."""
    word = text.strip().strip(":")
    # A skin-tone variant saves like its base emoji (reactions arrive as name::skin-tone-N).
    word = word.split("::", 1)[0]
    if word.isascii():
        word = word.lower()  # phones capitalise the first letter; Slack's names are lowercase
    return word if _EMOJI_RE.fullmatch(word) else None
