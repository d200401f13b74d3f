"""A stateful in-memory Salesforce org behind `responses`: SOQL, paging, describe, sObject Collections, Bulk 2.0.

Contacts, Leads, Individuals, Accounts, ContactPointTypeConsents (and DataUsePurposes) live in dicts; the
REST endpoints gomme uses are served by callbacks on `https://<host>/services/data/vXX.X/...`, logins on
`https://<domain>.salesforce.com/services/(Soap/u|oauth2/token)`. Every API response carries
`Sforce-Limit-Info: api-usage=N/M`; `requests` lists every API call. Faults are injected through
`Faults`: bursts (`*_next`, consumed as they fire) and seeded rates, so later tests can run at 10%; a lost
answer is a call carried out in full whose connection then drops.
Usable outside pytest: `with responses.RequestsMock() as mock: org.register(mock)`.

By default the org is set up like gomme's defaults; the constructor options make it look like an org an admin set
up (docs/real-orgs.md): fields hidden from or read-only for the integration user (field-level security), State and
Country picklists off, renamed Account types, Person Accounts, Data Protection and Privacy off, private contacts
hidden by sharing.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
import responses
from fakes.salesforce_bulk import BulkJobs
from fakes.salesforce_bulk_query import QueryJobs
from fakes.salesforce_content import (
    ARCHIVABLE,
    CONTENT_CASCADES,
    CONTENT_PREFIX,
    CONTENT_READ_ONLY,
    CONTENT_SCHEMA,
    DRAFT,
    EDITABLE_WHEN_SENT,
    PERSON_CASCADES,
    content_schema,
    note_content,
    note_text,
    preview,
)
from fakes.salesforce_describe import DEFAULT_ACCOUNT_TYPES, describe_object, label_of, modified_since
from fakes.salesforce_http import Call, Failure, Faults, Response, answer, batch_size, error, kind_of, result
from fakes.salesforce_schema import (
    ACTIVITY_RELATIONS,
    CASCADES,
    KEY_PREFIX,
    PERSON_MIRROR,
    READ_ONLY,
    Field,
    build_schema,
    check_value,
    is_person_field,
    relationship,
    render,
)
from fakes.salesforce_soql import Query, SoqlError, evaluate, parse, sort_key

URI_LIMIT = 16_384
_LOOKUPS = frozenset({"WhoId", "RelationId", "TaskId", "EventId", "ContactId", "LeadId", "EmailMessageId",
                      "LinkedEntityId", "ContentDocumentId", "ParentId"})  # indexed: field value → row ids, per object
SCHEMA_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # when the org's objects last changed, unless a test changes one
_FLS = ("Unable to create/update fields: {}. Please check the security settings of this field and verify that it is "
        "read/write for your profile or permission set.")  # fmt: skip
_NO_COLUMN = ("If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
              "Please reference your WSDL or the describe call for the appropriate names.")  # fmt: skip
_NO_RELATIONSHIP = ("If you are attempting to use a custom relationship, be sure to append the '__r' after the "
                    "custom relationship name. Please reference your WSDL or the describe call for the appropriate "
                    "names.")  # fmt: skip
_NO_TYPE = ("If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please "
            "reference your WSDL or the describe call for the appropriate names.")  # fmt: skip
# Writing to (or deleting) a person contact through the Contact object. The code and message are those of an
# update of a person contact reported in github.com/SFDO-Community/declarative-lookup-rollup-summaries/issues/544
# ("INVALID_PERSON_ACCOUNT_OPERATION, cannot reference person contact"); the StatusCode list documents the code as
# "You cannot delete a person account". Not confirmed by an official page: the delete message is unverified.
_PERSON_CONTACT = ("INVALID_PERSON_ACCOUNT_OPERATION", "cannot reference person contact")


class FakeSalesforce:
    """One org. `clock` stamps SystemModstamp on every write (default: real UTC time)."""

    def __init__(
        self,
        *,
        host: str = "fake.my.salesforce.com",
        api_version: str = "62.0",
        daily_limit: int = 5_000_000,
        used: int = 0,
        faults: Faults | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        custom_fields: dict[str, dict[str, Field]] | None = None,
        token: str = "fake-token",
        user_id: str = "005FAKE00000001AAA",
        hidden_fields: dict[str, set[str]] | None = None,
        read_only_fields: dict[str, set[str]] | None = None,
        country_picklists: bool = True,
        account_types: list[str] | None = None,
        person_accounts: bool = False,
        data_protection: bool = True,
        private_contacts_visible: bool = True,
        hidden_objects: set[str] | None = None,
        shared_activities: bool = True,
        enhanced_email: bool = True,
        notes: bool = True,
    ) -> None:
        """`hidden_fields`: per object, fields the integration user cannot see (absent from describe, INVALID_FIELD
        when named); `read_only_fields`: visible but not editable; `country_picklists=False`: no *CountryCode /
        *StateCode fields; `account_types`: Account.Type picklist values describe reports; `person_accounts`:
        Person Accounts enabled (see `create_person_account`); `data_protection=False`: no Individual, consent
        objects or IndividualId; `private_contacts_visible=False`: contacts without an AccountId are invisible;
        `enhanced_email=False`: no EmailMessage / EmailMessageRelation; `notes=False`: no ContentNote /
        ContentDocumentLink (tests/fakes/salesforce_content.py). Tasks and Events have IsArchived."""
        self.host, self.version, self.user_id = host, api_version, user_id
        self.daily_limit, self.used = daily_limit, used
        self.faults = faults or Faults()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.person_accounts, self.private_contacts_visible = person_accounts, private_contacts_visible
        self.account_types = tuple(account_types) if account_types is not None else DEFAULT_ACCOUNT_TYPES
        hidden_content = {k: v for k, v in (hidden_fields or {}).items() if k in CONTENT_SCHEMA}
        self.schema = build_schema(
            custom_fields=custom_fields, country_picklists=country_picklists, data_protection=data_protection,
            person_accounts=person_accounts, shared_activities=shared_activities, hidden_objects=hidden_objects,
            hidden_fields={k: v for k, v in (hidden_fields or {}).items() if k not in CONTENT_SCHEMA},
        )  # fmt: skip
        self.schema.update(content_schema(enhanced_email=enhanced_email, notes=notes, hidden=hidden_objects or set()))
        for name in ARCHIVABLE:
            if name in self.schema:
                self.schema[name]["IsArchived"] = Field("boolean")
        for sobject, names in hidden_content.items():
            for name in names:
                del self.schema[sobject][name]
        self.read_only = {name: (set(fields) & READ_ONLY) | (CONTENT_READ_ONLY.get(name, set()) & set(fields))
                          for name, fields in self.schema.items()}  # fmt: skip
        for sobject, names in (read_only_fields or {}).items():
            unknown = set(names) - set(self.schema.get(sobject, {}))
            if unknown:
                raise ValueError(f"read_only_fields: {sobject}.{sorted(unknown)} not fields of this org")
            self.read_only[sobject] |= set(names)
        self.schema_changed_at = dict.fromkeys(self.schema, SCHEMA_EPOCH)
        self.tables: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.schema}
        self._person_contacts: dict[str, str] = {}  # person account id → its person contact id
        self.deleted: dict[str, str] = {}  # id → object, in the recycle bin
        self.binned: dict[str, dict[str, dict[str, Any]]] = {}  # object → id → row in the recycle bin (queryAll)
        self._index: dict[tuple[str, str], dict[str, dict[str, None]]] = {}  # (object, lookup) → value → ids
        self._all_locators: set[str] = set()  # query locators of queryAll cursors
        self.purged: set[str] = set()
        self.tokens = {token}
        self.requests: list[Call] = []
        self.queries: list[str] = []
        self.logins = 0
        self._by_party: dict[str, dict[str, None]] = {}
        self._counter = itertools.count(1)
        self._cursors: dict[str, tuple[Query, list[str], int]] = {}
        self._texts: dict[str, str] = {}  # query locator → statement
        self.bulk = BulkJobs(self)
        self.query_jobs = QueryJobs(self)

    # -- data -----------------------------------------------------------------------------------------

    def create(self, sobject: str, **fields: Any) -> str:
        """Stores a record as is (system fields filled in); for arranging tests, no validation."""
        record_id = f"{KEY_PREFIX.get(sobject) or CONTENT_PREFIX[sobject]}{next(self._counter):012d}AAA"
        now = self.clock()
        row = {"Id": record_id, "CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now, **fields}
        if self.person_accounts and sobject in ("Account", "Contact"):
            row.setdefault("IsPersonAccount", False)
        self.tables[sobject][record_id] = row
        self._indexed(sobject, row, add=True)
        if sobject == "ContactPointTypeConsent" and row.get("PartyId"):
            self._by_party.setdefault(row["PartyId"], {})[record_id] = None
        return record_id

    def create_activity(self, sobject: str, who_ids: list[str], **fields: Any) -> str:
        """A Task or Event about these people: the first is its WhoId; with Shared Activities on, one relation row
        per person (as Salesforce keeps them)."""
        activity_id = self.create(sobject, WhoId=who_ids[0] if who_ids else None, **fields)
        relation, key = ACTIVITY_RELATIONS[sobject]
        if relation in self.tables:
            for who in who_ids:
                self.create(relation, **{key: activity_id, "RelationId": who, "IsWhat": False})
        return activity_id

    def create_email(self, relations: list[tuple[str | None, str, str]], **fields: Any) -> str:
        """An EmailMessage (Status "3", Sent, unless given) and one EmailMessageRelation per (RelationId or None for
        an address Salesforce does not know, RelationType: FromAddress/ToAddress/CcAddress/BccAddress, address)."""
        email_id = self.create("EmailMessage", **{"Status": "3", **fields})
        for relation_id, kind, address in relations if "EmailMessageRelation" in self.tables else ():
            self.create("EmailMessageRelation", EmailMessageId=email_id, RelationId=relation_id, RelationType=kind,
                        RelationAddress=address)  # fmt: skip
        return email_id

    def create_note(self, linked: list[str], title: str, text: str) -> str:
        """A ContentNote (Content: `text` as escaped HTML, base64) shared with its owner (the integration user) and
        with each of `linked` (people, accounts) through ContentDocumentLink."""
        content = note_content(text)
        note_id = self.create("ContentNote", Title=title, Content=content, TextPreview=preview(content),
                              FileType="SNOTE", OwnerId=self.user_id)  # fmt: skip
        for entity in [self.user_id, *linked] if "ContentDocumentLink" in self.tables else ():
            self.create("ContentDocumentLink", ContentDocumentId=note_id, LinkedEntityId=entity, ShareType="V",
                        Visibility="AllUsers")  # fmt: skip
        return note_id

    def note_text(self, note_id: str) -> str:
        """A note's body as plain text (live or in the recycle bin), for asserting in tests."""
        row = self.tables["ContentNote"].get(note_id) or self.binned.get("ContentNote", {}).get(note_id) or {}
        return note_text(row.get("Content"))

    def rows(self, sobject: str, *, all_rows: bool = False) -> list[dict[str, Any]]:
        """What `query` (or `queryAll`: archived and recycle-bin rows too) can return of an object."""
        live = [row for row in self.tables.get(sobject, {}).values() if all_rows or not row.get("IsArchived")]
        return live + (list(self.binned.get(sobject, {}).values()) if all_rows else [])

    def _indexed(self, sobject: str, row: dict[str, Any], *, add: bool) -> None:
        for name in _LOOKUPS:
            value = row.get(name)
            if value is None:
                continue
            ids = self._index.setdefault((sobject, name), {}).setdefault(str(value), {})
            if add:
                ids[row["Id"]] = None
            else:
                ids.pop(row["Id"], None)

    def _lookup(self, sobject: str, name: str, value: str) -> list[dict[str, Any]]:
        """Live rows of `sobject` whose lookup `name` is `value` (through the index)."""
        table = self.tables.get(sobject, {})
        found = self._index.get((sobject, name), {}).get(value, {})
        return [table[i] for i in found if i in table and table[i].get(name) == value]

    def create_person_account(self, **fields: Any) -> tuple[str, str]:
        """A person account and its person contact (Account-side names: PersonEmail, PersonBirthdate, X__pc…);
        returns (account id, person contact id). The contact mirrors the person fields, as Salesforce keeps it."""
        if not self.person_accounts:
            raise ValueError("Person Accounts are not enabled in this org (person_accounts=True)")
        name = " ".join(str(fields[n]) for n in ("FirstName", "LastName") if fields.get(n))
        account_id = self.create("Account", **{"Name": name, **fields, "IsPersonAccount": True})
        account = self.tables["Account"][account_id]
        mirrored = {target: value for field, value in account.items() if (target := _mirror(field))}
        contact_id = self.create("Contact", **mirrored, AccountId=account_id, IsPersonAccount=True)
        account["PersonContactId"] = contact_id
        self._person_contacts[account_id] = contact_id
        return account_id, contact_id

    def add_field(self, sobject: str, name: str, field: Field) -> None:
        """An admin adds a field (or grants access to it): describe answers 200 again after If-Modified-Since."""
        self.schema[sobject][name] = field
        self.schema_changed_at[sobject] = self.clock()

    def hide_field(self, sobject: str, name: str) -> None:
        """An admin removes the integration user's access to a field."""
        del self.schema[sobject][name]
        self.schema_changed_at[sobject] = self.clock()

    def visible(self, sobject: str, row: dict[str, Any]) -> bool:
        """Whether sharing lets the integration user see the row (private contacts: no AccountId; a private classic
        note of another owner, object reference "Note", IsPrivate)."""
        if sobject == "Note" and row.get("IsPrivate") and row.get("OwnerId") not in (None, self.user_id):
            return False
        return self.private_contacts_visible or sobject != "Contact" or bool(row.get("AccountId"))

    def record(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        return self.tables[sobject].get(record_id)

    def consents_of(self, individual_id: str) -> list[dict[str, Any]]:
        table = self.tables["ContactPointTypeConsent"]
        return [table[cid] for cid in self._by_party.get(individual_id, {}) if cid in table]

    def expire_session(self) -> None:
        self.tokens.clear()

    @property
    def api_calls(self) -> int:
        return sum(call.kind != "login" for call in self.requests)

    def calls_of(self, kind: str) -> int:
        return sum(call.kind == kind for call in self.requests)

    # -- writes shared by collections and bulk ----------------------------------------------------------

    def write_fault(self, record_id: str | None) -> str | None:
        if record_id and record_id in self.faults.rejected:
            return self.faults.rejected[record_id]
        if record_id and self.faults.locked.get(record_id, 0) > 0:
            self.faults.locked[record_id] -= 1
            return "UNABLE_TO_LOCK_ROW"
        return "UNABLE_TO_LOCK_ROW" if self.faults.draw(self.faults.lock_rate) else None

    def update_one(self, sobject: str, record_id: str, fields: dict[str, Any]) -> str | None:
        """None, or the error code (a `Failure`, with message and fields) of this record's update."""
        table = self.tables.get(sobject, {})
        if record_id not in table:
            return "ENTITY_IS_DELETED" if record_id in self.deleted or record_id in self.purged else "INVALID_ID_FIELD"
        row = table[record_id]
        refused = self._record_access(sobject, row)
        if refused:
            return refused
        fault = self.write_fault(record_id)
        if fault:
            return fault
        refused = self._field_access(sobject, row, fields)
        if refused:
            return refused
        if sobject == "EmailMessage" and row.get("Status") != DRAFT:
            locked = [n for n in fields if n not in EDITABLE_WHEN_SENT and not n.endswith("__c")]
            if locked:  # the object reference's rule; the code and message Salesforce gives are unverified
                return Failure("INSUFFICIENT_ACCESS_OR_READONLY", "only a draft email can be edited", locked)
        checked = {}
        for name, value in fields.items():
            stored, error = check_value(self.schema, sobject, name, value)
            if error:
                return self._value_failure(sobject, name, value, error)
            checked[name] = stored
        if sobject == "ContentNote" and checked.get("Content"):
            checked["TextPreview"] = preview(checked["Content"])
        if _LOOKUPS & checked.keys():
            self._indexed(sobject, row, add=False)
        row.update(checked, SystemModstamp=self.clock(), LastModifiedDate=self.clock())
        if _LOOKUPS & checked.keys():
            self._indexed(sobject, row, add=True)
        if sobject == "Account" and row.get("IsPersonAccount"):
            self._mirror_to_person_contact(row, checked)
        return None

    def insert_one(self, sobject: str, fields: dict[str, Any]) -> tuple[str | None, str | None]:
        fault = self.write_fault(None)
        if fault:
            return None, fault
        refused = self._field_access(sobject, None, fields)
        if refused:
            return None, refused
        checked = {}
        for name, value in fields.items():
            stored, error = check_value(self.schema, sobject, name, value)
            if error:
                return None, self._value_failure(sobject, name, value, error)
            checked[name] = stored
        missing = [n for n, f in self.schema[sobject].items() if f.required and checked.get(n) in (None, "")]
        if missing:  # message format unverified
            message = f"Required fields are missing: [{', '.join(missing)}]"
            return None, Failure("REQUIRED_FIELD_MISSING", message, missing)
        return self.create(sobject, **checked), None

    def delete_one(self, record_id: str, *, hard: bool = False) -> str | None:
        if record_id in self.purged or (record_id in self.deleted and not hard):
            return "ENTITY_IS_DELETED"
        sobject = next((name for name, table in self.tables.items() if record_id in table), None)
        if sobject is None and record_id not in self.deleted:
            return "INVALID_CROSS_REFERENCE_KEY"
        if sobject is not None:
            refused = self._record_access(sobject, self.tables[sobject][record_id])
            if refused:
                return refused
        fault = self.write_fault(record_id)
        if fault:
            return fault
        person_contact = self._person_contacts.get(record_id)
        for each in (record_id, person_contact) if person_contact else (record_id,):
            self._remove(each, hard=hard)
        return None

    def _remove(self, record_id: str, *, hard: bool) -> None:
        sobject = next((name for name, table in self.tables.items() if record_id in table), None)
        if sobject is not None:
            children = self._cascade(record_id)
            row = self.tables[sobject].pop(record_id)
            self._indexed(sobject, row, add=False)
            if sobject == "ContactPointTypeConsent":
                self._by_party.get(row.get("PartyId") or "", {}).pop(record_id, None)
            self.deleted[record_id] = sobject
            if not hard:
                self.binned.setdefault(sobject, {})[record_id] = {**row, "IsDeleted": True}
            for child in children:
                self._remove(child, hard=hard)
        if hard:
            binned = self.deleted.pop(record_id, None)
            self.binned.get(binned or "", {}).pop(record_id, None)
            self.purged.add(record_id)

    def _cascade(self, record_id: str) -> list[str]:
        """Children deleted with a record (cascadeDelete): its history rows, its activities' relation rows, and
        the activities whose only person it was (a shared activity stays with its other people; unverified)."""
        children = []
        for child, link in CASCADES.items():
            for row in self._lookup(child, link, record_id):
                if not self._other_people(child, row["Id"], record_id):
                    children.append(row["Id"])
        for relation, key in ACTIVITY_RELATIONS.values():
            children += [r["Id"] for name in ("RelationId", key) for r in self._lookup(relation, name, record_id)]
        for child, link in (*CONTENT_CASCADES.items(), *PERSON_CASCADES.items()):
            children += [row["Id"] for row in self._lookup(child, link, record_id)]
        return list(dict.fromkeys(children))

    def _other_people(self, sobject: str, activity_id: str, person_id: str) -> bool:
        relation, key = ACTIVITY_RELATIONS.get(sobject, ("", ""))
        return any(r.get("RelationId") != person_id for r in self._lookup(relation, key, activity_id))

    def _record_access(self, sobject: str, row: dict[str, Any]) -> Failure | None:
        """Refusals of a write or delete for the record as a whole (person contacts, sharing)."""
        if sobject == "Contact" and row.get("IsPersonAccount"):
            return Failure(*_PERSON_CONTACT)  # a person contact is edited and deleted through its account
        if not self.visible(sobject, row):
            return Failure("INSUFFICIENT_ACCESS_OR_READONLY")
        return None

    def _field_access(self, sobject: str, row: dict[str, Any] | None, fields: dict[str, Any]) -> Failure | None:
        """Refusals for the fields a write names: read-only for the user (FLS or system) or wrong kind of account."""
        if sobject == "Account" and self.person_accounts:
            person = bool(row and row.get("IsPersonAccount"))
            bad = [] if person else [n for n in fields if is_person_field(n)]
            if bad:  # seen in practitioner reports (texei/texei-sfdx-plugin#51, SFDX-Data-Move-Utility#378)
                message = f"Account: bad field names on insert/update call: {', '.join(bad)}"
                return Failure("INVALID_FIELD_FOR_INSERT_UPDATE", message, bad)
        read_only = self.read_only.get(sobject, set())
        if sobject == "Account" and row and row.get("IsPersonAccount"):
            # a person account's Name is FirstName + LastName (SFDX-Data-Move-Utility#6, b2c-crm-sync#267)
            read_only = read_only | {"Name"}
        refused = [name for name in fields if name in read_only]
        return Failure("INVALID_FIELD_FOR_INSERT_UPDATE", _FLS.format(", ".join(refused)), refused) if refused else None

    def _value_failure(self, sobject: str, name: str, value: Any, code: str) -> Failure:
        """The message Salesforce gives for a value it refuses (formats unverified; they may quote the value)."""
        label = label_of(sobject, name)
        length = self.schema[sobject][name].length if name in self.schema[sobject] else 0
        messages = {
            "REQUIRED_FIELD_MISSING": f"Required fields are missing: [{name}]",
            "STRING_TOO_LONG": f"{label}: data value too large: {value} (max length={length})",
            "INVALID_EMAIL_ADDRESS": f"{label}: invalid email address: {value}",
            "INVALID_TYPE_ON_FIELD_IN_RECORD": f"{label}: value not of required type: {value}",
            "INVALID_FIELD": f"No such column '{name}' on sobject of type {sobject}",
            "INVALID_FIELD_FOR_INSERT_UPDATE": _FLS.format(name),
        }
        return Failure(code, messages.get(code, ""), [name])

    def _mirror_to_person_contact(self, account: dict[str, Any], changed: dict[str, Any]) -> None:
        """Salesforce keeps a person account's two rows in step, timestamps included."""
        contact = self.tables["Contact"].get(account.get("PersonContactId") or "")
        if contact is None:
            return
        contact.update({target: value for name, value in changed.items() if (target := _mirror(name))})
        contact.update(SystemModstamp=account["SystemModstamp"], LastModifiedDate=account["LastModifiedDate"])
        if {"FirstName", "LastName"} & changed.keys():
            account["Name"] = " ".join(str(account[n]) for n in ("FirstName", "LastName") if account.get(n))

    # -- HTTP -----------------------------------------------------------------------------------------

    def register(self, mock: responses.RequestsMock) -> None:
        base = re.escape(f"https://{self.host}/services/data/v{self.version}/")
        routes: list[tuple[str, str, Callable[[Any], Response]]] = [
            ("GET", base + r"$", self._resources),
            ("GET", base + r"query/?\?.*", self._query),
            ("GET", base + r"query/[^/?]+$", self._query_more),
            ("GET", base + r"queryAll/?\?.*", self._query_all),
            ("GET", base + r"queryAll/[^/?]+$", self._query_more),
            ("GET", base + r"sobjects/ContentNote/[A-Za-z0-9]+/Content$", self._note_blob),
            ("GET", base + r"sobjects/[A-Za-z0-9_]+/describe/?$", self._describe),
            *[
                (method, base + r"composite/sobjects/?(\?.*)?$", self._composite)
                for method in ("PATCH", "POST", "DELETE")
            ],
        ]
        for method, pattern, handler in routes:
            mock.add_callback(method, re.compile(pattern), callback=self._api(handler), content_type=None)
        self.bulk.register(mock, base, self._api)
        self.query_jobs.register(mock, base, self._api)
        login = r"https://[A-Za-z0-9.-]+\.salesforce\.com/services/"
        mock.add_callback("POST", re.compile(login + r"Soap/u/[0-9.]+$"), callback=self._soap_login, content_type=None)
        mock.add_callback("POST", re.compile(login + r"oauth2/token$"), callback=self._oauth_login, content_type=None)

    def _api(self, handler: Callable[[Any], Response]) -> Callable[[Any], Response | Exception]:
        def respond(request: Any) -> Response | Exception:
            kind = kind_of(request)
            if "/queryAll" in urlparse(request.url).path:  # counted as queries, like /query
                kind = "query" if "q=" in (urlparse(request.url).query or "") else "query_more"
            self.requests.append(Call(request.method, kind, urlparse(request.url).path, self._statement(request)))
            faults = self.faults
            if faults.reset_next > 0 or faults.draw(faults.reset_rate):
                faults.reset_next = max(0, faults.reset_next - 1)
                return requests.ConnectionError("Connection reset by peer (fake)")
            self.used += 1
            status, headers, body = self._checked(request, handler)
            if faults.lose(request.method, urlparse(request.url).path):  # applied, then the connection dropped
                return requests.ConnectionError("Connection reset by peer (fake): answer lost")
            if faults.time_out(request.method, urlparse(request.url).path):  # applied, slower than the client waits
                return requests.exceptions.ReadTimeout("Read timed out (fake)")
            headers = {"Sforce-Limit-Info": f"api-usage={self.used}/{self.daily_limit}", **headers}
            return status, headers, body

        return respond

    def _checked(self, request: Any, handler: Callable[[Any], Response]) -> Response:
        faults = self.faults
        if faults.unavailable_next > 0 or faults.draw(faults.unavailable_rate):
            faults.unavailable_next = max(0, faults.unavailable_next - 1)
            headers = {"Retry-After": faults.retry_after} if faults.retry_after else {}
            return error(503, "SERVER_UNAVAILABLE", "Service temporarily unavailable", headers)
        if faults.request_limit_next > 0 or self.used > self.daily_limit:
            faults.request_limit_next = max(0, faults.request_limit_next - 1)
            return error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if faults.expire_session_after is not None:
            faults.expire_session_after -= 1
            if faults.expire_session_after < 0:
                faults.expire_session_after = None
                self.expire_session()
        token = str(request.headers.get("Authorization", "")).removeprefix("Bearer ")
        if token in faults.served and faults.draw(faults.expire_rate):  # a session in use times out, not a new one
            faults.expired += 1
            self.expire_session()
        if token not in self.tokens or faults.sessions_expire:
            return error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        faults.served.add(token)
        if len(request.url) > URI_LIMIT:
            return 414, {}, "URI Too Long"
        try:
            return handler(request)
        except SoqlError as exc:
            return error(400, exc.code, str(exc))

    def _statement(self, request: Any) -> str:
        url = urlparse(request.url)
        if "/query/" not in url.path and "/queryAll" not in url.path:
            return ""
        if "q=" in (url.query or ""):
            return parse_qs(url.query)["q"][0]
        locator = url.path.rsplit("/", 1)[-1].rpartition("-")[0]
        return self._texts.get(locator, "")

    def _soap_login(self, request: Any) -> Response:
        self.logins += 1
        self.requests.append(Call("POST", "login", urlparse(request.url).path))
        token = self._new_token()
        body = (f"<?xml version='1.0'?><Envelope><Body><loginResponse><result><serverUrl>https://{self.host}"
                f"/services/Soap/u/{self.version}/00D</serverUrl><sessionId>{token}</sessionId></result>"
                "</loginResponse></Body></Envelope>")  # fmt: skip
        return 200, {"Content-Type": "text/xml"}, body

    def _oauth_login(self, request: Any) -> Response:
        self.logins += 1
        self.requests.append(Call("POST", "login", urlparse(request.url).path))
        body = {"access_token": self._new_token(), "instance_url": f"https://{self.host}", "token_type": "Bearer"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _new_token(self) -> str:
        token = f"fake-token-{self.logins}"
        self.tokens = {token}
        return token

    def _resources(self, request: Any) -> Response:
        """Resources by Version (REST API guide "List Available REST Resources"), a few of them: `identity` ends
        with the org id and the session's user id."""
        root = f"/services/data/v{self.version}"
        return answer(200, {
            "sobjects": f"{root}/sobjects", "query": f"{root}/query", "composite": f"{root}/composite",
            "identity": f"https://{self.host}/id/00DFAKE000000001AAA/{self.user_id}",
        })  # fmt: skip

    # -- describe -------------------------------------------------------------------------------------

    def _describe(self, request: Any) -> Response:
        """sObject Describe; 304 without a body when the object did not change since If-Modified-Since ✔ (REST API
        guide "Get Object Metadata Changes"). A 304 is counted like any call (unverified)."""
        name = urlparse(request.url).path.rstrip("/").split("/")[-2]
        sobject = next((known for known in self.schema if known.lower() == name.lower()), None)
        if sobject is None:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        if not modified_since(request.headers.get("If-Modified-Since"), self.schema_changed_at[sobject]):
            return 304, {}, ""
        read_only = self.read_only[sobject]
        return answer(200, describe_object(sobject, self.schema[sobject], read_only, self.account_types, self.version))

    # -- queries --------------------------------------------------------------------------------------

    def _query_all(self, request: Any) -> Response:
        """QueryAll: also the rows in the recycle bin (IsDeleted true) and archived activities (REST API guide
        "QueryAll"); its `nextRecordsUrl` says `query` all the same."""
        return self._query(request, all_rows=True)

    def _note_blob(self, request: Any) -> Response:
        """sObject Blob Get of a note's Content: the note's HTML, not base64 (REST API guide "sObject Blob Get")."""
        note_id = urlparse(request.url).path.split("/")[-2]
        row = self.tables.get("ContentNote", {}).get(note_id)
        if row is None:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        body = base64.b64decode(row.get("Content") or "")
        return 200, {"Content-Type": "application/octet-stream"}, body

    def _query(self, request: Any, *, all_rows: bool = False) -> Response:
        text = parse_qs(urlparse(request.url).query)["q"][0]
        query, ids = self.select(text, all_rows=all_rows)
        if query.is_count:
            return answer(200, {"totalSize": len(ids), "done": True, "records": []})
        return self._page(query, ids, 0, batch_size(request), text=text, all_rows=all_rows)

    def select(self, text: str, *, all_rows: bool = False) -> tuple[Query, list[str]]:
        """A SOQL statement checked against the schema (SoqlError as Salesforce words it) and the ids of the rows
        it selects, in order and within its LIMIT; shared by REST queries and Bulk API query jobs."""
        self.queries.append(text)
        query = parse(text)
        if query.sobject not in self.schema:
            message = f"sObject type '{query.sobject}' is not supported. {_NO_TYPE}"
            raise SoqlError("INVALID_TYPE", _pointed(text, query.sobject, message, after_from=True))
        for path in (*query.fields, *_fields_of(query.where), *(name for name, _ in query.order_by)):
            if path not in ("COUNT()", "FIELDS(ALL)"):
                try:
                    self._resolve(query.sobject, None, path)
                except SoqlError as exc:
                    raise SoqlError(exc.code, _pointed(text, path, str(exc))) from None
        if "FIELDS(ALL)" in query.fields and (query.limit is None or query.limit > 200):
            raise SoqlError("MALFORMED_QUERY", "FIELDS(ALL) needs a LIMIT of 200 at most")
        candidates = self._candidates(query)
        if all_rows:
            candidates = [*candidates, *self.binned.get(query.sobject, {}).values()]
        elif query.sobject in ARCHIVABLE:  # query() leaves archived activities out
            candidates = [row for row in candidates if not row.get("IsArchived")]
        rows = [row for row in candidates if self.visible(query.sobject, row)
                and evaluate(query.where, lambda path, row=row: self._resolve(query.sobject, row, path))]  # fmt: skip
        if query.order_by:
            rows.sort(key=lambda row: sort_key(query.order_by, lambda path: self._resolve(query.sobject, row, path)))
        return query, [row["Id"] for row in rows][: query.limit]

    def cell(self, sobject: str, record_id: str, path: str) -> Any:
        """A selected field's value of a live or binned row (a relationship path followed), for a Bulk CSV."""
        row = self.tables[sobject].get(record_id) or self.binned.get(sobject, {}).get(record_id) or {}
        return render(self._resolve(sobject, row, path)[1])

    def _query_more(self, request: Any) -> Response:
        locator, _, offset = urlparse(request.url).path.rsplit("/", 1)[-1].rpartition("-")
        if locator not in self._cursors:
            return error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        query, ids, batch = self._cursors[locator]
        return self._page(query, ids, int(offset), batch, locator, all_rows=locator in self._all_locators)

    def _page(
        self, query: Query, ids: list[str], offset: int, batch: int, locator: str | None = None, text: str = "",
        *, all_rows: bool = False,
    ) -> Response:
        table = self.tables[query.sobject]
        binned = self.binned.get(query.sobject, {}) if all_rows else {}
        chunk = [row for i in ids[offset : offset + batch] if (row := table.get(i) or binned.get(i)) is not None]
        records = [self._render(query.sobject, row, query.fields) for row in chunk]
        body: dict[str, Any] = {"totalSize": len(ids), "done": offset + batch >= len(ids), "records": records}
        if not body["done"]:
            if locator is None:
                locator = f"01gFAKE{len(self._cursors) + 1:08d}"
                self._texts[locator] = text
                if all_rows:
                    self._all_locators.add(locator)
            self._cursors[locator] = (query, ids, batch)
            body["nextRecordsUrl"] = f"/services/data/v{self.version}/query/{locator}-{offset + batch}"
        return answer(200, body)

    def _candidates(self, query: Query) -> Iterable[dict[str, Any]]:
        """Rows worth evaluating: an `Id`/`PartyId` IN or = at the top of the WHERE narrows them (an index)."""
        table = self.tables[query.sobject]
        where = query.where
        parts = where.parts if where is not None and getattr(where, "op", "") == "and" else (where,)
        for part in parts:
            name = getattr(part, "field", None)
            if name in ("Id", "PartyId") and part.op in ("=", "in"):
                values = part.operand if isinstance(part.operand, tuple) else (part.operand,)
                keys = [str(v.value) for v in values]
                if name == "Id":
                    return [table[k] for k in dict.fromkeys(keys) if k in table]
                if query.sobject == "ContactPointTypeConsent":
                    return [table[c] for k in dict.fromkeys(keys) for c in self._by_party.get(k, {}) if c in table]
            if name in _LOOKUPS and part.op in ("=", "in"):  # through the index, before the full evaluation
                values = part.operand if isinstance(part.operand, tuple) else (part.operand,)
                wanted = dict.fromkeys(str(v.value) for v in values if v.kind != "null")
                return [row for value in wanted for row in self._lookup(query.sobject, name, value)]
        return list(table.values())

    def _resolve(self, sobject: str, row: dict[str, Any] | None, path: str) -> tuple[str, Any]:
        *links, name = path.split(".")
        for link in links:
            found = relationship(sobject, link, self.schema) if link[0].isupper() else None
            if found is None:
                message = f"Didn't understand relationship '{link}' in field path. {_NO_RELATIONSHIP}"
                raise SoqlError("INVALID_FIELD", message)
            reference, sobject = found
            row = self.tables[sobject].get(row.get(reference) or "") if row else None
        spec = self.schema[sobject].get(name)
        if spec is None:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'. {_NO_COLUMN}")
        return spec.type, (_value(sobject, row, name) if row else None)

    def _render(self, sobject: str, row: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        url = f"/services/data/v{self.version}/sobjects/{sobject}/{row['Id']}"
        out: dict[str, Any] = {"attributes": {"type": sobject, "url": url}}
        for path in fields:
            if path == "FIELDS(ALL)":
                out.update({name: render(row.get(name)) for name in self.schema[sobject]})
                continue
            self._put(out, sobject, row, path.split("."))
        return out

    def _put(self, out: dict[str, Any], sobject: str, row: dict[str, Any], parts: list[str]) -> None:
        if len(parts) == 1:
            out[parts[0]] = render(_value(sobject, row, parts[0]))
            return
        found = relationship(sobject, parts[0], self.schema)
        assert found is not None
        reference, target = found
        related = self.tables[target].get(row.get(reference) or "")
        if related is None:
            out[parts[0]] = None
            return
        nested = out.get(parts[0]) or {"attributes": {"type": target, "url": f"/sobjects/{target}/{related['Id']}"}}
        out[parts[0]] = nested
        self._put(nested, target, related, parts[1:])

    # -- sObject Collections ----------------------------------------------------------------------------

    def _composite(self, request: Any) -> Response:
        if request.method == "DELETE":
            params = parse_qs(urlparse(request.url).query)
            ids = params.get("ids", [""])[0].split(",")
            if len(ids) > 200:
                return error(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
            return answer(200, [result(i, self.delete_one(i)) for i in ids])
        body = json.loads(request.body)
        records = body.get("records", [])
        if len(records) > 200:
            return error(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
        types = [record["attributes"]["type"] for record in records]
        if sum(1 for i, t in enumerate(types) if i == 0 or t != types[i - 1]) > 10:
            return error(400, "INVALID_BATCH_REQUEST", "more than 10 chunks of types")
        for record, sobject in zip(records, types, strict=True):  # a field the user cannot see fails the request
            if sobject not in self.schema:  # code and message unverified
                return error(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
            unknown = next((n for n in record if n not in ("attributes", "id", "Id") and n not in self.schema[sobject]),
                           None)  # fmt: skip
            if unknown:
                return error(400, "INVALID_FIELD", f"No such column '{unknown}' on sobject of type {sobject}")
        results = []
        for record, sobject in zip(records, types, strict=True):
            fields = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
            if request.method == "POST":
                new_id, code = self.insert_one(sobject, fields)
                results.append(result(new_id, code))
            else:
                record_id = record.get("id") or record.get("Id")
                results.append(result(record_id, self.update_one(sobject, record_id, fields)))
        return answer(200, results)


def _value(sobject: str, row: dict[str, Any], name: str) -> Any:
    """A field as the API shows it: flags default to false; a base64 field (a note's Content) is the path of its
    blob (REST API guide "Get Blob Data"), here without the version."""
    if name == "Content" and sobject == "ContentNote":
        return f"/sobjects/ContentNote/{row['Id']}/Content" if row.get("Content") else None
    value = row.get(name)
    return False if value is None and name in ("IsDeleted", "IsArchived") else value


def _mirror(name: str) -> str | None:
    """The person contact's field a person account's field mirrors, if any."""
    return PERSON_MIRROR.get(name) or (f"{name[:-4]}__c" if name.endswith("__pc") else None)


def _pointed(text: str, token: str, message: str, *, after_from: bool = False) -> str:
    """A SOQL error message as Salesforce words it: the statement's line, a caret, `ERROR at Row:r:Column:c`."""
    pattern = (r"\bfrom\s+" if after_from else "") + r"(?<![\w.])(" + re.escape(token) + r")(?![\w.])"
    match = re.search(pattern, text, re.IGNORECASE)
    at = match.start(1) if match else 0
    row = text.count("\n", 0, at) + 1
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    column = at - line_start + 1
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{message}"


def _fields_of(node: Any) -> list[str]:
    if node is None:
        return []
    if hasattr(node, "parts"):
        return [name for part in node.parts for name in _fields_of(part)]
    return [node.field]
