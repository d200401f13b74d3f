"""change error detail: what the CRM named about a failed change (field names, never values)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("change") as batch:
        batch.add_column(sa.Column("error_detail", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("change") as batch:
        batch.drop_column("error_detail")
