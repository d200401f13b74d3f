"""Pseudonyms and generalisations, one rule at a time, and an extract of a CRM that keeps postcodes."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from gomme.connectors.base import Pulled
from gomme.jobs.extract import (
    ExtractSpec,
    MinKNotMet,
    read_key_file,
    recorded_extracts,
    reidentify,
    run_extract,
)
from gomme.jobs.pseudonymise import ExtractKey, age_band, month, region
from gomme.model.conditions import PullQuery
from gomme.model.records import PersonRecord
from gomme.state.models import AuditEvent
from tests.state_key import TEST_KEYRING

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("born", "band"),
    [
        (dt.date(2010, 6, 2), "<18"),  # 15
        (dt.date(2008, 6, 2), "<18"),  # 17, one day short of 18
        (dt.date(2008, 6, 1), "18-29"),  # 18 today
        (dt.date(1996, 6, 2), "18-29"),  # 29
        (dt.date(1996, 6, 1), "30-39"),
        (dt.date(1981, 1, 1), "40-49"),
        (dt.date(1946, 6, 2), "70-79"),
        (dt.date(1946, 6, 1), "80+"),
        (None, ""),
        (dt.date(2027, 1, 1), ""),  # in the future: says nothing true
    ],
)
def test_age_band(born: dt.date | None, band: str) -> None:
    assert age_band(born, NOW.date()) == band


@pytest.mark.parametrize(
    ("postcode", "country", "expected"),
    [
        ("75011", "FR", "FR-75"),
        ("06000", "FR", "FR-06"),
        ("20090", "FR", "FR-2A"),  # Ajaccio, Corse-du-Sud
        ("20200", "FR", "FR-2B"),  # Bastia, Haute-Corse
        ("97110", "FR", "FR-971"),  # Guadeloupe
        ("97400", "RE", "FR-974"),  # La Réunion, filed under its own ISO code
        (" 69 003 ", "FR", "FR-69"),
        ("7501", "FR", "FR"),  # malformed: the country only
        ("10115", "DE", "DE"),  # outside France: the country only
        ("SW1A 1AA", "GB", "GB"),
        ("75011", None, ""),
        (None, "fr", "FR"),
    ],
)
def test_region(postcode: str | None, country: str | None, expected: str) -> None:
    assert region(postcode, country) == expected


def test_month_drops_the_day() -> None:
    assert month(dt.date(2024, 3, 9)) == "2024-03"
    assert month(dt.datetime(2024, 11, 30, 23, 0, tzinfo=dt.UTC)) == "2024-11"
    assert month(None) == ""


def test_pseudonyms_are_keyed_normalised_and_kept_apart_by_kind() -> None:
    key, other = ExtractKey.fresh(), ExtractKey.fresh()
    assert key.pseudonym("email", "Ann.Example@Example.org ") == key.pseudonym("email", "ann.example@example.org")
    assert key.pseudonym("phone", "+33 6 12 34 56 78") == key.pseudonym("phone", "+33612345678")
    assert key.pseudonym("email", "x@example.org") != other.pseudonym("email", "x@example.org")
    assert key.pseudonym("first_name", "Morgan") != key.pseudonym("last_name", "Morgan")
    assert key.pseudonym("email", None) == key.pseudonym("email", "  ") == ""
    assert len(key.pseudonym("record", "crm:contact:1")) == 32
    assert key.fingerprint != other.fingerprint and key.fingerprint == ExtractKey(key.secret).fingerprint
    assert key.secret.hex() not in repr(key)


class PostcodeCrm:
    """A CRM keeping postcodes in a field of its own (as Salesforce's MailingPostalCode)."""

    name = "sf"

    def __init__(self, records: list[PersonRecord]) -> None:
        self.records = records

    def pull(self, query: PullQuery) -> Pulled:
        def stream() -> Iterator[PersonRecord]:
            yield from self.records
            return {}

        return Pulled(stream())  # type: ignore[arg-type]


def _records() -> list[PersonRecord]:
    rows = [("1", "75011", "FR"), ("2", "75002", "FR"), ("3", "20090", "FR"), ("4", "20167", "FR"), ("5", None, "DE")]
    return [PersonRecord(crm="sf", object_type="Contact", id=f"003{i}", email=f"p{i}@example.org", country=country,
                         raw={"MailingPostalCode": code} if code else {}) for i, code, country in rows]


def test_an_extract_generalises_postcodes_and_records_itself(tmp_path: Path, state_engine: Engine) -> None:
    spec = ExtractSpec(connector="sf", fields=("postcode", "email"), purpose="statistics", recipient="Stat Co",
                       transfer_basis="No transfer outside the EU").validated()
    output, key_file = tmp_path / "out.csv", tmp_path / "keys" / "out.key"
    key_file.parent.mkdir()

    result = run_extract(PostcodeCrm(_records()), spec, output=output, key_file=key_file,  # type: ignore[arg-type]
                         engine=state_engine, keyring=TEST_KEYRING, now=NOW, actor="test", policy_hash="0" * 64)

    with output.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["region"] for row in rows] == ["FR-75", "FR-75", "FR-2A", "FR-2A", "DE"]
    assert result.k == 1 and result.groups == 3 and result.rows == 5
    key = read_key_file(key_file)
    assert key.key.fingerprint == result.key_fingerprint
    (match,) = reidentify(_records(), key.key, rows[2]["record"])
    assert (match.record_id, match.field) == ("0033", "id")
    (extract,) = recorded_extracts(state_engine)
    assert (extract.recipient, extract.purpose, extract.transfer_basis) == ("Stat Co", "statistics",
                                                                            "No transfer outside the EU")
    assert (extract.rows, extract.k, extract.fields) == (5, 1, ("postcode", "email"))


