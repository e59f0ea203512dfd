"""Workspaces as use cases: adopting old rows, uninstalling, and who may manage schedules."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.store import workspaces as store
from bot.store.db import Database, Session
from bot.workspace import Workspace

log = logging.getLogger(__name__)

# Deletes a workspace's installation (its tokens); single-workspace mode stores none (no-op).
ForgetInstallation = Callable[[Workspace], None]
# users.info: is the person a Slack admin or owner of the workspace? None: Slack could not tell.
SlackAdminCheck = Callable[[str], bool | None]

NOT_ALLOWED = "Only the digest admins can change this channel's schedule."
NOT_ALLOWED_SETTINGS = "Only the digest admins can change this workspace's save emoji."
COULD_NOT_TELL = (
    "Could not check with Slack whether you are an admin of this workspace; "
    "please try again in a moment."
)


def forget_nothing(_workspace: Workspace) -> None:
    """The single-workspace ForgetInstallation: the token lives in the environment, not here."""


def adopt(database: Database, workspace: Workspace, now: dt.datetime, name: str | None) -> int:
    """Assign rows from before workspaces existed to the token's workspace, and remember it
    (one transaction; idempotent, so every process may do it at start); rows moved."""

    def work(session: Session) -> int:
        moved = store.adopt(session, workspace)
        store.remember(session, workspace, now, name=name)
        return moved

    moved = database.write_retrying(work)
    if moved:
        log.info("assigned %d rows from before workspaces to %s", moved, workspace)
    return moved


def uninstall(database: Database, workspace: Workspace, forget: ForgetInstallation) -> int:
    """The app was uninstalled (or its bot token revoked): stop the workspace's deliveries and
    delete its data and installation; the archive stays. Rows deleted."""
    # Deleting the ledger rows is what stops a delivery in flight: its next ledger write finds
    # no row it holds, so it stops before posting another message.
    removed = database.write_retrying(lambda session: store.purge(session, workspace))
    forget(workspace)
    log.info("workspace %s removed: %d rows deleted", workspace, removed)
    return removed


def set_installer(database: Database, workspace: Workspace, user_id: str) -> None:
    """Record who installed the app in a workspace (h13oauth's install-success callback)."""
    database.write_retrying(lambda session: store.set_installer(session, workspace, user_id))


@dataclass(frozen=True)
class AdminPolicy:
    """How schedule admins are decided: DIGEST_ADMINS (one workspace) or per workspace."""

    multi_workspace: bool
    env_admins: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Admins:
    """A workspace's admins as `/digest admins` shows them."""

    listed: tuple[str, ...]
    installer: str | None
    env_admins: tuple[str, ...]


def admins(database: Database, workspace: Workspace, policy: AdminPolicy) -> Admins:
    """Who manages the workspace's schedules (Slack admins/owners are not listed)."""
    with database.read() as session:
        listed = tuple(store.admins(session, workspace))
        installer = store.installer(session, workspace)
    env = () if policy.multi_workspace else tuple(sorted(policy.env_admins))
    return Admins(listed, installer if policy.multi_workspace else None, env)


def may_manage(
    database: Database,
    workspace: Workspace,
    user_id: str,
    policy: AdminPolicy,
    slack_admin: SlackAdminCheck | None,
) -> bool | None:
    """Whether a person may change schedules and the admin list; None: could not tell.

    One workspace: DIGEST_ADMINS and the listed admins (nobody listed: everyone in the channel).
    Many: the listed admins, the installer, and the workspace's Slack admins and owners.
    """
    found = admins(database, workspace, policy)
    if user_id and user_id in (*found.listed, *found.env_admins, found.installer):
        return True
    if not policy.multi_workspace:
        return not (found.listed or found.env_admins)
    if not user_id or slack_admin is None:
        return False
    return slack_admin(user_id)


def change_admins(
    database: Database,
    workspace: Workspace,
    user_ids: Iterable[str],
    *,
    add: bool,
    by: str,
    now: dt.datetime,
) -> list[str]:
    """Add or remove people from the workspace's admin list; those whose state changed."""
    wanted = list(dict.fromkeys(user_ids))

    def work(session: Session) -> list[str]:
        if add:
            return [u for u in wanted if store.add_admin(session, workspace, u, by, now)]
        return [u for u in wanted if store.remove_admin(session, workspace, u)]

    return database.write_retrying(work)


def known(database: Database) -> list[Workspace]:
    """Every workspace the bot knows of."""
    with database.read() as session:
        return store.known(session)


def summaries(database: Database) -> list[store.WorkspaceSummary]:
    """Every workspace with its installation, channels, last delivery and failing channels."""
    with database.read() as session:
        return store.summaries(session)


def named(known: Iterable[Workspace], team: str) -> Workspace | None:
    """The workspace a team id names: its T…, E…/T…, or an org-wide install's E…."""
    for workspace in known:
        if team in (workspace.team_id, str(workspace)):
            return workspace
        if not workspace.team_id and workspace.enterprise_id == team:
            return workspace
    return None
