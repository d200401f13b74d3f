"""A seeded fake Salesforce org, its gomme config, and what a test reads back after `gomme sweep`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
