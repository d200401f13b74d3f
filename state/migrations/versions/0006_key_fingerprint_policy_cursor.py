"""state facts (the key's fingerprint) and the policy each cursor was reached under

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "state_fact",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("set_at", sa.String(length=32), nullable=False),
    )
    with op.batch_alter_table("cursor") as batch:
        batch.add_column(sa.Column("policy_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cursor") as batch:
        batch.drop_column("policy_hash")
    op.drop_table("state_fact")
