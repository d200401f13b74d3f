"""k-anonymity is computed right: the extract's k equals a brute-force count of the smallest group over the rows
actually written, on random small datasets."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Hashable, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from gomme.jobs.extract import ExtractSpec, Format, RowMaker, RowWriter, write_rows
from gomme.jobs.kanon import GroupSizes, smallest_group
from gomme.jobs.pseudonymise import ExtractKey
from gomme.model.records import Lifecycle, PersonRecord

TODAY = dt.date(2026, 6, 1)


def brute_force_k(rows: Sequence[tuple[Hashable, ...]]) -> int | None:
    """For every row, how many rows equal it on every quasi-identifier; the smallest such count."""
    if not rows:
        return None
    return min(sum(1 for other in rows if other == row) for row in rows)


values = st.sampled_from(["FR", "DE", "GB", "", "30-39", "40-49"])


@given(st.lists(st.tuples(values, values, values), max_size=40))
def test_smallest_group_is_the_brute_force_k(rows: list[tuple[str, str, str]]) -> None:
    assert smallest_group(rows) == brute_force_k(rows)


@given(st.lists(st.tuples(values), min_size=1, max_size=30), st.integers(min_value=1, max_value=6))
def test_rows_below_k_are_those_in_smaller_groups(rows: list[tuple[str]], k: int) -> None:
    sizes = GroupSizes()
    for row in rows:
        sizes.add(row)
    assert sizes.below(k) == sum(1 for row in rows if rows.count(row) < k)
    assert sizes.rows == len(rows) and sizes.groups == len(set(rows))


people = st.builds(
    lambda i, born, country, stage, postcode: PersonRecord(
        crm="crm", object_type="contact", id=f"r{i}", email=f"someone{i}@example.org", birthdate=born,
        country=country, lifecycle=stage, raw={"MailingPostalCode": postcode} if postcode else {},
    ),
    st.integers(min_value=0, max_value=10**6),
    st.one_of(st.none(), st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2026, 5, 31))),
    st.sampled_from([None, "FR", "DE", "GB"]),
    st.sampled_from(list(Lifecycle)),
    st.sampled_from([None, "75011", "75002", "69003", "20090", "20200", "97110", "10115"]),
)


@settings(max_examples=60)
@given(st.lists(people, max_size=30), st.sampled_from([
    ("birthdate", "country"), ("birthdate", "postcode", "country"), ("postcode",), ("email", "lifecycle"),
    ("lifecycle", "birthdate"),
]), st.booleans())
def test_the_extracts_k_is_the_brute_force_k_of_the_rows_written(
    records: list[PersonRecord], fields: tuple[str, ...], lifecycle_is_quasi: bool
) -> None:
    quasi = ("lifecycle",) if lifecycle_is_quasi and "lifecycle" in fields else ()
    spec = ExtractSpec(connector="crm", fields=fields, purpose="p", recipient="r", quasi=quasi).validated()
    stream = io.StringIO()
    sizes, _ = write_rows(records, RowMaker(spec, ExtractKey.fresh(), TODAY), RowWriter(stream, Format.JSONL,
                                                                                           spec.columns))
    written = [json.loads(line) for line in stream.getvalue().splitlines()]
    columns = spec.quasi_identifiers
    assert set(columns) <= {"age_band", "region", "country", "lifecycle"}
    assert sizes.k == brute_force_k([tuple(row[c] for c in columns) for row in written])
    assert sizes.rows == len(written) == len(records)


# Letters outside a-f, so a generated identifier can never be a piece of a hexadecimal pseudonym by chance.
words = st.text(alphabet="ghijklmnopqrstuvwxyz", min_size=4, max_size=10)


@settings(max_examples=40)
@given(st.lists(st.tuples(words, words, words, st.integers(min_value=10**8, max_value=10**9 - 1)), min_size=1,
                max_size=15))
def test_no_identifier_survives_in_the_rows_written(people_: list[tuple[str, str, str, int]]) -> None:
    records = [PersonRecord(crm="crm", object_type="contact", id=f"id-{first}-{i}", email=f"{first}.{last}@{host}.org",
                            first_name=first.title(), last_name=last.upper(), phone=f"+33 {phone}",
                            notes={"description": f"{first} {last} at {phone}"})
               for i, (first, last, host, phone) in enumerate(people_)]
    spec = ExtractSpec(connector="crm", fields=("id", "email", "phone", "first_name", "last_name", "country"),
                       purpose="p", recipient="r").validated()
    stream = io.StringIO()
    write_rows(records, RowMaker(spec, ExtractKey.fresh(), TODAY), RowWriter(stream, Format.CSV, spec.columns))
    written = stream.getvalue().casefold()
    for record in records:
        for value in (record.id, record.email, record.first_name, record.last_name, str(record.phone)[4:]):
            assert str(value).casefold() not in written
