"""Shared transactions: a burst of big writes (a fan-out's claims) holds up the small writes of
sending (each message's record) by one transaction at most, not by the whole burst."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.store.db import AsyncDatabase, Burst, Session

BURST = 200


def test_a_burst_of_big_writes_holds_up_the_others_by_one_transaction_at_most(
    tmp_path: Path,
) -> None:
    ran: list[str] = []

    def unit(name: str) -> Callable[[Session], str]:
        def work(_session: Session) -> str:
            ran.append(name)
            return name

        return work

    async def scenario() -> list[str]:
        database = AsyncDatabase(f"sqlite:///{tmp_path / 'digest.db'}")
        try:
            burst = [
                asyncio.create_task(database.write(Burst(unit(f"claim {n}")))) for n in range(BURST)
            ]
            record = asyncio.create_task(database.write(unit("record")))
            return await asyncio.gather(*burst, record)
        finally:
            await database.dispose()

    results = asyncio.run(scenario())
    assert results == [f"claim {n}" for n in range(BURST)] + ["record"]  # each its own result
    assert ran.index("record") < 60, ran.index("record")  # in the first transaction
