"""Save/unsave by reaction when Slack's events arrive out of order, twice, or all at once.

Slack gives no ordering between events; the bot's lazy listeners run on a thread pool in each of
its web processes. Whatever the order, a person's final state for an article must be that of
their newest event by event_ts. Served by `python -m bot serve` over real HTTP, 1 and 2 processes.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support.helpers import WS
from test_slack_app import Bot, _record_post, blocks_text, served_bot

from bot.store import saves
from bot.store.tables import ProcessedEventRow

pytestmark = pytest.mark.slow  # real bot processes

SEQUENCES = 30
BASE_TS = 1_790_000_000


@dataclass
class Step:
    """One reaction event of a sequence."""

    kind: str
    event_id: str
    event_ts: str


def reaction(kind: str, user: str, channel: str, ts: str, event_ts: str) -> dict[str, Any]:
    return {
        "type": kind,
        "user": user,
        "reaction": "bookmark",
        "item_user": "UBOT",
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": event_ts,
    }


def make_sequence(rng: random.Random, name: str, start: int) -> list[Step]:
    """2–5 add/remove events in event_ts order (what the person did), with realistic gaps."""
    kinds = [rng.choice(["reaction_added", "reaction_removed"]) for _ in range(rng.randint(2, 5))]
    clock = start * 1_000_000 + rng.randint(0, 999_999)
    steps = []
    for k, kind in enumerate(kinds):
        clock += rng.randint(1, 400_000)  # rapid: under half a second apart, down to 1 µs
        steps.append(Step(kind, f"Ev{name}{k}", f"{clock // 1_000_000}.{clock % 1_000_000:06d}"))
    return steps


def delivery_order(rng: random.Random, steps: list[Step]) -> list[Step]:
    """The steps shuffled (never in their real order), with some retried as Slack retries."""
    order = steps[:]
    while order == steps:
        rng.shuffle(order)
    retried = [s for s in steps if rng.random() < 0.3]
    return order + retried


def wait_applied(bot: Bot, event_ids: set[str], timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with bot.database.read() as session:
            done = session.scalar(
                select(func.count())
                .select_from(ProcessedEventRow)
                .where(ProcessedEventRow.event_id.in_(event_ids))
            )
        if done == len(event_ids):
            return
        time.sleep(0.1)
    raise AssertionError("events not applied in time")


def check_final_states(bot: Bot, article_id: int, runs: dict[str, list[Step]]) -> None:
    wrong = []
    with bot.database.read() as session:
        for user, steps in runs.items():
            newest = max(steps, key=lambda s: saves.event_micros(s.event_ts) or 0)
            expected = newest.kind == "reaction_added"
            if saves.is_saved(session, WS, user, article_id) != expected:
                wrong.append((user, [s.kind for s in steps]))
    assert not wrong, f"{len(wrong)} of {len(runs)} sequences ended in the wrong state: {wrong}"


@pytest.mark.parametrize("processes", [1, 2])
def test_reactions_in_any_order_end_in_the_newest_state(
    database_url: str, tmp_path: Path, processes: int
) -> None:
    rng = random.Random(9000 + processes)
    with served_bot(database_url, tmp_path, {"WEB_CONCURRENCY": str(processes)}) as bot:
        channel, ts = "C9R", "1790000000.000900"
        article_id = _record_post(bot.database, channel, ts)

        # Out of order: each event is sent after the previous one was answered 200.
        ordered: dict[str, list[Step]] = {}
        for i in range(SEQUENCES):
            user = f"UO{processes}{i:02d}"
            steps = make_sequence(rng, f"O{processes}{i}", BASE_TS + i)
            ordered[user] = steps
            for step in delivery_order(rng, steps):
                event = reaction(step.kind, user, channel, ts, step.event_ts)
                assert bot.event(event, step.event_id) == 200

        # Concurrent: every event of every sequence at once, from many connections.
        concurrent: dict[str, list[Step]] = {}
        sends = []
        for i in range(SEQUENCES):
            user = f"UC{processes}{i:02d}"
            steps = make_sequence(rng, f"C{processes}{i}", BASE_TS + i)
            concurrent[user] = steps
            sends += [(user, step) for step in delivery_order(rng, steps)]
        rng.shuffle(sends)
        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(
                pool.map(
                    lambda us: bot.event(
                        reaction(us[1].kind, us[0], channel, ts, us[1].event_ts), us[1].event_id
                    ),
                    sends,
                )
            )
        assert set(statuses) == {200}

        every = {s.event_id for runs in (ordered, concurrent) for v in runs.values() for s in v}
        wait_applied(bot, every)
        check_final_states(bot, article_id, ordered)
        check_final_states(bot, article_id, concurrent)
        # What the person sees agrees with the stored state.
        for user, steps in list(ordered.items())[:3]:
            newest = max(steps, key=lambda s: saves.event_micros(s.event_ts) or 0)
            shown = "Viaduct" in blocks_text(bot.command("saved", user=user))
            assert shown == (newest.kind == "reaction_added")


def test_a_remove_before_its_add_leaves_it_unsaved(database_url: str, tmp_path: Path) -> None:
    with served_bot(database_url, tmp_path) as bot:
        channel, ts = "C9S", "1790000000.000901"
        _record_post(bot.database, channel, ts)
        user = "U9S"
        removed = reaction("reaction_removed", user, channel, ts, "1790000001.000002")
        added = reaction("reaction_added", user, channel, ts, "1790000001.000001")
        assert bot.event(removed, "EvRemoveFirst") == 200
        assert bot.event(added, "EvAddLate") == 200
        wait_applied(bot, {"EvRemoveFirst", "EvAddLate"})
        assert "not saved anything" in blocks_text(bot.command("saved", user=user))
        # A newer add saves it again, and is confirmed once.
        again = reaction("reaction_added", user, channel, ts, "1790000002.000000")
        assert bot.event(again, "EvAddNewer") == 200
        wait_applied(bot, {"EvAddNewer"})
        assert "Viaduct" in blocks_text(bot.command("saved", user=user))


def test_event_ids_of_any_length_and_pruned_after_a_day(database_url: str, tmp_path: Path) -> None:
    with served_bot(database_url, tmp_path) as bot:
        channel, ts = "C9P", "1790000000.000902"
        _record_post(bot.database, channel, ts)
        now = dt.datetime.now(dt.UTC)
        with bot.database.write() as session:
            session.add(ProcessedEventRow(event_id="EvOld", received_at=now - dt.timedelta(days=2)))
            session.add(
                ProcessedEventRow(event_id="EvRecent", received_at=now - dt.timedelta(hours=1))
            )
        long_id = "Ev" + "0123456789ABCDEF" * 20  # 322 characters
        added = reaction("reaction_added", "U9P", channel, ts, "1790000003.000000")
        assert bot.event(added, long_id) == 200
        wait_applied(bot, {long_id})
        assert "Viaduct" in blocks_text(bot.command("saved", user="U9P"))
        assert bot.event(added, long_id, retry=1) == 200  # Slack's retry: no second effect
        time.sleep(0.5)
        confirmations = [
            c for c in bot.stub.calls_to("chat.postEphemeral") if c.params.get("user") == "U9P"
        ]
        assert len(confirmations) == 1
        with bot.database.read() as session:
            kept = set(session.scalars(select(ProcessedEventRow.event_id)))
        assert "EvOld" not in kept and {"EvRecent", long_id} <= kept
