"""audit entries authenticated (an HMAC of each chain hash under a key the database does not hold) and evidence

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new column on an append-only table: SQLite's batch mode would copy the table (refused by its
    # triggers), so the plain ADD COLUMN both backends support is used.
    op.add_column("audit_event", sa.Column("mac", sa.String(length=64), nullable=True))
    op.add_column("audit_event", sa.Column("evidence", sa.String(length=300), nullable=True))
    op.add_column("change", sa.Column("evidence", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("change") as batch:
        batch.drop_column("evidence")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("mac")
        batch.drop_column("evidence")
