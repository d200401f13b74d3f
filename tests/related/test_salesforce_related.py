"""Erasure and redaction reach Salesforce Tasks, Events and Cases: the fake org after `gomme sweep --apply`.

Seeded (synthetic), in an org with Shared Activities on: Ada asked to be forgotten (Individual.ShouldForget), Bo
is kept. A Task about Ada alone, a Task shared by both, a Case Ada opened (her name and email in its web fields),
a field-history row of Ada's email; an Event about Bo with a health sentence, and a decoy Task of Bo's that only
looks sensitive.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.salesforce import FakeSalesforce
from typer.testing import CliRunner

from gomme.cli import app
from tests.related.salesforce_org import org_builder, sweep_config

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
IDENTIFIERS = ("ada.quill@example.org", "Ada", "Quill", "12 34 56 78", "612345678")
DECOY = "Demo at the Clinique des Lilas, our customer, of the scheduling module."



def _seed(fake: FakeSalesforce) -> dict[str, str]:
    ids: dict[str, str] = {}
    for key, first, last, email, phone, forget in (
        ("ada", "Ada", "Quill", "ada.quill@example.org", "+33 6 12 34 56 78", True),
        ("bo", "Bo", "Vance", "bo.vance@example.net", "+44 7700 900123", False),
    ):
        individual = fake.create("Individual", LastName=last, ShouldForget=forget)
        ids[key] = fake.create("Contact", FirstName=first, LastName=last, Email=email, Phone=phone,
                               IndividualId=individual, MailingCountry="France")  # fmt: skip
    ada, bo = ids["ada"], ids["bo"]
    ids["t_ada"] = fake.create_activity("Task", [ada], Subject="Call Ada Quill",
                                        Description="Ada asked to be called back on 06 12 34 56 78.")  # fmt: skip
    ids["t_both"] = fake.create_activity("Task", [ada, bo], Subject="Meeting with Quill and Vance",
                                         Description="Ada (ada.quill@example.org) and Bo agreed on the renewal.")
    ids["e_bo"] = fake.create_activity("Event", [bo], Subject="Follow-up",
                                       Description="Bo is on chemotherapy until March. Renewal in April.")
    ids["t_decoy"] = fake.create_activity("Task", [bo], Subject="Demo", Description=DECOY)
    if "Case" in fake.tables:  # hidden from the integration user in some orgs
        ids["c_ada"] = fake.create("Case", ContactId=ada, Subject="Invoice question", SuppliedName="Ada Quill",
                                   SuppliedEmail="ada.quill@example.org", Description="Ada Quill asked for a copy.")
    fake.create("ContactHistory", ContactId=ada, Field="Email", OldValue="ada.q@example.org",
                NewValue="ada.quill@example.org")  # fmt: skip
    return ids


@pytest.fixture
def make_org(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("SF_RELATED_TOKEN", "fake-token")
    with org_builder(tmp_path, state_url) as build:
        config = sweep_config(state_url, "SF_RELATED_TOKEN", batch_size=200)
        yield lambda **org: build(FakeSalesforce(**org), _seed, config)


def _reachable(row: dict[str, Any] | None) -> list[str]:
    text = " ".join(str(value) for value in (row or {}).values() if isinstance(value, str))
    return [identifier for identifier in IDENTIFIERS if identifier.casefold() in text.casefold()]


def test_an_erasure_reaches_tasks_and_cases_and_says_what_remains(make_org: Any) -> None:
    org = make_org()

    code, output = org.sweep("--apply")

    assert code == 0, output
    assert org.row("Contact", "ada")["LastName"] == "ANONYMISED"
    assert org.row("Task", "t_ada") is None  # about Ada alone: deleted
    shared = org.row("Task", "t_both")
    assert shared is not None and _reachable(shared) == [] and "Vance" in shared["Subject"]
    case = org.row("Case", "c_ada")
    assert case is not None and case["SuppliedName"] is None and case["SuppliedEmail"] is None
    assert _reachable(case) == [] and case["Subject"] == "Invoice question"  # the account's case stays
    assert org.row("Task", "t_decoy")["Description"] == DECOY  # a kept person's ordinary activity: untouched
    erased = org.audit()["anonymise"]
    assert erased.outcome == "applied" and erased.erasure == "pseudonymised"
    assert erased.related == (
        "Case scrubbed=1, Task deleted=1, Task scrubbed=1; remains: ContactHistory (old values of tracked fields), "
        "Task in the recycle bin (15 days; hard_delete = true empties it)"
    )
    assert "related.Case.SuppliedEmail" in erased.fields and "related.Task" in erased.fields


def test_a_sensitive_sentence_in_a_kept_persons_event_is_redacted(make_org: Any) -> None:
    org = make_org()

    assert org.sweep("--apply")[0] == 0

    assert org.row("Event", "e_bo")["Description"] == "[redacted] Renewal in April."
    assert org.row("Contact", "bo")["LastName"] == "Vance"
    redaction = next(event for action, event in org.audit().items() if "redact_note" in action)
    assert redaction.related == "Event redacted=1" and redaction.erasure is None


def test_an_object_the_integration_user_cannot_see_is_reported_and_the_person_still_erased(make_org: Any) -> None:
    org = make_org(hidden_objects={"Case"})

    code, output = org.sweep("--apply")

    assert code == 0, output
    assert org.row("Contact", "ada")["LastName"] == "ANONYMISED" and org.row("Task", "t_ada") is None
    erased = org.audit()["anonymise"]
    assert erased.erasure == "pseudonymised"
    assert "Case (not visible to the integration user)" in (erased.related or "")
    assert "Case: not visible to the integration user" in output or "Case not visible" in output


def test_related_records_are_read_in_batches_not_per_person(make_org: Any) -> None:
    org = make_org()
    for index in range(300):  # kept people with two activities each
        person = org.fake.create("Contact", FirstName=f"P{index}", LastName=f"Kept{index}")
        for kind in ("Task", "Event"):
            org.fake.create_activity(kind, [person], Subject="Quarterly review")
    org.fake.queries.clear()

    assert org.sweep()[0] == 0

    activity_queries = [q for q in org.fake.queries if re.search(r" FROM (Task|Event)(Relation)? ", q)]
    assert 0 < len(activity_queries) <= 12  # a few per page of 200 people, not one per person


def test_an_erasure_request_end_to_end_audits_each_related_object(make_org: Any) -> None:
    org = make_org()
    ada = org.row("Contact", "ada")
    org.fake.tables["Individual"][ada["IndividualId"]]["ShouldForget"] = False  # she asks by email instead

    result = runner.invoke(app, ["--config", str(org.config), "request", "erase", "--email",
                                 "ada.quill@example.org", "--now"])  # fmt: skip

    assert result.exit_code == 0, result.output
    assert org.row("Task", "t_ada") is None and _reachable(org.row("Task", "t_both")) == []
    assert _reachable(org.row("Case", "c_ada")) == []
    erased = org.audit()["anonymise"]
    assert erased.request_id is not None and erased.erasure == "pseudonymised"
    assert erased.related is not None and erased.related.startswith("Case scrubbed=1, Task deleted=1, Task scrubbed=1")


def test_a_related_field_the_user_cannot_write_is_named_and_the_person_still_erased(make_org: Any) -> None:
    org = make_org(read_only_fields={"Case": {"SuppliedEmail"}})

    code, output = org.sweep("--apply")

    assert code == 0, output
    assert org.row("Contact", "ada")["LastName"] == "ANONYMISED" and org.row("Task", "t_ada") is None
    assert org.row("Case", "c_ada")["SuppliedEmail"] == "ada.quill@example.org"  # left: gomme may not write it
    erased = org.audit()["anonymise"]
    assert erased.outcome == "applied" and erased.erasure == "pseudonymised"
    assert "failed: Case scrubbed FIELD_NOT_WRITABLE=1" in (erased.related or "")
    assert "Case (write refused: FIELD_NOT_WRITABLE)" in (erased.related or "")
