"""The commented configuration: one source for config.example.toml (every block) and `gomme init` (your CRMs').

Each block says what its options do. An option set at its default is written commented out (`# key = value`),
so a file keeps following the defaults until someone uncomments a line; only what gomme cannot guess (the
connector's type, how it authenticates) is set. tests/test_config_example.py checks that every option of the
config model is here, that each commented-out value is valid, and that config.example.toml is this module's
output: regenerate it with `python -m gomme.scaffold > config.example.toml`.
"""

from __future__ import annotations

from collections.abc import Sequence

CRM_TYPES: tuple[str, ...] = ("local", "salesforce", "hubspot")
CONNECTOR_NAMES: dict[str, str] = {"local": "local", "salesforce": "sf", "hubspot": "hs"}
"""The `[connectors.<name>]` each scaffolded CRM gets; the name is free, these are the ones the docs use."""

_RULE = "# " + "-" * 93

_EXAMPLE_HEADER = """\
# gomme configuration: every block and every option, each with what it does. Copy it to config.toml and
# adapt it, or let `gomme init --crm salesforce --crm hubspot --crm local` write one for your CRMs only.
# Use it with `gomme --config config.toml <command>` or `export GOMME_CONFIG=config.toml`.
# `gomme config check` lists every problem at once, with its path, and every environment variable the file
# names that is not set (exit code 2); `gomme config check --online` also checks the mapping against each CRM.
# Secrets never go in this file: it names the environment variables that hold them (`*_env` keys).
# A commented-out option (`# key = value`) shows its default or an alternative: uncomment it to use it.
# Generated from gomme/scaffold.py (`python -m gomme.scaffold > config.example.toml`): edit that file.
"""

_INIT_HEADER = """\
# gomme configuration for {crms}, written by `gomme init`.
# 1. Fill in what is yours: URLs, custom fields, the [register] block (`gomme register` lists what is missing).
# 2. Export the secrets the `*_env` keys name, where gomme runs (never in this file).
# 3. `gomme --config {file} config check --online`: every problem at once, checked against each CRM.
# 4. `gomme --config {file} sweep`: a dry run; read the plan before any `--apply`.
# A commented-out option (`# key = value`) shows its default or an alternative: uncomment it to use it.
# config.example.toml (in gomme's repository) has every option; the README says what each block does.
"""


def _banner(*lines: str) -> str:
    return "\n".join([_RULE, *(f"# {line}" for line in lines), _RULE]) + "\n"


_STATE = (
    _banner("State: gomme's own database (runs, write-ahead change log, audit chain, cursors, suppression list).")
    + """\
[state]
# SQLAlchemy URL. Default: SQLite at $XDG_STATE_HOME/gomme/gomme.db (~/.local/state/gomme/gomme.db; in the
# container image /var/lib/gomme/gomme.db). A relative SQLite path is taken from this file's directory.
# Several replicas: PostgreSQL (the audit table then refuses UPDATE/DELETE by trigger), with the password in
# PGPASSWORD or ~/.pgpass, never in the URL.
# url = "postgresql+psycopg://gomme@db.internal:5432/gomme"
# The state key (HMAC of record ids in the audit log, sealing of pending CRM ids) comes from the
# GOMME_SECRET_KEY environment variable; without it, from this file, created with mode 0600 when the
# state is new. The state keeps the key's fingerprint: a missing or different key stops every command
# (exit 2) rather than start a new one. Keep a copy somewhere safe: without it, audit lookups by record
# id, resuming pending changes, the suppression list and the audit chain's MACs all stop working.
# Default: secret.key in the state home; a relative path is taken from this file's directory.
# key_file = "/etc/gomme/secret.key"
"""
)

_AUDIT = (
    _banner("Audit trail: the hash-chained log of every change (docs/audit-trail.md).")
    + """\
[audit]
# After every run, the chain's head (signed with the state key) is appended to this file. Put it where
# the state database's owners cannot rewrite it: another disk, a WORM mount, a file shipped to syslog or
# to an object store with retention. Without it, entries removed from the end of the log go unseen.
# Default: none. A relative path is taken from this file's directory.
# anchor_file = "/var/log/gomme/anchors.jsonl"
"""
)

