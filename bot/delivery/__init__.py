"""Sending to Slack exactly once: channel threads, their edits, the fan-out, follower DMs."""
