"""Alembic migrations: env.py runs them; versions/ holds one file per schema revision.

Why `duplicates` still pairs places in versions/, and why 0001/0002's `upgrade` run long:
- Every revision file opens with Alembic's revision header (ids in the docstring, `revision`,
  `down_revision`, `branch_labels`, `depends_on`, then `upgrade`/`downgrade`). Alembic reads
  those names from each module, so the header cannot move to a shared helper.
- A released migration is a frozen record of what deployed databases ran. Its `create_table`
  lists are kept as written, one column a line in the order of the table, so that it can be
  read beside `bot/store/tables.py` and never changes meaning; tables with similar columns
  (ids, timestamps, cascading foreign keys) therefore look alike, and the first two revisions,
  which create most tables, are one long function each.
"""
