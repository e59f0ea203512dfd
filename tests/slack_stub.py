"""A small Slack Web API stand-in over real HTTP on 127.0.0.1, for tests and benchmarks.

It records every call, keeps posted messages per channel (threads, metadata), answers the
methods the bot uses with Slack's response shapes, and injects faults: HTTP 429 with
Retry-After, 5xx, slow answers (client timeouts), per-channel permanent errors, a post that is
stored but never answered, an optional one-message-per-second-per-channel rate limit and an
optional workspace-wide one (`rate_limit_per_team` posts per second per team, counted over a
sliding second like Slack's unpublished per-workspace limit; both answer 429 + Retry-After).

Tokens may belong to different teams (`teams`: token -> team id); each team has its own
channels, so the same channel id in two teams is two channels. Inspection methods take the
team (default: the team of tokens not listed, DEFAULT_TEAM).

A chat.postMessage to a user id posts in the app's DM with that person (`dms`).

Membership is enforced like Slack: a channel nobody declared is public and the bot is not in it.
Posting to a public channel works anyway (chat:write.public), but conversations.history and
.replies answer `not_in_channel` until the bot joins (conversations.join) or is invited
(`set_member`). A private channel (`add_channel(..., private=True)`) cannot be joined and
refuses posts from a bot that is not in it. Slack sends reaction events only for channels the
bot is in, so tests check that with `require_member` before sending one.

Direct messages: chat.postMessage to a user id (U…/W…) posts in the app's DM with that person,
a channel `dm_channel(user)` (D…) that conversations.open returns and the bot can read;
`fail_channel(user, "account_inactive")` makes both refuse. conversations.members answers
from `set_members`, chat.getPermalink links any message the stand-in holds.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import secrets
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

JSON_FIELDS = ("blocks", "metadata", "view", "attachments")
DEFAULT_TEAM = "T111"
MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


def manifest_scopes() -> set[str]:
    """The bot scopes manifest.yml asks for: what an installed app is granted by default."""
    return set(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])


@dataclass
class Call:
    """One request the stand-in received."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float

    @property
    def token(self) -> str | None:
        """The bearer token the call was made with (None: no token, e.g. oauth.v2.access)."""
        auth = self.headers.get("authorization") or ""
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


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


@dataclass
class Fault:
    """A fault waiting to be injected into calls of one method."""

    method: str
    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    timeout: float = 0.0
    drop: bool = False  # store the post, then close the connection without answering
    hold: float = 0.0  # store the post, then wait this long before answering
    times: int = 1
    after: int = 0  # let this many calls of the method succeed first