_LOGGING = (
    _banner("Logs, on stderr: JSON lines for machines, a console format for people. PII is masked in every line.")
    + """\
[logging]
format = "auto"              # auto (console on a terminal, JSON otherwise) | console | json; or --log-format
level = "info"               # debug | info | warning | error; or --log-level
"""
)

_SWEEP = (
    _banner("Sweeps: pull every record, decide with the policy, plan; write only with --apply.")
    + """\
[sweep]
batch_size = 200             # records per planning and apply batch (1..2000); 2000 with Salesforce
max_changes = "5%"           # blast-radius guard: abort (exit 3) before any write above this; a count or a %
"""
)

_POLICY = (
    _banner(
        "Policy: the rules. Start from the `cnil` pack; `gomme policy show` prints the effective policy and hash.",
        'README "Policies" lists the rules of the pack and what each parameter does.',
    )
    + """\
[policy]
extends = "cnil"             # the pack the rules start from
# file = "policy.toml"       # or the whole policy in its own file (then no other key in [policy])

# Override a rule of the pack by giving its id again, switch it off with `enabled = false`, or add your
# own. Durations are ISO-8601: P3Y = three years, P18M = eighteen months, P90D = ninety days.
# [[policy.rules]]
# id = "retention-prospect"  # a rule of the pack: prospects kept 2 years instead of 3
# after = "P2Y"
"""
)

_CONNECTORS = _banner(
    "Connectors: one block per CRM, `[connectors.<name>]`; `type` selects the kind. The name is yours: plans,",
    "the audit log and `--connector NAME` use it.",
)

_LOCAL = """\
# A CRM kept in a SQLite file, filled from an export by `gomme local import FILE`; `gomme local import
# --template people.csv` writes the columns it takes (docs/local-import.md says what each holds).
[connectors.{name}]
type = "local"               # the kind of CRM: local | salesforce | hubspot, or a plug-in's
path = "local-crm.db"        # the SQLite file, created if missing; relative to this file's directory
# When a person is erased, an activity about them alone is deleted, or kept with their identifiers cut out
# of it ("scrub"); an activity about other people too is always scrubbed (docs/related-records.md).
# related_on_erase = "delete"  # delete | scrub
"""

