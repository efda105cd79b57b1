"""Uploaded workloads record whether the analytic moment tier can evaluate their model.

``uploaded_workloads.analytic_tier``: true when the model is a chain of layers the moment model
handles, false when it is not (a study then defaults to ``analytic_below = 0`` and refuses a
larger one at creation), NULL for uploads stored before this revision (not known: such a study
keeps the default and a low-fidelity trial fails with the moment model's message, as before).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("uploaded_workloads") as batch:
        batch.add_column(sa.Column("analytic_tier", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploaded_workloads") as batch:
        batch.drop_column("analytic_tier")
