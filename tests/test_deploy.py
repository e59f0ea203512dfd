"""The deploy files: app.json valid for Heroku and complete, Procfile process types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from bot.config import Settings

REPO = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).resolve().parent / "schemas" / "heroku-app-json.schema.json"
# Set by the platform, not by the person deploying: the add-on and the router.
PLATFORM_SET = {"DATABASE_URL", "PORT"}
# Needed by every HTTP deploy. SLACK_BOT_TOKEN is not: a many-workspace deploy (SLACK_CLIENT_ID)
# has no token of its own, and Heroku refuses to deploy while a required value is empty.
REQUIRED = {"SLACK_SIGNING_SECRET"}


@pytest.fixture(scope="module")
def app_json() -> dict[str, Any]:
    return dict(json.loads((REPO / "app.json").read_text()))


def procfile() -> dict[str, str]:
    lines = (REPO / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_app_json_matches_herokus_schema(app_json: dict[str, Any]) -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(app_json)]
    assert not errors, errors


def test_schema_rejects_what_heroku_rejects() -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    assert not validator.is_valid({"env": {"X": {"desc": "typo"}}})
    assert not validator.is_valid({"formation": {"web": {"count": 1}}})
    assert not validator.is_valid({"addons": [{"name": "heroku-postgresql"}]})
    assert not validator.is_valid({"release": "python -m bot db upgrade"})


def test_app_json_declares_every_setting(app_json: dict[str, Any]) -> None:
    settings = {str(f.alias) for f in Settings.model_fields.values()}
    env = app_json["env"]
    assert set(env) == settings - PLATFORM_SET
    for name, spec in env.items():
        assert spec["description"].strip(), name
        assert spec["required"] is (name in REQUIRED), name
        if "value" in spec:
            Settings.model_validate({name: spec["value"]})  # a default that the bot accepts


def test_app_json_lets_a_many_workspace_deploy_leave_the_bot_token_unset(
    app_json: dict[str, Any],
) -> None:
    many = {"SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "DIGEST_ENCRYPTION_KEY"}
    required = {name for name, spec in app_json["env"].items() if spec["required"]}
    assert "SLACK_BOT_TOKEN" not in required
    assert not required & many  # nor does a one-workspace deploy need the OAuth settings
    assert "SLACK_CLIENT_ID" in app_json["env"]["SLACK_BOT_TOKEN"]["description"]


def test_app_json_formation_addon_and_buildpack(app_json: dict[str, Any]) -> None:
    assert {a["plan"] if isinstance(a, dict) else a for a in app_json["addons"]} == {
        "heroku-postgresql"
    }
    assert app_json["buildpacks"] == [{"url": "heroku/python"}]
    formation = {name: spec["quantity"] for name, spec in app_json["formation"].items()}
    assert formation == {"web": 1, "worker": 1, "socket": 0}
    assert set(formation) <= set(procfile())


def test_procfile_runs_socket_mode_outside_web_and_migrates_on_release() -> None:
    processes = procfile()
    assert processes["release"] == "python -m bot db upgrade"
    assert processes["web"] == "python -m bot serve"
    # The worker's heap settings (glibc reads them only at start) come before its command.
    assert processes["worker"] == "MALLOC_ARENA_MAX=2 python -m bot worker"
    assert "--socket" in processes["socket"] and "--socket" not in processes["web"]
