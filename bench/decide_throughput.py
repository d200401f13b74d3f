"""Decide throughput of the `cnil` pack on synthetic records, one process, one core.

Usage: .venv/bin/python bench/decide_throughput.py [--records N] [--seed S] [--model]

Records are generated in-process, in chunks, and only `decide` is timed (CPU time of this process,
so another busy core does not skew it). Every record carries one note under 200 characters (FR/EN/DE
business text; 2% hold a sensitive sentence, 10% a decoy that borrows a sensitive-looking word). The mix of
lifecycles, dates, consents, children and flags in `synthetic_record` is that of a CRM a few months into
regular sweeps: about one record in ten still needs a change.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Iterator

from gomme.model.records import (
    Audience,
    Consent,
    ConsentStatus,
    LegalBasis,
    Lifecycle,
    OptOuts,
    PersonRecord,
)
from gomme.policies.engine import decide
from gomme.policies.facts import RecordFacts
from gomme.policies.policy import Policy, load_pack
from gomme.policies.sensitive import SensitiveNoteRule

NOW = dt.datetime(2025, 6, 1, 9, 0, tzinfo=dt.UTC)
CHUNK = 20_000
BUSINESS = (
    "Client rappelé, souhaite un devis pour 40 licences.",
    "Relancer après les congés d'été, budget validé.",
    "Réunion avec la directrice financière mardi.",
    "Le contrat de maintenance arrive à échéance en décembre.",
    "Called back about the renewal, budget approved.",
    "Wants pricing for 40 seats and a demo next week.",
    "Prefers to be contacted in the morning.",
    "Met at the Berlin trade show, send case studies.",
    "Kunde wünscht ein Angebot für 40 Lizenzen.",
    "Rückruf nach den Sommerferien, Budget freigegeben.",
    "Termin mit der Finanzleiterin am Dienstag.",
    "Der Wartungsvertrag läuft im Dezember aus.",
)
DECOYS = (  # ordinary text that borrows a sensitive-looking word: the scanner's slow path, then nothing found
    "Livraison à l'hôpital Nord, quai 3.",
    "Bureau rue de la Santé, 2e étage.",
    "Le marché allemand reste notre priorité.",
    "Health check endpoint returns 500 since Monday.",
    "Kill the zombie process before the migration.",
    "Penalty clause removed from the renewal.",
    "Die Krankenkasse bestellt 200 Lizenzen.",
    "Lieferung an die Kirchstraße 4 bestätigt.",
)
SENSITIVE = (
    "Il est en arrêt maladie jusqu'à fin mars.",
    "He is a union rep at the Leeds plant.",
    "Der Kunde ist ein Vollidiot.",
)
LIFECYCLES = (Lifecycle.PROSPECT,) * 50 + (Lifecycle.CUSTOMER,) * 30 + (Lifecycle.FORMER_CUSTOMER,) * 15
LIFECYCLES += (Lifecycle.UNKNOWN,) * 5
AUDIENCES = (Audience.B2B,) * 50 + (Audience.B2C,) * 40 + (Audience.UNKNOWN,) * 10
COUNTRIES = ("FR", "FR", "FR", "DE", "DE", "GB", "ES", "IT", "BE", "NL")


def moment(rng: random.Random, days_back: int) -> dt.datetime:
    return NOW - dt.timedelta(days=rng.randrange(days_back), seconds=rng.randrange(86_400))


def note(rng: random.Random) -> str:
    """One to three sentences, always under 200 characters."""
    sentences = rng.sample(BUSINESS, rng.randint(1, 3))
    draw = rng.random()
    if draw < 0.02:
        sentences[-1] = rng.choice(SENSITIVE)
    elif draw < 0.12:
        sentences[-1] = rng.choice(DECOYS)
    text = " ".join(sentences)
    return text if len(text) < 200 else sentences[0]


def consents(rng: random.Random) -> tuple[tuple[Consent, ...], bool]:
    """Email consents and the email opt-out flag; earlier sweeps already set the flag for most unproven ones."""
    draw, handled = rng.random(), rng.random() < 0.9
    if draw < 0.60:
        return (Consent("email", "marketing", ConsentStatus.OPT_IN, moment(rng, 2000), "web form"),), False
    if draw < 0.70:
        return (Consent("email", "marketing", ConsentStatus.OPT_IN, None, None),), handled
    if draw < 0.75:
        return (Consent("email", "marketing", ConsentStatus.OPT_OUT, moment(rng, 400), "unsubscribe link"),), handled
    return (), handled


def synthetic_record(rng: random.Random, index: int) -> PersonRecord:
    """A person with no real personal data; the proportions aim at a CRM swept regularly."""
    lifecycle = rng.choice(LIFECYCLES)
    audience = rng.choice(AUDIENCES)
    consent_rows, email_opt_out = consents(rng)
    contract_end = (NOW - dt.timedelta(days=rng.randrange(-700, 1300))).date() if lifecycle != "prospect" else None
    return PersonRecord(
        crm="bench",
        object_type="contact",
        id=f"b{index:08d}",
        country=rng.choice(COUNTRIES),
        birthdate=dt.date(rng.randint(1950, 2012), rng.randint(1, 12), rng.randint(1, 28))
        if rng.random() < 0.3
        else None,
        created_at=moment(rng, 2400),
        last_activity_at=moment(rng, 1200) if rng.random() < 0.9 else None,
        lifecycle=lifecycle,
        contract_end=contract_end,
        consents=consent_rows,
        opt_outs=OptOuts(email=email_opt_out),
        erasure_requested=rng.random() < 0.005,
        legal_hold=rng.random() < 0.002,
        restricted=rng.random() < 0.01,
        notes={"description": note(rng)},
        audience=audience,
        legal_basis=LegalBasis.LEGITIMATE_INTEREST if audience is Audience.B2B else LegalBasis.CONSENT,
    )


def chunks(total: int, seed: int) -> Iterator[list[tuple[PersonRecord, RecordFacts]]]:
    rng = random.Random(seed)
    suppressed, clear = RecordFacts(suppressed=True), RecordFacts()
    for start in range(0, total, CHUNK):
        yield [
            (synthetic_record(rng, i), suppressed if rng.random() < 0.001 else clear)
            for i in range(start, min(total, start + CHUNK))
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--model", action="store_true", help="the sensitive-note rule with its second stage on")
    args = parser.parse_args()
    started = time.process_time()
    policy = load_pack("cnil")
    if args.model:
        rules = (r.model_copy(update={"model": True}) if isinstance(r, SensitiveNoteRule) else r for r in policy.rules)
        policy = Policy(tuple(rules), policy.source)
    # What a sweep does at start (the daemon too): the scanner and the country names compile here, not in the figure.
    policy = policy.prepare()
    print(f"load and compile: {time.process_time() - started:.2f} s (once per process, not in the figure below)")
    actions: Counter[str] = Counter()
    elapsed, done = 0.0, 0
    for batch in chunks(args.records, args.seed):
        started = time.process_time()
        # Like a sweep, keep only the decisions that change something (the plan), drop the rest.
        changed = [
            decision for record, facts in batch if (decision := decide(record, policy, NOW, facts=facts)).changes
        ]
        elapsed += time.process_time() - started
        done += len(batch)
        actions.update("+".join(d.actions) for d in changed)
    print(f"policy cnil {policy.hash[:12]}, {done:,} records, notes < 200 characters")
    print(f"decide: {elapsed:.2f} s, {done / elapsed:,.0f} records/s (one process, one core)")
    changed = sum(actions.values())
    print(
        f"changes planned: {changed:,} ({changed / done:.1%}): "
        + ", ".join(f"{a} {n:,}" for a, n in actions.most_common())
    )


if __name__ == "__main__":
    main()
