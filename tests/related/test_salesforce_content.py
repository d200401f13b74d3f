"""Erasure and redaction reach Salesforce emails, notes and archived activities: the fake org after `gomme sweep`.

Seeded (synthetic): Ada asked to be forgotten (Individual.ShouldForget), Bo is kept, Acme is their account. Each
record says what must become of it:

- `m_ada`: a sent email to Ada alone → deleted (a sent email cannot be edited).
- `m_draft`: a draft to Ada and Bo → scrubbed: Ada's name and address cut out, Bo's kept.
- `m_both_sent`: (only with `shared_sent`) a sent email to Ada and Bo → left, named field by field: pseudonymised.
- `m_bo`: a sent email to Bo alone → untouched.
- `n_ada`: a note on Ada alone → deleted. `n_shared`: a note on Ada and Acme → scrubbed, not deleted; it says
  "Adaptive", which holds Ada's first name only inside a common word → kept. `n_bo`: Bo's note with a health
  sentence → that sentence redacted. `n_decoy`: Bo's note "Adaptive pricing for Ada Lovelace Street" is not
  linked to Ada → untouched.
- `t_archived`: a Task about Ada that Salesforce has archived (queryAll only) → deleted. `t_bo_archived`: Bo's →
  untouched.
- `t_binned`: (only with `binned`) a Task of Ada's already in the recycle bin → reported as remaining.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.salesforce import FakeSalesforce
from typer.testing import CliRunner

from gomme.cli import app
from tests.related.salesforce_org import Org as SweptOrg
from tests.related.salesforce_org import Seed, org_builder, sweep_config

runner = CliRunner()
ADA = (r"ada\.quill@example\.org", r"\bAda\b", r"\bQuill\b", r"12 34 56 78")
ADAPTIVE = "Adaptive pricing workshop with Ada Quill and Acme."
DECOY = "Adaptive pricing for the Lovelace Street office."
BO_NOTE = "Bo is on chemotherapy until March. Renewal in April."


class Org(SweptOrg):

    def reachable(self) -> list[str]:
        """Ada's identifiers still readable through the API (query and queryAll), by object and id."""
        found = []
        for sobject in ("Task", "Event", "EmailMessage", "ContentNote", "Case"):
            for row in self.fake.rows(sobject, all_rows=True):
                text = " ".join(str(v) for v in row.values() if isinstance(v, str) and v != row.get("Content"))
                if sobject == "ContentNote":
                    text += " " + self.fake.note_text(row["Id"])
                if any(re.search(pattern, text, re.IGNORECASE) for pattern in ADA):
                    found.append(f"{sobject}:{row['Id']}")
        return found


def _seed(fake: FakeSalesforce, *, shared_sent: bool, binned: bool) -> dict[str, str]:
    ids: dict[str, str] = {}
    ids["acme"] = fake.create("Account", Name="Acme")
    for key, first, last, email, forget in (
        ("ada", "Ada", "Quill", "ada.quill@example.org", True),
        ("bo", "Bo", "Vance", "bo.vance@example.net", False),
    ):
        individual = fake.create("Individual", LastName=last, ShouldForget=forget)
        ids[key] = fake.create("Contact", FirstName=first, LastName=last, Email=email, Phone="+33 6 12 34 56 78"
                               if key == "ada" else None, IndividualId=individual, AccountId=ids["acme"],
                               MailingCountry="France")  # fmt: skip
    ada, bo, rep = ids["ada"], ids["bo"], fake.user_id
    sender = (rep, "FromAddress", "rep@acme-sales.example")
    if "EmailMessage" in fake.tables:
        ids["m_ada"] = fake.create_email([sender, (ada, "ToAddress", "ada.quill@example.org")],
                                         Subject="Your quote, Ada", ToAddress="ada.quill@example.org",
                                         TextBody="Dear Ada Quill, call me on 06 12 34 56 78.")  # fmt: skip
        ids["m_draft"] = fake.create_email(
            [sender, (ada, "ToAddress", "ada.quill@example.org"), (bo, "ToAddress", "bo.vance@example.net")],
            Status="5", Subject="Renewal", ToAddress="ada.quill@example.org; bo.vance@example.net",
            TextBody="Hello Ada and Bo, the renewal is ready.",
        )  # fmt: skip
        if shared_sent:
            ids["m_both_sent"] = fake.create_email(
                [sender, (ada, "ToAddress", "ada.quill@example.org"), (bo, "CcAddress", "bo.vance@example.net")],
                Subject="Meeting notes", ToAddress="ada.quill@example.org", CcAddress="bo.vance@example.net",
                TextBody="Ada Quill and Bo agreed on the renewal.",
            )  # fmt: skip
        ids["m_bo"] = fake.create_email([sender, (bo, "ToAddress", "bo.vance@example.net")], Subject="Hi Bo",
                                        ToAddress="bo.vance@example.net", TextBody="Adaptive plan attached.")
    if "ContentNote" in fake.tables:
        ids["n_ada"] = fake.create_note([ada], "Call with Ada", "Ada Quill prefers calls on 06 12 34 56 78.")
        ids["n_shared"] = fake.create_note([ada, ids["acme"]], "Workshop", ADAPTIVE)
        ids["n_bo"] = fake.create_note([bo], "Follow-up", BO_NOTE)
        ids["n_decoy"] = fake.create_note([bo, ids["acme"]], "Office", DECOY)
    ids["t_archived"] = fake.create_activity("Task", [ada], Subject="Call Ada Quill", IsArchived=True,
                                             Description="Old call about the first quote.")  # fmt: skip
    ids["t_bo_archived"] = fake.create_activity("Task", [bo], Subject="Call Bo", IsArchived=True)
    if binned:
        ids["t_binned"] = fake.create_activity("Task", [ada], Subject="Ada Quill (deleted by a user)")
        assert fake.delete_one(ids["t_binned"]) is None
    return ids


