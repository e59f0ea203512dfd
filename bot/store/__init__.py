"""Persistence: engine and sessions, ORM tables, migrations and queries."""
