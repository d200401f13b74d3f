"""HubSpot properties → PersonRecord, and the property writes each action plans."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gomme.connectors.hubspot.mapping import (
    EmailPreferences,
    InvalidChange,
    PropertyMap,
    parse_date,
    parse_datetime,
    to_person,
    write_plan,
)
from gomme.connectors.hubspot.settings import HubSpotSettings
from gomme.model.changes import Action, PlannedChange
from gomme.model.countries import country_code
from gomme.model.records import Audience, Consent, ConsentStatus, LegalBasis, Lifecycle

SETTINGS = HubSpotSettings.model_validate({
    "type": "hubspot", "access_token_env": "T", "legal_hold_property": "legal_hold",
    "contract_end_property": "contract_end_date",
    "properties": {"erasure_requested": "gomme_erasure", "audience": "audience_type"},
})  # fmt: skip
PMAP = PropertyMap.from_settings(SETTINGS)

CONTACT: dict[str, Any] = {
    "id": "1234",
    "createdAt": "2019-03-01T00:00:00Z",
    "updatedAt": "2025-01-02T03:04:05.678Z",
    "properties": {
        "hs_object_id": "1234", "email": "ada@example.org", "firstname": "Ada", "lastname": "Example",
        "phone": None, "mobilephone": "+33 1 99 00 12 34", "country": "France", "date_of_birth": "1980-05-17",
        "lifecyclestage": "customer",
        "hs_legal_basis": "Legitimate interest \u2013 existing customer;Freely given consent from contact",
        "notes_last_contacted": "2021-02-01T10:00:00.000Z", "hs_last_sales_activity_timestamp": "1650000000000",
        "createdate": "2019-03-01T00:00:00.000Z", "lastmodifieddate": "2025-01-02T03:04:05.678Z",
        "message": "Met at the fair.", "legal_hold": "true", "contract_end_date": "2021-01-31",
        "gomme_restricted": "false", "hs_email_optout": "false", "gomme_erasure": "true", "audience_type": "B2C",
    },
}  # fmt: skip


def test_a_contact_maps_to_the_canonical_record() -> None:
    record = to_person("hs", CONTACT, PMAP, None)
    assert (record.crm, record.object_type, record.id) == ("hs", "contact", "1234")
    assert (record.email, record.first_name, record.last_name) == ("ada@example.org", "Ada", "Example")
    assert record.phone == "+33 1 99 00 12 34"  # mobile when there is no phone
    assert (record.country, record.birthdate) == ("FR", dt.date(1980, 5, 17))
    assert record.lifecycle is Lifecycle.CUSTOMER
    assert record.legal_basis is LegalBasis.LEGITIMATE_INTEREST  # the first recognised of a multi-select
    assert record.last_activity_at == dt.datetime(2022, 4, 15, 5, 20, tzinfo=dt.UTC)  # the latest of the two
    assert record.created_at == dt.datetime(2019, 3, 1, tzinfo=dt.UTC)
    assert record.modified_at == dt.datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert (record.legal_hold, record.contract_end, record.erasure_requested) == (True, dt.date(2021, 1, 31), True)
    assert (record.restricted, record.anonymised, record.opt_outs.email) == (False, False, False)
    assert record.audience is Audience.B2C
    assert record.notes == {"description": "Met at the fair."}
    assert record.raw["id"] == "1234" and record.consents == ()


def props(**changes: Any) -> dict[str, Any]:
    return {**CONTACT, "properties": {**CONTACT["properties"], **changes}}


@pytest.mark.parametrize(
    ("changes", "prefs", "expected"),
    [
        ({"gomme_restricted": "true"}, None, {"restricted": True, "processing": True, "email": False}),
        ({"hs_email_optout": "true"}, None, {"restricted": False, "processing": False, "email": True}),
        ({"email": None}, None, {"restricted": False, "processing": False, "email": True}),
        ({}, EmailPreferences((), opted_out=True), {"restricted": False, "processing": False, "email": True}),
        ({}, EmailPreferences((), opted_out=False), {"restricted": False, "processing": False, "email": False}),
    ],
    ids=["restriction marker", "unsubscribed from all", "no address", "every type off", "some type on"],
)
def test_restriction_and_email_opt_out_come_from_their_sources(
    changes: dict[str, Any], prefs: EmailPreferences | None, expected: dict[str, bool]
) -> None:
    record = to_person("hs", props(**changes), PMAP, prefs)
    assert {"restricted": record.restricted, "processing": record.opt_outs.processing,
            "email": record.opt_outs.email} == expected  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "anonymised"),
    [({"lastname": "ANONYMISED", "email": None}, True), ({"lastname": "ANONYMISED"}, False), ({"email": None}, False)],
)
def test_the_anonymisation_marker_needs_the_constant_name_and_no_email(
    changes: dict[str, Any], anonymised: bool
) -> None:
    assert to_person("hs", props(**changes), PMAP, None).anonymised is anonymised


def test_subscription_statuses_become_consents() -> None:
    consents = (Consent("email", "newsletter", ConsentStatus.OPT_OUT),)
    record = to_person("hs", CONTACT, PMAP, EmailPreferences(consents, opted_out=False))
    assert record.consents == consents


@pytest.mark.parametrize(
    ("text", "code"),
    [("France", "FR"), ("fr", "FR"), ("Deutschland", "DE"), ("United Kingdom", "GB"), ("Atlantis", None), (None, None)],
)
def test_free_text_countries_are_normalised_or_left_empty(text: str | None, code: str | None) -> None:
    assert country_code(text) == code


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("2024-01-02T03:04:05.678Z", dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)),
        ("1704164645678", dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)),
        ("2024-01-02T04:04:05+01:00", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("", None),
        ("soon", None),
    ],
)
def test_datetimes_are_read_in_hubspots_forms(value: str, moment: dt.datetime | None) -> None:
    assert parse_datetime(value) == moment


@pytest.mark.parametrize(("value", "day"), [("2024-01-02", dt.date(2024, 1, 2)), ("1704153600000", dt.date(2024, 1, 2)),
                                            ("02/01/2024", None)])  # fmt: skip
def test_dates_are_read_in_hubspots_forms(value: str, day: dt.date | None) -> None:
    assert parse_date(value) == day


def change(action: Action, *also: Action, **values: Any) -> PlannedChange:
    return PlannedChange("c1", "hs", "contact", "1234", action, "r", "b", "h", values=values, also=also)


ANONYMISED = {
    "email": "", "firstname": "", "phone": "", "mobilephone": "", "date_of_birth": "", "message": "",
    "address": "", "city": "", "state": "", "zip": "", "jobtitle": "", "company": "", "website": "",
    "lastname": "ANONYMISED",
}  # fmt: skip
PLANS: list[tuple[str, PlannedChange, dict[str, str], bool, bool]] = [
    ("keep", change(Action.KEEP), {}, False, False),
    ("restrict_email", change(Action.RESTRICT_EMAIL), {}, True, False),
    ("restrict_all", change(Action.RESTRICT_ALL), {"gomme_restricted": "true"}, True, False),
    ("anonymise", change(Action.ANONYMISE), ANONYMISED, False, False),
    ("delete", change(Action.DELETE), {}, False, True),
    ("redact_note", change(Action.REDACT_NOTE, **{"notes.description": "[redacted]"}), {"message": "[redacted]"},
     False, False),
    ("restrict_all + redact_note", change(Action.RESTRICT_ALL, Action.REDACT_NOTE, **{"notes.description": "[x]"}),
     {"gomme_restricted": "true", "message": "[x]"}, True, False),
    ("rectify", change(Action.RECTIFY, email="new@example.org", birthdate=dt.date(1980, 5, 18)),
     {"email": "new@example.org", "date_of_birth": "1980-05-18"}, False, False),
]  # fmt: skip


@pytest.mark.parametrize(("planned", "properties", "unsubscribe", "delete"), [p[1:] for p in PLANS],
                         ids=[p[0] for p in PLANS])  # fmt: skip
def test_each_action_plans_exactly_its_writes(
    planned: PlannedChange, properties: dict[str, str], unsubscribe: bool, delete: bool
) -> None:
    plan = write_plan(planned, PMAP)
    assert (plan.properties, plan.unsubscribe, plan.delete) == (properties, unsubscribe, delete)


def test_anonymised_values_are_constants_never_derived_from_the_originals() -> None:
    plan = write_plan(change(Action.ANONYMISE), PMAP)
    assert set(plan.properties.values()) == {"", "ANONYMISED"}


@pytest.mark.parametrize(
    ("planned", "code"),
    [
        (change(Action.REDACT_NOTE), "INVALID_CHANGE"),
        (change(Action.REDACT_NOTE, **{"notes.description": 42}), "INVALID_CHANGE"),
        (change(Action.REDACT_NOTE, **{"notes.comment": "[x]"}), "INVALID_CHANGE"),
    ],
    ids=["no text", "not text", "unmapped note"],
)
def test_a_malformed_change_is_refused_with_a_code(planned: PlannedChange, code: str) -> None:
    with pytest.raises(InvalidChange) as refused:
        write_plan(planned, PMAP)
    assert refused.value.code == code
