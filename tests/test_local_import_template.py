"""`gomme local import`'s documented inputs: the template, the sniffed separator, unknown columns named once.

The issue's cases: a `description` column rejected every row, the message listed no allowed column, and a
semicolon CSV (the French Excel default) failed. Every person here is synthetic.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.local_import import COLUMNS, sniff_delimiter
from gomme.model.conditions import PullQuery
from gomme.model.records import PersonRecord

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _config(folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'[state]\nurl = "sqlite:///{folder}/state.db"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n'
    )
    return config


def _people(folder: Path) -> list[PersonRecord]:
    with LocalConnector("crm", folder / "crm.db") as crm:
        return sorted(crm.pull(PullQuery()), key=lambda record: record.id)


def _import(folder: Path, file: Path, *options: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(_config(folder)), "local", "import", str(file), *options])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def _write(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file, delimiter=delimiter).writerows(rows)
    return path


def test_the_template_holds_every_column_in_the_documented_order_and_needs_no_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no configuration anywhere gomme looks
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nowhere"))
    monkeypatch.delenv("GOMME_CONFIG", raising=False)
    result = runner.invoke(app, ["local", "import", "--template", "people.csv"])
    assert result.exit_code == 0, result.output
    assert "template written to people.csv: 22 columns" in result.output
    header = (tmp_path / "people.csv").read_text(encoding="utf-8").splitlines()
    assert header == [",".join(COLUMNS)]
    documented = re.findall(r"^\| `(\w+)`", (ROOT / "docs" / "local-import.md").read_text(), flags=re.MULTILINE)
    assert tuple(documented) == COLUMNS


def test_a_filled_in_template_imports(tmp_path: Path) -> None:
    template = tmp_path / "people.csv"
    assert runner.invoke(app, ["local", "import", "--template", str(template), "--delimiter", ";"]).exit_code == 0
    assert template.read_text(encoding="utf-8").startswith("id;object_type;email;")
    with template.open("a", encoding="utf-8") as file:
        file.write("p1;lead;p1@example.org;Test;Person;;FR;1990-01-31;;;prospect;;Rappel, lundi;yes;;;;;;;;\n")
    code, output = _import(tmp_path, template)
    assert code == 0, output
    assert "1 row(s) read: imported 1" in output
    [person] = _people(tmp_path)
    assert (person.id, person.object_type, person.country, person.notes) == (
        "p1",
        "lead",
        "FR",
        {"description": "Rappel, lundi"},
    )
    assert person.opt_outs.email is True


@pytest.mark.parametrize(("name", "problem"), [("people.csv", "already exists"), ("people.xlsx", "name it with .csv")])
def test_the_template_never_replaces_a_file_and_is_a_csv(tmp_path: Path, name: str, problem: str) -> None:
    target = tmp_path / name
    if name == "people.csv":
        target.write_text("my own data\n", encoding="utf-8")
    result = runner.invoke(app, ["local", "import", "--template", str(target)])
    assert result.exit_code == 2
    assert problem in result.output and "nothing was written" in result.output
    assert target.read_text(encoding="utf-8") == "my own data\n" if name == "people.csv" else not target.exists()


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_unknown_columns_are_named_once_with_the_allowed_ones_and_nothing_is_imported(
    tmp_path: Path, suffix: str
) -> None:
    rows = [{"id": f"u{n}", "email": f"u{n}@example.org", "favourite_colour": "blue", "firstname": "Test"}
            for n in range(50)]  # fmt: skip
    file = tmp_path / f"export{suffix}"
    if suffix == ".csv":
        _write(file, [list(rows[0]), *(list(row.values()) for row in rows)])
    else:
        file.write_text(json.dumps(rows), encoding="utf-8")
    code, output = _import(tmp_path, file)
    assert code == 2
    assert output.count("unknown column") == 1, output
    assert "'favourite_colour', 'firstname' (did you mean first_name?)" in output
    assert "The columns gomme imports are: " + ", ".join(COLUMNS) in output
    assert "also description for note" in output and "nothing was imported" in output
    assert "row " not in output and "blue" not in output
    assert _people(tmp_path) == []


def test_a_semicolon_csv_with_a_description_column_imports_every_row(tmp_path: Path) -> None:
    # the issue's file: 50 rows, French Excel's semicolons, notes with commas, Salesforce's `Description`
    header = ["Id", "Email", "First_Name", "Last_Name", "Country", "Description"]
    rows = [[f"f{n:02}", f"f{n}@example.fr", "Test", f"Personne{n}", "France", f"Rappelé le {n}, devis envoyé"]
            for n in range(50)]  # fmt: skip
    code, output = _import(tmp_path, _write(tmp_path / "export.csv", [header, *rows], delimiter=";"))
    assert code == 0, output
    assert "50 row(s) read: imported 50, skipped 0" in output
    people = _people(tmp_path)
    assert len(people) == 50
    assert (people[7].country, people[7].notes) == ("FR", {"description": "Rappelé le 7, devis envoyé"})


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_separator_is_sniffed_even_when_cells_hold_the_others(tmp_path: Path, delimiter: str) -> None:
    rows = [["id", "email", "note"], *([f"s{n}", f"s{n}@example.org", "a, b; c\td | e"] for n in range(5))]
    code, output = _import(tmp_path, _write(tmp_path / "export.csv", rows, delimiter=delimiter))
    assert code == 0, output
    assert [person.notes["description"] for person in _people(tmp_path)] == ["a, b; c\td | e"] * 5


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("email\na@example.org\n", ","),  # one column: no separator at all
        ("id;email\n", ";"),  # a header alone
        ("id|email|note\nx|a@example.org|un, deux, trois\ny|b@example.org|quatre, cinq\n", "|"),
        ('id,note\nx,"a;b;c"\ny,"d;e;f"\n', ","),
    ],
)
def test_sniffing_trusts_the_header_line(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample) == expected


def test_delimiter_overrides_the_sniffed_one_and_a_wrong_one_says_so(tmp_path: Path) -> None:
    file = _write(tmp_path / "export.csv", [["id", "email"], ["d1", "d1@example.org"]], delimiter=";")
    code, output = _import(tmp_path, file, "--delimiter", "tab")
    assert code == 2
    assert "'id;email'" in output and "check --delimiter" in output
    assert _people(tmp_path) == []
    code, output = _import(tmp_path, file, "--delimiter", "semicolon")
    assert code == 0, output
    assert [person.email for person in _people(tmp_path)] == ["d1@example.org"]
    code, output = _import(tmp_path, file, "--delimiter", "x")
    assert code == 2 and "--delimiter: 'x' is not one of" in output


def test_column_names_ignore_case_and_spaces_but_not_a_column_given_twice(tmp_path: Path) -> None:
    code, output = _import(tmp_path, _write(tmp_path / "a.csv", [[" Email ", "NOTE"], ["c@example.org", "hi"]]))
    assert code == 0, output
    assert [(p.email, p.notes) for p in _people(tmp_path)] == [("c@example.org", {"description": "hi"})]
    code, output = _import(tmp_path, _write(tmp_path / "b.csv", [["note", "Description"], ["one", "two"]]))
    assert code == 2
    assert "names the same column twice (note" in output and "nothing was imported" in output
