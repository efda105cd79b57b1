"""SQLite never reuses a deleted id: ``studies``, ``trials`` and ``events`` get AUTOINCREMENT.

Without it SQLite hands out ``max(id) + 1``, so after deleting the newest study the next one
gets its id, and an old URL, ETag or SSE ``Last-Event-ID`` would name the new row. The three
tables whose ids the API exposes are rebuilt with ``sqlite_autoincrement=True``; rows, indexes
and foreign keys are kept. PostgreSQL sequences never reuse values: there this is a no-op.

Dropping ``studies`` during the rebuild would cascade (``PRAGMA foreign_keys=ON``) into
``trials``, ``trial_results`` and ``events``, so their rows are copied to temporary tables first
and put back afterwards; this works whether or not foreign keys are enforced on the connection.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REBUILT = ("studies", "trials", "events")
"""Tables rebuilt, parents first (their ids appear in URLs, ETags and SSE event ids)."""
CHILDREN = ("trials", "trial_results", "events")
"""Tables whose rows a cascading drop of a rebuilt table would delete, parents first."""


def _rebuild(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in CHILDREN:
        op.execute(f"DROP TABLE IF EXISTS temp._keep_{table}")
        op.execute(f"CREATE TEMP TABLE _keep_{table} AS SELECT * FROM {table}")
    for table in REBUILT:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    for table in reversed(CHILDREN):
        op.execute(f"DELETE FROM {table}")
    for table in CHILDREN:
        op.execute(f"INSERT INTO {table} SELECT * FROM temp._keep_{table}")
        op.execute(f"DROP TABLE temp._keep_{table}")


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
