"""Studies store their target fidelity (the fidelity of a full evaluation).

Existing rows are backfilled from the stored search space: the upper end of its
``fidelity_range``, or 1.0 when it has none (the rule of ``SearchSpace.target_fidelity``,
restated here so the migration does not change when the optimizer does).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_studies = sa.table(
    "studies",
    sa.column("id", sa.Integer()),
    sa.column("search_space", sa.JSON()),
    sa.column("target_fidelity", sa.Float()),
)


def _target(search_space: dict[str, Any] | None) -> float:
    """Top of the stored ``fidelity_range`` (fidelity units), or 1.0 without a range."""
    fidelity_range = (search_space or {}).get("fidelity_range")
    return float(fidelity_range[1]) if fidelity_range else 1.0


def upgrade() -> None:
    op.add_column(
        "studies",
        sa.Column("target_fidelity", sa.Float(), nullable=False, server_default=sa.text("1.0")),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(_studies.c.id, _studies.c.search_space)).all()
    for study_id, search_space in rows:
        target = _target(search_space)
        if target != 1.0:
            conn.execute(
                sa.update(_studies)
                .where(_studies.c.id == study_id)
                .values(target_fidelity=target)
            )


def downgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.drop_column("target_fidelity")
