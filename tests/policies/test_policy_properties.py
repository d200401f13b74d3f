"""Properties of the engine over random synthetic records and policies (Hypothesis)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notes_metrics import corpus
from policy_testkit import applied, matches, person

from gomme.model.changes import Action
from gomme.model.records import Audience, Consent, ConsentStatus, LegalBasis, Lifecycle, OptOuts, PersonRecord
from gomme.policies.engine import decide, prefilter_query, resolve
from gomme.policies.facts import RecordFacts
from gomme.policies.notes.lexicon import ARTICLES, LANGUAGES, Category, entities, lexicon
from gomme.policies.notes.scanner import scanner
from gomme.policies.policy import Policy, load_policy

ZONES = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5))])
MOMENTS = st.datetimes(min_value=dt.datetime(2012, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=ZONES)
NAIVE_OR_AWARE = MOMENTS | st.datetimes(min_value=dt.datetime(2012, 1, 1), max_value=dt.datetime(2027, 12, 31))
NOWS = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2026, 12, 31), timezones=ZONES)
DATES = st.dates(min_value=dt.date(2012, 1, 1), max_value=dt.date(2028, 12, 31))
BIRTHDATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 12, 31))
CORPUS = [sentence.text for sentence in corpus("tune")]
NOTE_TEXT = st.lists(st.sampled_from(CORPUS), min_size=1, max_size=3).map(" ".join) | st.text(max_size=60)
CONSENTS = st.builds(
    Consent,
    channel=st.sampled_from(["email", "phone", "sms"]),
    purpose=st.sampled_from(["marketing", "newsletter"]),
    status=st.sampled_from(ConsentStatus),
    captured_at=st.none() | NAIVE_OR_AWARE,
    source=st.none() | st.sampled_from(["", "web form", "fair"]),
)

RECORDS = st.builds(
    person,
    lifecycle=st.sampled_from(Lifecycle),
    created_at=st.none() | MOMENTS,
    last_activity_at=st.none() | MOMENTS,
    contract_end=st.none() | DATES,
    birthdate=st.none() | BIRTHDATES,
    country=st.none() | st.sampled_from(["FR", "fr", "DE", "UK", "PT", "", "XX"]),
    erasure_requested=st.booleans(),
    legal_hold=st.booleans(),
    restricted=st.booleans(),
    anonymised=st.booleans(),
    opt_outs=st.builds(OptOuts, email=st.booleans(), phone=st.booleans()),
    consents=st.lists(CONSENTS, max_size=3).map(tuple),
    notes=st.dictionaries(st.sampled_from(["description", "comment"]), NOTE_TEXT, max_size=2),
    audience=st.sampled_from(Audience),
    legal_basis=st.sampled_from(LegalBasis),
    parental_consent=st.booleans(),
)
FACTS = st.builds(RecordFacts, suppressed=st.booleans())
LEAVES = st.sampled_from(
    [
        {"field": "country", "op": "eq", "value": "FR"},
        {"field": "country", "op": "ne", "value": "FR"},
        {"field": "country", "op": "in", "value": ["FR", "DE"]},
        {"field": "country", "op": "not_in", "value": ["FR"]},
        {"field": "lifecycle", "op": "eq", "value": "prospect"},
        {"field": "created_at", "op": "older_than", "value": "P2Y"},
        {"field": "last_activity_at", "op": "newer_than", "value": "P1Y"},
        {"field": "birthdate", "op": "exists", "value": True},
        {"field": "contract_end", "op": "lt", "value": dt.date(2020, 1, 1)},
        {"field": "opt_outs.email", "op": "eq", "value": False},
        {"field": "notes.description", "op": "contains", "value": "client"},
        {"field": "audience", "op": "eq", "value": "b2c"},
        {"field": "raw.score", "op": "gt", "value": 3},
    ]
)

LEMMAS = {e.phrase.lemma for language in LANGUAGES for e in lexicon(language).entries} | {
    e.phrase.lemma for e in entities()
}


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """The cnil pack with random retention and match rules added and pack rules tweaked; legal hold stays on."""
    retention = st.fixed_dictionaries(
        {
            "kind": st.just("retention"),
            "lifecycle": st.sampled_from([lc.value for lc in Lifecycle]),
            "after": st.sampled_from(["P30D", "P18M", "P1Y", "P2Y6M", "P3Y", "P5Y"]),
        },
        optional={
            "clock": st.sampled_from(["last_activity", "contract_end"]),
            "action": st.sampled_from(["anonymise", "delete", "restrict_all"]),
        },
    )
    match = st.fixed_dictionaries(
        {
            "kind": st.just("match"),
            "legal_basis": st.just("test basis"),
            "action": st.sampled_from(["restrict_email", "restrict_all", "anonymise", "delete"]),
            "all": st.lists(LEAVES, min_size=1, max_size=2),
            "any": st.lists(LEAVES | st.builds(lambda xs: {"all": xs}, st.lists(LEAVES, min_size=1, max_size=2))),
        },
    )
    extra: list[dict[str, Any]] = draw(st.lists(retention | match, max_size=4))
    tables = [{"id": f"extra-{i}", **table} for i, table in enumerate(extra)]
    tables.append({"id": "erasure-request", "action": draw(st.sampled_from(["anonymise", "delete"]))})
    tables.append({"id": "minor", "action": draw(st.sampled_from(["restrict_all", "restrict_email", "anonymise"]))})
    for rule_id in ("retention-prospect", "consent-proof-email", "sensitive-note"):
        if draw(st.booleans()):
            tables.append({"id": rule_id, "enabled": False})
    return load_policy({"extends": "cnil", "rules": tables}, source="hypothesis")


# Generation speed is not what this checks: on a loaded 2-core CI host one draw can take seconds.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(record=RECORDS, policy=policies(), now=NOWS, facts=FACTS)
def test_decide_is_deterministic_and_independent_of_the_now_timezone(
    record: PersonRecord, policy: Policy, now: dt.datetime, facts: RecordFacts
) -> None:
    first = decide(record, policy, now, facts=facts)
    assert decide(record, policy, now, facts=facts) == first
    assert decide(record, policy, now.astimezone(dt.UTC), facts=facts) == first


@settings(max_examples=150)
@given(
    record=st.builds(
        person,
        country=st.none() | st.text(max_size=4),
        birthdate=st.none() | st.dates(),
        created_at=st.none() | st.datetimes(timezones=st.none() | st.timezones()),
        last_activity_at=st.none() | st.datetimes(timezones=st.none() | st.timezones()),
        contract_end=st.none() | st.dates(),
        lifecycle=st.sampled_from(Lifecycle),
        consents=st.lists(CONSENTS, max_size=4).map(tuple),
        notes=st.dictionaries(st.text(max_size=10), st.text(max_size=80) | NOTE_TEXT, max_size=3),
        raw=st.dictionaries(st.just("score"), st.none() | st.integers() | st.text() | st.dates()),
        audience=st.sampled_from(Audience),
        legal_basis=st.sampled_from(LegalBasis),
        parental_consent=st.booleans(),
    ),
    policy=policies(),
    now=NOWS,
    facts=FACTS,
)
def test_decide_never_raises_on_arbitrary_records(
    record: PersonRecord, policy: Policy, now: dt.datetime, facts: RecordFacts
) -> None:
    decision = decide(record, policy, now, facts=facts)
    assert decision.action in Action


@given(record=RECORDS, policy=policies(), now=NOWS, facts=FACTS)
def test_a_record_a_rule_fires_on_satisfies_one_of_its_prefilter_groups(
    record: PersonRecord, policy: Policy, now: dt.datetime, facts: RecordFacts
) -> None:
    now = now.astimezone(dt.UTC)
    for rule in policy.rules:
        groups = rule.prefilters(now)
        if groups and not record.anonymised and rule.evaluate(record, now, facts) is not None:
            assert matches(record, groups), f"{rule.id} fired outside its prefilters"
    query = prefilter_query(policy, now, {"contact": "cursor"})
    if decide(record, policy, now, facts=facts).changes and not query.everything:
        # Rules relying on the cursor (`()`) fire on changed records only, which the cursor brings.
        relying = [r for r in policy.rules if r.prefilters(now) == () and r.evaluate(record, now, facts)]
        assert relying or matches(record, query.prefilters)


@given(record=RECORDS, policy=policies(), now=NOWS, facts=FACTS)
def test_a_record_under_legal_hold_is_never_erased(
    record: PersonRecord, policy: Policy, now: dt.datetime, facts: RecordFacts
) -> None:
    decision = decide(record, policy, now, facts=facts)
    if record.legal_hold:
        assert not any(action.erases for action in decision.actions)


@given(record=RECORDS, policy=policies(), now=NOWS)
def test_a_second_sweep_after_applying_plans_nothing(record: PersonRecord, policy: Policy, now: dt.datetime) -> None:
    decision = decide(record, policy, now)
    if Action.DELETE not in decision.actions:  # a deleted record is not pulled again
        assert not decide(applied(record, decision.actions, decision.values), policy, now).changes


@given(record=RECORDS, policy=policies(), now=NOWS, facts=FACTS)
def test_evidence_never_quotes_a_note(
    record: PersonRecord, policy: Policy, now: dt.datetime, facts: RecordFacts
) -> None:
    decision = decide(record, policy, now, facts=facts)
    evidence = " ".join(
        [f.reason for f in decision.findings]
        + [v for f in decision.findings for k, v in f.facts.items() if k != "terms"]
    )
    named = {term for f in decision.findings for term in f.facts.get("terms", "").split(",") if term}
    assert all(term.partition(":")[2] in LEMMAS for term in named)  # the lexicon's words, not the note's
    for category in Category:  # category names are evidence by design, even when a note says "racial"
        evidence = evidence.replace(category.value, "")
    for article in ARTICLES.values():  # and so are the articles cited ("CNIL bloc-notes", even beside "Bloc Québécois")
        evidence = evidence.replace(article, "")
    evidence = evidence.replace("sentence(s)", "")  # the reason's own word, even when a note says "sentence"
    for text in record.notes.values():
        for match in scanner().scan(text):
            # As a word: a two-letter union ("FO") is no quote inside the reason's own "for".
            quoted = re.escape(text[match.start : match.end].lower())
            assert not re.search(rf"(?<!\w){quoted}(?!\w)", evidence.lower())


@given(record=RECORDS, policy=policies(), now=NOWS, facts=FACTS)
def test_decide_agrees_with_the_general_conflict_resolver(
    record: PersonRecord, policy: Policy, now: dt.datetime, facts: RecordFacts
) -> None:
    if record.anonymised:
        return
    utc = now.astimezone(dt.UTC)
    findings = [f for rule in policy.rules if (f := rule.evaluate(record, utc, facts)) is not None]
    resolved = resolve(record, findings, evaluated=policy.rule_ids, policy_hash=policy.hash)
    assert decide(record, policy, now, facts=facts) == resolved
