"""Benchmark (not a test): `gomme sweep --apply` on the fake Salesforce org, N people, 10% of them due.

    .venv/bin/python bench/salesforce_sweep.py [--people 100000] [--sweep-batch 2000] [--activities 2]
        [--emails 0] [--notes 0]

Three sweeps with the `cnil` pack: the first (no cursor: every record is read), the next one (it re-reads
what the first changed: their SystemModstamp moved), and one with nothing changed. The fake org lives in
this process, served on loopback HTTPS (fakes.served); each sweep is its own `gomme` process, so its wall
time, records/s and peak RSS are its own (the org's rows are not in it). API calls are counted by purpose.
The people: synthetic (gomme.connectors.synthetic), reshaped so that exactly one in ten is due (half asked
for erasure, half are prospects inactive for four years) and the other rules have nothing to do: every
consent has its proof, nobody is a minor, no note. Four in five have an Individual with one consent row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import measure
from fakes.salesforce import Call, FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS, seed
from fakes.served import Served

from gomme.connectors.synthetic import synthetic_people
from gomme.model.records import Consent, ConsentStatus, Lifecycle, OptOuts, PersonRecord

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
RSS_LIMIT_MB = 300  # issue #10: streaming end to end, whatever the org's size
CONFIG = """
[state]
url = "sqlite:///{state}"

[sweep]
batch_size = {batch}

