"""Request bodies recorded from Slack (tests/fixtures/slack_requests), ready to sign and send."""

from __future__ import annotations

import copy
import json
import urllib.parse
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "slack_requests"


def recorded(name: str) -> dict[str, Any]:
    """One recorded request: its source, and its body as `json`, `payload` or form `body`."""
    return dict(json.loads((RECORDED / f"{name}.json").read_text()))


def recorded_names() -> list[str]:
    """Every recorded request's name."""
    return sorted(p.stem for p in RECORDED.glob("*.json"))


def body_of(name: str, **changes: Any) -> str:
    """The raw body Slack would POST, with top-level (or, for forms, field) values changed."""
    record = recorded(name)
    if "json" in record:
        return json.dumps(copy.deepcopy(record["json"]) | changes)
    if "payload" in record:
        payload = copy.deepcopy(record["payload"]) | changes
        return "payload=" + urllib.parse.quote(json.dumps(payload))
    fields = dict(urllib.parse.parse_qsl(record["body"], keep_blank_values=True)) | changes
    return urllib.parse.urlencode(fields)


def event_of(name: str) -> dict[str, Any]:
    """A recorded event envelope (a copy to change)."""
    return copy.deepcopy(dict(recorded(name)["json"]))
