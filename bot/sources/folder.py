"""A watched folder: every digest file in it is an item."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bot.core.ingestion import digest_files
from bot.digest.parsing import DigestParseError, read_text
from bot.sources.item import SourceItem


def folder_items(folder: Path) -> Iterator[SourceItem]:
    """Every digest file in a folder."""
    if not folder.is_dir():
        yield SourceItem(f"dir:{folder}", None, "source folder does not exist")
        return
    for path in digest_files(folder):
        try:
            text = read_text(path)
        except (OSError, DigestParseError) as exc:
            yield SourceItem(f"file:{path}", None, str(exc))
            continue
        yield SourceItem(f"file:{path}", text)
