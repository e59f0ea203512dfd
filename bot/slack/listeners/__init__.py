"""Bolt listeners, one module per kind of trigger; each module has `register(app, services)`."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, commands, events
from bot.slack.services import Services


def register_all(app: App, services: Services) -> None:
    """Attach every listener to the app."""
    commands.register(app, services)
    actions.register(app, services)
    events.register(app, services)
