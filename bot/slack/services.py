"""What listeners are given: the domain services, built once by `create_app`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.config import Settings
from bot.core.workspaces import ForgetInstallation, forget_nothing
from bot.slack.answers import Answers
from bot.store.db import Database

# Slack shows "Timeout was reached" after 3 s; answer inline only when well inside that.
INLINE_ANSWER_SECONDS = 2.0


@dataclass
class Services:
    """Everything the listeners need, passed in rather than imported."""

    settings: Settings
    database: Database
    answers: Answers
    clock: Clock
    # Deletes a workspace's installation on uninstall (multi-workspace mode: the OAuth store).
    forget_installation: ForgetInstallation = forget_nothing
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=8, thread_name_prefix="digest")
    )
