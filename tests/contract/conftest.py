"""Fixtures of the connector contract suite: every test runs once per connector ("world").

The built-in worlds are the local SQLite CRM, the Salesforce fake and the HubSpot fake (contract_worlds.py),
each seeded with the same synthetic people (`contract_api.PEOPLE`).

Running the suite against your own connector
--------------------------------------------
Write a module that defines a plain function `gomme_contract_connectors()` returning a dict of
name → world factory, and load it as a pytest plugin from a gomme checkout::

    # mycrm_contract.py (importable: installed, or on PYTHONPATH)
    from contextlib import contextmanager
    from tests.contract.contract_api import World

    @contextmanager
    def mycrm_world(people, directory):
        crm = start_a_test_instance(directory)           # your fake or sandbox
        ids = {person.id: crm.insert(person) for person in people}
        with MyCrmConnector("mycrm", ...) as connector:
            yield World(connector, ids, state=crm.read, touch=crm.edit, break_record=crm.refuse_writes_of)

    def gomme_contract_connectors():
        return {"mycrm": mycrm_world}

    $ pytest tests/contract -p mycrm_contract -k mycrm

`-k mycrm` keeps your world's tests only (every test id names its world). The function may also live in any
conftest.py pytest loads in the checkout. A factory takes the people (canonical `PersonRecord`s, to store
however your CRM models them: ids, object types and field names are yours) and a fresh directory, and yields
a `World` (see its docstring):
- `ids`: each person's spec id ("person-07") → the id your connector gives that record;
- `state(record_id)`: what your CRM holds on the record, read without the connector (any comparable
  mapping; leave out the CRM's own change timestamps), None once the record is gone;
- `touch(record_id)`: edit the record as a user would, so that its change time moves past every earlier pull;
- `break_record(record_id)`: make the CRM refuse the record's later writes (at least `restrict_all`).
Read-only tests share one world per module; tests that write get a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gomme.model.conditions import PullQuery
from gomme.model.records import PersonRecord
from tests.contract.contract_api import PEOPLE, World, WorldFactory
from tests.contract.contract_worlds import BUILT_IN


def gomme_contract_connectors() -> dict[str, WorldFactory]:
    """The built-in connectors, found the same way as a plug-in's."""
    return dict(BUILT_IN)


def _factories(config: pytest.Config) -> dict[str, WorldFactory]:
    found: dict[str, WorldFactory] = {}
    for plugin in config.pluginmanager.get_plugins():
        provide = getattr(plugin, "gomme_contract_connectors", None)
        if callable(provide):
            found.update(provide())
    return found


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "world_name" in metafunc.fixturenames:
        metafunc.parametrize("world_name", sorted(_factories(metafunc.config)), scope="module")


@pytest.fixture(scope="module")
def contract_world(
    world_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The connector's world, shared by the read-only tests of a module: they must not change it."""
    with _factories(request.config)[world_name](PEOPLE, tmp_path_factory.mktemp(world_name)) as world:
        yield world


@pytest.fixture(scope="module")
def everyone(contract_world: World) -> list[PersonRecord]:
    """Every record of the shared world, as a full pull returns it: what the reference evaluator judges."""
    return list(contract_world.connector.pull(PullQuery()))


@pytest.fixture
def fresh_world(world_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A world of its own, for a test that writes."""
    with _factories(request.config)[world_name](PEOPLE, tmp_path) as world:
        yield world
