"""The Pacer's turns: what a write needs before it is sent (its database check) is done before the
workspace's turn is taken, so the workspace's budget never waits on the database; and how many
of one workspace's deliveries a fan-out has under way at once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.delivery.engine import Engine
from bot.delivery.pacer import Pacer
from bot.store.db import Database

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


def test_a_fan_out_runs_at_most_so_many_of_a_lane_at_once_and_the_rest_in_order(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'digest.db'}")
    engine = Engine(database, Pacer())
    jobs = [("TBUSY", n) for n in range(7)] + [("TQUIET", 0)]
    under_way: Counter[str] = Counter()
    most: Counter[str] = Counter()
    began: list[tuple[str, int]] = []

    async def deliver(job: tuple[str, int]) -> tuple[str, int]:
        lane = job[0]
        began.append(job)
        under_way[lane] += 1
        most[lane] = max(most[lane], under_way[lane])
        await asyncio.sleep(0.05)
        under_way[lane] -= 1
        if job == ("TBUSY", 3):
            raise RuntimeError("one delivery's trouble")
        return job

    def crashed(job: tuple[str, int], _exc: BaseException) -> tuple[str, int]:
        return (job[0], -1)

    async def scenario() -> list[tuple[str, int]]:
        try:
            return await engine.fan_out(jobs, deliver, crashed, lane=lambda j: j[0], at_once=2)
        finally:
            await engine.db.dispose()

    results = asyncio.run(scenario())
    database.dispose()
    assert most == {"TBUSY": 2, "TQUIET": 1}
    assert began.index(("TQUIET", 0)) <= 2  # not in line behind the busy lane
    assert [j for j in began if j[0] == "TBUSY"] == jobs[:7]  # the rest in order
    assert sorted(results) == sorted([*jobs[:3], ("TBUSY", -1), *jobs[4:]])
