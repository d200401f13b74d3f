"""audit entries of a disclosure (a pseudonymised extract handed to a processor) say to whom, why and under which
transfer safeguard in a column of their own, not inside `legal_basis`

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on the append-only table (see 0007: batch mode would copy it, which its triggers refuse).
    op.add_column("audit_event", sa.Column("disclosure", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("disclosure")
