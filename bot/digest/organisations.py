"""The curated list of engineering organisations and writers: a prior for publisher splits.

The list ships as `bot/digest/data/organisations.txt`, one organisation a line:
`Name | alias | alias`, `#` starts a comment. Operators add their own names in a file of the same
format named by `DIGEST_KNOWN_PUBLISHERS_FILE`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.digest.companies import compact

CURATED_FILE = Path(__file__).resolve().parent / "data" / "organisations.txt"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Organisation:
    """One organisation or writer: the usual name and the other names it goes by."""

    name: str
    aliases: tuple[str, ...] = ()


def parse_organisations(lines: Iterable[str]) -> list[Organisation]:
    """Organisations from lines of 'Name | alias | alias' (blank lines and '#' comments skipped)."""
    found: list[Organisation] = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        names = [part.strip() for part in text.split("|") if part.strip()]
        if names:
            found.append(Organisation(names[0], tuple(names[1:])))
    return found


def read_organisations(path: Path) -> list[Organisation]:
    """The organisations listed in one file."""
    return parse_organisations(path.read_text(encoding="utf-8").splitlines())


def _extension_file() -> Path | None:
    from bot.config import Settings  # settings are the one reader of the environment

    name = Settings().known_publishers_file
    return Path(name).expanduser() if name else None


@lru_cache(maxsize=1)
def curated_keys() -> frozenset[str]:
    """Compact keys of every curated name and alias, plus the operator's own file."""
    organisations = read_organisations(CURATED_FILE)
    extra = _extension_file()
    if extra is not None:
        try:
            organisations += read_organisations(extra)
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("DIGEST_KNOWN_PUBLISHERS_FILE %s not read: %s", extra, exc)
    keys = {compact(n) for org in organisations for n in (org.name, *org.aliases)}
    keys.discard("")
    return frozenset(keys)
