"""The Slack side: Bolt app factory, listeners, rendering, posting."""
