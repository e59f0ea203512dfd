"""Bringing a posted thread up to date with its corrected issue: chat.update, exactly once.

Per message whose wanted content differs from the fingerprint recorded for it: note the edit
(its new fingerprint) before chat.update, record the fingerprint after. A rerun after a crash
between the two finds the note and reads the message's metadata, where the edit left its
fingerprint: an edit Slack already made is recorded, not made twice. chat.update is safe to
repeat (the same content twice is one edit), so ambiguous failures are simply retried. One
call of `edit_step` is one Slack write, paced by the engine like a post.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from bot.clock import Clock
from bot.delivery.plan import Part
from bot.delivery.poster import AmbiguousError, MessageGoneError, metadata_for
from bot.slack.rendering import Message
from bot.store import edits, ledger
from bot.store.db import Session
from bot.store.ledger import MessageState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EditStep:
    """The thread being edited, who holds it, and how to reach Slack and the ledger."""

    delivery_id: int
    owner: str
    channel: str
    issue: str  # the issue's date, as in message metadata
    parent_ts: str | None
    states: dict[int, MessageState]  # updated as edits are recorded
    # chat.update (channel, ts, message, metadata), paced by the engine
    update: Callable[[str, str, Message, dict[str, Any]], Awaitable[None]]
    # The fingerprint our last edit left on a message: (channel, ts, parent_ts=...)
    find_fingerprint: Callable[..., Awaitable[str | None]]
    write: Callable[[Callable[[Session], Any]], Awaitable[Any]]  # a committed ledger write
    now: Clock
    lease: dt.timedelta


EditResult = Literal["edited", "already", "gone", "lease_lost", "ambiguous"]


@dataclass(frozen=True)
class Edited:
    """What one edit step did (`error`: an ambiguous failure)."""

    result: EditResult
    error: str = ""


async def edit_step(step: EditStep, part: Part) -> Edited:
    """Bring one recorded message to `part`'s content, unless a crashed run already did."""
    state = step.states[part.part]
    wanted = part.fingerprint
    parent = None if part.part == 0 else step.parent_ts
    if state.editing == wanted and await _already_made(step, state, parent, wanted):
        log.info("delivery %d part %d: edit already made", step.delivery_id, part.part)
        await _done(step, state, wanted)
        return Edited("already")

    def note(session: Session) -> bool:
        return edits.mark_editing(
            session, step.delivery_id, step.owner, part.part, wanted, step.now(), step.lease
        )

    if not await step.write(note):
        return Edited("lease_lost")
    step.states[part.part] = dataclasses.replace(state, editing=wanted)
    metadata = metadata_for(step.delivery_id, part.part, step.issue, wanted)
    try:
        await step.update(step.channel, state.ts, part.message, metadata)
    except MessageGoneError as exc:
        # Deleted in Slack, or too old to edit: nothing to bring up to date there.
        log.warning("delivery %d part %d: %s", step.delivery_id, part.part, exc)
        await _done(step, state, wanted)
        return Edited("gone")
    except AmbiguousError as exc:
        return Edited("ambiguous", error=f"chat.update: {exc}")
    await _done(step, state, wanted)
    return Edited("edited")


async def _already_made(
    step: EditStep, state: MessageState, parent: str | None, wanted: str
) -> bool:
    """Whether a crashed run's edit reached Slack (read back from the message)."""
    try:
        found = await step.find_fingerprint(step.channel, state.ts, parent_ts=parent)
    except AmbiguousError:
        return False  # then edit again: the same content twice is one edit
    return found == wanted


async def _done(step: EditStep, state: MessageState, fingerprint: str) -> None:
    """Record what Slack now shows for the message."""
    await step.write(lambda s: ledger.set_fingerprint(s, step.delivery_id, state.part, fingerprint))
    step.states[state.part] = dataclasses.replace(state, fingerprint=fingerprint, editing=None)
