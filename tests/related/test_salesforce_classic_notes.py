"""Erasure, redaction and access reach classic Salesforce notes (the `Note` object, ParentId): the fake org after gomme.

Seeded (synthetic), the way an org older than enhanced notes holds them: Ada asked to be forgotten
(Individual.ShouldForget), Bo is kept, Acme is their account. What must become of each note:

- `cn_ada`: a note on Ada, naming her and her phone → deleted.
- `cn_acme`: a note on Acme (the account) naming Ada → not found through Ada (its parent is the account), untouched:
  the documented limit of a one-parent object.
- `cn_bo`: Bo's note with a health sentence → that sentence redacted, the rest and the title kept.
- `cn_bo_decoy`: Bo's note that only looks sensitive ("Clinique des Lilas", a customer) → untouched.
- `cn_private`: a private note on Ada owned by another user → invisible to the integration user: untouched, and the
  erasure cannot name it (docs/related-records.md, "Classic notes").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.salesforce import FakeSalesforce
from typer.testing import CliRunner

from gomme.cli import app
from tests.related.salesforce_org import org_builder, sweep_config

runner = CliRunner()
BO_NOTE = "Bo is on chemotherapy until March. Renewal in April."
DECOY = "Demo of the scheduling module at the Clinique des Lilas, our customer."
OTHER_OWNER = "005FAKE00000009AAA"


def _seed(fake: FakeSalesforce) -> dict[str, str]:
    ids = {"acme": fake.create("Account", Name="Acme")}
    for key, first, last, email, forget in (
        ("ada", "Ada", "Quill", "ada.quill@example.org", True),
        ("bo", "Bo", "Vance", "bo.vance@example.net", False),
    ):
        individual = fake.create("Individual", LastName=last, ShouldForget=forget)
        ids[key] = fake.create("Contact", FirstName=first, LastName=last, Email=email, IndividualId=individual,
                               Phone="+33 6 12 34 56 78" if key == "ada" else None, AccountId=ids["acme"],
                               MailingCountry="France")  # fmt: skip
    if "Note" in fake.tables:
        ids["cn_ada"] = fake.create("Note", ParentId=ids["ada"], Title="Call with Ada Quill",
                                    Body="Ada prefers calls on 06 12 34 56 78.", OwnerId=fake.user_id)  # fmt: skip
        ids["cn_acme"] = fake.create("Note", ParentId=ids["acme"], Title="Account plan",
                                     Body="Ada Quill signs the renewal.", OwnerId=fake.user_id)  # fmt: skip
        ids["cn_bo"] = fake.create("Note", ParentId=ids["bo"], Title="Follow-up", Body=BO_NOTE, OwnerId=fake.user_id)
        ids["cn_bo_decoy"] = fake.create("Note", ParentId=ids["bo"], Title="Demo", Body=DECOY, OwnerId=fake.user_id)
        ids["cn_private"] = fake.create("Note", ParentId=ids["ada"], Title="Private", Body="Ada Quill, my own note.",
                                        IsPrivate=True, OwnerId=OTHER_OWNER)  # fmt: skip
    return ids


@pytest.fixture
def make_org(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("SF_NOTE_TOKEN", "fake-token")
    with org_builder(tmp_path, state_url) as build:
        yield lambda on_erase=None, **org: build(FakeSalesforce(**org), _seed, sweep_config(
            state_url, "SF_NOTE_TOKEN", batch_size=200, **({"related_on_erase": on_erase} if on_erase else {})
        ))  # fmt: skip


def test_an_erasure_deletes_the_persons_classic_notes_and_a_redaction_reaches_a_kept_persons(make_org: Any) -> None:
    org = make_org()

    code, output = org.sweep("--apply")

    assert code == 0, output
    assert org.row("Contact", "ada")["LastName"] == "ANONYMISED"
    assert org.row("Note", "cn_ada") is None
    assert org.row("Note", "cn_acme")["Body"] == "Ada Quill signs the renewal."  # on the account: not found
    assert org.row("Note", "cn_private")["Body"] == "Ada Quill, my own note."  # invisible to gomme
    bo = org.row("Note", "cn_bo")
    assert bo["Body"] == "[redacted] Renewal in April." and bo["Title"] == "Follow-up"
    assert org.row("Note", "cn_bo_decoy")["Body"] == DECOY
    events = org.audit()
    assert "Note deleted=1" in (events["anonymise"].related or "")
    redaction = next(event for action, event in events.items() if "redact_note" in action)
    assert redaction.related == "Note redacted=1"


def test_with_scrub_a_note_about_the_person_alone_is_kept_without_their_identifiers(make_org: Any) -> None:
    org = make_org(on_erase="scrub")

    assert org.sweep("--apply")[0] == 0

    note = org.row("Note", "cn_ada")
    assert note is not None and note["Title"] == "Call with [erased]"
    assert "Ada" not in note["Body"] and "12 34 56 78" not in note["Body"]


def test_an_org_hiding_classic_notes_is_reported_and_the_person_still_erased(make_org: Any) -> None:
    org = make_org(hidden_objects={"Note"})

    code, output = org.sweep("--apply")

    assert code == 0, output
    assert org.row("Contact", "ada")["LastName"] == "ANONYMISED"
    erased = org.audit()["anonymise"]
    assert erased.erasure == "pseudonymised" and "Note (not visible to the integration user)" in (erased.related or "")


def test_an_access_bundle_holds_the_persons_classic_notes(make_org: Any) -> None:
    org = make_org()

    result = runner.invoke(app, ["--config", str(org.config), "request", "access", "--email", "bo.vance@example.net",
                                 "--now"])  # fmt: skip

    assert result.exit_code == 0, result.output
    bundle = Path(result.output.split("access bundle: ", 1)[1].split()[0])
    (person,) = json.loads((bundle / "data.json").read_text())["crms"]["sf"]
    notes = {item["id"]: item for item in person["related"] if item["object"] == "Note"}
    assert set(notes) == {org.ids["cn_bo"], org.ids["cn_bo_decoy"]}
    assert notes[org.ids["cn_bo"]]["Body"] == BO_NOTE
