"""A local CRM of synthetic people, one per rule kind of the `cnil` pack, and a config to sweep it: shared by the
tests of the reasons in the audit trail, `policy explain` and the audit report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.model.records import Consent, ConsentStatus, Lifecycle, PersonRecord

runner = CliRunner()
TODAY = dt.datetime.now(dt.UTC).date()
# A child of 12 today (FR digital-consent age 15); the tests check this date never leaves the CRM.
BIRTHDATE = TODAY.replace(year=TODAY.year - 12, day=1)
OLD = dt.datetime(2020, 1, 15, 9, 30, tzinfo=dt.UTC)
RECENT = dt.datetime.combine(TODAY - dt.timedelta(days=30), dt.time(9), dt.UTC)
RUNNING = TODAY.replace(year=TODAY.year + 2, day=1)  # a contract end in the future


def _who(n: int) -> dict[str, str]:
    return {"email": f"person{n}@example.org", "first_name": f"Given{n}", "last_name": f"Family{n}",
            "phone": f"+33 6 00 00 00 {n:02d}"}  # fmt: skip


PEOPLE = {
    "old-prospect": PersonRecord(crm="crm", object_type="contact", id="p1", lifecycle=Lifecycle.PROSPECT,
                                 created_at=OLD, last_activity_at=OLD, **_who(1)),
    "held-prospect": PersonRecord(crm="crm", object_type="contact", id="p2", lifecycle=Lifecycle.PROSPECT,
                                  created_at=OLD, last_activity_at=OLD, legal_hold=True, **_who(2)),
    "child": PersonRecord(crm="crm", object_type="contact", id="p3", lifecycle=Lifecycle.CUSTOMER, country="FR",
                          birthdate=BIRTHDATE, contract_end=RUNNING, created_at=RECENT, **_who(3)),
    "withdrawn": PersonRecord(crm="crm", object_type="contact", id="p4", lifecycle=Lifecycle.CUSTOMER,
                              contract_end=RUNNING, created_at=RECENT, **_who(4),
                              consents=(Consent("email", "marketing", ConsentStatus.OPT_OUT,
                                                dt.datetime(2024, 3, 2, 10, tzinfo=dt.UTC)),)),
    "erase-me": PersonRecord(crm="crm", object_type="contact", id="p5", lifecycle=Lifecycle.CUSTOMER,
                             contract_end=RUNNING, created_at=RECENT, erasure_requested=True, **_who(5)),
    "recent-prospect": PersonRecord(crm="crm", object_type="contact", id="p6", lifecycle=Lifecycle.PROSPECT,
                                    created_at=RECENT, last_activity_at=RECENT, **_who(6),
                                    notes={"description": "Asked for a quote on the blue model."}),
}  # fmt: skip
PERSONAL = [value for person in PEOPLE.values()
            for value in (person.email, person.first_name, person.last_name, person.phone) if value]  # fmt: skip
PERSONAL += [BIRTHDATE.isoformat(), "blue model"]


def local_crm(tmp_path: Path, state_url: str) -> Path:
    """Write the CRM and its config; return the config path."""
    with LocalConnector("crm", tmp_path / "crm.db") as connector:
        connector.add(PEOPLE.values())
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nurl = "{state_url}"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n')
    return config


def gomme(config: Path, *args: str) -> tuple[int, str]:
    """Run gomme on `config`; a wide terminal, so that rich tables keep each cell on one line."""
    result = runner.invoke(app, ["--config", str(config), "--log-level", "error", *args], env={"COLUMNS": "300"})
    return result.exit_code, result.output
