"""`gomme policy check|explain|show`: the command logic, apart from the CLI wiring."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from policy_testkit import NOW, at, person
from rich.console import Console

from gomme.commands.policy import check_policy_file, explain_record, show_policy
from gomme.policies.policy import load_pack

CNIL = load_pack("cnil")


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None), out


def test_check_reports_every_problem_with_its_toml_path_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        'extends = "cnil"\n'
        '[[rules]]\nid = "minor"\nages = { FR = 3 }\n'
        '[[rules]]\nid = "vip"\nkind = "match"\naction = "keep"\nall = [{ field = "colour", op = "eq", value = 1 }]\n',
        encoding="utf-8",
    )
    term, out = console()

    assert check_policy_file(path, term) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == f"error: invalid policy in {path}: 3 problem(s)"
    assert lines[1] == "  rules[0].ages.FR: Input should be greater than or equal to 13"
    assert lines[2] == "  rules[1].legal_basis: required"
    assert lines[3].startswith("  rules[1].all[0]: unknown field 'colour'")


@pytest.mark.parametrize(("text", "code"), [('extends = "cnil"\n', 0), ("[[rules]\n", 2)])
def test_check_accepts_a_valid_policy_and_refuses_broken_toml(tmp_path: Path, text: str, code: int) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    term, out = console()

    assert check_policy_file(path, term) == code
    if code == 0:
        assert out.getvalue() == f"{path}: valid, 11 rule(s), policy hash {CNIL.hash}\n"


def test_check_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    term, out = console()
    assert check_policy_file(tmp_path / "nope.toml", term) == 2
    assert "cannot read" in out.getvalue()


def test_explain_lists_every_rule_whether_it_fired_and_why_without_note_text() -> None:
    record = person(
        lifecycle="prospect",
        last_activity_at=at(2020, 1, 1),
        legal_hold=True,
        notes={"description": "Client très pénible. [VIP] suivi OK."},
    )
    term, out = console()

    explain_record(record, CNIL, NOW, term)

    text = out.getvalue()
    assert text.startswith("record local:contact:c-0001\n")
    for rule_id in CNIL.rule_ids:
        assert rule_id in text
    assert "taken as restrict_all" in text and "capped the action" in text
    assert "categories=insulting" in text
    assert "pénible" not in text
    assert "action: restrict_all by rule retention-prospect; together with redact_note; capped by legal-hold" in text


@pytest.mark.parametrize(
    ("record_fields", "last_line"),
    [
        ({"anonymised": True}, "action: keep (anonymise already in effect)"),
        ({"lifecycle": "prospect", "last_activity_at": at(2024, 6, 1)}, "action: keep"),
    ],
)
def test_explain_says_when_nothing_is_to_be_done(record_fields: dict[str, object], last_line: str) -> None:
    term, out = console()
    explain_record(person(**record_fields), CNIL, NOW, term)
    assert out.getvalue().splitlines()[-1] == last_line


def test_show_prints_the_effective_policy_and_its_hash_as_json() -> None:
    stream = io.StringIO()
    show_policy(CNIL, stream)

    document = json.loads(stream.getvalue())
    assert (document["hash"], document["source"]) == (CNIL.hash, "pack:cnil")
    assert [rule["id"] for rule in document["rules"]] == list(CNIL.rule_ids)
