"""Slash-command text as Slack sends it, decoded once into what the person typed.

Slack escapes `&`, `<` and `>` as `&amp;`, `&lt;`, `&gt;` in a command's text, and with the
command's `should_escape` (manifest.yml) sends links, channels, people and special mentions as
`<…>` sequences. The grammar and the lookups work on plain text, so the text is decoded here,
once, where it enters; rendering escapes it again, once, on the way out.
"""

from __future__ import annotations

import re
from typing import Literal

# A Slack sequence: no raw '<' or '>' inside (Slack escapes those), target then optional label.
_SEQUENCE = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


def _unescape(text: str) -> str:
    """`&amp; &lt; &gt;` decoded in one pass, so '&amp;lt;' is the literal '&lt;'."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def _sequence(match: re.Match[str]) -> str:
    """One `<…>` sequence as the text a person reads: a link's label, @person, #channel."""
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):
        # A person: the id, which `/digest admins add @person` needs; a display name can change.
        return target
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        name = target[1:].split("^", 2)
        if label:  # <!subteam^S1|@team>, <!date^…|Feb 18>, <!here|here>
            return label if label.startswith("@") or name[0] == "date" else "@" + label
        if name[0] == "subteam" and len(name) > 1:
            return "@" + name[1]
        return "@" + name[0]
    return label if label else target


def plain_text(text: str | None) -> str:
    """The command text as typed: `<…>` sequences to their text, then entities decoded."""
    if not text:
        return ""
    parts: list[str] = []
    end = 0
    for match in _SEQUENCE.finditer(text):
        parts.append(_unescape(text[end : match.start()]))
        parts.append(_unescape(_sequence(match)))
        end = match.end()
    parts.append(_unescape(text[end:]))
    return "".join(parts)


def conversation_of(channel_id: str, channel_name: str) -> Literal["channel", "im", "mpim"]:
    """Where a command was typed: Slack names a DM 'directmessage' (id D…) and a group DM
    'mpdm-…' in the command's channel_name."""
    if channel_id.startswith("D") or channel_name == "directmessage":
        return "im"
    if channel_name.startswith("mpdm-"):
        return "mpim"
    return "channel"
