"""What a connector is tested in: the synthetic people every CRM is seeded with, and the `World` around it.

This module depends on gomme only, so that a plug-in can import it (`from tests.contract.contract_api import
World, PEOPLE`) before pytest collects this folder; the built-in worlds are in contract_worlds.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gomme.connectors.base import Connector
from gomme.model.records import Lifecycle, OptOuts, PersonRecord


@dataclass
class World:
    """A connector on a CRM seeded with `PEOPLE`, and three hands on the CRM itself (none of them a method of the
    `Connector` protocol under test)."""

    connector: Connector
    ids: Mapping[str, str]
    """Each person's spec id ("person-07") → the id the connector gives that person's record."""
    state: Callable[[str], Mapping[str, Any] | None]
    """Record id → what the CRM holds on it (any comparable mapping, the CRM's own change stamps left out);
    None once the record is gone."""
    touch: Callable[[str], None]
    """Edits the record as a user would: its change time moves past every earlier pull."""
    break_record: Callable[[str], None]
    """Makes the CRM refuse the record's later writes (at least `restrict_all`)."""


WorldFactory = Callable[[Sequence[PersonRecord], Path], AbstractContextManager[World]]
"""(people, a fresh temporary directory) → a context manager yielding the world, torn down on exit."""


# -- the people --------------------------------------------------------------------------------------------

_COUNTRIES = ("FR", "DE", "ES", "US", None)
_LIFECYCLES = (Lifecycle.PROSPECT, Lifecycle.CUSTOMER, Lifecycle.FORMER_CUSTOMER, Lifecycle.UNKNOWN)


def _at(day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day, hours=hour, minutes=minute)


def _person(index: int) -> PersonRecord:
    """Person `index`: fields varied by residues, so that every value (and every empty field) occurs."""
    name = f"person-{index:02d}"
    lead = index % 5 == 3
    return PersonRecord(
        crm="contract",
        object_type="lead" if lead else "contact",
        id=name,
        email=None if index % 7 == 6 else f"{name}@example.com",
        first_name=name,
        last_name="Example",
        phone=None if index % 3 else f"+33 1 99 00 00 {index:02d}",
        country=_COUNTRIES[index % len(_COUNTRIES)],
        birthdate=None if index % 4 == 1 else dt.date(1950 + index, 1 + index % 12, 1 + index % 28),
        created_at=_at(index * 3, hour=index % 24, minute=index),
        # Some share a change time: cursors must keep records tied at their boundary.
        modified_at=_at(400 + index // 3 * 5, hour=10),
        last_activity_at=None if index % 6 == 5 else _at(index * 11 % 300, hour=0),
        lifecycle=Lifecycle.PROSPECT if lead else _LIFECYCLES[index % len(_LIFECYCLES)],
        contract_end=None if lead or index % 3 == 2 else dt.date(2022 + index % 4, 1 + index % 12, 15),
        opt_outs=OptOuts(email=index % 4 == 2, phone=index % 5 == 1),
        erasure_requested=index % 6 == 4,
        legal_hold=index % 8 == 7,
        restricted=index % 9 == 8,
        notes={"description": f"Note on {name}: call back in spring."} if index % 2 == 0 else {},
    )


def _anonymised(index: int) -> PersonRecord:
    """Someone erased earlier: the marker as last name, nothing identifying left."""
    return PersonRecord(
        crm="contract", object_type="contact", id=f"person-{index:02d}", last_name="ANONYMISED", country="DE",
        created_at=_at(5), modified_at=_at(430, hour=10), lifecycle=Lifecycle.FORMER_CUSTOMER, anonymised=True,
    )  # fmt: skip


PEOPLE: tuple[PersonRecord, ...] = (*(_person(index) for index in range(1, 24)), _anonymised(24))
"""Synthetic people, the same for every CRM; person-12 has every field the actions change."""
