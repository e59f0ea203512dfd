"""Which Slack workspace a request, row or delivery belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Workspace:
    """A workspace key: the team, and the Enterprise Grid org ("" outside Grid).

    Taken from Bolt's context (never from message text). An org-wide install has events
    whose team is not one workspace; those rows are keyed by the org with team_id "".
    Empty strings rather than NULL so that (enterprise_id, team_id, …) unique keys work the
    same on SQLite and PostgreSQL.
    """

    team_id: str
    enterprise_id: str = ""

    @classmethod
    def from_context(cls, context: Any) -> Workspace:
        """The workspace Bolt resolved for this request (team and org ids from the payload)."""
        enterprise = getattr(context, "enterprise_id", None) or ""
        installed_org_wide = bool(getattr(context, "is_enterprise_install", False))
        team = "" if installed_org_wide else (getattr(context, "team_id", None) or "")
        return cls(team_id=team, enterprise_id=enterprise)

    def __str__(self) -> str:
        """T123, or E1/T123 inside an Enterprise Grid org."""
        return f"{self.enterprise_id}/{self.team_id}" if self.enterprise_id else self.team_id


# Rows from before workspaces existed (migration 0008), until the token's workspace adopts them.
UNASSIGNED = Workspace("")
