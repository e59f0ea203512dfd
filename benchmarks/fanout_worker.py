"""`python -m bot worker` for the fan-out benchmark's many-workspace run.

Until deliveries carry their workspace (per-workspace isolation) and installations give each
workspace its token, this launcher fills those two seams and nothing else: channel CFAN<i>
belongs to team TFAN<i // BENCH_CHANNELS_PER_TEAM>, whose bot token is xoxb-<team>. Then it runs
the real `worker` command (same settings, fan-out, ledger and process as `python -m bot worker`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import bootstrap, worker
from bot.config import Settings
from bot.core.workspace import Workspace
from bot.store.ledger import OpenDelivery

PER_TEAM = int(os.environ["BENCH_CHANNELS_PER_TEAM"])


def team_of(channel: str) -> str:
    """The benchmark's team of a channel."""
    return f"TFAN{int(channel.removeprefix('CFAN')) // PER_TEAM:02d}"


class TeamTokens:
    """Each team's own bot token."""

    def bot_token(self, workspace: Workspace) -> str | None:
        """xoxb-<team>."""
        return f"xoxb-{workspace.team_id}"


def delivery_workspace(delivery: OpenDelivery) -> Workspace:
    """The benchmark's workspace of a delivery."""
    return Workspace(team_of(delivery.channel_id))


def token_source(_settings: Settings) -> TeamTokens:
    """Every team's token."""
    return TeamTokens()


if __name__ == "__main__":
    worker.delivery_workspace = delivery_workspace
    bootstrap.token_source = token_source  # type: ignore[assignment]
    from bot.cli import main

    sys.argv = ["bot", "worker"]
    main()
