"""OAuth and tokens: installs (authorize, oauth.v2.access), rotation and refresh, auth.test,
uninstalls (revoke) and expiry.

Tokens may belong to different teams (`teams`: token -> team id); each team has its own
channels, so the same channel id in two teams is two channels. Once an app is set up
(`oauth_app`), a token the stand-in did not issue answers invalid_auth, as Slack's would.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.slack_api.state import DEFAULT_TEAM, Part

MANIFEST = Path(__file__).resolve().parents[3] / "manifest.yml"


def manifest_scopes() -> set[str]:
    """The bot scopes manifest.yml asks for: what an installed app is granted by default."""
    return set(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])


@dataclass
class Identity:
    """Who a token belongs to: what auth.test answers for it, and whether it still works."""

    team_id: str
    team_name: str = ""
    enterprise_id: str | None = None
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"
    expires_at: float | None = None  # rotating tokens expire
    revoked: bool = False


@dataclass
class Grant:
    """What a workspace admin allowed on Slack's authorize page: a one-time code's content."""

    team_id: str
    team_name: str
    user_id: str
    enterprise_id: str | None
    is_enterprise_install: bool
    redirect_uri: str | None
    expires_at: float
    used: bool = False


class OAuth(Part):
    """Installs, tokens and who they belong to."""

    teams: dict[str, str]
    scopes: set[str]
    invalid_tokens: set[str]
    token_teams: dict[str, dict[str, Any]]
    client_id: str | None
    client_secret: str | None
    app_id: str
    token_rotation: bool
    token_lifetime: float
    codes: dict[str, Grant]
    identities: dict[str, Identity]
    refresh_tokens: dict[str, str]
    used_refresh_tokens: set[str]

    def team_of(self, token: str) -> str:
        """The team a token belongs to."""
        with self._lock:
            identity = self.identities.get(token)
        if identity is not None:
            return identity.team_id
        return self.teams.get(token, DEFAULT_TEAM)

    def oauth_app(
        self, client_id: str, client_secret: str, *, token_rotation: bool = False
    ) -> None:
        """Register the app's credentials; tokens are then known per workspace (strict)."""
        with self._lock:
            self.client_id, self.client_secret = client_id, client_secret
            self.token_rotation = token_rotation

    def authorize(
        self,
        team_id: str,
        *,
        team_name: str = "",
        user_id: str = "UINSTALLER",
        enterprise_id: str | None = None,
        is_enterprise_install: bool = False,
        redirect_uri: str | None = None,
    ) -> str:
        """An admin clicked Allow on Slack's authorize page: the one-time code Slack would
        append to the redirect (valid ten minutes)."""
        code = f"{team_id}.{secrets.token_hex(8)}"
        with self._lock:
            self.codes[code] = Grant(
                team_id,
                team_name or team_id.lower(),
                user_id,
                enterprise_id,
                is_enterprise_install,
                redirect_uri,
                time.time() + 600,
            )
        return code

    def tokens_of(self, team_id: str) -> list[str]:
        """Every access token issued to a workspace, oldest first."""
        with self._lock:
            return [t for t, i in self.identities.items() if i.team_id == team_id]

    def revoke(self, team_id: str) -> None:
        """The app was uninstalled from a workspace: its tokens stop working."""
        with self._lock:
            for identity in self.identities.values():
                if identity.team_id == team_id:
                    identity.revoked = True
            for refresh, team in list(self.refresh_tokens.items()):
                if team == team_id:
                    del self.refresh_tokens[refresh]

    def expire(self, token: str) -> None:
        """Make an access token expire now."""
        with self._lock:
            self.identities[token].expires_at = time.time() - 1

    def _token_error(self, token: str) -> str | None:
        """Why Slack would refuse this bearer token (None: it works)."""
        with self._lock:
            identity = self.identities.get(token)
            if identity is None:
                return "invalid_auth" if self.client_id is not None else None
            if identity.revoked:
                return "token_revoked"
            if identity.expires_at is not None and identity.expires_at < time.time():
                return "token_expired"
            return None

    def _issue(self, grant: Identity) -> dict[str, Any]:
        """New access (and, with rotation, refresh) token for a workspace."""
        number = len(self.identities) + 1
        body: dict[str, Any] = {"token_type": "bot"}
        if self.token_rotation:
            token = f"xoxe.xoxb-1-{grant.team_id}-{number}-{secrets.token_hex(12)}"
            refresh = f"xoxe-1-{grant.team_id}-{number}-{secrets.token_hex(12)}"
            grant.expires_at = time.time() + self.token_lifetime
            self.refresh_tokens[refresh] = grant.team_id
            body |= {"refresh_token": refresh, "expires_in": int(self.token_lifetime)}
        else:
            token = f"xoxb-{grant.team_id}-{number}-{secrets.token_hex(12)}"
        self.identities[token] = grant
        body |= {
            "access_token": token,
            "scope": ",".join(sorted(self.scopes)),
            "bot_user_id": grant.bot_user_id,
            "app_id": self.app_id,
            "team": {"id": grant.team_id, "name": grant.team_name},
            "enterprise": (
                {"id": grant.enterprise_id, "name": grant.enterprise_id}
                if grant.enterprise_id
                else None
            ),
        }
        return body

    def _client_ok(self, params: dict[str, Any], headers: dict[str, str]) -> str | None:
        """Check the app's credentials (HTTP Basic or form fields); the error if wrong."""
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        auth = headers.get("authorization") or ""
        if auth.startswith("Basic "):
            with contextlib.suppress(ValueError):
                decoded = base64.b64decode(auth.removeprefix("Basic ")).decode()
                client_id, _, client_secret = decoded.partition(":")
        if self.client_id is None or client_id != self.client_id:
            return "invalid_client_id"
        if client_secret != self.client_secret:
            return "bad_client_secret"
        return None

    def _oauth_access(self, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            error = self._client_ok(params, headers)
            if error:
                return {"ok": False, "error": error}
            grant_type = params.get("grant_type") or "authorization_code"
            if grant_type == "refresh_token":
                return self._refresh(str(params.get("refresh_token") or ""))
            if grant_type != "authorization_code":
                return {"ok": False, "error": "invalid_grant_type"}
            grant = self.codes.get(str(params.get("code") or ""))
            if grant is None or grant.used or grant.expires_at < time.time():
                return {"ok": False, "error": "invalid_code"}
            if grant.redirect_uri and params.get("redirect_uri") != grant.redirect_uri:
                return {"ok": False, "error": "bad_redirect_uri"}
            grant.used = True
            identity = Identity(
                grant.team_id,
                grant.team_name,
                grant.enterprise_id,
                bot_user_id=f"UBOT{grant.team_id}",
                bot_id=f"BBOT{grant.team_id}",
            )
            body = self._issue(identity)
            body["is_enterprise_install"] = grant.is_enterprise_install
            body["authed_user"] = {"id": grant.user_id}
            return {"ok": True} | body

    def _refresh(self, refresh: str) -> dict[str, Any]:
        # Single use: a refresh token works once, then answers invalid_refresh_token.
        team = self.refresh_tokens.pop(refresh, None)
        if team is None:
            return {"ok": False, "error": "invalid_refresh_token"}
        self.used_refresh_tokens.add(refresh)
        latest = [i for i in self.identities.values() if i.team_id == team][-1]
        identity = Identity(
            team, latest.team_name, latest.enterprise_id, latest.bot_user_id, latest.bot_id
        )
        return {"ok": True} | self._issue(identity)

    def _auth_test(self, token: str) -> dict[str, Any]:
        with self._lock:
            identity = self.identities.get(token)
        if identity is None:
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T111",
                "url": "https://example.slack.com/",
                "team": "Example",
            } | self.token_teams.get(token, {})
        body: dict[str, Any] = {
            "ok": True,
            "user_id": identity.bot_user_id,
            "bot_id": identity.bot_id,
            "team_id": identity.team_id,
            "url": f"https://{identity.team_name}.slack.com/",
            "team": identity.team_name,
        }
        if identity.enterprise_id:
            body["enterprise_id"] = identity.enterprise_id
        return body
