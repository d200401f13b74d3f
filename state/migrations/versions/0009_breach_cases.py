"""breach cases (GDPR Art 33/34): scope, 72-hour deadline and assessment aggregates, no personal data in clear

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "breach_case",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.String(length=32), nullable=False),
        sa.Column("aware_at", sa.String(length=32), nullable=False),
        sa.Column("deadline_at", sa.String(length=32), nullable=False),
        sa.Column("since", sa.String(length=32), nullable=True),
        sa.Column("until", sa.String(length=32), nullable=True),
        sa.Column("connectors", sa.String(), nullable=False),
        sa.Column("objects", sa.String(), nullable=False),
        sa.Column("establishment", sa.String(length=2), nullable=True),
        sa.Column("scope_sealed", sa.String(), nullable=False),
        sa.Column("note_sealed", sa.String(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("assessment", sa.String(), nullable=True),
        sa.Column("assessed_at", sa.String(length=32), nullable=True),
        sa.Column("notify_list_at", sa.String(length=32), nullable=True),
        sa.Column("notify_list_rows", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.String(length=32), nullable=True),
        sa.Column("close_sealed", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("breach_case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_breach_case_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("breach_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_breach_case_status"))
    op.drop_table("breach_case")
