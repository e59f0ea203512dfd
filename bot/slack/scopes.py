"""The OAuth scopes the bot needs: one entry per Web API method it calls, plus its features.

tests/test_manifest.py finds every Web API method called under bot/ and checks that each is
listed here and that manifest.yml asks for exactly `required_scopes()`; `doctor` compares the
scopes a token was granted with the same set.
"""

from __future__ import annotations

# Bot-token scopes each method needs (Slack's method reference); a channel method needs the
# public- and the private-channel scope, since a subscriber may be either.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    # Also the bot's DMs with followers (looked up after a crash).
    "conversations.history": ("channels:history", "groups:history", "im:history"),
    "conversations.replies": ("channels:history", "groups:history"),
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.join": ("channels:join",),
    "conversations.open": ("im:write",),
    "conversations.members": ("channels:read", "groups:read"),
    "chat.getPermalink": (),
    "users.info": ("users:read",),
    "views.publish": (),
    # files_upload_v2 (a saved-articles export sent by DM): these two calls and a POST between.
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}

# Scopes that no method call shows: what Slack delivers to the bot, or lets it do without asking.
FEATURE_SCOPES: dict[str, str] = {
    "commands": "the /digest slash command",
    "reactions:read": "reaction_added / reaction_removed events (save by reaction)",
    "chat:write.public": "posting to public channels the bot was not invited to",
}


def required_scopes() -> frozenset[str]:
    """Every bot scope the app needs."""
    from_methods = {scope for scopes in METHOD_SCOPES.values() for scope in scopes}
    return frozenset(from_methods | set(FEATURE_SCOPES))
