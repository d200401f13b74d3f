"""A seeded fake Salesforce org, its gomme config, and what a test reads back after `gomme sweep`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import responses
from fakes.salesforce import FakeSalesforce
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.state.db import make_engine
from gomme.state.models import AuditEvent

runner = CliRunner()


@dataclass
class Org:
    fake: FakeSalesforce
    ids: dict[str, str]  # seeded record ids by the test's own keys
    config: Path
    state_url: str

    def sweep(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--config", str(self.config), "sweep", *args])
        return result.exit_code, result.output

    def row(self, sobject: str, key: str) -> dict[str, Any] | None:
        return self.fake.record(sobject, self.ids[key])

    def audit(self) -> dict[str, AuditEvent]:
        engine = make_engine(self.state_url)
        try:
            with Session(engine) as db:
                return {event.action: event for event in db.exec(select(AuditEvent))}
        finally:
            engine.dispose()


Seed = Callable[[FakeSalesforce], dict[str, str]]


def sweep_config(state_url: str, token_env: str, **settings: str | int | bool | list[str]) -> str:
    """A config with the state database and one connector `sf` on the fake org, with the test's `settings`."""
    lines = [
        f"[state]\nurl = {json.dumps(state_url)}\n",
        "[connectors.sf]",
        'type = "salesforce"',
        'instance_url = "https://fake.my.salesforce.com"',
        f"access_token_env = {json.dumps(token_env)}",
        *(f"{name} = {json.dumps(value)}" for name, value in settings.items()),  # TOML reads these JSON values
    ]
    return "\n".join(lines) + "\n"


@contextmanager
def org_builder(tmp_path: Path, state_url: str) -> Iterator[Callable[..., Any]]:
    """`build(fake, seed, config_text, cls=Org)`: seeds the fake org, writes the config, serves the org's API
    (`responses`) until the block ends."""
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()

    def build(fake: FakeSalesforce, seed: Seed, config_text: str, cls: type[Org] = Org) -> Org:
        ids = seed(fake)
        config = tmp_path / "config.toml"
        config.write_text(config_text)
        fake.register(mock)
        return cls(fake, ids, config, state_url)

    try:
        yield build
    finally:
        mock.stop()
        mock.reset()
