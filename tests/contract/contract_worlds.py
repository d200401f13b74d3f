"""The built-in worlds: the local SQLite CRM, the Salesforce fake and the HubSpot fake, each seeded with PEOPLE.

The fakes are tests/fakes' (their own test kits build the connectors); a world only adds the hands of
`contract_api.World` on each CRM.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import responses
from fakes.hubspot import UNLIMITED, FakeHubSpot
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS
from fakes.salesforce_data import seed as seed_salesforce

from gomme.connectors.hubspot import HubSpotConnector
from gomme.connectors.hubspot.settings import DEFAULT_LIFECYCLE_MAP
from gomme.connectors.local import LocalConnector
from gomme.model.records import Lifecycle, PersonRecord
from tests.connectors.hubspot.hubspot_testkit import ENV, settings_for, unlimited
from tests.connectors.hubspot.hubspot_testkit import Clock as SettableClock
from tests.connectors.salesforce_testkit import HOST, Harness
from tests.connectors.salesforce_testkit import Clock as TickingClock
from tests.contract.contract_api import World, WorldFactory

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
"""Every CRM's clock starts here, after every seeded change time of PEOPLE."""


# -- local -------------------------------------------------------------------------------------------------


class _Clock:
    """A clock that only moves when told to."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@contextmanager
def local_world(people: Sequence[PersonRecord], directory: Path) -> Iterator[World]:
    path, clock = directory / "crm.db", _Clock(NOW)
    with LocalConnector("local", path, clock=clock) as connector:
        connector.add([dataclasses.replace(person, crm="local") for person in people])
        side = sqlite3.connect(path, isolation_level=None)  # the CRM's file, read and edited behind the connector
        side.row_factory = sqlite3.Row

        def state(record_id: str) -> dict[str, Any] | None:
            row = side.execute("SELECT * FROM person WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                return None
            notes = side.execute("SELECT field, text FROM note WHERE person_id = ? ORDER BY field", (record_id,))
            consents = side.execute("SELECT * FROM consent WHERE person_id = ? ORDER BY rowid", (record_id,))
            fields = {key: value for key, value in dict(row).items() if key != "modified_at"}
            return {**fields, "notes": [tuple(n) for n in notes], "consents": [tuple(c) for c in consents]}

        def touch(record_id: str) -> None:
            # A user edits the local CRM by importing the record again (`add`, what `gomme import` does).
            clock.now += dt.timedelta(minutes=1)
            (record,) = connector.get([(_local_type(side, record_id), record_id)])
            connector.add([dataclasses.replace(record, first_name="touched", modified_at=None)])

        def break_record(record_id: str) -> None:
            # A SQLite file cannot refuse one row's write without aborting the whole transaction; what happens to
            # a single record in practice is that someone else removed it.
            side.execute("DELETE FROM person WHERE id = ?", (record_id,))

        try:
            yield World(connector, {person.id: person.id for person in people}, state, touch, break_record)
        finally:
            side.close()


def _local_type(side: sqlite3.Connection, record_id: str) -> str:
    return str(side.execute("SELECT object_type FROM person WHERE id = ?", (record_id,)).fetchone()[0])


# -- Salesforce --------------------------------------------------------------------------------------------


@contextmanager
def salesforce_world(people: Sequence[PersonRecord], directory: Path) -> Iterator[World]:
    clock = TickingClock(NOW)
    org = FakeSalesforce(host=HOST, custom_fields=CUSTOM_FIELDS, clock=clock)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org.register(mock)
        ids = seed_salesforce(org, people)
        with Harness(org, mock, clock).connector() as connector:

            def sobject_of(record_id: str) -> str:
                return next(name for name in ("Contact", "Lead") if record_id in org.tables[name])

            def state(record_id: str) -> dict[str, Any] | None:
                row = next((org.tables[name][record_id] for name in ("Contact", "Lead")
                            if record_id in org.tables[name]), None)  # fmt: skip
                if row is None:
                    return None
                individual = org.record("Individual", row["IndividualId"]) if row.get("IndividualId") else None
                return {**_unstamped(row), "Individual": _unstamped(individual) if individual else None}

            def touch(record_id: str) -> None:
                assert org.update_one(sobject_of(record_id), record_id, {"FirstName": "touched"}) is None

            def break_record(record_id: str) -> None:
                org.faults.rejected[record_id] = "FIELD_CUSTOM_VALIDATION_EXCEPTION"

            yield World(connector, ids, state, touch, break_record)


def _unstamped(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in ("SystemModstamp", "LastModifiedDate")}


# -- HubSpot -----------------------------------------------------------------------------------------------

_STAGES = {Lifecycle.PROSPECT: "lead", Lifecycle.CUSTOMER: "customer", Lifecycle.FORMER_CUSTOMER: "formercustomer"}


def _hubspot_properties(person: PersonRecord) -> dict[str, Any]:
    """A person as a HubSpot contact (HubSpot has contacts only: a lead is a contact in the lead stage)."""
    return {
        "email": person.email, "firstname": person.first_name, "lastname": person.last_name,
        "phone": person.phone, "country": person.country, "date_of_birth": person.birthdate,
        "lifecyclestage": _STAGES.get(person.lifecycle), "createdate": person.created_at,
        "lastmodifieddate": person.modified_at, "notes_last_contacted": person.last_activity_at,
        "contract_end_date": person.contract_end, "legal_hold": person.legal_hold,
        "gomme_restricted": person.restricted, "gomme_erasure_requested": person.erasure_requested,
        "hs_email_optout": person.opt_outs.email, "message": person.notes.get("description"),
    }  # fmt: skip


@contextmanager
def hubspot_world(people: Sequence[PersonRecord], directory: Path) -> Iterator[World]:
    clock = SettableClock(NOW)
    fake = FakeHubSpot(limits=UNLIMITED, timeout_delay=0.5)
    fake.portal.clock = clock
    for name, kind in (("gomme_restricted", "bool"), ("legal_hold", "bool"), ("contract_end_date", "date"),
                       ("gomme_erasure_requested", "bool")):  # fmt: skip
        fake.portal.define(name, kind)
    ids = {person.id: fake.portal.add(**_hubspot_properties(person)) for person in people}
    settings = settings_for(
        "http://127.0.0.1", properties={"erasure_requested": "gomme_erasure_requested"},
        lifecycle_map={**DEFAULT_LIFECYCLE_MAP, "formercustomer": Lifecycle.FORMER_CUSTOMER},
    )  # fmt: skip
    with fake:
        settings = settings.model_copy(update={"base_url": fake.url})
        with HubSpotConnector("hs", settings, env=ENV, limiter=unlimited(), clock=clock) as connector:

            def state(record_id: str) -> dict[str, Any] | None:
                stored = fake.portal.get(record_id)
                if stored is None:
                    return None
                fields = {key: value for key, value in stored.items() if key != "lastmodifieddate"}
                return {**fields, "subscriptions": fake.portal.status_of(stored.get("email") or "")}

            def touch(record_id: str) -> None:
                clock.advance(minutes=1)
                fake.portal.batch_update({"inputs": [{"id": record_id, "properties": {"firstname": "touched"}}]})

            def break_record(record_id: str) -> None:
                # The portal refuses the subscription writes of the contact's email, one address alone (a 207):
                # a restriction of it cannot be applied.
                email = (fake.portal.get(record_id) or {}).get("email")
                if email:
                    fake.portal.v4_rejected.add(email.lower())

            yield World(connector, ids, state, touch, break_record)


BUILT_IN: Mapping[str, WorldFactory] = {"local": local_world, "salesforce": salesforce_world, "hubspot": hubspot_world}