_SALESFORCE = """\
# Salesforce: exactly one way to authenticate (access token, password, client credentials or JWT bearer).
# README "Salesforce" says what is read and what each action writes; docs/salesforce-orgs.md, the org's setup.
[connectors.{name}]
type = "salesforce"          # the kind of CRM
instance_url = "https://example.my.salesforce.com"   # your org's URL (needed with access_token_env)
access_token_env = "SF_ACCESS_TOKEN"     # an existing session/access token (not renewed when it expires)
# Password login instead, renewed automatically:
# username = "integration@example.com"   # the integration user (also for the JWT bearer flow)
# password_env = "SF_PASSWORD"           # its password
# security_token_env = "SF_SECURITY_TOKEN"   # its security token
# OAuth client credentials instead (with your My Domain in `domain`):
# client_id = "3MVG9-consumer-key"       # the connected app's consumer key
# client_secret_env = "SF_CLIENT_SECRET" # its consumer secret
# JWT bearer instead (with `username`):
# consumer_key = "3MVG9-consumer-key"    # the connected app's consumer key
# private_key_file = "/etc/gomme/sf.key" # the private key of the certificate the app holds
# domain = "login"                       # where logins go: login | test (sandboxes) | your My Domain ("example.my")
# api_version = "62.0"                   # the REST API version
# -- what is read --
# objects = ["Contact", "Lead"]          # the objects swept; converted Leads are skipped
# data_protection = true                 # Individual and ContactPointTypeConsent exist (Data Protection enabled)
# fields = {{ phone = "MobilePhone" }}     # canonical field → Salesforce field, both objects ("" unmaps one)
# contact_fields = {{ country = "MailingCountry" }}   # the same for Contacts only (wins over `fields`)
# lead_fields = {{ country = "Country" }}  # the same for Leads only
# field_types = {{ "Contract_End__c" = "date" }}   # a custom field's type: text | date | datetime | bool
# note_fields = {{ description = "Description" }}  # free-text fields rules may redact and anonymise clears
# legal_hold_field = "Legal_Hold__c"     # custom checkbox: records under legal hold are only restricted
# contract_end_field = "Contract_End__c" # custom date on Contact: start of the customer retention period
# restricted_field = "Gomme_Restricted__c"   # custom checkbox restrict_all sets (needed without data_protection)
# Account.Type value → lifecycle (prospect | customer | former_customer | unknown); Leads are prospects. Your
# org's values replace the default table (Prospect, Customer - Direct, Customer - Channel, Former Customer).
# lifecycle_map = {{ "Client actif" = "customer", "Ancien client" = "former_customer" }}
# B2B or B2C without an `audience` field (docs/clocks.md "Audience"); each list replaces its default.
# b2c_account_names = ["Individuals", "Particuliers"]   # placeholder Accounts of private people (11 by default)
# b2c_lead_companies = ["[not provided]", "Particulier"]   # Lead companies meaning a private person (13 by default)
# parental_consent_phrases = ["parent", "tuteur", "Eltern"]   # a consent's CaptureSource naming a parent (FR/EN/DE)
# -- what is written --
# anonymised_marker = "ANONYMISED"       # LastName of an anonymised record (a required field: a constant)
# Fields anonymise clears, per object (default: README "Salesforce"). The table replaces the default whole, and
# a field it names that the org lacks blocks the run (the defaults the org lacks are skipped with a warning).
# anonymise_fields = {{ Contact = ["FirstName", "Email"], Lead = ["FirstName", "Email"], Individual = ["FirstName"] }}
# erase_individual = true                # anonymise/delete also clear the Individual and delete its consent rows
# hard_delete = false                    # true: delete bypasses the recycle bin (Bulk API 2.0 hardDelete)
# -- records about the person beside it (docs/related-records.md) --
# related_objects = ["Task", "Event", "Case", "EmailMessage", "ContentNote", "Note"]   # read, exported, erased with
# the person; one the org lacks (no Enhanced Email, Notes off) or hides is skipped and named in the outcome.
# When a person is erased, a Task, Event, draft email or note about them alone is deleted, or kept with their
# identifiers cut out ("scrub"); one about other people too, and a Case, are always scrubbed; a sent email about
# them alone is always deleted (a sent email cannot be edited).
# related_on_erase = "delete"            # delete | scrub
# -- transport and API allowance --
# batch_size = 2000                      # records per query page (Sforce-Query-Options batchSize), 200..2000
# bulk_threshold = 2000                  # from this many records of one object in a batch: Bulk API 2.0
# bulk_poll_seconds = 5                  # how often a Bulk API 2.0 job is polled
# bulk_read_threshold = 50000            # a related query holding more rows is read as a Bulk API 2.0 query job
# requests_per_second = 10               # client-side rate limit
# timeout_seconds = 120                  # of one HTTP call
# reserve_percent = 10                   # stop before using the last 10% of the org's daily API allowance
# max_attempts = 5                       # tries of a call failing transiently (5xx, timeout, reset), with backoff
# backoff_seconds = 1                    # first wait between tries, then doubled, with jitter
# backoff_max_seconds = 60               # longest wait between tries
# limit_backoff_seconds = 300            # pause after REQUEST_LIMIT_EXCEEDED before trying again
# limit_attempts = 2                     # tries after REQUEST_LIMIT_EXCEEDED
# max_query_length = 15000               # longest query URI (consent queries are split to fit), 2000..16000
"""