@pytest.fixture
def make_org(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("SF_CONTENT_TOKEN", "fake-token")

    def seeded(shared_sent: bool, binned: bool) -> Seed:
        return lambda fake: _seed(fake, shared_sent=shared_sent, binned=binned)

    with org_builder(tmp_path, state_url) as build:
        yield lambda hard_delete=False, shared_sent=False, binned=False, **org: build(
            FakeSalesforce(**org), seeded(shared_sent, binned),
            sweep_config(state_url, "SF_CONTENT_TOKEN", batch_size=200, hard_delete=hard_delete), Org,
        )


def test_with_hard_delete_nothing_of_the_erased_person_stays_reachable_and_the_audit_says_erased(
    make_org: Any,
) -> None:
    org = make_org(hard_delete=True)

    code, output = org.sweep("--apply")

    assert code == 0, output
    assert org.reachable() == []  # through query and queryAll alike
    assert org.row("EmailMessage", "m_ada") is None and org.row("ContentNote", "n_ada") is None
    assert org.row("Task", "t_archived") is None  # archived: found through queryAll
    draft = org.row("EmailMessage", "m_draft")
    assert draft is not None and "bo.vance@example.net" in draft["ToAddress"] and "Bo" in draft["TextBody"]
    assert org.row("ContentNote", "n_shared") is not None  # on Acme too: scrubbed, not deleted
    assert org.fake.note_text(org.ids["n_shared"]) == "Adaptive pricing workshop with [erased] and Acme."
    assert org.fake.note_text(org.ids["n_decoy"]) == DECOY  # not linked to Ada: untouched
    assert org.row("EmailMessage", "m_bo")["TextBody"] == "Adaptive plan attached."
    assert org.row("Task", "t_bo_archived") is not None
    erased = org.audit()["anonymise"]
    assert erased.outcome == "applied" and erased.erasure == "erased", erased.related
    assert erased.related == ("ContentNote deleted=1, ContentNote scrubbed=1, EmailMessage deleted=1, "
                              "EmailMessage scrubbed=1, Task deleted=1")  # fmt: skip


def test_a_shared_sent_email_and_a_task_in_the_recycle_bin_make_the_erasure_pseudonymised(make_org: Any) -> None:
    org = make_org(shared_sent=True, binned=True)

    code, output = org.sweep("--apply")

    assert code == 0, output
    sent = org.row("EmailMessage", "m_both_sent")
    assert sent is not None and sent["TextBody"] == "Ada Quill and Bo agreed on the renewal."  # cannot be edited
    erased = org.audit()["anonymise"]
    assert erased.outcome == "applied" and erased.erasure == "pseudonymised"
    related = erased.related or ""
    assert related == (
        "ContentNote deleted=1, ContentNote scrubbed=1, EmailMessage deleted=1, EmailMessage scrubbed=1, "
        "Task deleted=1; remains: Task (in the recycle bin), EmailMessage.TextBody/ToAddress (sent: not editable), "
        "ContentNote, EmailMessage, Task in the recycle bin (15 days; hard_delete = true empties it)"
    )
    assert "ada.quill" not in related and "Quill" not in related  # names of objects and fields, never values


def test_a_sensitive_sentence_in_a_kept_persons_note_is_redacted_and_the_note_kept(make_org: Any) -> None:
    org = make_org()

    assert org.sweep("--apply")[0] == 0

    assert org.fake.note_text(org.ids["n_bo"]) == "[redacted] Renewal in April."
    redaction = next(event for action, event in org.audit().items() if "redact_note" in action)
    assert redaction.related == "ContentNote redacted=1" and redaction.erasure is None


@pytest.mark.parametrize(("options", "missing"), [
    ({"enhanced_email": False, "notes": False}, ("EmailMessage", "ContentNote")),
    ({"hidden_objects": {"EmailMessageRelation", "ContentDocumentLink"}}, ("EmailMessage", "ContentNote")),
    ({"hidden_objects": {"ContentNote"}}, ("ContentNote",)),
])  # fmt: skip
def test_an_org_without_emails_or_notes_is_reported_and_the_person_still_erased(
    make_org: Any, options: dict[str, Any], missing: tuple[str, ...]
) -> None:
    org = make_org(**options)

    code, output = org.sweep("--apply")

    assert code == 0, output
    assert org.row("Contact", "ada")["LastName"] == "ANONYMISED" and org.row("Task", "t_archived") is None
    erased = org.audit()["anonymise"]
    assert erased.outcome == "applied" and erased.erasure == "pseudonymised"
    for name in missing:
        assert f"{name} (not visible to the integration user)" in (erased.related or "")
        assert f"{name} not visible to the integration user" in " ".join(output.split())


def test_emails_and_notes_are_read_in_batches_and_each_note_body_once(make_org: Any) -> None:
    org = make_org()
    rep = org.fake.user_id
    for index in range(300):  # kept people with an email and a note each
        person = org.fake.create("Contact", FirstName=f"P{index}", LastName=f"Kept{index}", AccountId=org.ids["acme"])
        org.fake.create_email([(rep, "FromAddress", "rep@x.example"), (person, "ToAddress", f"p{index}@x.example")],
                              Subject="Quarterly review")  # fmt: skip
        org.fake.create_note([person], "Review", "Quarterly review went well.")
    org.fake.queries.clear()
    before = len(org.fake.requests)

    assert org.sweep()[0] == 0

    made = org.fake.requests[before:]
    content = [q for q in org.fake.queries if re.search(r"FROM (EmailMessage|ContentNote|ContentDocumentLink)", q)]
    assert 0 < len(content) <= 16  # a few per page of 200 people, not one per person
    blobs = Counter(call.path.split("/")[-2] for call in made if call.path.endswith("/Content"))
    assert blobs == dict.fromkeys(org.fake.tables["ContentNote"], 1)  # sObject Blob Get: one call per note


def test_an_access_bundle_holds_the_persons_emails_notes_and_archived_tasks(make_org: Any) -> None:
    org = make_org(shared_sent=True)

    result = runner.invoke(app, ["--config", str(org.config), "request", "access", "--email", "bo.vance@example.net",
                                 "--now"])  # fmt: skip

    assert result.exit_code == 0, result.output
    bundle = Path(result.output.split("access bundle: ", 1)[1].split()[0])
    (person,) = json.loads((bundle / "data.json").read_text())["crms"]["sf"]
    related = {item["object"] + ":" + item["id"]: item for item in person["related"]}
    i = org.ids
    assert set(related) == {f"EmailMessage:{i['m_draft']}", f"EmailMessage:{i['m_both_sent']}",
                            f"EmailMessage:{i['m_bo']}", f"ContentNote:{i['n_bo']}", f"ContentNote:{i['n_decoy']}",
                            f"Task:{i['t_bo_archived']}"}  # fmt: skip
    assert related[f"ContentNote:{i['n_bo']}"]["Content"] == BO_NOTE and related[f"EmailMessage:{i['m_draft']}"][
        "other_people"] == 1  # fmt: skip
    with (bundle / "sf-related-ContentNote.csv").open() as stream:
        assert sorted(row["id"] for row in csv.DictReader(stream)) == sorted([i["n_bo"], i["n_decoy"]])
