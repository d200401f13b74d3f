"""audit entries say what an erasure achieved (erased or pseudonymised) and what it did to related records; room
for combined actions ("restrict_email+redact_note" is 26 characters: PostgreSQL refused it in 16)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on the append-only table (see 0007: batch mode would copy it, which its triggers refuse).
    op.add_column("audit_event", sa.Column("erasure", sa.String(length=16), nullable=True))
    op.add_column("audit_event", sa.Column("related", sa.String(length=300), nullable=True))
    if op.get_bind().dialect.name == "postgresql":  # SQLite does not enforce lengths (and cannot alter in place)
        op.alter_column("audit_event", "action", type_=sa.String(length=64), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("audit_event", "action", type_=sa.String(length=16), existing_nullable=False)
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("related")
        batch.drop_column("erasure")
