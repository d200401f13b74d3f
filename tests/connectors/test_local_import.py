"""Importing a CSV/JSON export into the local connector: good rows land, bad rows are reported without values."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gomme.connectors.local import LocalConnector
from gomme.connectors.local_import import ImportFileError, ImportReport, RowError, import_file
from gomme.model.conditions import PullQuery
from gomme.model.records import Lifecycle, OptOuts, PersonRecord

GOOD_ROW: dict[str, str] = {
    "id": "row-1",
    "object_type": "lead",
    "email": " Test.Person@example.com ",
    "first_name": "Test",
    "last_name": "Person",
    "phone": "+44 7700 900123",
    "country": "gb",
    "birthdate": "1990-04-01",
    "created_at": "2021-03-04T10:00:00",
    "last_activity_at": "2023-05-06T08:30:00+02:00",
    "lifecycle": "former_customer",
    "contract_end": "2023-12-31",
    "erasure_requested": "yes",
    "legal_hold": "0",
    "opt_out_email": "TRUE",
    "opt_out_phone": "",
    "note": "Asked for the brochure.",
}


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[LocalConnector]:
    with LocalConnector("local", tmp_path / "crm.db") as connector:
        yield connector


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = list(dict.fromkeys(column for row in rows for column in row))
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_json(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def everyone(crm: LocalConnector) -> list[PersonRecord]:
    return list(crm.pull(PullQuery()))


@pytest.mark.parametrize("suffix", [".csv", ".json", ".jsonl"])
def test_a_good_row_is_imported_with_its_values_parsed(crm: LocalConnector, tmp_path: Path, suffix: str) -> None:
    # given one valid row in each supported format
    path = tmp_path / f"export{suffix}"
    if suffix == ".csv":
        write_csv(path, [GOOD_ROW])
    elif suffix == ".json":
        write_json(path, [GOOD_ROW])
    else:
        write_jsonl(path, [json.dumps(GOOD_ROW)])
    # when it is imported
    report = import_file(crm, path)
    # then it is stored in canonical form
    assert report == ImportReport(imported=1, skipped=0, errors=(), read=1)
    (record,) = everyone(crm)
    assert (record.id, record.object_type, record.email, record.country) == (
        "row-1",
        "lead",
        "Test.Person@example.com",
        "GB",
    )
    assert record.birthdate == dt.date(1990, 4, 1)
    assert record.created_at == dt.datetime(2021, 3, 4, 10, tzinfo=dt.UTC)  # no offset: taken as UTC
    assert record.last_activity_at == dt.datetime(2023, 5, 6, 6, 30, tzinfo=dt.UTC)
    assert record.lifecycle is Lifecycle.FORMER_CUSTOMER
    assert record.contract_end == dt.date(2023, 12, 31)
    assert (record.erasure_requested, record.legal_hold) == (True, False)
    assert record.opt_outs == OptOuts(email=True)
    assert record.notes == {"description": "Asked for the brochure."}


def test_json_accepts_native_booleans_and_nulls(crm: LocalConnector, tmp_path: Path) -> None:
    row = {"id": "j1", "legal_hold": True, "opt_out_email": 0, "country": None, "note": None}
    report = import_file(crm, write_json(tmp_path / "export.json", [row]))
    assert report.imported == 1
    (record,) = everyone(crm)
    assert record.legal_hold and not record.opt_outs.email and record.country is None and record.notes == {}


def test_a_row_without_id_gets_a_fresh_one(crm: LocalConnector, tmp_path: Path) -> None:
    rows = [{"email": "first@example.com"}, {"email": "second@example.com"}]
    import_file(crm, write_csv(tmp_path / "export.csv", rows))
    records = everyone(crm)
    assert len({record.id for record in records}) == 2
    assert {record.object_type for record in records} == {"contact"}


def test_importing_again_updates_rows_with_the_same_id(crm: LocalConnector, tmp_path: Path) -> None:
    import_file(crm, write_csv(tmp_path / "first.csv", [GOOD_ROW]))
    report = import_file(crm, write_csv(tmp_path / "second.csv", [{**GOOD_ROW, "note": "", "legal_hold": "yes"}]))
    assert report.imported == 1
    (record,) = everyone(crm)
    assert record.legal_hold and record.notes == {}


BAD_CELLS = [
    ("birthdate", "01/04/1990", "not an ISO-8601 date"),
    ("contract_end", "2023-02-30", "not an ISO-8601 date"),
    ("created_at", "last tuesday", "not an ISO-8601 date-time"),
    ("legal_hold", "maybe", "not a boolean"),
    ("erasure_requested", "ja", "not a boolean"),
    ("lifecycle", "vip", "Input should be"),
    ("country", "Atlantis", "not a country gomme recognises"),
    ("country", "N/A", "not a country gomme recognises"),
    ("email", "secret-person at example.com", "not an email address"),
    ("object_type", "account", "Input should be"),
]  # an unknown column stops the whole file: tests/test_local_import_template.py


@pytest.mark.parametrize(("column", "cell", "problem"), BAD_CELLS, ids=[f"{c}-{p}" for c, _, p in BAD_CELLS])
@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_a_bad_cell_stops_the_import_or_skips_its_row_and_is_reported_without_its_value(
    crm: LocalConnector, tmp_path: Path, suffix: str, column: str, cell: str, problem: str
) -> None:
    # given a file whose second row has one bad cell
    rows = [{**GOOD_ROW, "id": "ok-1"}, {**GOOD_ROW, "id": "bad-2", column: cell}, {**GOOD_ROW, "id": "ok-3"}]
    path = tmp_path / f"export{suffix}"
    write_csv(path, rows) if suffix == ".csv" else write_json(path, rows)
    # when it is imported: by default nothing lands, and the bad row is named by row and column only
    strict = import_file(crm, path)
    assert (strict.read, strict.imported, strict.rejected) == (3, 0, 1)
    assert [(error.row, error.column) for error in strict.errors] == [(2, column)]
    assert problem in strict.errors[0].problem
    assert cell not in str(strict.errors[0])
    assert everyone(crm) == []
    # with skip_invalid the other rows land
    report = import_file(crm, path, skip_invalid=True)
    assert (report.read, report.imported, report.skipped) == (3, 2, 1)
    assert sorted(record.id for record in everyone(crm)) == ["ok-1", "ok-3"]


def test_every_problem_of_a_row_is_reported(crm: LocalConnector, tmp_path: Path) -> None:
    row = {"email": "nobody", "birthdate": "soon", "legal_hold": "perhaps"}
    report = import_file(crm, write_csv(tmp_path / "export.csv", [row]))
    assert (report.rejected, report.imported) == (1, 0)
    assert {error.column for error in report.errors} == {"email", "birthdate", "legal_hold"}


def test_a_csv_row_with_more_cells_than_columns_is_skipped(crm: LocalConnector, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("id,email\na1,a@example.com\na2,b@example.com,private extra cell\n", encoding="utf-8")
    report = import_file(crm, path, skip_invalid=True)
    assert (report.imported, report.skipped) == (1, 1)
    assert report.errors == (RowError(2, "", "more cells than header columns"),)


def test_jsonl_reports_broken_lines_and_non_objects(crm: LocalConnector, tmp_path: Path) -> None:
    lines = [json.dumps({"id": "a"}), '{"id": "b", "email": "unterminated', "", "[1, 2]", json.dumps({"id": "c"})]
    report = import_file(crm, write_jsonl(tmp_path / "export.jsonl", lines), skip_invalid=True)
    assert report.imported == 2
    assert report.errors == (RowError(2, "", "not valid JSON"), RowError(3, "", "not an object"))
    assert "unterminated" not in " ".join(map(str, report.errors))


def test_a_csv_with_a_byte_order_mark_is_read(crm: LocalConnector, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("\ufeffid,country\nx1,fr\n", encoding="utf-8")
    assert import_file(crm, path).imported == 1
    assert everyone(crm)[0].country == "FR"


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("export.xlsx", "", "expected one of"),
        ("export.json", '{"id": "a"}', "expected a JSON list"),
        ("export.json", "[{", "not valid JSON"),
    ],
)
def test_an_unreadable_file_is_refused_as_a_whole(
    crm: LocalConnector, tmp_path: Path, name: str, content: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=problem):
        import_file(crm, path)
    assert everyone(crm) == []


def test_row_errors_read_as_one_line_each() -> None:
    assert str(RowError(7, "birthdate", "not an ISO-8601 date")) == "row 7, birthdate: not an ISO-8601 date"
    assert str(RowError(3, "", "not an object")) == "row 3, (row): not an object"


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "row", "column", "problem"),
    [
        ("id,email,first_name\na1,a\x00@example.com,Ann\n", 1, "email", "control character"),
        ("id,email,first_name\na1,a@example.com,An\x00n\n", 1, "first_name", "control character"),
        ('id,email,first_name\na1,a@example.com,"Ann\nBob"\n', 1, "first_name", "line break"),
        # the case: a note's quote left open swallows the next row, email and all
        ('id,email,note\na1,a@example.com,"called back\na2,b@example.com,wants a quote"\n', 1, "note",
         "holds what looks like another row"),
        ("id,email,first_name\na1,a@example.com," + "x" * 300 + "\n", 1, "first_name", "at most 255 characters"),
    ],
)  # fmt: skip
def test_unsafe_cells_reject_their_row_and_nothing_is_imported(
    crm: LocalConnector, tmp_path: Path, text: str, row: int, column: str, problem: str
) -> None:
    report = import_file(crm, _csv(tmp_path, text))
    assert (report.imported, report.rejected) == (0, 1)
    assert [(error.row, error.column) for error in report.errors] == [(row, column)]
    assert problem in report.errors[0].problem
    assert everyone(crm) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('id,note\na1,"never closed\na2,fine\n', "row 1: a quoted cell is never closed"),
        ('id,note\na1,"closed" then more\n', "row 1: a quote inside a cell is not doubled"),
        ("id,note\na1,ok\na2," + "x" * 140_000 + "\n", "row 2: a cell is longer than 131,072 characters"),
        ("id,note\na1,ok\na2,caf\xe9\n", "not UTF-8 text"),
    ],
)
def test_a_file_that_cannot_be_parsed_stops_with_its_row_and_imports_nothing(
    crm: LocalConnector, tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode())
    with pytest.raises(ImportFileError, match="nothing was imported") as caught:
        import_file(crm, path)
    assert problem in str(caught.value)
    assert everyone(crm) == []


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_comma_semicolon_and_tab_separated_files_are_read(
    crm: LocalConnector, tmp_path: Path, separator: str
) -> None:
    text = separator.join(["id", "email", "country"]) + "\n" + separator.join(["s1", "s@example.com", "FR"]) + "\n"
    report = import_file(crm, _csv(tmp_path, text))
    assert (report.read, report.imported) == (1, 1)
    assert (everyone(crm)[0].email, everyone(crm)[0].country) == ("s@example.com", "FR")


def test_the_summary_adds_up_with_repeated_ids(crm: LocalConnector, tmp_path: Path) -> None:
    rows = [{"id": "r1", "email": "a@example.com"}, {"id": "r1", "email": "b@example.com"}, {"id": "r2"}]
    report = import_file(crm, write_csv(tmp_path / "export.csv", rows))
    assert (report.read, report.imported, report.skipped, report.repeated) == (3, 2, 0, 1)
    assert report.read == report.imported + report.skipped + report.repeated
    assert {record.id: record.email for record in everyone(crm)} == {"r1": "b@example.com", "r2": None}


CELL = st.text(alphabet=st.sampled_from([*'ab é,;"\n\r\t\x00@.-1', "\u2028"]), max_size=12)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(CELL, CELL, CELL), min_size=1, max_size=8), raw_tail=st.sampled_from(["", '"', "\x00"]))
def test_any_csv_is_imported_whole_or_not_at_all_and_the_counts_add_up(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str, str]], raw_tail: str
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["first_name", "last_name", "note"])
        writer.writerows(rows)
        file.write(raw_tail)  # a stray quote or NUL at the end, as damaged exports have
    with LocalConnector("local", folder / "crm.db") as crm:
        try:
            report = import_file(crm, path)
        except ImportFileError as error:
            assert "nothing was imported" in str(error)
            assert everyone(crm) == []
            return
        stored = everyone(crm)
    if report.errors:
        assert stored == [] and report.imported == 0 and report.rejected >= 1
    else:
        assert report.read == report.imported + report.skipped + report.repeated == len(stored)
    for record in stored:
        assert not any(c in (record.first_name or "") + (record.last_name or "") for c in "\x00\n\r")
