"""What every part of the stand-in shares: the recorded calls, messages and channels, one lock."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from support.slack_api.faults import Fault

DEFAULT_TEAM = "T111"


@dataclass
class Call:
    """One request the stand-in received."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float
    refused: list[str] | None = None  # why the stand-in answered invalid_blocks (charts)

    @property
    def token(self) -> str | None:
        """The bearer token the call was made with (None: no token, e.g. oauth.v2.access)."""
        auth = self.headers.get("authorization") or ""
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


@dataclass
class Channel:
    """A channel as the stand-in knows it."""

    private: bool = False
    bot_member: bool = False
    archived: bool = False
    name: str = ""


@dataclass
class State:
    """What the stand-in received and holds; `SlackStub.reset` starts a new one."""

    calls: list[Call] = field(default_factory=list)
    responses: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    faults: list[Fault] = field(default_factory=list)
    channel_errors: dict[str, str] = field(default_factory=dict)
    recent_posts: dict[Any, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    channels: dict[str, Channel] = field(default_factory=lambda: defaultdict(Channel))
    reject_charts: bool = False  # every chart block answered invalid_blocks (`reject_charts`)
    uploads: dict[str, Any] = field(default_factory=dict)  # file id -> files.Upload


class Part:
    """A part of SlackStub: its state and lock (`SlackStub.__init__` sets every attribute)."""

    _state: State
    _lock: threading.RLock
    lean: bool


def channel_key(team: str, channel: str) -> str:
    """Where a team's channel is kept (the default team's under the bare id)."""
    return channel if team == DEFAULT_TEAM else f"{team}/{channel}"
