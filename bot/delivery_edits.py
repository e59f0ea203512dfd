"""Bringing a posted thread up to date with its corrected issue: chat.update, exactly once.

Per message whose wanted content differs from the fingerprint recorded for it: note the edit
(its new fingerprint) before chat.update, record the fingerprint after. A rerun after a crash
between the two finds the note and reads the message's metadata, where the edit left its
fingerprint: an edit Slack already made is recorded, not made twice. chat.update is safe to
repeat (the same content twice is one edit), so ambiguous failures are simply retried.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.clock import Clock, utc_now
from bot.delivery_plan import Part
from bot.slack.poster import AmbiguousError, MessageGoneError, metadata_for
from bot.slack.rendering import Message
from bot.store import edits
from bot.store.db import Database
from bot.store.edits import MessageState

log = logging.getLogger(__name__)


class Editor(Protocol):
    """The two Slack calls an edit needs (bot.slack.poster.SlackPoster has them)."""

    def update(self, channel: str, ts: str, message: Message, *, metadata: dict[str, Any]) -> None:
        """chat.update."""

    def find_fingerprint(self, channel: str, ts: str, *, parent_ts: str | None) -> str | None:
        """The fingerprint our last edit left on a message."""


class EditStoppedError(Exception):
    """The edit pass cannot go on now: the lease was lost, or Slack did not answer reliably."""

    def __init__(self, reason: str, *, lease_lost: bool = False) -> None:
        super().__init__(reason)
        self.lease_lost = lease_lost


@dataclass(frozen=True)
class Target:
    """The thread being edited and who holds it."""

    delivery_id: int
    owner: str
    channel: str
    issue: str  # the issue's date, as in message metadata
    parent_ts: str | None


@dataclass
class ThreadEditor:
    """Edits the recorded messages of a thread whose content changed."""

    database: Database
    slack: Editor
    clock: Clock = utc_now
    lease: dt.timedelta = dt.timedelta(seconds=15)
    retries: int = 4
    backoff: Callable[[float], None] = time.sleep

    def run(self, target: Target, parts: Sequence[Part], states: Mapping[int, MessageState]) -> int:
        """Edit every posted part whose content changed; how many were edited."""
        edited = 0
        for part in parts:
            state = states.get(part.part)
            if state is not None and state.fingerprint != part.fingerprint:
                edited += self._edit(target, part, state)
        return edited

    def _edit(self, target: Target, part: Part, state: MessageState) -> int:
        wanted = part.fingerprint
        parent = None if part.part == 0 else target.parent_ts
        if state.editing == wanted and self._already_made(target, state, parent, wanted):
            log.info("delivery %d part %d: edit already made", target.delivery_id, part.part)
            self._done(target, part.part, wanted)
            return 0
        with self.database.write() as session:
            if not edits.mark_editing(
                session,
                target.delivery_id,
                target.owner,
                part.part,
                wanted,
                self.clock(),
                self.lease,
            ):
                raise EditStoppedError("lease lost", lease_lost=True)
        metadata = metadata_for(target.delivery_id, part.part, target.issue, wanted)
        attempts = 0
        while True:
            try:
                self.slack.update(target.channel, state.ts, part.message, metadata=metadata)
                break
            except MessageGoneError as exc:
                # Deleted in Slack, or too old to edit: nothing to bring up to date there.
                log.warning("delivery %d part %d: %s", target.delivery_id, part.part, exc)
                break
            except AmbiguousError as exc:
                attempts += 1
                if attempts > self.retries:
                    raise EditStoppedError(f"chat.update: {exc}") from None
                self.backoff(min(30.0, 0.5 * 2**attempts))
        self._done(target, part.part, wanted)
        return 1

    def _already_made(
        self, target: Target, state: MessageState, parent: str | None, wanted: str
    ) -> bool:
        """Whether a crashed run's edit reached Slack (read back from the message)."""
        try:
            found = self.slack.find_fingerprint(target.channel, state.ts, parent_ts=parent)
        except AmbiguousError:
            return False  # then edit again: the same content twice is one edit
        return found == wanted

    def _done(self, target: Target, part: int, fingerprint: str) -> None:
        with self.database.write() as session:
            edits.set_fingerprint(session, target.delivery_id, part, fingerprint)
