"""A small Slack Web API stand-in over real HTTP on 127.0.0.1, for tests and benchmarks.

It records every call, keeps posted messages per channel (threads, metadata), answers the
methods the bot uses with Slack's response shapes, and injects faults. One part per concern:
`server` (HTTP, dispatch, recorded calls), `oauth` (installs, tokens, auth.test),
`conversations` (channels, membership, DMs, history), `messages` (posts, edits, rate limits),
`files` (files_upload_v2's three steps), `faults` (errors, 429s, slow and dropped answers).
Start it with `with SlackStub() as stub:`.

Each team has its own channels; the inspection methods (`messages`, `thread`, `dms`, …) take the
team (default: the team of tokens not listed in `teams`, DEFAULT_TEAM).
"""

from support.slack_api.server import SlackStub

__all__ = ["SlackStub"]
