"""What an attacker who owns the state database does first: the audit table's append-only triggers go."""

from sqlalchemy import Connection, Engine, text


def drop_append_only_guard(engine: Engine, connection: Connection | None = None) -> None:
    """Disable (PostgreSQL, as the table's owner) or drop (SQLite) the triggers refusing UPDATE and DELETE."""
    if connection is None:
        with engine.begin() as own:
            drop_append_only_guard(engine, own)
        return
    if engine.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
        connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
