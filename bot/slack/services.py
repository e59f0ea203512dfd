"""What the listeners are given: exactly the dependencies they use, built once in bootstrap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.clock import Clock
from bot.core.workspaces import ForgetInstallation, forget_nothing
from bot.slack.answers import Answers
from bot.store.db import Database

# Slack shows "Timeout was reached" after 3 s; answer inline only when well inside that.
INLINE_ANSWER_SECONDS = 2.0


@dataclass(frozen=True)
class Services:
    """The listeners' dependencies, passed in rather than imported."""

    answers: Answers  # /digest and its buttons
    database: Database  # reactions and the Home tab
    clock: Clock  # when a reaction counts as made
    save_emoji: str  # the deployment's default save emoji (each workspace may set its own)
    executor: ThreadPoolExecutor  # runs /digest answers so they can be awaited within 3 s
    # Deletes a workspace's installation on uninstall (multi-workspace mode: the OAuth store).
    forget_installation: ForgetInstallation = forget_nothing
    # Many workspaces (Add to Slack): uninstall events delete a workspace's data. One workspace
    # ignores them: its token comes from the environment, and an operator decides about data.
    multi_workspace: bool = False


def answer_executor() -> ThreadPoolExecutor:
    """The pool /digest answers run in (one per web worker process)."""
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="digest")
