"""Showing Slack messages in a terminal: what the bot would post or answer, readably."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from bot.slack.rendering import Message

_LINK_RE = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")


def mrkdwn_to_text(mrkdwn: str) -> str:
    """Slack mrkdwn as plain text: links become 'label (url)', entities are unescaped."""
    text = _LINK_RE.sub(lambda m: f"{m.group(2)} ({m.group(1)})", mrkdwn)
    text = re.sub(r"(?<!\w)\*([^*\n]+)\*(?!\w)", r"\1", text)
    text = re.sub(r"(?<!\w)_([^_\n]+)_(?!\w)", r"\1", text)
    text = text.replace("\u200b", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def print_message(console: Console, message: Message, *, indent: int = 0) -> None:
    """Print one message's blocks (or its fallback text when it has none)."""
    pad = " " * indent
    if not message.blocks:
        console.print(Text(pad + message.text))
        return
    for block in message.blocks:
        kind = block.get("type")
        if kind == "header":
            console.print(Text(pad + block["text"]["text"], style="bold"))
        elif kind == "section":
            body = mrkdwn_to_text(block["text"]["text"])
            console.print(Text("\n".join(pad + line for line in body.splitlines())))
        elif kind == "context":
            parts = (mrkdwn_to_text(e.get("text", "")) for e in block.get("elements", []))
            console.print(Text(pad + " ".join(parts), style="dim"))
        elif kind == "divider":
            console.print(Text(pad + "─" * 40, style="dim"))
        elif kind == "data_visualization":
            title = str(block.get("title", ""))
            console.print(
                Text(f"{pad}[chart: {title}; the same figures follow as text]", style="cyan")
            )
        elif kind == "actions":
            labels = (f"[{e['text']['text']}]" for e in block.get("elements", []))
            console.print(Text(pad + " ".join(labels), style="cyan"))


def print_thread(console: Console, channel: str, messages: Iterable[Message]) -> None:
    """Print an issue as it would be posted: the parent, then each reply indented."""
    for part, message in enumerate(messages):
        if part == 0:
            console.print(Text(f"── message to {channel} ──", style="bold green"))
            print_message(console, message)
        else:
            console.print(Text(f"  ↳ reply {part} in thread", style="green"))
            print_message(console, message, indent=4)
        console.print()
