"""Reading contacts: list pages for full sweeps, keyset-paged searches for pushdown and incremental pulls.

Searches are paged by `hs_object_id > last id` (sorted by id), never by `after` offsets, so a result set
larger than the search API's 10,000 cap is read completely. Several searches (the incremental one, and
prefilters split to fit the API's limits) are merged by id, so each record comes once.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any

import structlog

from gomme.connectors.hubspot.client import Endpoint, Transport
from gomme.connectors.hubspot.mapping import MODIFIED_PROPERTY, OBJECT_TYPE, PropertyInfo, parse_datetime
from gomme.connectors.hubspot.search import PAGE_SIZE, Conjunction, PullPlan, search_body, since_filter
from gomme.connectors.hubspot.settings import HubSpotSettings
from gomme.connectors.incremental import MILLISECOND, Position, Tracker
from gomme.model.conditions import PullQuery

log = structlog.get_logger(__name__)

LIST_PAGE_SIZE = 100  # the list endpoint's maximum
BATCH_SIZE = 100  # batch read/update/archive inputs per call
_SINCE = "since"

Contact = Mapping[str, Any]


class Reader:
    """Streams raw contacts (property dicts); the connector turns them into PersonRecords."""

    def __init__(
        self,
        name: str,
        settings: HubSpotSettings,
        transport: Transport,
        properties: Callable[[], list[str]],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.name = name
        self._settings = settings
        self._transport = transport
        self._properties = properties
        self._clock = clock

    def pull(
        self, query: PullQuery, plan: Callable[[], PullPlan], emit: Callable[[Contact], Any]
    ) -> Generator[Any, None, dict[str, str]]:
        """Yields `emit(contact)` for each contact the query selects; returns the next cursor."""
        started = self._clock()
        since = self._previous(query)
        everything = query.everything or (query.since is not None and since is None)
        streams: list[tuple[str, Iterator[Contact]]] = []
        if not everything:
            pulled = plan() if query.prefilters else PullPlan(everything=False)
            if pulled.dropped:
                log.info("hubspot_pushdown_dropped", connector=self.name, fields=",".join(pulled.dropped))
            everything = pulled.everything
            if since is not None:
                streams.append((_SINCE, self.search([since_filter(since.at, MODIFIED_PROPERTY)], query.limit)))
            streams += [(f"q{i}", self.search(groups, query.limit)) for i, groups in enumerate(pulled.queries)]
        source = self._everything(query.limit) if everything else _merge(streams)
        newest, remaining = Tracker(since, MILLISECOND), query.limit
        for contact, tags in source:
            if remaining is not None and remaining <= 0:
                break
            moment = parse_datetime((contact.get("properties") or {}).get(MODIFIED_PROPERTY))
            contact_id = str(contact["id"])
            if since is not None and tags == {_SINCE} and moment is not None and since.already_seen(contact_id, moment):
                continue  # read at the boundary last time and unchanged since
            newest.saw(contact_id, moment)
            yield emit(contact)
            if remaining is not None:
                remaining -= 1
                if remaining <= 0:
                    break
        return self._next_cursor(query, newest, remaining is not None and remaining <= 0, started)

    def _previous(self, query: PullQuery) -> Position | None:
        if query.since is None or OBJECT_TYPE not in query.since:
            return None
        text = query.since[OBJECT_TYPE]
        return Position.parse(text, resolution=MILLISECOND, connector=self.name, object_type=OBJECT_TYPE)

    def _next_cursor(self, query: PullQuery, newest: Tracker, cut: bool, started: dt.datetime) -> dict[str, str]:
        """Newest change read, capped at the pull's start minus the search index lag; never backwards."""
        if not query.everything and query.since is None:
            return {}  # a prefilter-only pull did not look at what changed
        cursor = dict(query.since or {})
        if cut:
            return cursor  # a limit left records unread: the position stays where it was
        position = newest.position(cap=started - dt.timedelta(seconds=self._settings.index_lag_seconds))
        if position is not None:
            cursor[OBJECT_TYPE] = position.dump()
        return cursor

    def _everything(self, limit: int | None) -> Iterator[tuple[Contact, set[str]]]:
        for page in self.list_pages(limit):
            for contact in page:
                yield contact, set()

    def list_pages(self, limit: int | None = None) -> Iterator[list[Contact]]:
        """`GET /crm/v3/objects/contacts`, 100 per page, following `paging.next.after`."""
        after: str | None = None
        properties = self._properties()
        size = LIST_PAGE_SIZE if limit is None else max(1, min(LIST_PAGE_SIZE, limit))
        while True:
            body = self._list_page(after, size, properties)
            yield list(body.get("results") or ())
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def search(self, groups: Sequence[Conjunction], limit: int | None = None) -> Iterator[Contact]:
        """Contacts matching any group, in id order, one keyset page (≤200) per call."""
        properties = self._properties()
        size = PAGE_SIZE if limit is None else max(1, min(PAGE_SIZE, limit))
        after_id = 0
        while True:
            body = search_body(groups, after_id, properties, size)
            page = self._search(body)
            results = list(page.get("results") or ())
            yield from results
            if not results or not (page.get("paging") or {}).get("next"):
                return
            after_id = int(results[-1]["id"])

    def batch_read(self, ids: Iterable[str], properties: list[str] | None = None) -> Iterator[Contact]:
        """`POST .../batch/read`, 100 ids per call; missing ids (a 207's errors) are skipped."""
        wanted = list(dict.fromkeys(ids))
        names = properties if properties is not None else self._properties()
        for start in range(0, len(wanted), BATCH_SIZE):
            inputs = [{"id": record_id} for record_id in wanted[start : start + BATCH_SIZE]]
            yield from self._batch_read({"inputs": inputs, "properties": names, "propertiesWithHistory": []})

    def find(self, email_property: str, email: str) -> list[Contact]:
        body = {
            "filterGroups": [{"filters": [{"propertyName": email_property, "operator": "EQ", "value": email}]}],
            "properties": self._properties(),
            "limit": 100,
        }
        return list(self._search(body).get("results") or ())

    def size(self) -> int | None:
        body = {"filterGroups": [], "properties": ["hs_object_id"], "limit": 1}
        total = self._search(body).get("total")
        return int(total) if total is not None else None

    def _list_page(self, after: str | None, size: int, properties: list[str]) -> Mapping[str, Any]:
        response = self._transport.call(
            Endpoint.LIST, lambda apis, o: apis.basic.get_page(limit=size, after=after, properties=properties, **o)
        )
        result: Mapping[str, Any] = response.body or {}
        return result

    def _batch_read(self, body: Mapping[str, Any]) -> list[Contact]:
        response = self._transport.call(Endpoint.BATCH_READ, lambda apis, o: apis.batch.read(body, **o))
        return list((response.body or {}).get("results") or ())

    def _search(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        response = self._transport.call(Endpoint.SEARCH, lambda apis, o: apis.search.do_search(body, **o))
        result: Mapping[str, Any] = response.body or {}
        return result

    def schema(self) -> dict[str, PropertyInfo]:
        """`GET /crm/v3/properties/contacts`: every property's type and whether its value is read-only."""
        body = self._transport.call(Endpoint.PROPERTIES, lambda apis, o: apis.properties.get_all("contacts", **o)).body
        schema = {}
        for item in body.get("results") or ():
            meta = item.get("modificationMetadata") or {}
            name = str(item["name"])
            schema[name] = PropertyInfo(name, str(item.get("type") or "string"), bool(meta.get("readOnlyValue")))
        return schema


def _merge(streams: list[tuple[str, Iterator[Contact]]]) -> Iterator[tuple[Contact, set[str]]]:
    """Id-ordered streams merged into one, each contact once, with the tags of the streams that had it."""
    tagged = [((int(contact["id"]), tag, contact) for contact in stream) for tag, stream in streams]
    current: Contact | None = None
    current_id, tags = -1, set[str]()
    for record_id, tag, contact in heapq.merge(*tagged, key=lambda item: (item[0], item[1])):
        if record_id != current_id:
            if current is not None:
                yield current, tags
            current, current_id, tags = contact, record_id, set()
        tags.add(tag)
    if current is not None:
        yield current, tags
