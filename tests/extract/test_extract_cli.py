"""`gomme export --pseudonymise` on the local CRM, as a controller sees it: the file, the key, the audit log, the
Art 30 register, and the refusals.

Every person is synthetic. Names avoid the letters a-f only, so a name can never be mistaken for a piece of a
hexadecimal pseudonym when the extract is searched for it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import stat
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.model.records import Lifecycle, OptOuts, PersonRecord
from gomme.state.db import make_engine
from gomme.state.models import AuditEvent

runner = CliRunner()
TODAY = dt.datetime.now(dt.UTC).date()
HEALTH = "Zoltan is on chemotherapy until March."
NEUTRAL = "Wants the annual plan in spring."
PEOPLE = [
    # id, email, first, last, phone, born (years ago), country
    ("c-zulu-01", "zoltan.quimby@example.org", "Zoltan", "Quimby", "+33 6 71 42 93 15", 34, "FR"),
    ("c-zulu-02", "olga.pryor@example.net", "Olga", "Pryor", "+33 7 82 15 64 30", 36, "FR"),
    ("c-zulu-03", "ivor.kingsley@example.com", "Ivor", "Kingsley", "+44 7700 900417", 41, "GB"),
    ("c-zulu-04", "wilma.tomkins@example.org", "Wilma", "Tomkins", "+49 1512 3456789", 45, "DE"),
    ("c-zulu-05", "mirko.stuhl@example.net", "Mirko", "Stuhl", "+33 6 19 27 38 46", 16, "FR"),
    ("c-zulu-06", "ursula.noyes@example.com", "Ursula", "Noyes", "+33 6 55 44 33 29", 67, "FR"),
]
RESTRICTED = ("c-zulu-07", "silvio.ortiz@example.org", "Silvio", "Ortiz", "+33 6 90 80 70 61", 50, "FR")
TWIN = "l-zulu-08"  # a lead holding the same person as c-zulu-01 (same email, other spelling)
REGISTER = """
[register]
controller = "Example SAS, 1 rue de l'Exemple, 75000 Paris"
purposes = ["Customer relationship management"]
data_subjects = ["Customers"]
data_categories = ["Identity", "Contact details"]
security_measures = ["TLS"]
[register.systems.crm]
hosting = "OVHcloud, Gravelines (FR)"
transfer_basis = "No transfer outside the EU"
"""


def _born(years: int) -> dt.date:
    """A birth date `years` ago on 1 January: the person is exactly `years` old all year."""
    return dt.date(TODAY.year - years, 1, 1)


def _record(row: tuple[str, str, str, str, str, int, str], **extra: object) -> PersonRecord:
    record_id, email, first, last, phone, age, country = row
    notes = {"description": f"{first} {last} called. {NEUTRAL}"} if record_id != "c-zulu-01" else {
        "description": f"{HEALTH} {NEUTRAL} Reach {first} at {email} or {phone}."}
    return PersonRecord(
        crm="crm", object_type="contact", id=record_id, email=email, first_name=first, last_name=last, phone=phone,
        country=country, birthdate=_born(age), lifecycle=Lifecycle.CUSTOMER, notes=notes,
        modified_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), **extra,  # type: ignore[arg-type]
    )


def _seed(tmp_path: Path, state_url: str, register: str = "") -> Path:
    twin = PersonRecord(crm="crm", object_type="lead", id=TWIN, email=" Zoltan.Quimby@Example.org ", country="FR",
                        birthdate=_born(34), lifecycle=Lifecycle.PROSPECT,
                        modified_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    with LocalConnector("crm", tmp_path / "crm.db") as crm:
        crm.add([*(_record(row) for row in PEOPLE), _record(RESTRICTED, restricted=True,
                                                           opt_outs=OptOuts(processing=True)), twin])
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nurl = "{state_url}"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n{register}')
    return config


def _export(config: Path, output: Path, *extra: str, fields: str = "id,email,phone,first_name,last_name,birthdate,"
            "country,lifecycle", recipient: str = "Acme Analytics") -> tuple[int, str, str]:
    result = runner.invoke(app, [
        "--config", str(config), "--log-level", "error", "export", "--pseudonymise", "--connector", "crm",
        "--fields", fields, "--purpose", "churn scoring", "--recipient", recipient, "--output", str(output), *extra,
    ])  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _identifiers() -> list[str]:
    found = []
    for record_id, email, first, last, phone, _, _ in [*PEOPLE, RESTRICTED]:
        digits = re.sub(r"\D", "", phone)
        found += [record_id, email, first, last, phone, digits, digits[-9:], email.split("@")[0]]
    return [*found, TWIN, "Zoltan.Quimby@Example.org"]


def _audit(state_url: str) -> list[AuditEvent]:
    engine = make_engine(state_url)
    with Session(engine) as db:
        events = list(db.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))
    engine.dispose()
    return events


def test_the_extract_holds_no_seeded_identifier_and_its_key_is_kept_apart(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url)
    output = tmp_path / "extract.csv"

    code, _, err = _export(config, output, "--notes", "--min-k", "1")

    assert code == 0, err
    text = output.read_text(encoding="utf-8")
    leaks = [needle for needle in _identifiers() if needle.casefold() in text.casefold()]
    assert leaks == []
    rows = _rows(output)
    assert len(rows) == 7  # 7 people and a twin lead, less the restricted person (Art 18(2): stored only)
    assert "1 restricted" in err
    assert set(rows[0]) == {"record", "email_pseudonym", "phone_pseudonym", "first_name_pseudonym",
                            "last_name_pseudonym", "age_band", "country", "lifecycle", "notes"}
    assert all(re.fullmatch(r"[0-9a-f]{32}", row["record"]) for row in rows)
    key_file = tmp_path / "extract.csv.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = json.loads(key_file.read_text())["key"]
    assert key not in text
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_generalised_quasi_identifiers_and_k(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url)
    output = tmp_path / "extract.csv"

    code, _, err = _export(config, output, fields="birthdate,country")

    assert code == 0, err
    bands = sorted((row["age_band"], row["country"]) for row in _rows(output))
    assert bands == [("30-39", "FR"), ("30-39", "FR"), ("30-39", "FR"), ("40-49", "DE"), ("40-49", "GB"),
                     ("60-69", "FR"), ("<18", "FR")]
    assert "k = 1 over age_band, country (5 group(s))" in err


def test_same_person_same_pseudonym_within_an_extract_and_new_ones_in_the_next(
    tmp_path: Path, state_url: str
) -> None:
    config = _seed(tmp_path, state_url)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"

    assert _export(config, first, fields="email,country")[0] == 0
    assert _export(config, second, fields="email,country")[0] == 0

    rows = _rows(first)
    emails = [row["email_pseudonym"] for row in rows]
    assert len(set(emails)) == len(emails) - 1  # the contact and the lead of one person share one pseudonym
    again = _rows(second)
    assert not {row["record"] for row in rows} & {row["record"] for row in again}
    assert not set(emails) & {row["email_pseudonym"] for row in again}
    assert len({row["record"] for row in rows}) == len(rows)


def test_the_controller_reidentifies_a_pseudonym_with_the_key(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url)
    output = tmp_path / "extract.csv"
    assert _export(config, output, fields="email,country")[0] == 0
    rows = _rows(output)
    key = str(tmp_path / "extract.csv.key")

    found = {}
    for row in rows:
        result = runner.invoke(app, ["--config", str(config), "export", "reidentify", "--key", key,
                                     "--pseudonym", row["record"]])
        assert result.exit_code == 0, result.output
        found[row["record"]] = result.stdout.split()[2]
    assert sorted(found.values()) == sorted([p[0] for p in PEOPLE if p[0] != "c-zulu-07"] + [TWIN])
    for pseudonym, record_id in found.items():  # and the other way, to tell the processor which row changed
        object_type = "lead" if record_id == TWIN else "contact"
        back = runner.invoke(app, ["export", "pseudonym", "--key", key, "--object-type", object_type,
                                   "--id", record_id])
        assert (back.exit_code, back.stdout.strip()) == (0, pseudonym)

    shared = next(row["email_pseudonym"] for row in rows if found[row["record"]] == TWIN)
    by_email = runner.invoke(app, ["--config", str(config), "export", "reidentify", "--key", key,
                                   "--pseudonym", shared])
    assert by_email.exit_code == 0
    assert sorted(line.split()[2] for line in by_email.stdout.splitlines()) == ["c-zulu-01", TWIN]

    other = runner.invoke(app, ["--config", str(config), "export", "reidentify", "--key", key,
                                "--pseudonym", "0" * 32])
    assert other.exit_code == 1 and "no record" in other.stderr


def test_min_k_not_met_writes_nothing_and_audits_nothing(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url)
    output = tmp_path / "extract.csv"

    code, _, err = _export(config, output, "--min-k", "2", fields="email,birthdate,country")

    assert code == 2
    assert "k = 1 is below --min-k 2" in err and "nothing written" in err
    assert not list(tmp_path.glob("extract*")) and not list(tmp_path.glob(".*"))
    assert [e for e in _audit(state_url) if e.object_type == "extract"] == []


def test_min_k_met_is_written(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url)
    output = tmp_path / "extract.jsonl"

    code, _, err = _export(config, output, "--min-k", "7", fields="lifecycle,country,email", recipient="Beta")

    assert code == 2  # country alone splits the rows: GB and DE are alone
    code, _, err = _export(config, output, "--min-k", "7", fields="lifecycle,email", recipient="Beta")
    assert code == 0, err
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == 7 and {line["lifecycle"] for line in lines} == {"customer", "prospect"}
    assert "k = 7 over none chosen" in err  # no quasi-identifier: every row is in one group


def test_notes_are_dropped_unless_asked_for_and_then_redacted(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url)
    dropped, redacted = tmp_path / "dropped.csv", tmp_path / "redacted.csv"

    assert _export(config, dropped, fields="country")[0] == 0
    assert _export(config, redacted, "--notes", fields="country")[0] == 0

    assert "notes" not in _rows(dropped)[0]
    notes = [json.loads(row["notes"])["description"] for row in _rows(redacted) if row["notes"]]
    assert len(notes) == 6  # the lead has no note
    assert all(NEUTRAL in note for note in notes)
    assert "chemotherapy" not in redacted.read_text()
    # Zoltan's health sentence and the one with his email and phone; in each other note, the sentence naming them.
    assert sorted(note.count("[redacted]") for note in notes) == [1, 1, 1, 1, 1, 2]


def test_the_extract_is_audited_without_values_and_listed_in_the_register(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url, REGISTER)
    output = tmp_path / "extract.csv"
    code, _, err = _export(config, output, "--transfer-basis", "SCC 2021/914 (processor in the US)",
                           fields="email,birthdate,country")
    assert code == 0, err

    (event,) = [e for e in _audit(state_url) if e.object_type == "extract"]
    fingerprint = json.loads((tmp_path / "extract.csv.key").read_text())["fingerprint"]
    assert event.action == "pseudonymised extract" and event.crm == "crm"
    assert json.loads(event.fields) == ["email", "birthdate", "country"]
    assert event.record_key == fingerprint and f"key={fingerprint}" in (event.evidence or "")
    assert "rows=7" in (event.evidence or "") and "k=1" in (event.evidence or "")
    assert event.legal_basis.startswith("GDPR Art 28 (processor)")
    disclosure = json.loads(event.disclosure or "")
    assert disclosure["recipient"] == "Acme Analytics" and disclosure["purpose"] == "churn scoring"
    assert disclosure["transfer_basis"] == "SCC 2021/914 (processor in the US)"
    dump = json.dumps([e.model_dump() for e in _audit(state_url)])
    assert [needle for needle in _identifiers() if needle.casefold() in dump.casefold()] == []

    register = runner.invoke(app, ["--config", str(config), "register"])
    assert register.exit_code == 0, register.output
    assert "Acme Analytics (processor, pseudonymised extracts)" in register.stdout
    assert ("| 30(1)(e) | Transfers outside the EU to Acme Analytics (pseudonymised extracts), and safeguards | "
            "SCC 2021/914 (processor in the US) |") in register.stdout
    assert "1 extract(s) of crm" in register.stdout and "purpose: churn scoring" in register.stdout
    assert runner.invoke(app, ["--config", str(config), "audit", "verify"]).exit_code == 0


def test_the_register_asks_for_a_missing_transfer_basis(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url, REGISTER)
    assert _export(config, tmp_path / "extract.csv", fields="country")[0] == 0

    register = runner.invoke(app, ["--config", str(config), "register"])

    assert register.exit_code == 1
    assert ("missing (Art 30(1)(e)): Transfers outside the EU to Acme Analytics (pseudonymised extracts), and "
            "safeguards — pass --transfer-basis") in register.stderr

    # the next extract to that recipient states it: the register is complete again
    assert _export(config, tmp_path / "next.csv", "--transfer-basis", "No transfer outside the EU",
                   fields="country")[0] == 0
    again = runner.invoke(app, ["--config", str(config), "register"])
    assert again.exit_code == 0, again.stderr
    assert "2 extract(s) of crm" in again.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--connector", "nope"], "no connector named nope"),
        (["--fields", "emial"], "unknown field 'emial'; choose among"),
        (["--fields", "notes.description"], "notes are dropped unless you add --notes"),
        (["--output", "{tmp}/missing/extract.csv"], "the directory {tmp}/missing does not exist"),
        (["--min-k", "0"], "--min-k: give a group size of 1 or more"),
        (["--quasi", "phone"], "--quasi: 'phone' is not among --fields"),
        (["--key-output", "{tmp}/extract.csv"], "must not be written over the extract"),
    ],
    ids=["unknown connector", "unknown field", "notes field", "missing directory", "min-k 0", "quasi", "key on file"],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    config = _seed(tmp_path, f"sqlite:///{tmp_path}/state.db")
    base = {"--connector": "crm", "--fields": "email,country", "--output": f"{tmp_path}/extract.csv"}
    base.update(dict(zip(args[::2], (a.replace("{tmp}", str(tmp_path)) for a in args[1::2]), strict=True)))
    result = runner.invoke(app, ["--config", str(config), "export", "--pseudonymise", "--purpose", "p",
                                 "--recipient", "r", *(item for pair in base.items() for item in pair)])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected.replace("{tmp}", str(tmp_path)) in errors[0], result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "extract.csv").exists() and not (tmp_path / "extract.csv.key").exists()
    assert not list(tmp_path.glob(".*"))


def test_an_existing_output_is_never_overwritten(tmp_path: Path) -> None:
    config = _seed(tmp_path, f"sqlite:///{tmp_path}/state.db")
    output = tmp_path / "extract.csv"
    output.write_text("kept\n")
    code, _, err = _export(config, output, fields="country")
    assert code == 2 and "already exists" in err
    assert output.read_text() == "kept\n" and not (tmp_path / "extract.csv.key").exists()


def test_without_pseudonymise_nothing_is_extracted(tmp_path: Path) -> None:
    config = _seed(tmp_path, f"sqlite:///{tmp_path}/state.db")
    result = runner.invoke(app, ["--config", str(config), "export", "--connector", "crm", "--fields", "country",
                                 "--purpose", "p", "--recipient", "r", "--output", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "add --pseudonymise" in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_the_logs_and_the_terminal_name_no_one(tmp_path: Path) -> None:
    config = _seed(tmp_path, f"sqlite:///{tmp_path}/state.db")
    result = runner.invoke(app, [
        "--config", str(config), "--log-format", "json", "--log-level", "debug", "export", "--pseudonymise",
        "--connector", "crm", "--fields", "id,email,phone,first_name,last_name,birthdate,country", "--notes",
        "--purpose", "p", "--recipient", "r", "--output", str(tmp_path / "extract.csv"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"event": "extract_written"' in result.stderr
    assert [needle for needle in _identifiers() if needle.casefold() in result.output.casefold()] == []


@pytest.mark.parametrize("content", ["", "not json", '{"format": "something else"}',
                                     '{"format": "gomme extract key v1", "key": "00", "fingerprint": "x"}'])
def test_reidentify_refuses_a_file_that_is_not_an_extract_key(tmp_path: Path, content: str) -> None:
    config = _seed(tmp_path, f"sqlite:///{tmp_path}/state.db")
    key = tmp_path / "bad.key"
    key.write_text(content)
    result = runner.invoke(app, ["--config", str(config), "export", "reidentify", "--key", str(key),
                                 "--pseudonym", "0" * 32])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "not an extract key file" in result.stderr or "does not match its fingerprint" in result.stderr
