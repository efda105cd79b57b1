"""API keys get an ``is_admin`` flag (false for every existing key).

An admin key sees and acts on every study, including studies of revoked keys; keys are made
with ``xbar keys create NAME --admin``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("is_admin")
