"""Erasure, redaction and access reach HubSpot engagements: what a user sees after `gomme sweep --apply` or a request.

Seeded (synthetic) in the fake portal: Ada asked for erasure, Bo is kept. Engagements: a note, a call and an email
about Ada alone naming her, a meeting shared by Ada and Bo naming both, a task about Bo alone with a health
sentence, a note about Bo alone that only looks sensitive (a decoy: a clinic that is a customer).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes.hubspot import TOKEN, UNLIMITED, FakeHubSpot
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.state.audit import verify
from gomme.state.db import make_engine
from gomme.state.models import AuditEvent
from tests.state_key import TEST_KEYRING

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
ADA_EMAIL = "ada.quill@example.org"
IDENTIFIERS = (ADA_EMAIL, "Ada", "Quill", "12 34 56 78", "612345678")
DECOY = "Visited the Clinique des Lilas, our customer, to demo the scheduling module."
HEADERS = json.dumps({"from": {"email": ADA_EMAIL, "firstName": "Ada", "lastName": "Quill"},
                      "to": [{"email": "sales@example.com"}]})  # fmt: skip
CONFIG = """
[state]
url = "{state_url}"
[requests]
export_dir = "exports"

[connectors.hs]
type = "hubspot"
base_url = "{url}"
access_token_env = "HUBSPOT_TOKEN"
limit_fraction = 1.0
index_lag_seconds = 0
related_on_erase = "{on_erase}"
[connectors.hs.properties]
erasure_requested = "gomme_erasure_requested"
"""


@dataclass
class Portal:
    fake: FakeHubSpot
    config: Path
    ada: str
    bo: str
    ids: dict[str, str]  # seeded engagement → its id
    state_url: str

    def run(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--config", str(self.config), *args])
        return result.exit_code, result.output

    def engagement(self, name: str) -> dict[str, str] | None:
        kind = {"note-ada": "notes", "call-ada": "calls", "email-ada": "emails", "meeting": "meetings",
                "task-bo": "tasks", "decoy": "notes"}[name]  # fmt: skip
        return self.fake.portal.engagements.get(kind, self.ids[name])

    def events(self) -> dict[str, AuditEvent]:
        with Session(make_engine(self.state_url)) as db:
            return {event.action: event for event in db.exec(select(AuditEvent))}


def _contact(fake: FakeHubSpot, first: str, last: str, email: str, phone: str, *, erase: bool) -> str:
    return fake.portal.add(
        email=email, firstname=first, lastname=last, phone=phone, country="France", lifecyclestage="customer",
        createdate=NOW - dt.timedelta(days=400), notes_last_contacted=NOW - dt.timedelta(days=10),
        gomme_erasure_requested=erase,
    )  # fmt: skip


def _reachable(text: str | None) -> list[str]:
    return [identifier for identifier in IDENTIFIERS if identifier.casefold() in (text or "").casefold()]


def _portal(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch, on_erase: str) -> Iterator[Portal]:
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    with FakeHubSpot(limits=UNLIMITED, timeout_delay=0.5) as fake:
        fake.portal.define("gomme_restricted", "bool")
        fake.portal.define("gomme_erasure_requested", "bool")
        ada = _contact(fake, "Ada", "Quill", ADA_EMAIL, "+33 6 12 34 56 78", erase=True)
        bo = _contact(fake, "Bo", "Vance", "bo.vance@example.net", "+44 7700 900123", erase=False)
        add = fake.portal.engagements.add
        ids = {
            "note-ada": add("notes", [ada], hs_note_body="Ada asked to call back on 06 12 34 56 78."),
            "call-ada": add("calls", [ada], hs_call_title="Call Ada Quill", hs_call_body="Left a message."),
            "email-ada": add("emails", [ada], hs_email_subject="Your quote, Ada", hs_email_text="Dear Ada Quill,",
                             hs_email_headers=HEADERS),
            "meeting": add("meetings", [ada, bo], hs_meeting_title="Meeting with Quill and Vance",
                           hs_meeting_body=f"Ada ({ADA_EMAIL}) and Bo agreed on the renewal."),
            "task-bo": add("tasks", [bo], hs_task_subject="Follow-up",
                           hs_task_body="Bo is on chemotherapy until March. Renewal in April."),
            "decoy": add("notes", [bo], hs_note_body=DECOY),
        }  # fmt: skip
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(state_url=state_url, url=fake.url, on_erase=on_erase))
        yield Portal(fake, config, ada, bo, ids, state_url)


@pytest.fixture
def portal(
    request: pytest.FixtureRequest, tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Portal]:
    """The seeded portal and its config; `related_on_erase` is "delete" unless the test parametrizes it."""
    yield from _portal(tmp_path, state_url, monkeypatch, getattr(request, "param", "delete"))


def test_an_erasure_deletes_the_contacts_own_engagements_and_scrubs_the_shared_one(portal: Portal) -> None:
    code, output = portal.run("sweep", "--apply")

    assert code == 0, output
    engagements = portal.fake.portal.engagements
    assert [portal.engagement(name) for name in ("note-ada", "call-ada", "email-ada")] == [None] * 3  # archived
    meeting = portal.engagement("meeting") or {}  # shared with Bo: kept, Ada cut out
    assert engagements.contacts_of("meetings", portal.ids["meeting"]) == sorted([portal.ada, portal.bo])
    assert "Vance" in meeting["hs_meeting_title"] and "Bo agreed on the renewal" in meeting["hs_meeting_body"]
    assert [text for text in engagements.texts() if _reachable(text)] == []  # nothing of Ada in a live engagement
    assert (portal.engagement("decoy") or {})["hs_note_body"] == DECOY  # a kept person's ordinary note: untouched
    erased = portal.events()["anonymise"]
    assert erased.outcome == "applied" and erased.erasure == "pseudonymised"  # HubSpot keeps history and a bin
    assert erased.related == (
        "calls deleted=1, emails deleted=1, meetings scrubbed=1, notes deleted=1; remains: contacts property history "
        "(only a GDPR delete purges it), calls in the recycling bin, emails in the recycling bin, meetings property "
        "history, notes in the recycling bin"
    )  # counts and names, no value, no id
    assert "related.notes" in erased.fields and "related.meetings.hs_meeting_body" in erased.fields
    assert not any(_reachable(text) for text in (erased.fields, erased.related, erased.evidence))
    assert not any(portal.ids[name] in (erased.related or "") + erased.fields for name in portal.ids)
    assert verify(make_engine(portal.state_url), TEST_KEYRING).ok


def test_a_sensitive_sentence_in_a_kept_contacts_engagement_is_redacted(portal: Portal) -> None:
    code, output = portal.run("sweep", "--apply")

    assert code == 0, output
    assert portal.engagement("task-bo") == {
        "hs_task_subject": "Follow-up",
        "hs_task_body": "[redacted] Renewal in April.",
    }
    assert portal.fake.portal.get(portal.bo) is not None  # Bo is kept
    redaction = portal.events()["redact_note"]
    assert redaction.erasure is None and redaction.related == "tasks redacted=1; remains: tasks property history"
    assert "fields=related.tasks.hs_task_body" in (redaction.evidence or "")


@pytest.mark.parametrize("portal", ["scrub"], indirect=True)
def test_scrub_setting_keeps_the_contacts_own_engagements_without_their_identifiers(portal: Portal) -> None:
    assert portal.run("sweep", "--apply")[0] == 0

    assert portal.engagement("note-ada") == {"hs_note_body": "[erased] asked to call back on [erased]."}
    assert portal.engagement("call-ada") == {"hs_call_title": "Call [erased]", "hs_call_body": "Left a message."}
    email = portal.engagement("email-ada") or {}
    assert json.loads(email["hs_email_headers"])["from"] == {
        "email": "[erased]",
        "firstName": "[erased]",
        "lastName": "[erased]",
    }  # still JSON, from which HubSpot derives the sender's read-only properties
    assert [text for text in portal.fake.portal.engagements.texts() if _reachable(text)] == []


def test_a_withheld_scope_is_reported_in_the_outcome_and_the_contact_still_erased(portal: Portal) -> None:
    portal.fake.portal.engagements.withheld.add("emails")  # the app lacks sales-email-read

    code, output = portal.run("sweep", "--apply")

    assert code == 0, output
    assert (portal.fake.portal.get(portal.ada) or {}).get("lastname") == "ANONYMISED"
    assert portal.engagement("note-ada") is None  # what could be read was still erased
    erased = portal.events()["anonymise"]
    assert erased.outcome == "applied" and erased.erasure == "pseudonymised"
    assert "emails (not readable: MISSING_SCOPES)" in (erased.related or "")
    assert "emails" in output and "MISSING_SCOPES" in output  # the run's notices say it once


def test_an_erasure_request_reaches_the_engagements(portal: Portal) -> None:
    portal.fake.portal.batch_update({"inputs": [{"id": portal.ada, "properties": {"gomme_erasure_requested": ""}}]})

    code, output = portal.run("request", "erase", "--email", ADA_EMAIL, "--now")

    assert code == 0, output
    assert portal.engagement("note-ada") is None
    assert [text for text in portal.fake.portal.engagements.texts() if _reachable(text)] == []
    assert portal.engagement("task-bo") is not None and portal.engagement("decoy") == {"hs_note_body": DECOY}
    erased = portal.events()["anonymise"]
    assert erased.erasure == "pseudonymised" and "notes deleted=1" in (erased.related or "")


def test_an_access_request_bundles_the_engagements(portal: Portal) -> None:
    code, output = portal.run("request", "access", "--email", "bo.vance@example.net", "--now")

    assert code == 0, output
    bundle = Path(output.split("access bundle: ", 1)[1].split()[0])
    (contact,) = json.loads((bundle / "data.json").read_text())["crms"]["hs"]
    related = {item["object"] + ":" + item["id"]: item for item in contact["related"]}
    assert set(related) == {f"meetings:{portal.ids['meeting']}", f"tasks:{portal.ids['task-bo']}",
                            f"notes:{portal.ids['decoy']}"}  # fmt: skip
    assert related[f"meetings:{portal.ids['meeting']}"]["other_people"] == 1


def test_dry_run_changes_no_engagement(portal: Portal) -> None:
    before = {name: portal.engagement(name) for name in portal.ids}

    code, output = portal.run("sweep")

    assert code == 0, output
    assert {name: portal.engagement(name) for name in portal.ids} == before
    written = ("objects.batch_update", "objects.batch_archive", "contacts.batch_update", "contacts.gdpr_delete")
    assert not any(portal.fake.calls[route] for route in written)