_HUBSPOT = """\
# HubSpot: a private app's token, or OAuth (client_id + client_secret_env + refresh_token_env).
# README "HubSpot" says what is read, what each action writes, and the scopes the token needs.
[connectors.{name}]
type = "hubspot"             # the kind of CRM
access_token_env = "HUBSPOT_TOKEN"       # a private app's access token
# OAuth instead: the access token is refreshed from the refresh token before it expires, and once on a 401.
# client_id = "1234abcd-client-id"       # the app's client id
# client_secret_env = "HUBSPOT_CLIENT_SECRET"   # its client secret
# refresh_token_env = "HUBSPOT_REFRESH_TOKEN"   # the portal's refresh token
# base_url = "https://api.hubapi.com"    # or a proxy
# delete_mode = "gdpr"                   # gdpr (permanent, blocklists the email) | archive (restorable for 90 days)
# -- what is read --
# properties = {{ birthdate = "date_of_birth" }}   # canonical field → contact property, over the defaults
# activity_properties = ["notes_last_contacted", "hs_last_sales_activity_timestamp"]   # last activity: their latest
# note_properties = {{ description = "message" }}  # free-text properties rules may redact and anonymise clears
# legal_hold_property = "legal_hold"     # custom checkbox: records under legal hold are only restricted
# contract_end_property = "contract_end_date"   # custom date: start of the customer retention period
# lifecycle_map = {{ "customer" = "customer", "lead" = "prospect" }}   # lifecyclestage → lifecycle, replacing the
#   default table (subscriber to opportunity: prospect; customer, evangelist: customer; other: unknown)
# legal_basis_map = {{ "Freely given consent from contact" = "consent" }}   # hs_legal_basis → Art 6(1) basis,
#   replacing the default table (HubSpot's own labels); case and dashes are ignored
# read_subscriptions = true              # subscription statuses are consents and opt-outs (v4: a call per 100)
# parental_consent_phrases = ["parent", "tuteur", "Eltern"]   # a legal-basis explanation naming a parent
# -- engagements beside each contact (docs/related-records.md): read, scanned, exported, erased with them --
# read_engagements = true                # per 1,000 contacts one associations call per object; one read per 100
# Engagement object → its free-text properties; the table replaces the default (notes, emails, calls, meetings,
# tasks and their bodies and subjects).
# engagements = {{ notes = ["hs_note_body"], calls = ["hs_call_title", "hs_call_body"] }}
# When a contact is erased, an engagement about them alone is deleted (archived), or kept with their identifiers
# cut out of it ("scrub"); one that concerns other contacts too is always scrubbed.
# related_on_erase = "delete"            # delete | scrub
# -- what is written --
# anonymise_properties = ["address", "city", "zip", "jobtitle"]   # also cleared by anonymise, over the identity
# restriction_property = "gomme_restricted"   # custom checkbox restrict_all sets (create it in the portal)
# -- your tier's limits (docs/crm-apis.md); the client-side limiter uses limit_fraction of each --
# requests_per_10s = 100                 # Free/Starter 100, Professional/Enterprise 190 (at most 250)
# search_requests_per_second = 4         # the search API's own limit (at most 5)
# daily_limit = 250000                   # calls a day
# limit_fraction = 0.8                   # the share of each limit gomme uses
# timeout_seconds = 30                   # of one HTTP call
# max_attempts = 6                       # tries of a call failing transiently (429, 5xx, timeout), with backoff
# backoff_seconds = 1                    # first wait between tries, then doubled, with jitter
# backoff_max_seconds = 60               # longest wait between tries
# index_lag_seconds = 60                 # how far behind the search index may be: the cursor stays this far back
"""

_CONNECTOR_BLOCKS: dict[str, str] = {"local": _LOCAL, "salesforce": _SALESFORCE, "hubspot": _HUBSPOT}

_SYSTEMS: dict[str, tuple[str, str]] = {  # hosting, transfer basis: examples only, commented out
    "local": ("our own servers, Paris (FR)", "no transfer outside the EU"),
    "salesforce": ("Salesforce, Hyperforce EU Operating Zone", "EU-US Data Privacy Framework; SCCs in the DPA"),
    "hubspot": ("HubSpot EU data centre, Frankfurt (DE)", "EU-US Data Privacy Framework; SCCs in the DPA"),
}


def _schedules(names: Sequence[str]) -> str:
    return (
        _banner(
            "Schedules for `gomme daemon`: a sweep or the requests, by cron (5 fields) or every. Sweeps are dry",
            "runs unless apply = true.",
        )
        + f"""\
[[schedules]]
job = "sweep"                # sweep | requests
{f'# connectors = ["{names[0]}"]'.ljust(28)} # the connectors swept; default: every one
cron = "0 3 * * *"           # 5 fields, in [daemon] timezone; or `every`
apply = false                # true: write the changes (read a dry run's plan first: `gomme sweep`)
max_changes = "2%"           # this schedule's blast-radius guard (default: [sweep] max_changes)

[[schedules]]
job = "requests"             # every open data-subject request, in every connector
every = "5m"                 # 30s, 15m, 2h, 1d or 1h30m; ticks align to the epoch (UTC), the same on every replica
"""
    )


