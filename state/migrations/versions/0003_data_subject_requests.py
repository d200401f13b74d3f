"""data-subject requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("identity_key", sa.String(length=64), nullable=False),
        sa.Column("identity_sealed", sa.String(), nullable=True),
        sa.Column("details_sealed", sa.String(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.String(length=32), nullable=False),
        sa.Column("deadline_at", sa.String(length=32), nullable=False),
        sa.Column("extended_until", sa.String(length=32), nullable=True),
        sa.Column("extension_reason", sa.String(), nullable=True),
        sa.Column("extension_notified_at", sa.String(length=32), nullable=True),
        sa.Column("completed_at", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_identity_key"), ["identity_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_request_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_request_type"), ["type"], unique=False)

    op.create_table(
        "request_progress",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("records_found", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["request.id"],
        ),
        sa.PrimaryKeyConstraint("request_id", "connector"),
    )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_change_request_id"), ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_request_id"))
        batch_op.drop_column("request_id")

    op.drop_table("request_progress")
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_type"))
        batch_op.drop_index(batch_op.f("ix_request_status"))
        batch_op.drop_index(batch_op.f("ix_request_identity_key"))

    op.drop_table("request")