@dataclass
class Channel:
    """A channel as the stand-in knows it."""

    private: bool = False
    bot_member: bool = False
    archived: bool = False
    name: str = ""


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    responses: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    faults: list[Fault] = field(default_factory=list)
    channel_errors: dict[str, str] = field(default_factory=dict)
    recent_posts: dict[Any, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    channels: dict[str, Channel] = field(default_factory=lambda: defaultdict(Channel))


class SlackStub:
    """Start with `with SlackStub() as stub:`; point the bot at `stub.url`."""

    def __init__(
        self,
        rate_limit_per_channel: float | None = None,
        *,
        rate_limit_per_team: float | None = None,
        teams: dict[str, str] | None = None,
        lean: bool = False,
    ) -> None:
        self.rate_limit_per_channel = rate_limit_per_channel
        self.rate_limit_per_team = rate_limit_per_team
        self.teams = dict(teams or {})
        # Lean (benchmarks): calls are counted, not kept, and messages keep no text or blocks.
        self.lean = lean
        self.posts = 0
        self.users: dict[str, dict[str, Any]] = {}
        # What auth.test reports in x-oauth-scopes and tokens Slack answers invalid_auth for.
        self.scopes: set[str] = manifest_scopes()
        self.invalid_tokens: set[str] = set()
        self.members: dict[str, set[str]] = {}
        # What auth.test answers for a token the OAuth flow did not issue (team_id, team,
        # enterprise_id); a token in neither belongs to T111 "Example".
        self.token_teams: dict[str, dict[str, Any]] = {}
        self.rate_limited = 0
        # OAuth (`oauth_app`): the app's credentials, codes issued by `authorize`, and every
        # token issued with the identity it stands for. Once an app is set up, a token the
        # stand-in did not issue answers invalid_auth, as Slack's would.
        self.client_id: str | None = None
        self.client_secret: str | None = None
        self.app_id = "A0DIGEST"
        self.token_rotation = False
        self.token_lifetime = 43_200.0  # seconds a rotating access token lives (Slack: 12 h)
        self.codes: dict[str, Grant] = {}
        self.identities: dict[str, Identity] = {}
        self.refresh_tokens: dict[str, str] = {}  # unused refresh token -> its team's key
        self.used_refresh_tokens: set[str] = set()
        self._state = _State()
        self._lock = threading.RLock()
        self._last_ts = 0.0
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SlackStub:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlackStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT"""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """Web API base URL (what SLACK_API_URL / WebClient base_url take)."""
        return self.base + "/api/"

    def response_url(self, name: str = "r") -> str:
        """A response_url that records what is POSTed to it."""
        return f"{self.base}/response/{urllib.parse.quote(name)}"

    # --- inspection --------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every Web API call so far."""
        with self._lock:
            return list(self._state.calls)

    @property
    def responses(self) -> list[Call]:
        """Every POST to a response_url so far."""
        with self._lock:
            return list(self._state.responses)

    def calls_to(self, method: str) -> list[Call]:
        """Calls of one Web API method."""
        return [c for c in self.calls if c.method == method]

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The id of the app's DM channel with a person."""
        return "D" + user_id[1:]

    def dms(self, user_id: str, team: str = DEFAULT_TEAM) -> list[dict[str, Any]]:
        """Every DM the bot sent the person (of that team), oldest first."""
        return self.all_messages(self.dm_channel(user_id), team)

    def set_members(self, channel: str, *users: str) -> None:
        """Who is in a channel (conversations.members)."""
        with self._lock:
            self.members[channel] = set(users)

    def messages(self, channel: str, team: str = DEFAULT_TEAM) -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first."""
        with self._lock:
            posted = self._state.messages[_key(team, channel)]
            return [m for m in posted if not m.get("thread_ts")]

    def thread(self, channel: str, ts: str, team: str = DEFAULT_TEAM) -> list[dict[str, Any]]:
        """Replies in a thread, oldest first (without the parent)."""
        with self._lock:
            posted = self._state.messages[_key(team, channel)]
            return [m for m in posted if m.get("thread_ts") == ts]

    def all_messages(self, channel: str, team: str = DEFAULT_TEAM) -> list[dict[str, Any]]:
        """Everything posted to a channel, in order."""
        with self._lock:
            return list(self._state.messages[_key(team, channel)])

    def team_of(self, token: str) -> str:
        """The team a token belongs to."""
        with self._lock:
            identity = self.identities.get(token)
        if identity is not None:
            return identity.team_id
        return self.teams.get(token, DEFAULT_TEAM)

    def reset_faults(self) -> None:
        """Drop every pending fault (messages and calls stay)."""
        with self._lock:
            self._state.faults.clear()
            self._state.channel_errors.clear()

    def reset(self) -> None:
        """Forget calls, messages and faults."""
        with self._lock:
            self._state = _State()
            self.rate_limited = 0
            self.posts = 0

    def tokens_used(self, method: str | None = None) -> list[str | None]:
        """The token of every call (of one method), in order."""
        return [c.token for c in self.calls if method is None or c.method == method]

    # --- OAuth: install, refresh, per-token identities --------------------------------------

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

    # --- channels and membership ------------------------------------------------------------

    def add_channel(
        self,
        channel: str,
        *,
        private: bool = False,
        member: bool = False,
        archived: bool = False,
        name: str = "",
    ) -> None:
        """Declare a channel: public or private, with or without the bot in it."""
        with self._lock:
            self._state.channels[channel] = Channel(private, member, archived, name)

    def set_member(self, channel: str, member: bool = True) -> None:
        """The bot is invited to (or removed from) a channel."""
        with self._lock:
            self._state.channels[channel].bot_member = member

    def is_member(self, channel: str) -> bool:
        """Whether the bot is in the channel now."""
        with self._lock:
            return self._state.channels[channel].bot_member

    def require_member(self, channel: str) -> None:
        """Fail a test that would send a reaction event Slack would never send: Slack sends
        reaction_added/removed only for channels the bot is a member of."""
        assert self.is_member(channel), (
            f"Slack sends no reaction events from {channel}: bot not in it"
        )

    # --- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: float | None = None,
        error: str | None = None,
        timeout: float = 0.0,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Make the next `times` calls of `method` (after `after` more successes) fail.

        status 429 answers `ratelimited` with Retry-After; 5xx answers an error page; a
        `timeout` holds the answer that long (nothing is stored) so the client gives up.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            done = self._state.counts[method]
            self._state.faults.append(
                Fault(
                    method,
                    status,
                    error,
                    retry_after,
                    timeout,
                    times=times,
                    after=done + after,
                )
            )

    def drop_response_next(self, method: str = "chat.postMessage", *, after: int = 0) -> None:
        """Accept (store) the next call, then drop the connection without answering."""
        with self._lock:
            done = self._state.counts[method]
            self._state.faults.append(Fault(method, drop=True, after=done + after))

    def hold_next(
        self, method: str = "chat.postMessage", seconds: float = 5.0, *, after: int = 0
    ) -> None:
        """Accept (store) the next call but answer only after `seconds`."""
        with self._lock:
            done = self._state.counts[method]
            self._state.faults.append(Fault(method, hold=seconds, after=done + after))

    def fail_auth_test(self, status: int = 503, *, retry_after: float | None = None) -> None:
        """Every auth.test fails from now on (until `reset_faults`): a 5xx, or with 429 a
        `ratelimited` answer carrying Retry-After (default 1 s)."""
        self.fail_next("auth.test", status, retry_after=retry_after, times=1_000_000)

    def fail_channel(self, channel: str, error: str = "channel_not_found") -> None:
        """Every post to this channel answers ok:false with `error`."""
        with self._lock:
            self._state.channel_errors[channel] = error

    # --- serving -----------------------------------------------------------------------------

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            count = self._state.counts[method]
            for fault in self._state.faults:
                if fault.method == method and fault.times > 0 and count >= fault.after:
                    fault.times -= 1
                    return fault
            self._state.counts[method] = count + 1
            return None

    def _new_ts(self) -> str:
        # Like Slack: the epoch time of the post, unique and increasing.
        with self._lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def _post_message(
        self, params: dict[str, Any], team: str = DEFAULT_TEAM
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        channel = str(params.get("channel", ""))
        with self._lock:
            error = self._state.channel_errors.get(channel) or self._post_refusal(channel)
            if error:
                return 200, {"ok": False, "error": error}, {}
            if channel[:1] in ("U", "W"):  # a user id: the app's DM with that person
                channel = self._open_dm(channel)
            now = time.monotonic()
            limits = ((("channel", team, channel), self.rate_limit_per_channel),)
            limits += ((("team", team), self.rate_limit_per_team),)
            for key, limit in limits:
                retry_after = self._over_limit(key, limit, now)
                if retry_after:
                    self.rate_limited += 1
                    body = {"ok": False, "error": "ratelimited"}
                    return 429, body, {"Retry-After": str(retry_after)}
            for key, limit in limits:
                if limit:
                    self._state.recent_posts[key].append(now)
            ts = self._new_ts()
            message = {"type": "message", "ts": ts, "user": "UBOT", "bot_id": "BBOT"}
            if not self.lean:
                message |= {"text": params.get("text", ""), "blocks": params.get("blocks") or []}
            if params.get("thread_ts"):
                message["thread_ts"] = str(params["thread_ts"])
            if params.get("metadata"):
                message["metadata"] = params["metadata"]
            self._state.messages[_key(team, channel)].append(message)
            self.posts += 1
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}, {}

    def _update_message(
        self, params: dict[str, Any], team: str = DEFAULT_TEAM
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """chat.update: replaces a message's text and blocks (and metadata, when given)."""
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        with self._lock:
            error = self._state.channel_errors.get(channel)
            if error:
                return 200, {"ok": False, "error": error}, {}
            in_channel = self._state.messages[_key(team, channel)]
            found = next((m for m in in_channel if m["ts"] == ts), None)
            if found is None:
                return 200, {"ok": False, "error": "message_not_found"}, {}
            found["text"] = params.get("text", "")
            found["blocks"] = params.get("blocks") or []
            found["edited"] = {"user": "UBOT", "ts": self._new_ts()}
            if params.get("metadata"):
                found["metadata"] = params["metadata"]
            message = dict(found)
        return 200, {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}, {}

    def _over_limit(self, key: Any, limit: float | None, now: float) -> int:
        """Seconds to wait (Retry-After, whole seconds like Slack) if one more post in the
        sliding second would exceed `limit`; 0 when it may go."""
        if not limit:
            return 0
        window = self._state.recent_posts[key]
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) < limit:
            return 0
        return max(1, math.ceil(window[0] + 1.0 - now))

    def _open_dm(self, user_id: str) -> str:
        channel = self.dm_channel(user_id)
        self._state.channels[channel].bot_member = True
        return channel

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("users", ""))
        with self._lock:
            error = self._state.channel_errors.get(user_id)
            if error or user_id[:1] not in ("U", "W"):
                return {"ok": False, "error": error or "user_not_found"}
            return {"ok": True, "channel": {"id": self._open_dm(user_id)}}

    def _members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        with self._lock:
            info = self._state.channels[channel]
            if info.private and not info.bot_member:
                return {"ok": False, "error": "channel_not_found"}
            members = sorted(self.members.get(channel, set()))
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        more = start + limit < len(members)
        return {
            "ok": True,
            "members": members[start : start + limit],
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _permalink(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        channel, ts = str(params.get("channel", "")), str(params.get("message_ts", ""))
        with self._lock:
            if not any(m["ts"] == ts for m in self._state.messages[_key(team, channel)]):
                return {"ok": False, "error": "message_not_found"}
        link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _post_refusal(self, channel: str) -> str | None:
        info = self._state.channels[channel]
        if info.archived:
            return "is_archived"
        if info.private and not info.bot_member:
            return "not_in_channel"
        return None  # public: chat:write.public posts without membership

    def _join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        with self._lock:
            info = self._state.channels[channel]
            if info.private:
                return {"ok": False, "error": "method_not_supported_for_channel_type"}
            if info.archived:
                return {"ok": False, "error": "is_archived"}
            already = info.bot_member
            info.bot_member = True
        body: dict[str, Any] = {"ok": True, "channel": {"id": channel, "is_member": True}}
        if already:  # as Slack answers: the warning, and again in response_metadata
            body["warning"] = "already_in_channel"
            body["response_metadata"] = {"warnings": ["already_in_channel"]}
        return body

    def _info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if channel.startswith("D"):
            return im_info(channel)
        with self._lock:
            info = self._state.channels[channel]
            if info.private and not info.bot_member:
                return {"ok": False, "error": "channel_not_found"}  # invisible to the bot
            return {
                "ok": True,
                "channel": {
                    "id": channel,
                    "name": info.name or channel.lower(),
                    "is_channel": True,
                    "is_private": info.private,
                    "is_archived": info.archived,
                    "is_member": info.bot_member,
                },
            }

    def _history(self, params: dict[str, Any], replies: bool, team: str) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        with self._lock:
            posted = self._state.messages[_key(team, channel)]
            error = self._state.channel_errors.get(channel)
            if not error and not self._state.channels[channel].bot_member:
                error = "not_in_channel"
            if error:
                return {"ok": False, "error": error}
            if replies:
                ts = str(params.get("ts", ""))
                items = [m for m in posted if m["ts"] == ts or m.get("thread_ts") == ts]
            else:
                items = [m for m in posted if not m.get("thread_ts")]
                items = list(reversed(items))  # history is newest first
            oldest = float(params.get("oldest") or 0)
            items = [m for m in items if float(m["ts"]) >= oldest]
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = items[start : start + limit]
        with_meta = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        if not with_meta:
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(items)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _answer(
        self, method: str, params: dict[str, Any], team: str = DEFAULT_TEAM
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method == "auth.test":
            token = str(params.get("_token", ""))
            return 200, self._auth_test(token), {"x-oauth-scopes": ",".join(sorted(self.scopes))}
        if method == "chat.postMessage":
            return self._post_message(params, team)
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": self._new_ts()}, {}
        if method == "chat.update":
            return self._update_message(params, team)
        if method in ("conversations.history", "conversations.replies"):
            return 200, self._history(params, method == "conversations.replies", team), {}
        if method == "users.info":
            user_id = str(params.get("user", ""))
            user = {"id": user_id, "name": user_id.lower(), "tz": "America/New_York"}
            user |= self.users.get(user_id, {})
            return 200, {"ok": True, "user": user}, {}
        if method == "views.publish":
            view = params.get("view") or {}
            if len(view.get("blocks", [])) > 100:
                return 200, {"ok": False, "error": "invalid_arguments"}, {}
            return 200, {"ok": True, "view": view}, {}
        if method == "conversations.info":
            return 200, self._info(params), {}
        if method == "conversations.join":
            return 200, self._join(params), {}
        if method == "conversations.open":
            return 200, self._conversations_open(params), {}
        if method == "conversations.members":
            return 200, self._members(params), {}
        if method == "chat.getPermalink":
            return 200, self._permalink(params, team), {}
        return 200, {"ok": True}, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _params(self) -> tuple[dict[str, Any], str]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
                query = urllib.parse.urlparse(self.path).query
                params |= dict(urllib.parse.parse_qsl(query))
                for name in JSON_FIELDS:
                    if isinstance(params.get(name), str):
                        with contextlib.suppress(ValueError):
                            params[name] = json.loads(params[name])
                return params, raw

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                # Headers and body in one write, as Slack's servers send them: a body written
                # after the headers waits for the client's delayed ACK (Nagle), 40 ms a call
                # on a kept-alive connection.
                self._headers_buffer.append(b"\r\n" + data)
                try:
                    self.flush_headers()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client is gone (killed or timed out)

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                params, _ = self._params()
                path = urllib.parse.urlparse(self.path).path
                headers = {k.lower(): v for k, v in self.headers.items()}
                call = Call("", params, headers, time.time())
                if path.startswith("/response/"):
                    call.method = "response_url"
                    with stub._lock:
                        stub._state.responses.append(call)
                    # hold_next/drop_response_next("response_url"): a slow or dropped hook.
                    slow = stub._take_fault("response_url")
                    if slow is not None and slow.drop:
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if slow is not None:
                        time.sleep(slow.hold or slow.timeout)
                    self._send(200, {"ok": True}, {})
                    return
                method = path.removeprefix("/api/")
                call.method = method
                if not stub.lean:
                    with stub._lock:
                        stub._state.calls.append(call)
                if method == "oauth.v2.access":  # authenticated by the app, not a token
                    fault = stub._take_fault(method)
                    if fault is not None and (fault.drop or fault.timeout):
                        time.sleep(fault.timeout)  # the code is not used: Slack never saw it
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if fault is not None:
                        error = fault.error or "internal_error"
                        self._send(fault.status, {"ok": False, "error": error}, {})
                        return
                    self._send(200, stub._oauth_access(params, headers), {})
                    return
                authorization = headers.get("authorization") or ""
                team = stub.team_of(authorization.removeprefix("Bearer "))
                if method == "apps.connections.open" and (
                    authorization.removeprefix("Bearer ") in stub.invalid_tokens
                ):
                    # An app-level (xapp-) token Slack does not accept: bad or revoked.
                    self._send(200, {"ok": False, "error": "invalid_auth"}, {})
                    return
                if not authorization.startswith("Bearer xox"):
                    self._send(200, {"ok": False, "error": "not_authed"}, {})
                    return
                token = authorization.removeprefix("Bearer ")
                if token in stub.invalid_tokens:
                    self._send(200, {"ok": False, "error": "invalid_auth"}, {})
                    return
                refused = stub._token_error(token)
                if refused:
                    self._send(200, {"ok": False, "error": refused}, {})
                    return
                params = params | {"_token": token}
                fault = stub._take_fault(method)
                if fault is not None:
                    if fault.drop:
                        stub._answer(method, params, team)
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if fault.hold:
                        status, body, extra = stub._answer(method, params, team)
                        time.sleep(fault.hold)
                        self._send(status, body, extra)
                        return
                    if fault.timeout:
                        time.sleep(fault.timeout)
                        self.close_connection = True
                        return
                    extra = {}
                    if fault.retry_after is not None:
                        extra["Retry-After"] = str(int(fault.retry_after))
                    error = fault.error or (
                        "ratelimited" if fault.status == 429 else "internal_error"
                    )
                    self._send(fault.status, {"ok": False, "error": error}, extra)
                    return
                status, body, extra = stub._answer(method, params, team)
                self._send(status, body, extra)

        return Handler


class _Server(ThreadingHTTPServer):
    """Slack accepts many connections at once: a listen backlog of 5 (socketserver's default)
    would reset connections a fan-out opens together, which Slack never does."""

    request_queue_size = 1024


def im_info(channel: str) -> dict[str, Any]:
    """conversations.info of a direct message, in Slack's IM shape: is_im, the other person, and
    no is_member (nor name, is_channel or is_private) at all."""
    return {
        "ok": True,
        "channel": {
            "id": channel,
            "created": 1507235627,
            "is_im": True,
            "is_org_shared": False,
            "user": "U" + channel[1:],
            "is_user_deleted": False,
            "priority": 0,
        },
    }


def _key(team: str, channel: str) -> str:
    """Where a team's channel is kept (the default team's under the bare id)."""
    return channel if team == DEFAULT_TEAM else f"{team}/{channel}"
