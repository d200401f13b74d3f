"""Shared fixtures: a fresh state database on SQLite and on a real PostgreSQL, per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import settings
from sqlalchemy import Connection, Engine, create_engine, make_url, text

from gomme.state.db import make_engine, upgrade
from tests.state_key import TEST_SECRET

# No per-example deadline: the first example of a run may compile the notes lexicons (seconds on a loaded 2-core
# machine), which says nothing about the property under test; speed is measured in bench/, never asserted here.
settings.register_profile("gomme", deadline=None)
settings.load_profile("gomme")

POSTGRES_URL = os.environ.get("GOMME_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test has a known state key and its own state and config homes: the user's files are never touched."""
    monkeypatch.setenv("GOMME_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state-home")))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))
    monkeypatch.delenv("GOMME_CONFIG", raising=False)
    structlog.reset_defaults()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a schema of its own, dropped afterwards, so runs never collide."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        with admin.begin() as connection:
            _close_left_connections(connection, schema)
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _close_left_connections(connection: Connection, schema: str) -> None:
    """Close what the test left connected to its schema: tests open engines of their own to read what gomme wrote,
    and pooled connections outlive the test until garbage collection, which would starve later tests of the
    server's 100 slots ("too many clients already"). That gomme itself closes its connections when a command ends
    is tested in tests/state/test_connections.py."""
    connection.execute(
        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
        {"name": schema},
    )


def open_connections(url: str) -> int:
    """How many server connections carry a `postgres_url`'s schema as their application name."""
    name = make_url(url).query["application_name"]
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.connect() as connection:
            count = connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"), {"name": name}
            ).scalar_one()
    finally:
        admin.dispose()
    return int(count)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def state_engine(state_url: str) -> Iterator[Engine]:
    engine = make_engine(state_url)
    upgrade(engine)
    yield engine
    engine.dispose()
