"""What the tests share: setup helpers, signed Slack requests, the served app and the Slack Web
API stand-in (`support.slack_api`)."""