[connectors.sf]
type = "salesforce"
instance_url = "{url}"
access_token_env = "SF_BENCH_TOKEN"
legal_hold_field = "Legal_Hold__c"
contract_end_field = "Contract_End__c"
requests_per_second = 1000    # the fake answers at once: (almost) no client-side pacing in the measurement
bulk_poll_seconds = 0
"""


def people(count: int) -> Iterator[PersonRecord]:
    day = dt.timedelta(days=1)
    for index, person in enumerate(synthetic_people(count, seed=2024, now=NOW, crm="sf")):
        recent = NOW - day * (1 + (index * 37) % 700)
        # One in five never consented: opted out of email, and no Individual (nothing lives on one).
        consented = index % 5 != 4
        consents = (Consent("email", "marketing", ConsentStatus.OPT_IN, recent - 30 * day, "web_form:newsletter"),)
        person = replace(
            person, notes={}, birthdate=None, consents=consents if consented else (),
            opt_outs=OptOuts(email=not consented), erasure_requested=False,
            legal_hold=False, created_at=recent - 400 * day, last_activity_at=recent, modified_at=recent,
            contract_end=(recent.date() if person.lifecycle is Lifecycle.FORMER_CUSTOMER else None),
        )  # fmt: skip
        if index % 20 == 0:
            person = replace(person, erasure_requested=True)
        elif index % 20 == 10:
            old = NOW - 4 * 365 * day
            person = replace(person, lifecycle=Lifecycle.PROSPECT, created_at=old - 90 * day, last_activity_at=old)
        yield person


_REREAD = "  of which during re-reads"


def purpose(call: Call) -> str:
    if call.kind in ("composite", "bulk", "login", "bulk_query"):
        return {"composite": "write (collections)", "bulk": "write (bulk 2.0)", "login": "login",
                "bulk_query": "related query (bulk 2.0 job)"}[call.kind]  # fmt: skip
    text = call.soql
    if call.path.endswith("/Content"):
        return "note body (blob get)"
    if re.search(r"FROM (Task|Event|Case|TaskRelation|EventRelation|ContactHistory|LeadHistory|EmailMessage"
                 r"|EmailMessageRelation|ContentNote|ContentDocumentLink|Note)\b", text):
        return "related query"
    if "FROM ContactPointTypeConsent" in text:
        return "consent query"
    if text.startswith("SELECT COUNT()"):
        return "count"
    if " Id IN (" in text:
        return "re-read (get)"
    return "pull page"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_gomme(config: Path, label: str) -> tuple[float, float, str]:
    """One `gomme sweep --apply` process → (wall seconds, its own peak RSS in MB, its summary line)."""
    run = measure.gomme(config, "--log-level", "error", "sweep", "--apply", "--format", "json", "--output", os.devnull)
    output = run.stdout + run.stderr
    if run.returncode != 0:
        raise SystemExit(f"{label}: exit {run.returncode}\n{output[-3000:]}")
    summary = next((line.strip() for line in output.splitlines() if "pulled" in line), "")
    return run.wall_s, run.peak_rss_mb, summary


def sweep(org: FakeSalesforce, config: Path, label: str) -> tuple[dict[str, int], float, int]:
    """One sweep, printed; → (API calls by purpose, peak RSS in MB, records failed)."""
    before = len(org.requests)
    wall, rss, summary = run_gomme(config, label)
    made = org.requests[before:]
    calls = Counter(purpose(call) for call in made)
    first_reread = next((i for i, call in enumerate(made) if purpose(call) == "re-read (get)"), len(made))
    calls["  of which during re-reads"] = sum(purpose(call) == "consent query" for call in made[first_reread:])
    pulled = int(match.group(1)) if (match := re.search(r"pulled (\d+)", summary)) else 0
    print(f"\n{label}: {wall:.1f} s wall, {pulled / wall:,.0f} records/s, peak RSS {rss:.0f} MB (gomme alone)")
    print(f"  {summary}")
    for name, count in sorted(calls.items(), key=lambda item: item[0].strip()):
        if count:
            print(f"  {name:<30}{count:>6}")
    print(f"  {'API calls':<30}{sum(n for k, n in calls.items() if k not in ('login', _REREAD)):>6}")
    jobs = Counter(f"{job.operation} {job.sobject}" for job in org.bulk.jobs.values())
    if jobs:
        print(f"  bulk jobs so far: {dict(jobs)}")
    failed = int(match.group(1)) if (match := re.search(r"failed (\d+)", summary)) else -1
    return dict(calls), rss, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--sweep-batch", type=int, default=2000, help="[sweep] batch_size (apply batches)")
    parser.add_argument("--activities", type=int, default=2, help="activities per person (a Task, an Event, ...)")
    parser.add_argument("--emails", type=int, default=0, help="sent emails per person (EmailMessage)")
    parser.add_argument("--notes", type=int, default=0, help="notes per person (ContentNote: one blob get each)")
    parser.add_argument("--bulk-read-threshold", type=int, default=None,
                        help="bulk_read_threshold: related queries holding more rows are read as Bulk 2.0 query jobs")
    parser.add_argument("--related", default="", help='related_objects: "Task,Event,Case", "none"; default: gomme\'s')
    args = parser.parse_args()

    started = time.perf_counter()
    org = FakeSalesforce(custom_fields=CUSTOM_FIELDS)
    seed(org, people(args.people))
    for sobject in ("Contact", "Lead"):  # docs/related-records.md: read beside each page, erased with the person
        for person_id in list(org.tables[sobject]):
            for index in range(args.activities):
                # every third Task is archived: read through queryAll
                org.create_activity(("Task", "Event")[index % 2], [person_id], Subject="Quarterly review",
                                    IsArchived=index % 6 == 2)  # fmt: skip
            for _ in range(args.emails):
                org.create_email([(org.user_id, "FromAddress", "rep@example.com"), (person_id, "ToAddress", "")],
                                 Subject="Quarterly review", TextBody="Please find the review attached.")
            for _ in range(args.notes):
                org.create_note([person_id], "Review", "Quarterly review went well.")
    rows = sum(len(table) for table in org.tables.values())
    print(f"fake org: {args.people} people, {rows} rows in {time.perf_counter() - started:.1f} s; "
          f"this process (the org) {rss_mb():.0f} MB")  # fmt: skip
    with tempfile.TemporaryDirectory() as work, Served(org, Path(work)) as served:
        os.environ["SF_BENCH_TOKEN"] = "fake-token"
        os.environ["REQUESTS_CA_BUNDLE"] = str(served.ca_file)
        os.environ.setdefault("GOMME_SECRET_KEY", "bench-secret-key-not-for-production")
        config = Path(work) / "config.toml"
        related = [name for name in args.related.split(",") if name not in ("", "none")]
        config.write_text(CONFIG.format(state=Path(work) / "state.db", batch=args.sweep_batch, url=served.url)
                          + (f"related_objects = {related!r}\n".replace("'", '"') if args.related else "")
                          + (f"bulk_read_threshold = {args.bulk_read_threshold}\n"
                             if args.bulk_read_threshold is not None else ""))
        sweeps = [sweep(org, config, "first sweep (no cursor)"),
                  sweep(org, config, "next sweep (re-reads what the first one changed)"),
                  sweep(org, config, "sweep with nothing changed")]  # fmt: skip
    first, last = sweeps[0][0], sweeps[-1][0]
    due = args.people // 10
    total = sum(n for k, n in first.items() if k not in ("login", _REREAD))
    print(f"\nfirst sweep: {total} calls, {1000 * total / args.people:.1f} per 1,000 people "
          f"(pages of 2,000 people, their consent and related queries, writes of 200 records a call)")
    print(f"nothing changed: {sum(last.values())} calls for 2 objects")
    anonymised_ids = {row["Id"] for name in ("Contact", "Lead") for row in org.tables[name].values()
                      if row.get("LastName") == "ANONYMISED"}  # fmt: skip
    anonymised = len(anonymised_ids)
    left = sum(row.get("WhoId") in anonymised_ids for name in ("Task", "Event") for row in org.tables[name].values())
    left += sum(row.get("LinkedEntityId") in anonymised_ids for row in org.tables["ContentDocumentLink"].values())
    left += sum(row.get("RelationId") in anonymised_ids for row in org.tables["EmailMessageRelation"].values())
    print(f"activities, emails, notes of the anonymised left: {left} (should be 0); related queries in the first "
          f"sweep: {first.get('related query', 0)}")
    peak = max(rss for _, rss, _ in sweeps)
    failed = sum(failed for _, _, failed in sweeps)
    print(f"org after: {anonymised} anonymised (due: {due}); failed records: {failed}; "
          f"peak RSS of gomme {peak:.0f} MB (limit {RSS_LIMIT_MB} MB)")  # fmt: skip
    raise SystemExit(0 if anonymised == due and failed == 0 and peak < RSS_LIMIT_MB and left == 0 else 1)


if __name__ == "__main__":
    main()
