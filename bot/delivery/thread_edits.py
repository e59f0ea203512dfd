"""Bringing a posted thread up to date with its corrected issue: chat.update, exactly once.

Per message whose wanted content differs from the fingerprint recorded for it: note the edit
(its new fingerprint) before chat.update, record the fingerprint after. A rerun after a crash
between the two finds the note and reads the message's metadata, where the edit left its
fingerprint: an edit Slack already made is recorded, not made twice. chat.update is safe to
repeat (the same content twice is one edit), so ambiguous failures are simply retried. One
call of `edit_step` is one Slack write, paced by the fan-out like a post.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.clock import Clock
from bot.delivery.plan import Part
from bot.delivery.poster import AmbiguousError, MessageGoneError, RateLimitedError, metadata_for
from bot.slack.rendering import Message
from bot.store import edits, ledger
from bot.store.db import Session
from bot.store.ledger import MessageState

log = logging.getLogger(__name__)


class Editor(Protocol):
    """The two Slack calls an edit needs (a delivery's Transport has them)."""

    def update(self, channel: str, ts: str, message: Message, *, metadata: dict[str, Any]) -> None:
        """chat.update."""

    def find_fingerprint(self, channel: str, ts: str, *, parent_ts: str | None) -> str | None:
        """The fingerprint our last edit left on a message."""


@dataclass(frozen=True)
class EditStep:
    """The thread being edited, who holds it, and how to reach Slack and the ledger."""

    delivery_id: int
    owner: str
    channel: str
    issue: str  # the issue's date, as in message metadata
    parent_ts: str | None
    states: dict[int, MessageState]  # updated as edits are recorded
    transport: Editor
    write: Callable[[Callable[[Session], Any]], Any]  # a committed ledger write
    now: Clock
    lease: dt.timedelta


EditResult = Literal["edited", "already", "gone", "lease_lost", "rate_limited", "ambiguous"]


@dataclass(frozen=True)
class Edited:
    """What one edit step did (`wait`: Retry-After of a 429; `error`: an ambiguous failure)."""

    result: EditResult
    wait: float = 0.0
    error: str = ""


def edit_step(step: EditStep, part: Part) -> Edited:
    """Bring one recorded message to `part`'s content, unless a crashed run already did."""
    state = step.states[part.part]
    wanted = part.fingerprint
    parent = None if part.part == 0 else step.parent_ts
    if state.editing == wanted and _already_made(step, state, parent, wanted):
        log.info("delivery %d part %d: edit already made", step.delivery_id, part.part)
        _done(step, state, wanted)
        return Edited("already")

    def note(session: Session) -> bool:
        return edits.mark_editing(
            session, step.delivery_id, step.owner, part.part, wanted, step.now(), step.lease
        )

    if not step.write(note):
        return Edited("lease_lost")
    step.states[part.part] = dataclasses.replace(state, editing=wanted)
    metadata = metadata_for(step.delivery_id, part.part, step.issue, wanted)
    try:
        step.transport.update(step.channel, state.ts, part.message, metadata=metadata)
    except RateLimitedError as exc:
        return Edited("rate_limited", wait=exc.retry_after)
    except MessageGoneError as exc:
        # Deleted in Slack, or too old to edit: nothing to bring up to date there.
        log.warning("delivery %d part %d: %s", step.delivery_id, part.part, exc)
        _done(step, state, wanted)
        return Edited("gone")
    except AmbiguousError as exc:
        return Edited("ambiguous", error=f"chat.update: {exc}")
    _done(step, state, wanted)
    return Edited("edited")


def _already_made(step: EditStep, state: MessageState, parent: str | None, wanted: str) -> bool:
    """Whether a crashed run's edit reached Slack (read back from the message)."""
    try:
        found = step.transport.find_fingerprint(step.channel, state.ts, parent_ts=parent)
    except AmbiguousError:
        return False  # then edit again: the same content twice is one edit
    return found == wanted


def _done(step: EditStep, state: MessageState, fingerprint: str) -> None:
    """Record what Slack now shows for the message."""
    step.write(lambda s: ledger.set_fingerprint(s, step.delivery_id, state.part, fingerprint))
    step.states[state.part] = dataclasses.replace(state, fingerprint=fingerprint, editing=None)
