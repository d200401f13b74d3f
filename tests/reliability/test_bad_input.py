"""Bad input never crashes gomme: arbitrary config data and files get a clear error (exit 2), and odd
CRM records (huge notes, emoji, RTL text, quotes, invalid emails, unknown countries) are processed or
reported and skipped."""

from __future__ import annotations

import datetime as dt
import string
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gomme.cli import app
from gomme.config import ConfigError, parse_config

runner = CliRunner()

KEYS = ["state", "url", "key_file", "logging", "format", "level", "sweep", "batch_size", "max_changes", "policy",
        "extends", "rules", "id", "kind", "lifecycle", "after", "action", "connectors", "type", "path", "local",
        "salesforce", "hubspot", "instance_url", "access_token_env", "schedules", "job", "cron", "every",
        "register", "systems", "requests", "export_dir", "enabled", "legal_basis"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
    st.text(max_size=20), st.sampled_from(["cnil", "local", "P3Y", "5%", "0 3 * * *", "15m", "prospect",
                                           "anonymise", "retention", "sqlite:///x.db", "nope"]),
    st.dates(), st.datetimes(timezones=st.just(dt.UTC)),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), documents, max_size=6))
def test_any_config_data_is_either_valid_or_a_config_error(data: dict[str, Any]) -> None:
    try:
        parse_config(data, source="fuzz", base_dir=Path("/nonexistent"))
    except ConfigError as error:
        assert error.issues and all(str(issue) for issue in error.issues)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400) | st.text(alphabet=string.printable + "éà€😀\u202e", max_size=400))
def test_any_config_file_gets_exit_0_or_2_never_a_traceback(tmp_path: Path, content: bytes | str) -> None:
    path = tmp_path / "config.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["--config", str(path), "config", "check"])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "O'Brien", 'Say "hi"', "back\\slash", "100% _under_", "'; DROP TABLE person; --", "\u202eevil\u202c",
        "שלום עולם", "مرحبا", "😀👍🏽", "zero\u200bwidth", "", " ", "\x00nul", "line\nbreak",
    ]),
    st.just("x" * 32_000),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(ODD_TEXT, ODD_TEXT, ODD_TEXT, st.sampled_from(["FR", "ZZ", "", "fr", "Narnia", None]),
                          st.booleans(), st.booleans()), min_size=1, max_size=8))
def test_odd_records_sweep_without_crashing(tmp_path_factory: Any, rows: list[tuple[Any, ...]]) -> None:
    from gomme.connectors.local import LocalConnector
    from gomme.model.records import Lifecycle, PersonRecord

    directory = tmp_path_factory.mktemp("odd")
    now = dt.datetime.now(dt.UTC)
    people = [
        PersonRecord(crm="crm", object_type="contact", id=f"p{i}", email=email, first_name=name, last_name=name,
                     country=country, notes={"description": note}, erasure_requested=erase, legal_hold=hold,
                     lifecycle=Lifecycle.PROSPECT, created_at=now - dt.timedelta(days=2000))
        for i, (email, name, note, country, erase, hold) in enumerate(rows)
    ]
    with LocalConnector("crm", directory / "crm.db") as crm:
        crm.add(people)
    config = directory / "config.toml"
    config.write_text('[state]\nurl = "sqlite:///state.db"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n')
    result = runner.invoke(app, ["--config", str(config), "--log-level", "error", "sweep", "--apply",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["--config", str(config), "--log-level", "error", "sweep", "--format", "json"])
    assert again.exit_code == 0 and '"record_id"' not in again.output  # everything due was done


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(ODD_TEXT, min_size=0, max_size=7), min_size=1, max_size=6))
def test_odd_csv_imports_report_bad_rows_and_never_crash(tmp_path_factory: Any, rows: list[list[str]]) -> None:
    import csv

    directory = tmp_path_factory.mktemp("csv")
    path = directory / "people.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["email", "first_name", "last_name", "country", "birthdate", "note", "lifecycle"])
        writer.writerows(rows)
    config = directory / "config.toml"
    config.write_text('[state]\nurl = "sqlite:///state.db"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n')
    result = runner.invoke(app, ["--config", str(config), "local", "import", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "imported" in result.output


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([".csv", ".json", ".jsonl"]), st.binary(max_size=300) | st.sampled_from(
    [b"email,first_name\n\xff\xfeab,c\n", b'{"a": ', b"[1, 2]", b'{"email": "x"}\n{', b"\xef\xbb\xbfemail\nx@y.z\n"]))
def test_any_import_file_gets_a_clear_outcome(tmp_path: Path, suffix: str, content: bytes) -> None:
    (tmp_path / "crm").mkdir(exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text('[state]\nurl = "sqlite:///state.db"\n[connectors.crm]\ntype = "local"\npath = "crm/crm.db"\n')
    path = tmp_path / f"people{suffix}"
    path.write_bytes(content)
    result = runner.invoke(app, ["--config", str(config), "local", "import", str(path)])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.text(alphabet=string.printable + "éà€😀", max_size=300) | st.sampled_from([
    '[[rules]]\nid = "x"\nkind = "retention"\nafter = "3y"\n', 'extends = "nope"\n', "[[rules]]\nkind = 5\n",
    'extends = "cnil"\n[[rules]]\nid = "minor"\nages = { XX = "old" }\n', '[[rules]]\nid="m"\nkind="match"\n']))
def test_any_policy_file_gets_exit_0_or_2_never_a_traceback(tmp_path: Path, content: bytes | str) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
