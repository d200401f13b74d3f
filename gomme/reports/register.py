"""`gomme register`: the Art 30(1) record of processing for the CRMs gomme manages.

Built from the `[register]` config block, the connectors' hosting and transfer basis, the
retention periods of the active policy, and the pseudonymised extracts handed to processors (recorded in the audit
log by `gomme export`, docs/extracts.md). Missing mandatory items are listed, not invented.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, select_autoescape

from gomme.config import Config
from gomme.jobs.extract import ExtractRecord

_TEMPLATES = Environment(loader=PackageLoader("gomme.reports", "templates"), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the record: the Art 30(1) point it answers, and the answer (empty if missing)."""

    article: str
    item: str
    value: str
    mandatory: bool = True
    hint: str = ""  # how to fill it in when missing, if not in [register]

    @property
    def missing(self) -> bool:
        return not self.value.strip()


def register_entries(config: Config, extracts: Iterable[ExtractRecord] = ()) -> list[Entry]:
    register = config.register
    disclosures = _disclosures(extracts)
    systems = []
    for name, settings in config.connectors.items():
        notice = register.systems.get(name)
        hosting = notice.hosting if notice and notice.hosting else ""
        basis = notice.transfer_basis if notice and notice.transfer_basis else ""
        systems.append((name, str(getattr(settings, "type", "crm")), hosting, basis))
    entries = [
        Entry("30(1)(a)", "Controller (name and contact details)", register.controller or ""),
        Entry("30(1)(a)", "Data protection officer (contact details)", register.dpo_contact or "", mandatory=False),
        Entry("30(1)(b)", "Purposes of the processing", "; ".join(register.purposes)),
        Entry("30(1)(c)", "Categories of data subjects", "; ".join(register.data_subjects)),
        Entry("30(1)(c)", "Categories of personal data", "; ".join(register.data_categories)),
        Entry("30(1)(d)", "Categories of recipients", "; ".join(
            [f"{n} ({kind})" for n, kind, _, _ in systems]
            + sorted({f"{d.recipient} (processor, pseudonymised extracts)" for d in disclosures}))),
        *(_extracts_line(d) for d in disclosures),
    ]
    for name, kind, hosting, basis in systems:
        entries.append(Entry("30(1)(e)", f"Hosting of {name} ({kind})", hosting))
        entries.append(Entry("30(1)(e)", f"Transfers outside the EU from {name}, and safeguards", basis))
    for recipient, bases in _transfer_bases(disclosures).items():
        entries.append(Entry(
            "30(1)(e)", f"Transfers outside the EU to {recipient} (pseudonymised extracts), and safeguards",
            "; ".join(bases),
            hint="pass --transfer-basis to the next `gomme export` for this recipient ('No transfer outside the EU' "
                 "if none)",
        ))
    entries.append(Entry("30(1)(f)", "Time limits for erasure", "; ".join(_retention(config))))
    entries.append(Entry("30(1)(g)", "Technical and organisational security measures (Art 32)",
                         "; ".join(register.security_measures)))
    return entries


def _retention(config: Config) -> list[str]:
    lines = []
    for rule in config.policy.canonical().get("rules", []):
        if rule.get("kind") == "retention":
            lines.append(f"{rule.get('lifecycle')}: {rule.get('after')} after {rule.get('clock')} "
                         f"(rule {rule.get('id')})")
        elif rule.get("kind") == "erasure_request":
            lines.append(f"on request: without undue delay, within one month (rule {rule.get('id')})")
    return lines


@dataclass(frozen=True, slots=True)
class Disclosure:
    """The extracts of one connector to one recipient for one purpose."""

    recipient: str
    purpose: str
    transfer_bases: tuple[str, ...]  # as stated by the extracts that stated one
    connector: str
    count: int
    last: str
    fields: tuple[str, ...]
    rows: int
    smallest_k: int | None


def _extracts_line(d: Disclosure) -> Entry:
    k = "not computed (no row)" if d.smallest_k is None else str(d.smallest_k)
    return Entry(
        "30(1)(d)", f"Pseudonymised extracts to {d.recipient}",
        f"{d.count} extract(s) of {d.connector}, last on {d.last[:10]}, purpose: {d.purpose}; fields: "
        f"{', '.join(d.fields)}; {d.rows} row(s) in all; smallest k: {k}", mandatory=False,
    )


def _disclosures(extracts: Iterable[ExtractRecord]) -> list[Disclosure]:
    grouped: dict[tuple[str, str, str], list[ExtractRecord]] = {}
    for extract in extracts:
        grouped.setdefault((extract.recipient, extract.purpose, extract.connector), []).append(extract)
    disclosures = []
    for (recipient, purpose, connector), group in sorted(grouped.items()):
        ks = [extract.k for extract in group if extract.k is not None]
        fields = tuple(dict.fromkeys(name for extract in group for name in extract.fields))
        bases = tuple(dict.fromkeys(extract.transfer_basis for extract in group if extract.transfer_basis))
        disclosures.append(Disclosure(
            recipient, purpose, bases, connector, len(group), max(extract.at for extract in group), fields,
            sum(extract.rows for extract in group), min(ks) if ks else None,
        ))
    return disclosures


def _transfer_bases(disclosures: Sequence[Disclosure]) -> dict[str, list[str]]:
    """Per recipient, every transfer basis its extracts stated (none stated: the register shows it missing)."""
    bases: dict[str, list[str]] = {}
    for d in disclosures:
        known = bases.setdefault(d.recipient, [])
        known += [basis for basis in d.transfer_bases if basis not in known]
    return bases


def missing(entries: Sequence[Entry]) -> list[Entry]:
    return [entry for entry in entries if entry.mandatory and entry.missing]


def render(entries: Sequence[Entry], fmt: str, *, policy_hash: str) -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["article", "item", "value", "mandatory"])
        writer.writerows([e.article, e.item, e.value, "yes" if e.mandatory else "no"] for e in entries)
        return out.getvalue()
    if fmt == "html":
        return _TEMPLATES.get_template("register.html.j2").render(entries=entries, policy_hash=policy_hash)
    lines = ["# Record of processing activities (GDPR Art 30(1)) — CRM data managed by gomme", "",
             f"Policy in force: `{policy_hash}`", "", "| Art | Item | Value |", "|---|---|---|"]
    for e in entries:
        value = e.value.replace("|", "\\|") or ("**MISSING**" if e.mandatory else "—")
        lines.append(f"| {e.article} | {e.item} | {value} |")
    return "\n".join(lines) + "\n"
