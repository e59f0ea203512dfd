"""The gate in front of Bolt: size limit and Slack signature check on the raw request.

Anyone on the internet can POST to /slack/events. Bolt reads the whole body into memory, logs
the body of a request that fails verification, and raises (HTTP 500 and a traceback) on a
timestamp that is not an integer or a body that is not UTF-8. So every request is checked here
first, on bytes, with a bounded read: only a request Slack signed reaches Bolt.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# Slack's own payloads are a few KB (a message action with blocks, tens of KB at most).
MAX_BODY_BYTES = 1_000_000
# Slack's rule: refuse a request more than five minutes away from now (replays).
MAX_CLOCK_SKEW = 300
_READ_CHUNK = 64 * 1024
# At most one line per this many seconds about refused requests, however many arrive.
_LOG_INTERVAL = 1.0


@dataclass(frozen=True)
class Refusal:
    """A request turned away: HTTP status and a short reason (logged, never the body)."""

    status: str
    reason: str


TOO_LARGE = Refusal("413 Content Too Large", "body over the size limit")
BAD_LENGTH = Refusal("400 Bad Request", "invalid Content-Length")
UNSIGNED = Refusal("401 Unauthorized", "missing or malformed signature headers")
STALE = Refusal("401 Unauthorized", "timestamp too far from now")
FORGED = Refusal("401 Unauthorized", "signature does not match")


def _declared_length(environ: dict[str, Any]) -> int | Refusal | None:
    """Content-Length as an int, None when absent (chunked), or a refusal."""
    raw = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        return BAD_LENGTH
    length = int(raw)
    return TOO_LARGE if length > MAX_BODY_BYTES else length


def read_body(environ: dict[str, Any]) -> bytes | Refusal:
    """The request body, read only up to the limit (a declared oversize is never read)."""
    length = _declared_length(environ)
    if isinstance(length, Refusal):
        return length
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    wanted = MAX_BODY_BYTES + 1 if length is None else length
    chunks: list[bytes] = []
    received = 0
    while received < wanted:
        chunk = stream.read(min(_READ_CHUNK, wanted - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    if received > MAX_BODY_BYTES:
        return TOO_LARGE
    return b"".join(chunks)


@dataclass
class SignatureCheck:
    """Slack's v0 request signature, computed over the raw bytes (any body, any header)."""

    secret: bytes
    clock: Callable[[], float] = time.time

    def refusal(self, environ: dict[str, Any], body: bytes) -> Refusal | None:
        """None when Slack signed this body within the last five minutes."""
        timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "")
        signature = str(environ.get("HTTP_X_SLACK_SIGNATURE") or "")
        # Digits only: '1.5', '-1', 'abc', '' and non-ASCII digits are all refused, not parsed.
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return UNSIGNED
        if not signature.startswith("v0=") or not signature.isascii():
            return UNSIGNED
        if abs(self.clock() - int(timestamp)) > MAX_CLOCK_SKEW:
            return STALE
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return FORGED
        return None


@dataclass
class RefusalLog:
    """One short line per refused request, and no more than one a second (counted, not lost)."""

    interval: float = _LOG_INTERVAL
    _last: float = field(default=-1e9, init=False)
    _suppressed: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def note(self, refusal: Refusal, environ: dict[str, Any]) -> None:
        """Log a refusal (reason, declared size, client address; never headers or body)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        more = f"; {suppressed} more refused since the last line" if suppressed else ""
        log.warning(
            "refused %s request: %s (Content-Length %.20s, from %.45s)%s",
            refusal.status.split()[0],
            refusal.reason,
            environ.get("CONTENT_LENGTH") or "none",
            environ.get("REMOTE_ADDR") or "?",
            more,
        )
