"""Faults to inject: HTTP 429 with Retry-After, 5xx, slow answers (client timeouts), per-channel
permanent errors, a call that is stored but never answered or answered late, auth.test failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.slack.charts import is_chart, message_problems
from support.slack_api.state import Part

# Where the Web API methods carry blocks that may hold charts.
CHART_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update", "views.publish")


@dataclass
class Fault:
    """A fault waiting to be injected into calls of one method."""

    method: str
    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    timeout: float = 0.0
    drop: bool = False  # store the post, then close the connection without answering
    hold: float = 0.0  # store the post, then wait this long before answering
    times: int = 1
    after: int = 0  # let this many calls of the method succeed first


class Faults(Part):
    """Pending faults, taken by the calls they are meant for."""

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: float | None = None,
        error: str | None = None,
        timeout: float = 0.0,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Make the next `times` calls of `method` (after `after` more successes) fail.

        status 429 answers `ratelimited` with Retry-After; 5xx answers an error page; a
        `timeout` holds the answer that long (nothing is stored) so the client gives up.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            done = self._state.counts[method]
            self._state.faults.append(
                Fault(
                    method,
                    status,
                    error,
                    retry_after,
                    timeout,
                    times=times,
                    after=done + after,
                )
            )

    def drop_response_next(self, method: str = "chat.postMessage", *, after: int = 0) -> None:
        """Accept (store) the next call, then drop the connection without answering."""
        with self._lock:
            done = self._state.counts[method]
            self._state.faults.append(Fault(method, drop=True, after=done + after))

    def hold_next(
        self, method: str = "chat.postMessage", seconds: float = 5.0, *, after: int = 0
    ) -> None:
        """Accept (store) the next call but answer only after `seconds`."""
        with self._lock:
            done = self._state.counts[method]
            self._state.faults.append(Fault(method, hold=seconds, after=done + after))

    def fail_auth_test(self, status: int = 503, *, retry_after: float | None = None) -> None:
        """Every auth.test fails from now on (until `reset_faults`): a 5xx, or with 429 a
        `ratelimited` answer carrying Retry-After (default 1 s)."""
        self.fail_next("auth.test", status, retry_after=retry_after, times=1_000_000)

    def fail_channel(self, channel: str, error: str = "channel_not_found") -> None:
        """Every post to this channel answers ok:false with `error`."""
        with self._lock:
            self._state.channel_errors[channel] = error

    def reject_charts(self, reject: bool = True) -> None:
        """Answer invalid_blocks to every message or view with a chart block (until
        `reset_faults`), as a workspace or client that refuses charts would."""
        with self._lock:
            self._state.reject_charts = reject

    def reset_faults(self) -> None:
        """Drop every pending fault (messages and calls stay)."""
        with self._lock:
            self._state.faults.clear()
            self._state.channel_errors.clear()
            self._state.reject_charts = False

    def _chart_refusal(self, blocks: Any) -> list[str] | None:
        """Why Slack would refuse these blocks' charts (invalid_blocks), or None: a chart must
        keep the block reference's limits (bot.slack.charts.message_problems)."""
        if not isinstance(blocks, list):
            return None
        if not any(isinstance(b, dict) and is_chart(b) for b in blocks):
            return None
        with self._lock:
            if self._state.reject_charts:
                return ["charts are refused here (the stand-in's reject_charts)"]
        return message_problems(blocks) or None

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            count = self._state.counts[method]
            for fault in self._state.faults:
                if fault.method == method and fault.times > 0 and count >= fault.after:
                    fault.times -= 1
                    return fault
            self._state.counts[method] = count + 1
            return None
