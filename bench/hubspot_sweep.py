"""Benchmark (not a test): `gomme sweep --apply` on the fake HubSpot, N contacts, 10% of them due.

    .venv/bin/python bench/hubspot_sweep.py [--contacts 100000] [--tier professional]

The fake HubSpot runs in this process and enforces the tier's limits (it answers 429 beyond them, as
HubSpot does); each sweep is its own `gomme` process, whose wall time and peak RSS are measured from
here. Three sweeps with the `cnil` pack: the first (no cursor: the consent rules make it read every
contact), the next (it reads what the first one changed), and one with nothing changed.
The contacts: synthetic (gomme.connectors.synthetic), reshaped so that exactly one in ten is due (half
asked for erasure, half are prospects inactive for four years, all anonymised) and the other rules have
nothing to do (no minor, no note). One due contact in a hundred is under legal hold: restricted instead,
which unsubscribes its email from every subscription type (one status call and up to 3 unsubscribes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import measure
from fakes.hubspot import TOKEN, FakeHubSpot, Limits

from gomme.connectors.synthetic import synthetic_people
from gomme.model.records import Lifecycle, PersonRecord

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)
RSS_LIMIT_MB = 300  # issue #10: streaming end to end, whatever the portal's size
STAGES = {Lifecycle.PROSPECT: "lead", Lifecycle.CUSTOMER: "customer", Lifecycle.FORMER_CUSTOMER: "former_customer"}
# docs/crm-apis.md B3: calls per 10 s, per day, and searches per second.
TIERS = {
    "starter": Limits(per_window=100, daily=250_000, search_per_window=4),
    "professional": Limits(per_window=190, daily=625_000, search_per_window=4),
    "enterprise": Limits(per_window=190, daily=1_000_000, search_per_window=4),
    "limit-increase": Limits(per_window=250, daily=2_000_000, search_per_window=5),
}
CONFIG = """
[state]
url = "sqlite:///{state}"

[sweep]
batch_size = 1000

[connectors.hs]
type = "hubspot"
base_url = "{url}"
access_token_env = "HUBSPOT_BENCH_TOKEN"
legal_hold_property = "legal_hold"
contract_end_property = "contract_end_date"
requests_per_10s = {per_10s}
search_requests_per_second = {search}
daily_limit = {daily}
index_lag_seconds = 1   # sweeps run back to back here: the default 60 s margin would re-read the last one's writes

[connectors.hs.properties]
erasure_requested = "gomme_erasure_requested"

