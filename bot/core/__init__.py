"""Use cases shared by Slack, the CLI and the worker: plain arguments in, plain results out."""
