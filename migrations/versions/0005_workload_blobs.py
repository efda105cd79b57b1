"""Uploaded workloads: content-addressed blobs (sha256 -> bytes) and named uploads per key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workload_blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "uploaded_workloads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("owner_key_id", sa.Integer(), sa.ForeignKey("api_keys.id"), nullable=True),
        sa.Column("model_sha256", sa.String(64), sa.ForeignKey("workload_blobs.sha256"),
                  nullable=False),
        sa.Column("data_sha256", sa.String(64), sa.ForeignKey("workload_blobs.sha256"),
                  nullable=False),
        sa.Column("model_size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("data_size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("model_format", sa.String(32), nullable=False),
        sa.Column("data_format", sa.String(32), nullable=False),
        sa.Column("architecture", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("owner_key_id", "name", name="uq_uploaded_workloads_owner_name"),
    )
    op.create_index("ix_uploaded_workloads_name", "uploaded_workloads", ["name"])
    op.create_index("ix_uploaded_workloads_owner_key_id", "uploaded_workloads",
                    ["owner_key_id"])


def downgrade() -> None:
    op.drop_index("ix_uploaded_workloads_owner_key_id", table_name="uploaded_workloads")
    op.drop_index("ix_uploaded_workloads_name", table_name="uploaded_workloads")
    op.drop_table("uploaded_workloads")
    op.drop_table("workload_blobs")