[connectors.hs.lifecycle_map]
lead = "prospect"
customer = "customer"
former_customer = "former_customer"
"""


def people(count: int) -> Iterator[PersonRecord]:
    for index, person in enumerate(synthetic_people(count, seed=2024, now=NOW, crm="hs")):
        recent = NOW - DAY * (1 + (index * 37) % 700)
        person = replace(
            person, notes={}, birthdate=None, erasure_requested=False, legal_hold=False,
            created_at=recent - 400 * DAY, last_activity_at=recent,
            contract_end=(recent.date() if person.lifecycle is Lifecycle.FORMER_CUSTOMER else None),
        )  # fmt: skip
        if index % 20 == 0:
            person = replace(person, erasure_requested=True)
        elif index % 20 == 10:
            old = NOW - 4 * 365 * DAY
            person = replace(person, lifecycle=Lifecycle.PROSPECT, created_at=old - 90 * DAY, last_activity_at=old)
        if index % 1000 == 0:
            person = replace(person, legal_hold=True)
        yield person


def properties(person: PersonRecord) -> dict[str, Any]:
    return {
        "email": person.email, "firstname": person.first_name, "lastname": person.last_name, "phone": person.phone,
        "country": person.country, "lifecyclestage": STAGES[person.lifecycle], "createdate": person.created_at,
        "notes_last_contacted": person.last_activity_at, "contract_end_date": person.contract_end,
        "legal_hold": person.legal_hold, "gomme_erasure_requested": person.erasure_requested,
        "lastmodifieddate": person.last_activity_at,  # imported long ago, not while the benchmark starts
        # a GDPR portal: every contact has its basis for processing (an empty one would be due on its own)
        "hs_legal_basis": "Legitimate interest \u2013 prospect/lead" if person.lifecycle is Lifecycle.PROSPECT
        else "Performance of a contract",
    }  # fmt: skip


def seed(fake: FakeHubSpot, count: int, engagements: int = 0) -> set[str]:
    """The portal's contacts (and `engagements` per contact: notes and calls naming them); returns the addresses
    of the contacts due for anonymisation, none of which may remain in an engagement afterwards."""
    for name, kind in (("gomme_restricted", "bool"), ("legal_hold", "bool"), ("contract_end_date", "date"),
                       ("gomme_erasure_requested", "bool")):  # fmt: skip
        fake.portal.define(name, kind)
    due: set[str] = set()
    for index, person in enumerate(people(count)):
        contact = fake.portal.add(**properties(person))
        if index % 20 in (0, 10) and not person.legal_hold and person.email:  # anonymised (see `people`)
            due.add(person.email)
        for index in range(engagements):
            if index % 2 == 0:
                fake.portal.engagements.add("notes", [contact], hs_note_body=(
                    f"Call with {person.first_name} {person.last_name} ({person.email}): send the offer."))
            else:
                fake.portal.engagements.add("calls", [contact], hs_call_title=f"Follow-up {person.last_name}",
                                            hs_call_body=f"Reached {person.first_name} on {person.phone}.")
        if person.email:
            fake.portal.set_status(person.email, "101", "SUBSCRIBED", legal_basis="LEGITIMATE_INTEREST_PQL",
                                   explanation="Newsletter sign-up form")  # fmt: skip
    return due


def left_in_engagements(fake: FakeHubSpot, addresses: set[str]) -> int:
    """How many of `addresses` a live engagement still holds."""
    found = {word.strip("():.,") for text in fake.portal.engagements.texts() for word in text.split() if "@" in word}
    return len(found & addresses)


def sweep(fake: FakeHubSpot, config: Path, label: str) -> dict[str, Any]:
    before, limited_before = Counter(fake.calls), sum(fake.rate_limited.values())
    run = measure.gomme(config, "--log-format", "json", "--log-level", "error", "sweep", "--apply", "--format",
                        "json", "--output", os.devnull)  # fmt: skip
    output, errors, wall = run.stdout, run.stderr, run.wall_s
    if run.returncode != 0:
        raise SystemExit(f"{label}: exit {run.returncode}\n{output}\n{errors[-3000:]}")
    calls = Counter(fake.calls)
    calls.subtract(before)
    calls = Counter({route: n for route, n in calls.items() if n})
    summary = next((line for line in (output + errors).splitlines() if "pulled" in line), None)
    if summary is None:
        raise SystemExit(f"{label}: no summary\n{output}\n{errors[-3000:]}")
    summary = summary.strip()
    numbers = {name: int(value) for name, value in re.findall(r"(\w+) (\d+)", summary.split(";", 1)[1])}
    rss = run.peak_rss_mb
    rate = numbers.get("pulled", 0) / wall
    print(f"\n{label}: {wall:.1f} s wall, {rate:,.0f} records/s, peak RSS {rss:.0f} MB (gomme alone)")
    print(f"  {summary}")
    for route, count in sorted(calls.items()):
        print(f"  {route:<26}{count:>7}")
    limited = sum(fake.rate_limited.values()) - limited_before
    print(f"  {'API calls':<26}{sum(calls.values()):>7}   (429s received: {limited})")
    return {"calls": calls, "wall": wall, "rss": rss, "numbers": numbers, "limited": limited}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--tier", choices=sorted(TIERS), default="professional")
    parser.add_argument("--engagements", type=int, default=0,
                        help="engagements per contact (notes and calls naming the contact), erased with it")
    parser.add_argument("--without-v4", action="store_true",
                        help="a portal without the communication-preferences v4 batch endpoints (v3: one call "
                             "per address), as before issue #20")  # fmt: skip
    args = parser.parse_args()
    limits = TIERS[args.tier]

    started = time.perf_counter()
    fake = FakeHubSpot(limits=limits, v4=not args.without_v4)
    due_addresses = seed(fake, args.contacts, args.engagements)
    print(f"fake HubSpot ({args.tier}: {limits.per_window}/10 s, {limits.search_per_window} searches/s, "
          f"{limits.daily}/day): {args.contacts} contacts in {time.perf_counter() - started:.1f} s")  # fmt: skip
    with tempfile.TemporaryDirectory() as work, fake:
        os.environ["HUBSPOT_BENCH_TOKEN"] = TOKEN
        os.environ.setdefault("GOMME_SECRET_KEY", "bench-secret-key-not-for-production")
        config = Path(work) / "config.toml"
        config.write_text(CONFIG.format(state=Path(work) / "state.db", url=fake.url, per_10s=limits.per_window,
                                        search=limits.search_per_window, daily=limits.daily))  # fmt: skip
        first = sweep(fake, config, "first sweep (no cursor: every contact is read)")
        after = sweep(fake, config, "next sweep (reads what the first one changed)")
        last = sweep(fake, config, "sweep with nothing changed")
    peak = max(run["rss"] for run in (first, after, last))

    calls, numbers = first["calls"], first["numbers"]
    preferences = sum(count for route, count in calls.items() if route.startswith("prefs."))
    statuses = calls["prefs.batch_read"] + calls["prefs.status"]
    reading, rechecking = math.ceil(args.contacts / 100), math.ceil(first["numbers"]["planned"] / 100)
    print(f"\nsubscription statuses: {statuses} calls for {args.contacts} contacts; v4 batch reads need "
          f"ceil(contacts/100) = {reading} while reading + ceil(changes/100) = {rechecking} re-checking the "
          f"changed contacts before writing; all preference calls: {preferences}")  # fmt: skip
    # Engagements (docs/related-records.md): associations per 1,000 contacts and objects per 100 engagements.
    related = sum(count for route, count in calls.items() if route.startswith(("associations.", "objects.")))
    issue_bound = math.ceil(args.contacts / 100) + math.ceil(numbers["planned"] / 100) + preferences + related + 5
    rereads = calls["contacts.batch_read"]
    print(f"\nfirst sweep: {sum(calls.values())} calls; issue's bound ceil(records/100) + ceil(changes/100) + "
          f"preference calls + engagement calls ({related}) + 5 = {issue_bound}; + the apply loop's re-read before "
          f"writing (batch read, ceil(changes/100) = {rereads}) = {issue_bound + rereads}")  # fmt: skip
    print(f"failed records: {numbers['failed']}; 429s received over the three sweeps: "
          f"{sum(fake.rate_limited.values())}")  # fmt: skip
    print(f"nothing changed: {sum(last['calls'].values())} calls")
    due = sum(1 for i in range(args.contacts) if i % 20 in (0, 10))
    restricted = sum(1 for record in fake.portal.contacts.values() if record.properties.get("gomme_restricted"))
    anonymised = sum(1 for record in fake.portal.contacts.values() if record.properties.get("lastname") == "ANONYMISED")
    print(f"portal after: {anonymised} anonymised + {restricted} restricted = {anonymised + restricted} (due: {due})")
    print(f"peak RSS of gomme {peak:.0f} MB (limit {RSS_LIMIT_MB} MB)")
    left = left_in_engagements(fake, due_addresses)
    if args.engagements:
        live = sum(len(store) for store in fake.portal.engagements.live.values())
        print(f"engagements: {args.engagements * args.contacts} seeded, {live} left; addresses of anonymised contacts "
              f"still in an engagement: {left}")
    ok = (numbers["failed"] == 0 and anonymised + restricted == due and sum(calls.values()) <= issue_bound + rereads
          and peak < RSS_LIMIT_MB and left == 0)  # fmt: skip
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
