"""The Pacer's turns: what a write needs before it is sent (its database check) is done before the
workspace's turn is taken, so the workspace's budget never waits on the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.delivery.pacer import Pacer

CHECK = 0.3  # a slow database check


def test_a_write_being_made_ready_holds_none_of_the_workspace_budget() -> None:
    async def scenario() -> dict[str, float]:
        pacer = Pacer(channel_interval=1.0, workspace_per_minute=60)  # one write a second
        began = time.monotonic()
        started: dict[str, float] = {}

        async def slow_check() -> None:
            await asyncio.sleep(CHECK)

        async def write(channel: str, ready: Callable[[], Awaitable[None]] | None = None) -> None:
            async with pacer.turn("T1", channel, ready):
                started[channel] = time.monotonic() - began
                await asyncio.sleep(0.01)  # Slack answering

        checked = asyncio.create_task(write("CSLOW", slow_check))
        await asyncio.sleep(0.05)
        await asyncio.gather(checked, write("CFAST"))
        return started

    started = asyncio.run(scenario())
    # The channel that was ready took the workspace's one turn while the other was checking...
    assert started["CFAST"] < CHECK
    # ...and the checked one waited its workspace turn after that (one a second).
    assert started["CSLOW"] >= started["CFAST"] + 0.9


def test_a_failed_check_takes_no_turn() -> None:
    async def scenario() -> float:
        pacer = Pacer(channel_interval=1.0, workspace_per_minute=60)

        async def gone() -> None:
            raise LookupError("delivery gone")

        try:
            async with pacer.turn("T1", "CGONE", gone):
                raise AssertionError("no write after a failed check")
        except LookupError:
            pass
        began = time.monotonic()
        async with pacer.turn("T1", "COTHER"):
            return time.monotonic() - began

    assert asyncio.run(scenario()) < 0.1  # the workspace's turn was still free