def test_min_k_refused_leaves_no_file_and_no_entry(tmp_path: Path, state_engine: Engine) -> None:
    spec = ExtractSpec(connector="sf", fields=("postcode",), purpose="p", recipient="r", min_k=2).validated()
    folder = tmp_path / "extracts"
    folder.mkdir()

    with pytest.raises(MinKNotMet) as refused:
        run_extract(PostcodeCrm(_records()), spec, output=folder / "out.jsonl",  # type: ignore[arg-type]
                    key_file=folder / "out.key", engine=state_engine, keyring=TEST_KEYRING, now=NOW, actor="test",
                    policy_hash="0" * 64)

    assert (refused.value.k, refused.value.below) == (1, 1)
    assert list(folder.iterdir()) == []
    with Session(state_engine) as db:
        assert list(db.exec(select(AuditEvent))) == []
    assert json.dumps(str(refused.value)).count("@") == 0


def test_every_quasi_identifier_still_fits_the_audit_entry(tmp_path: Path, state_engine: Engine) -> None:
    from gomme.jobs.extract import extractable

    fields = tuple(name for name in extractable() if name not in ("id", "email", "phone", "first_name", "last_name"))
    spec = ExtractSpec(connector="sf", fields=fields, purpose="p" * 500, recipient="r" * 200,
                       transfer_basis="t" * 500, quasi=fields).validated()
    run_extract(PostcodeCrm(_records()), spec, output=tmp_path / "out.csv", key_file=tmp_path / "out.key",  # type: ignore[arg-type]
                engine=state_engine, keyring=TEST_KEYRING, now=NOW, actor="test", policy_hash="0" * 64)
    with Session(state_engine) as db:
        (event,) = db.exec(select(AuditEvent))
    assert len(event.evidence or "") <= 300 and "rows=5" in (event.evidence or "")
    (extract,) = recorded_extracts(state_engine)
    assert extract.purpose == "p" * 500 and extract.fields == fields


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Call back on 06 12 34 56 78 tomorrow.", ["06 12 34 56 78"]),
        ("Write to someone.else@example.net about it.", ["someone.else@example.net"]),
        ("Signed on 12/03/2024 and 2024-03-12.", []),  # dates are not phone numbers
        ("Order 1234567 shipped.", []),  # seven digits: not a phone number
        ("MORGAN asked for a quote; morganite is a stone.", ["MORGAN"]),  # the person's name, as a whole word
    ],
)
def test_identifiers_found_in_notes(text: str, found: list[str]) -> None:
    from gomme.jobs.extract import identifier_spans

    person = PersonRecord(crm="c", object_type="contact", id="1", first_name="Morgan")
    assert [text[a:b] for a, b in sorted(identifier_spans(text, person))] == found
