"""What a worker loads: only what it runs. Without a source it parses no feeds, and it never
suggests company names; each of those libraries is megabytes of every worker's memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.helpers import clean_env

SCRIPT = """
import sys
from bot import bootstrap
from bot.config import Settings
from bot.store.db import open_database

settings = Settings()
database = open_database(settings.database_url, upgrade=True)
bootstrap.worker(settings, database)
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"feedparser", "rapidfuzz", "slack_bolt"})
loaded += sorted(m for m in sys.modules if m.startswith("bot.sources"))
print(",".join(loaded))
"""


def test_a_worker_without_a_source_loads_no_feed_parser_and_no_name_matcher(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    env = clean_env(DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-imports")
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "", run.stdout
