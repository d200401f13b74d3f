"""What auditors run: log filters and formats, show, export with manifest, checkpoints, report, register."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gomme.cli import app
from gomme.state.audit import AuditEntry, append
from gomme.state.db import make_engine, session, upgrade
from gomme.state.keys import Keyring
from tests.audit_owner import drop_append_only_guard
from tests.browser import PNG, Browser

runner = CliRunner()


class Log:
    """A state database with hand-made entries, so each filter has a known answer."""

    def __init__(self, tmp_path: Path, state_url: str) -> None:
        self.tmp, self.url = tmp_path, state_url
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'[state]\nurl = "{state_url}"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n'
                               '[connectors.other]\ntype = "local"\npath = "other.db"\n')
        import os

        keyring = Keyring(os.environ["GOMME_SECRET_KEY"].encode())
        engine = make_engine(state_url)
        upgrade(engine)
        rows = [
            ("2026-10-01T09:00:00.000000Z", "crm", "contact", "c-1", "anonymise", "retention-prospect", "run-a", None,
             "applied", None),
            ("2026-10-01T09:00:01.000000Z", "crm", "lead", "l-2", "restrict_all", "erasure-request", "run-a", None,
             "applied", None),
            ("2026-10-15T12:00:00.000000Z", "other", "contact", "c-1", "anonymise", "request-erase", "run-b", "req-1",
             "applied", None),
            ("2026-11-02T08:30:00.000000Z", "crm", "contact", "c-3", "anonymise", "retention-prospect", "run-c", None,
             "failed", "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        ]
        with session(engine) as db:
            for ts, crm, obj, rid, action, rule, run, request, outcome, error in rows:
                append(db, AuditEntry(
                    crm=crm, object_type=obj, record_key=keyring.record_key(f"{crm}:{obj}:{rid}"), action=action,
                    rule_id=rule, legal_basis="GDPR Art 5(1)(e)", policy_hash="ab" * 32, outcome=outcome,
                    actor="test", fields=("email", "last_name"), run_id=run, request_id=request, error_code=error,
                ), ts, keyring)
        engine.dispose()

    def run(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--config", str(self.config), "--log-level", "error", *args])
        return result.exit_code, result.output

    def out(self, *args: str) -> tuple[int, str]:
        """The exit code and stdout alone, as a script reading JSON or CSV gets it (stderr has the header)."""
        result = runner.invoke(app, ["--config", str(self.config), "--log-level", "error", *args])
        return result.exit_code, result.stdout


@pytest.fixture
def log(tmp_path: Path, state_url: str) -> Log:
    return Log(tmp_path, state_url)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], [1, 2, 3, 4]),
        (["--run", "run-a"], [1, 2]),
        (["--request", "req-1"], [3]),
        (["--rule", "retention-prospect"], [1, 4]),
        (["--action", "restrict_all"], [2]),
        (["--connector", "other"], [3]),
        (["--record", "c-1"], [1, 3]),
        (["--record", "c-1", "--connector", "crm"], [1]),
        (["--since", "2026-10-15"], [3, 4]),
        (["--until", "2026-10-15"], [1, 2]),
        (["--since", "2026-10-01T09:00:01Z", "--until", "2026-11-01"], [2, 3]),
        (["--limit", "2"], [3, 4]),  # the last two
        (["--all"], [1, 2, 3, 4]),
    ],
)
def test_log_filters(log: Log, args: list[str], expected: list[int]) -> None:
    code, output = log.out("audit", "log", "--format", "json", *args)
    assert code == 0, output
    assert [json.loads(line)["seq"] for line in output.splitlines()] == expected


def test_log_formats_agree(log: Log) -> None:
    _, as_json = log.out("audit", "log", "--format", "json")
    _, as_csv = log.out("audit", "log", "--format", "csv")
    _, as_table = log.out("audit", "log")
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert [r["seq"] for r in rows] == ["1", "2", "3", "4"]
    assert [json.loads(line)["hash"] for line in as_json.splitlines()] == [r["hash"] for r in rows]
    assert rows[3]["error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION" and rows[0]["fields"] == "email;last_name"
    assert "Audit log" in as_table and "FIELD_CUSTOM_VALIDATION_EXCEPTION" in as_table


def test_bad_dates_are_usage_errors(log: Log) -> None:
    code, output = log.run("audit", "log", "--since", "last tuesday")
    assert code == 2 and "--since" in output


def test_show_prints_one_entry_and_names_a_missing_one(log: Log) -> None:
    code, output = log.out("audit", "show", "3")
    assert code == 0 and json.loads(output)["request_id"] == "req-1"
    code, output = log.run("audit", "show", "99")
    assert code == 2 and "no audit entry #99" in output


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_writes_a_manifest_that_matches_the_file(log: Log, fmt: str) -> None:
    out = log.tmp / f"audit.{fmt}"
    code, output = log.run("audit", "export", "--format", fmt, "--output", str(out), "--since", "2026-10-15")
    assert code == 0, output
    manifest = json.loads((log.tmp / f"audit.{fmt}.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert (manifest["entries"], manifest["first_seq"], manifest["last_seq"]) == (2, 3, 4)
    assert manifest["chain_intact"] and manifest["head_seq"] == 4 and len(manifest["head_hash"]) == 64
    assert manifest["filters"]["since"].startswith("2026-10-15")


def _tamper(url: str, statement: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        drop_append_only_guard(engine, connection)
        connection.execute(text(statement))
    engine.dispose()


def test_checkpoint_detects_truncation_that_leaves_a_valid_chain(log: Log) -> None:
    code, mark = log.out("audit", "checkpoint")
    assert code == 0 and mark.strip().startswith("4:")
    assert log.run("audit", "verify", "--checkpoint", mark.strip())[0] == 0
    _tamper(log.url, "DELETE FROM audit_event WHERE seq >= 3")  # the chain 1..2 alone still verifies
    assert log.run("audit", "verify")[0] == 0
    code, output = log.run("audit", "verify", "--checkpoint", mark.strip())
    assert code == 1 and "truncated" in output


def test_checkpoint_detects_a_rewritten_log(log: Log) -> None:
    _, mark = log.out("audit", "checkpoint")
    _tamper(log.url, "UPDATE audit_event SET hash = '" + "e" * 64 + "' WHERE seq = 4")
    code, output = log.run("audit", "verify", "--checkpoint", mark.strip())
    assert code == 1 and "#4" in output


def test_malformed_checkpoint_is_a_usage_error(log: Log) -> None:
    code, output = log.run("audit", "verify", "--checkpoint", "four:abc")
    assert code == 2 and "SEQ:HASH" in output


REGISTER = """
[register]
controller = "Example SAS, 1 rue de l'Exemple, 75000 Paris, privacy@example.com"
dpo_contact = "dpo@example.com"
purposes = ["Customer relationship management", "Direct marketing (B2B)"]
data_subjects = ["Customers", "Prospects"]
data_categories = ["Identity", "Professional contact details", "Commercial history"]
security_measures = ["TLS", "Least-privilege API users", "Hash-chained audit log"]
[register.systems.crm]
hosting = "OVHcloud, Gravelines (FR)"
transfer_basis = "No transfer outside the EU"
[register.systems.other]
hosting = "Salesforce Hyperforce EU (Frankfurt)"
transfer_basis = "EU-US Data Privacy Framework (Commission decision of 10 July 2023); SCC 2021/914"
"""


@pytest.mark.parametrize("fmt", ["md", "csv", "html"])
def test_register_is_complete_when_the_config_is(log: Log, fmt: str) -> None:
    log.config.write_text(log.config.read_text() + REGISTER)
    code, output = log.run("register", "--format", fmt)
    assert code == 0, output
    for expected in ("Example SAS", "30(1)(e)", "Data Privacy Framework", "prospect: P3Y after last_activity"):
        assert expected in output


def test_register_reports_every_missing_mandatory_item(log: Log) -> None:
    code, output = log.run("register")
    assert code == 1
    for item in ("Controller", "Purposes", "Categories of data subjects", "Categories of personal data",
                 "Hosting of crm", "Transfers outside the EU from other", "security measures"):
        assert "missing (Art 30(1)" in output and item in output, item
    assert "missing (Art 30(1)(a)): Data protection officer" not in output  # recommended, not mandatory


def test_report_renders_in_a_real_browser(tmp_path: Path) -> None:
    browser = Browser(tmp_path)
    demo = runner.invoke(app, ["demo", "--dir", str(tmp_path / "demo")])
    assert demo.exit_code == 0, demo.output
    config = str(tmp_path / "demo" / "config.toml")
    runner.invoke(app, ["--config", config, "request", "erase", "--email", "nobody@example.net", "--now"])
    report = tmp_path / "report.html"
    result = runner.invoke(app, ["--config", config, "audit", "report", "--output", str(report)])
    assert result.exit_code == 0, result.output
    html = report.read_text()
    outside = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not any(ref in outside for ref in ("http://", "https://", "<script", "<link", "src="))  # self-contained
    dom = browser.dom(report)
    for element in ('id="chain-status" class="ok"', 'id="changes-chart"', "<rect", 'id="changes-table"',
                    'id="requests-table"', 'id="policies-table"', 'id="failures-table"', "retention-prospect"):
        assert element in dom, element
    runner.invoke(app, ["--config", config, "audit", "export", "--output", str(tmp_path / "a.jsonl")])
    entries = json.loads((tmp_path / "a.jsonl.manifest.json").read_text())["entries"]
    assert f"Chain intact: {entries} entries verified" in dom
    shot = browser.screenshot(report, tmp_path / "report.png")
    assert shot.startswith(PNG) and len(shot) > 10_000
