"""The CRMs the crash-safety loop kills sweeps against: one fresh, identically seeded CRM per run.

Each world serves its CRM to a `gomme` subprocess (the local CRM is a file; the Salesforce fake is
served over loopback HTTPS, the HubSpot fake over loopback HTTP, both from the test process so the CRM
outlives the killed worker) and reads back the final state to compare runs, minus timestamps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fakes.hubspot import TOKEN, UNLIMITED, FakeHubSpot
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS, seed
from fakes.served import Served

from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import synthetic_people
from gomme.model.conditions import PullQuery
from gomme.model.records import PersonRecord

NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
# Stamped by the fakes' clocks, which differ between runs; sweeps never write them.
_TIMESTAMPS = frozenset({"SystemModstamp", "CreatedDate", "LastModifiedDate", "lastmodifieddate",
                         "hs_lastmodifieddate"})  # fmt: skip
State = dict[str, Any]


class World(Protocol):
    """A seeded CRM for one run: the connector's config section, the environment, the final state."""

    section: str
    env: dict[str, str]

    def state(self) -> State: ...


def people(count: int) -> list[PersonRecord]:
    return list(synthetic_people(count, seed=7, now=NOW))


@dataclass
class LocalWorld:
    path: Path
    section: str = '[connectors.crm]\ntype = "local"\npath = "crm.db"\n'
    env: dict[str, str] = field(default_factory=dict)

    def state(self) -> State:
        with LocalConnector("crm", self.path) as crm:
            return {r.id: {k: v for k, v in asdict(r).items() if k not in ("modified_at", "raw")}
                    for r in crm.pull(PullQuery())}  # fmt: skip


@dataclass
class SalesforceWorld:
    org: FakeSalesforce
    section: str
    env: dict[str, str]

    def state(self) -> State:
        tables = {name: {record_id: _without_timestamps(row) for record_id, row in table.items()}
                  for name, table in self.org.tables.items()}  # fmt: skip
        return {"tables": tables, "recycle_bin": dict(self.org.deleted), "purged": sorted(self.org.purged)}


@dataclass
class HubSpotWorld:
    fake: FakeHubSpot
    section: str
    env: dict[str, str]

    def state(self) -> State:
        portal = self.fake.portal
        with portal.lock:
            return {
                "contacts": {i: _without_timestamps(c.properties) for i, c in portal.contacts.items()},
                "archived": sorted(portal.archived), "blocklist": sorted(portal.blocklist),
                "statuses": {email: dict(s) for email, s in portal.statuses.items()},
            }  # fmt: skip


def _without_timestamps(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in _TIMESTAMPS}


@contextmanager
def local_world(directory: Path, count: int) -> Iterator[World]:
    with LocalConnector("crm", directory / "crm.db") as crm:
        crm.add(people(count))
    yield LocalWorld(directory / "crm.db")


@contextmanager
def salesforce_world(directory: Path, count: int) -> Iterator[World]:
    org = FakeSalesforce(custom_fields=CUSTOM_FIELDS)
    seed(org, people(count))
    with Served(org, directory) as served:
        section = (f'[connectors.sf]\ntype = "salesforce"\ninstance_url = "{served.url}"\n'
                   'access_token_env = "SF_CRASH_TOKEN"\nlegal_hold_field = "Legal_Hold__c"\n'
                   'contract_end_field = "Contract_End__c"\nbatch_size = 200\nbulk_threshold = 200\n')  # fmt: skip
        env = {"SF_CRASH_TOKEN": "fake-token", "REQUESTS_CA_BUNDLE": str(served.ca_file)}
        yield SalesforceWorld(org, section, env)


@contextmanager
def hubspot_world(directory: Path, count: int) -> Iterator[World]:
    from tests.connectors.hubspot.test_hubspot_sweep_e2e import properties

    with FakeHubSpot(limits=UNLIMITED) as fake:
        for name, kind in (("gomme_restricted", "bool"), ("legal_hold", "bool"), ("contract_end_date", "date"),
                           ("gomme_erasure_requested", "bool")):  # fmt: skip
            fake.portal.define(name, kind)
        fake.portal.add_many(properties(person) for person in people(count))
        section = (f'[connectors.hs]\ntype = "hubspot"\nbase_url = "{fake.url}"\naccess_token_env = "HUBSPOT_TOKEN"\n'
                   'delete_mode = "gdpr"\nlegal_hold_property = "legal_hold"\n'
                   'contract_end_property = "contract_end_date"\nrequests_per_10s = 250\n'
                   'search_requests_per_second = 5\nlimit_fraction = 1.0\n'
                   '[connectors.hs.properties]\nerasure_requested = "gomme_erasure_requested"\n'
                   '[connectors.hs.lifecycle_map]\nlead = "prospect"\ncustomer = "customer"\n'
                   'former_customer = "former_customer"\n')  # fmt: skip
        yield HubSpotWorld(fake, section, {"HUBSPOT_TOKEN": TOKEN})


WORLDS = {"local": local_world, "salesforce": salesforce_world, "hubspot": hubspot_world}
