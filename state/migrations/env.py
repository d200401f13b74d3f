"""Alembic environment: gomme always passes an open connection (see gomme.state.db.upgrade)."""

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import gomme.state.models  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes["connection"]


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes plain `sa.String` for SQLModel's AutoString, so migrations never import sqlmodel."""
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


context.configure(
    connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True, render_item=_render_item
)
with context.begin_transaction():
    context.run_migrations()
