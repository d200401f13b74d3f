"""`gomme policy ...`: check a policy file, explain a decision rule by rule, show the effective policy."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gomme.model.records import PersonRecord
from gomme.policies.decision import Decision
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.policy import Policy, PolicyError, load_policy_file
from gomme.wiring import App, default_actor


def check_policy_file(path: Path, console: Console) -> int:
    """Validate a policy file; print every problem with its TOML path. 0 when valid, 2 otherwise."""
    try:
        policy = load_policy_file(path)
    except PolicyError as error:
        _say(console, f"error: invalid policy in {path}: {len(error.issues)} problem(s)", style="bold red")
        for issue in error.issues:
            _say(console, f"  {issue}")
        return 2
    except OSError as error:
        _say(console, f"error: cannot read {path}: {error.strerror or error}", style="bold red")
        return 2
    _say(console, f"{path}: valid, {len(policy.rules)} rule(s), policy hash {policy.hash}")
    return 0


def explain_record(
    record: PersonRecord, policy: Policy, now: dt.datetime, console: Console, *, facts: RecordFacts = NO_FACTS
) -> None:
    """Decide on `record`, then print each rule the engine ran: whether it fired and why (or why not), and the
    action taken. Dates, codes and field names only: never a name, email, phone or note text."""
    from gomme.policies.engine import decide, why_not

    decision = decide(record, policy, now, facts=facts)
    _say(console, f"record {record.ref}", style="bold")
    if not decision.evaluated and decision.in_effect is not None:
        _say(console, f"already {decision.in_effect}d: nothing personal is left, no rule applies")
    else:
        console.print(_rules_table(decision, why_not(record, policy, now, decision, facts=facts)))
    _say(console, _outcome(decision))


def show_policy(policy: Policy, stream: IO[str]) -> None:
    """The effective policy (packs and overrides merged, defaults filled in) and its hash, as JSON."""
    document = {"hash": policy.hash, "source": policy.source, **policy.canonical()}
    stream.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _say(console: Console, text: str, style: str | None = None) -> None:
    # Text from policies and CRMs is printed as is: `[redacted]` or `rules[0]` must not be read as rich markup.
    console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def _rules_table(decision: Decision, not_fired: Mapping[str, str]) -> Table:
    findings = {finding.rule_id: finding for finding in decision.findings}
    table = Table(show_lines=False)
    for column in ("rule", "fired", "why"):
        table.add_column(column, overflow="fold")
    for rule_id, line in decision.explain().items():
        finding = findings.get(rule_id)
        why = line.removeprefix("fired: ") if finding else not_fired.get(rule_id, line)
        if finding is not None and finding.facts:
            why += "\n" + ", ".join(f"{key}={value}" for key, value in finding.facts.items())
        style = "bold" if rule_id == decision.rule_id else ""
        table.add_row(Text(rule_id, style=style), "yes" if finding else "no", Text(why))
    return table


def _outcome(decision: Decision) -> str:
    if not decision.changes:
        kept = f"keep ({decision.in_effect} already in effect)" if decision.in_effect is not None else "keep"
        capped = f", capped by {decision.capped_by}" if decision.capped_by else ""
        return f"action: {kept}{capped}"
    parts = [f"action: {decision.action} by rule {decision.rule_id}"]
    if decision.also:
        parts.append(f"together with {', '.join(decision.also)}")
    if decision.capped_by:
        parts.append(f"capped by {decision.capped_by}")
    return "; ".join(parts) + f"\nlegal basis: {decision.legal_basis}"


def explain(app: App, connector_name: str, record_id: str, console: Console) -> int:
    """Pull one record through its connector, decide on it now, and explain every rule."""
    from gomme.jobs.facts import facts_for, facts_of
    from gomme.state.clock import utc_now

    names = app.connector_names([connector_name])
    engine, keyring, now = app.engine(), app.keyring(), utc_now()
    with app.connector(names[0]) as connector:
        records = list(connector.get([(kind, record_id) for kind in ("contact", "lead")]))
        if not records:
            raise LookupError(f"connector {connector_name} has no contact or lead with id {record_id}")
        ctx = app.context(connector, engine, keyring, now=now, actor=default_actor())
        known = facts_for(ctx, records)
        for record in records:
            explain_record(record, app.config.policy, now, console, facts=facts_of(known, record))
    return 0