_DAEMON = (
    _banner('`gomme daemon` itself (README "Running as a daemon").')
    + """\
[daemon]
address = "127.0.0.1:9464"   # /healthz and /metrics; "0.0.0.0:9464" in a container (deploy/)
misfire_grace = "5m"         # a run missed by more (daemon down, busy) waits for its next slot
requests_every = "5m"        # request processing when no [[schedules]] job = "requests"
timezone = "UTC"             # of cron expressions (an IANA name, e.g. Europe/Paris)
"""
)

_REQUESTS = (
    _banner('Data-subject requests (`gomme request ...`, README "Data-subject requests").')
    + """\
[requests]
# export_dir = "/var/lib/gomme/exports"   # where access bundles go (a 0700 folder each); default: exports/ in the
#   state home. A relative path is taken from this file's directory.
"""
)


def _register(crms: Sequence[str]) -> str:
    systems = "".join(
        f"""
[register.systems.{CONNECTOR_NAMES[crm]}]
# hosting = "{_SYSTEMS[crm][0]}"   # where the CRM keeps the data (Art 30(1)(e))
# transfer_basis = "{_SYSTEMS[crm][1]}"   # transfers outside the EU and their safeguard
"""
        for crm in crms
    )
    return (
        _banner(
            "Register: the Art 30 record of processing (`gomme register`, exit 1 while a mandatory item is",
            "missing) and what access bundles tell people (Art 15).",
        )
        + """\
[register]
# controller = "Example SAS, 1 rue de l'Exemple, 75001 Paris, privacy@example.org"   # name, contact (Art 30(1)(a))
# dpo_contact = "dpo@example.org"        # the data protection officer (Art 30(1)(a), 37(7))
# purposes = ["Customer relationship management", "Direct marketing"]   # Art 30(1)(b)
# data_subjects = ["Customers", "Prospects"]   # categories of people (Art 30(1)(c))
# data_categories = ["Identity", "Contact details", "Commercial relationship"]   # categories of data (Art 30(1)(c))
# source = "Collected from the person, or their employer for business contacts"   # where the data comes from (Art 14)
# security_measures = ["Encryption at rest", "SSO with MFA for CRM users"]   # Art 30(1)(g), Art 32

# Per connector, for the register and access bundles (Art 15(2), 30(1)(e)):
"""
        + systems.lstrip("\n")
    )


def render_config(crms: Sequence[str], *, example: bool = False, file_name: str = "config.toml") -> str:
    """The commented configuration for these CRM types (`CRM_TYPES`), in that order; `example` for the
    every-option file's header, else `gomme init`'s (which names `file_name` in its next steps)."""
    unknown = [crm for crm in crms if crm not in _CONNECTOR_BLOCKS]
    if unknown or not crms:
        raise ValueError(f"CRM types to scaffold: one or more of {', '.join(CRM_TYPES)}; got {', '.join(unknown)}")
    chosen = list(dict.fromkeys(crms))
    names = [CONNECTOR_NAMES[crm] for crm in chosen]
    header = _EXAMPLE_HEADER if example else _INIT_HEADER.format(crms=", ".join(chosen), file=file_name)
    connectors = "\n".join(_CONNECTOR_BLOCKS[crm].format(name=CONNECTOR_NAMES[crm]) for crm in chosen)
    blocks = [
        header, _STATE, _AUDIT, _LOGGING, _SWEEP, _POLICY, _CONNECTORS + "\n" + connectors, _schedules(names),
        _DAEMON, _REQUESTS, _register(chosen),
    ]  # fmt: skip
    return "\n".join(blocks)


def example_config() -> str:
    """config.example.toml: every block, every option, every built-in CRM."""
    return render_config(CRM_TYPES, example=True)


if __name__ == "__main__":
    print(example_config(), end="")
