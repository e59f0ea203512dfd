"""manifest.yml is a valid Slack app manifest for exactly what the bot uses."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from slack_sdk import WebClient
from slack_sdk.web.base_client import BaseClient

from bot.core.grammar import VERBS
from bot.slack.scopes import FEATURE_SCOPES, METHOD_SCOPES, required_scopes

REPO = Path(__file__).resolve().parents[2]
# Slack's own schema, vendored (MIT; source and licence in tests/schemas/README.md).
SCHEMA = REPO / "tests" / "schemas" / "slack-manifest.schema.1.0.0.json"
# Methods Bolt itself calls with the bot's client (auth.test when it verifies the token).
FRAMEWORK_METHODS = {"auth.test"}
# slack_sdk helpers that are several Web API methods under one name.
COMPOSITE_METHODS = {
    "files.upload.v2": ("files.getUploadURLExternal", "files.completeUploadExternal"),
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "manifest.yml").read_text()))


def test_manifest_matches_slack_schema(manifest: dict[str, Any]) -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_slack_schema_rejects_what_slack_rejects(manifest: dict[str, Any]) -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    no_name = {**manifest, "display_information": {"description": "no name"}}
    assert not validator.is_valid(no_name)
    long_command = {**manifest["features"]["slash_commands"][0], "description": "x" * 3000}
    too_long = {**manifest, "features": {**manifest["features"], "slash_commands": [long_command]}}
    assert not validator.is_valid(too_long)


def test_manifest_declares_what_the_bot_uses(manifest: dict[str, Any]) -> None:
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert commands["/digest"]["usage_hint"]
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "reaction_added",
        "reaction_removed",
        "app_home_opened",
        "app_uninstalled",
        "tokens_revoked",
    }
    # Add to Slack: Slack sends the browser back to Bolt's OAuth redirect path.
    assert manifest["oauth_config"]["redirect_urls"] == [
        "https://YOUR-APP-HOST/slack/oauth_redirect"
    ]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == required_scopes()
    urls = [
        commands["/digest"]["url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
    ]
    assert all(u.endswith("/slack/events") for u in urls)


def web_api_methods_called(root: Path) -> dict[str, list[str]]:
    """Web API methods used anywhere under `root`: `x.chat_postMessage` style (called or passed
    on) and `x.api_call("chat.postMessage")`, with where each is used."""
    api = set(dir(WebClient)) - set(dir(BaseClient))
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            # A method referenced without a call (`fetch = client.conversations_history`, for
            # cursor pagination) needs its scope as much as a called one.
            if isinstance(node, ast.Attribute) and node.attr in api:
                if node.attr.startswith("_") or node.attr == "api_call":
                    continue
                method = node.attr.replace("_", ".")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "api_call"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                method = str(node.args[0].value)
            else:
                continue
            for each in COMPOSITE_METHODS.get(method, (method,)):
                found.setdefault(each, []).append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_scanner_finds_calls_in_both_styles(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "client.chat_postMessage(channel='C')\n"
        "client.api_call('reactions.add')\n"
        "client.token\n"
        "client.api_call(method)\n"
        "fetch = client.conversations_history\n"
        "client.files_upload_v2(content='x', channel='D1')\n"
    )
    assert set(web_api_methods_called(tmp_path)) == {
        "chat.postMessage",
        "reactions.add",
        "conversations.history",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    }


def test_manifest_scopes_are_exactly_what_the_code_calls(manifest: dict[str, Any]) -> None:
    called = web_api_methods_called(REPO / "bot")
    unknown = {m: where for m, where in called.items() if m not in METHOD_SCOPES}
    assert not unknown, f"add these methods' scopes to bot/slack/scopes.py: {unknown}"
    unused = set(METHOD_SCOPES) - set(called) - FRAMEWORK_METHODS
    assert not unused, f"bot/slack/scopes.py lists methods the bot never calls: {unused}"
    from_calls = {s for m in called for s in METHOD_SCOPES[m]}
    asked = set(manifest["oauth_config"]["scopes"]["bot"])
    assert asked == from_calls | set(FEATURE_SCOPES)
    assert {"chat.postMessage", "conversations.history", "users.info"} <= set(called)


def test_usage_hint_lists_every_subcommand(manifest: dict[str, Any]) -> None:
    hint = manifest["features"]["slash_commands"][0]["usage_hint"]
    words = {w.strip("[]") for w in hint.replace("|", " ").split()}
    assert set(VERBS) <= words, set(VERBS) - words
    for option in ("HH:MM", "weekdays", "daily"):
        assert option in hint
