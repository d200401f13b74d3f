"""Consent kinds: a withdrawn consent the CRM still ignores, and marketing consent that cannot be proven."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from gomme.model.changes import Action
from gomme.model.conditions import FilterGroup
from gomme.model.records import Audience, Consent, ConsentStatus, LegalBasis, Lifecycle, PersonRecord
from gomme.policies.decision import Finding
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.rule import RestrictingAction, RuleBase, utc

Channel = Literal["email", "phone", "sms"]
ProofField = Literal["captured_at", "source", "double_opt_in_at"]
# The OptOuts flag that stops each channel; gomme has no restriction narrower than restrict_all for phones.
_OPT_OUT_FLAG: Mapping[str, str] = {"email": "email", "phone": "phone", "sms": "phone"}


class _ChannelRule(RuleBase):
    """A rule about one channel's consents; its action defaults to restrict_email on the email channel only."""

    channel: Channel = "email"
    purposes: tuple[str, ...] = Field(default=("marketing",), min_length=1)
    action: RestrictingAction

    @classmethod
    def defaults(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"action": Action.RESTRICT_EMAIL.value} if params.get("channel", "email") == "email" else {}

    @model_validator(mode="after")
    def _action_fits_channel(self) -> Self:
        if self.channel != "email" and self.action is Action.RESTRICT_EMAIL:
            raise ValueError(f"action restrict_email does not stop the {self.channel} channel (use restrict_all)")
        return self

    def _opted_out(self, record: PersonRecord) -> bool:
        opted_out: bool = getattr(record.opt_outs, _OPT_OUT_FLAG[self.channel])
        return opted_out

    def _consents(self, record: PersonRecord) -> list[Consent]:
        return [c for c in record.consents if c.channel == self.channel and c.purpose in self.purposes]

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        return ()  # consents are related rows: a change to them is a change to the record (cursor)


class ConsentWithdrawnRule(_ChannelRule):
    """Restrict a channel whose latest consent is an opt-out while the CRM's opt-out flag still allows it."""

    audited: ClassVar[tuple[str, ...]] = ("channel", "purpose", "withdrawn", "signal", "flag")

    kind: Literal["consent_withdrawn"] = "consent_withdrawn"
    legal_basis: str = Field(
        default="GDPR Art 7(3): consent withdrawn; Art 21(3): objection to direct marketing is absolute; CPCE L.34-5",
        min_length=1,
    )
    description: str = "stop a channel whose consent was withdrawn"

    # Salesforce's Individual "Don't Market" (HasOptedOutSolicit): the person refused solicitation, which stops
    # marketing on every channel like a withdrawn consent (Art 21(2)-(3)). A restricted record is left to
    # restrict_all, which closes every channel itself.
    solicit: bool = True

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        if self._opted_out(record):
            return None
        if self.solicit and record.opt_outs.solicit and not record.restricted:
            flag = f"opt_outs.{_OPT_OUT_FLAG[self.channel]}"
            reason = f"the person opted out of solicitation (Don't Market) but the {self.channel} channel is open"
            return self.finding(self.action, reason, {"channel": self.channel, "signal": "solicit", "flag": flag})
        consents = record.consents
        if not any(c.status is ConsentStatus.OPT_OUT for c in consents):
            return None
        withdrawn = _withdrawal(self._consents(record))
        if withdrawn is None:
            return None
        when = "unknown" if withdrawn.captured_at is None else utc(withdrawn.captured_at).date().isoformat()
        reason = f"{self.channel} consent for {withdrawn.purpose} withdrawn ({when}) but the channel is not opted out"
        flag = f"opt_outs.{_OPT_OUT_FLAG[self.channel]}"
        return self.finding(
            self.action,
            reason,
            {"channel": self.channel, "purpose": withdrawn.purpose, "withdrawn": when, "flag": flag},
        )

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        flag = f"opt_outs.{_OPT_OUT_FLAG[self.channel]}"
        if self._opted_out(record):
            return f"{flag} already set: the {self.channel} channel is closed"
        # Don't Market on a restricted record is left to restrict_all; the consents are still looked at.
        solicit = ""
        if self.solicit and record.opt_outs.solicit:
            solicit = "Don't Market set but the record is restricted already; "
        consents = self._consents(record)
        if not any(c.status is ConsentStatus.OPT_OUT for c in consents):
            return f"{solicit}no {self.channel} opt-out recorded for {'/'.join(self.purposes)}"
        dated = [utc(c.captured_at) for c in consents if c.status is ConsentStatus.OPT_IN and c.captured_at]
        later = f" ({max(dated).date().isoformat()})" if dated else ""
        return f"{solicit}a later {self.channel} opt-in{later} supersedes the opt-out"


def _withdrawal(consents: list[Consent]) -> Consent | None:
    """The opt-out no later opt-in supersedes; an undated opt-out is never superseded (the safe reading)."""
    opt_outs = [c for c in consents if c.status is ConsentStatus.OPT_OUT]
    if not opt_outs:
        return None
    dated_ins = [utc(c.captured_at) for c in consents if c.status is ConsentStatus.OPT_IN and c.captured_at]
    latest_in = max(dated_ins, default=None)
    for consent in opt_outs:
        if latest_in is None or consent.captured_at is None or utc(consent.captured_at) >= latest_in:
            return consent
    return None


class ConsentProofRule(_ChannelRule):
    """Restrict marketing on a channel when no opt-in consent carries its proof (capture date and source).

    B2B contacts on a configured basis (legitimate interest) and customers under the soft opt-in of
    CPCE L.34-5 (analogous products) are exempt; audiences not listed (by default `unknown`) are not judged.
    """

    audited: ClassVar[tuple[str, ...]] = ("channel", "audience", "legal_basis", "missing")

    kind: Literal["consent_proof"] = "consent_proof"
    legal_basis: str = Field(
        default="GDPR Art 7(1): the controller must be able to demonstrate consent; CPCE L.34-5 and CNIL guidance "
        "on email prospecting: B2C marketing needs prior consent",
        min_length=1,
    )
    description: str = "restrict marketing without a provable consent"
    required: tuple[ProofField, ...] = Field(default=("captured_at", "source"), min_length=1)
    audiences: tuple[Audience, ...] = (Audience.B2C, Audience.B2B)
    b2b_exempt_bases: tuple[LegalBasis, ...] = (LegalBasis.LEGITIMATE_INTEREST,)
    exempt_lifecycles: tuple[Lifecycle, ...] = (Lifecycle.CUSTOMER,)

    # Art 7(1): whoever relies on consent must show how it was given, whatever the audience. When the audience is
    # not known, a person whose recorded basis is consent and who is subscribed on the channel must have at
    # least one subscription that says how it was obtained (its source); one that says nothing is stopped.
    consent_basis_proof: tuple[ProofField, ...] = ("source",)

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        audience = record.audience
        if audience not in self.audiences:
            return self._consent_basis(record)
        if (
            (audience == Audience.B2B and record.legal_basis in self.b2b_exempt_bases)
            or record.lifecycle in self.exempt_lifecycles
            or self._opted_out(record)
        ):
            return None
        opt_ins = [c for c in self._consents(record) if c.status is ConsentStatus.OPT_IN] if record.consents else []
        missing = _missing_proof(opt_ins, self.required)
        if not missing:
            return None
        purposes = "/".join(self.purposes)
        if opt_ins:
            reason = f"{audience} contact's {self.channel} opt-in for {purposes} has no {' or '.join(missing)}"
        else:
            reason = f"{audience} contact has no {self.channel} opt-in consent for {purposes}"
        facts_ = {
            "channel": self.channel,
            "audience": str(audience),
            "legal_basis": str(record.legal_basis),
            "missing": ",".join(missing) if opt_ins else "opt_in",
        }
        return self.finding(self.action, reason, facts_)


    def _consent_basis(self, record: PersonRecord) -> Finding | None:
        if (
            record.legal_basis is not LegalBasis.CONSENT
            or not self.consent_basis_proof
            or record.lifecycle in self.exempt_lifecycles
            or self._opted_out(record)
        ):
            return None
        subscribed = [c for c in record.consents if c.channel == self.channel and c.status is ConsentStatus.OPT_IN]
        missing = _missing_proof(subscribed, self.consent_basis_proof) if subscribed else ()
        if not missing:
            return None
        reason = (
            f"the recorded basis is consent, but none of the {len(subscribed)} {self.channel} subscription(s) "
            f"says how it was given (no {' or '.join(missing)})"
        )
        facts_ = {"channel": self.channel, "audience": str(record.audience), "legal_basis": "consent",
                  "missing": ",".join(missing)}  # fmt: skip
        return self.finding(self.action, reason, facts_)

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        audience, channel = record.audience, self.channel
        judged = audience in self.audiences
        if not judged and (record.legal_basis is not LegalBasis.CONSENT or not self.consent_basis_proof):
            audiences = ", ".join(str(a) for a in self.audiences)
            return f"audience is {audience} (rule judges {audiences}) and the recorded basis is {record.legal_basis}"
        if judged and audience == Audience.B2B and record.legal_basis in self.b2b_exempt_bases:
            return f"B2B contact on {record.legal_basis}: exempt"
        if record.lifecycle in self.exempt_lifecycles:
            return f"lifecycle {record.lifecycle} is exempt (soft opt-in, CPCE L.34-5)"
        if self._opted_out(record):
            return f"opt_outs.{_OPT_OUT_FLAG[channel]} already set: the {channel} channel is closed"
        if not judged:
            subscribed = any(c.channel == channel and c.status is ConsentStatus.OPT_IN for c in record.consents)
            proof = " and ".join(self.consent_basis_proof)
            return f"a {channel} subscription records its {proof}" if subscribed else f"no {channel} subscription"
        return f"a {channel} opt-in for {'/'.join(self.purposes)} records its {' and '.join(self.required)}"


def _missing_proof(opt_ins: list[Consent], required: tuple[str, ...]) -> tuple[str, ...]:
    """Nothing when one opt-in holds every required proof field; else what the most complete one lacks."""
    best: tuple[str, ...] = required
    for consent in opt_ins:
        lacking = tuple(name for name in required if not getattr(consent, name))
        if not lacking:
            return ()
        if len(lacking) < len(best):
            best = lacking
    return best


class ProcessingBasisRule(_ChannelRule):
    """Restrict marketing on a channel for a person subscribed to it while no basis for processing is recorded.

    HubSpot with its GDPR settings on records a legal basis for processing the contact's data; a subscription's
    own legal basis covers communicating on that type, not processing the person's data at all (docs/clocks.md,
    "Opt-out signals"). With no basis recorded (`none`), the subscription alone does not make the processing
    lawful (Art 6(1)), so marketing stops. `unknown` (the CRM does not track it) is not judged by default.
    """

    audited: ClassVar[tuple[str, ...]] = ("channel", "legal_basis", "subscribed")

    kind: Literal["processing_basis"] = "processing_basis"
    legal_basis: str = Field(
        default="GDPR Art 6(1): processing needs a lawful basis; Art 5(2) accountability: none is recorded",
        min_length=1,
    )
    description: str = "stop marketing to people subscribed without a recorded basis for processing"
    bases: tuple[LegalBasis, ...] = Field(default=(LegalBasis.NONE,), min_length=1)
    purposes: tuple[str, ...] = ()  # empty: any subscription on the channel

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        if record.legal_basis not in self.bases or record.restricted or self._opted_out(record):
            return None
        subscribed = [
            c for c in record.consents
            if c.channel == self.channel and c.status is ConsentStatus.OPT_IN
            and (not self.purposes or c.purpose in self.purposes)
        ]  # fmt: skip
        if not subscribed:
            return None
        reason = (
            f"subscribed to {len(subscribed)} {self.channel} type(s) while no legal basis for processing "
            f"the person's data is recorded ({record.legal_basis})"
        )
        facts_ = {"channel": self.channel, "legal_basis": str(record.legal_basis), "subscribed": str(len(subscribed))}
        return self.finding(self.action, reason, facts_)

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        if record.legal_basis not in self.bases:
            bases = ", ".join(str(b) for b in self.bases)
            return f"legal basis for processing is {record.legal_basis} (rule is for {bases})"
        if record.restricted:
            return "record restricted already (every channel is closed)"
        if self._opted_out(record):
            return f"opt_outs.{_OPT_OUT_FLAG[self.channel]} already set: the {self.channel} channel is closed"
        return f"no {self.channel} subscription" + (f" for {'/'.join(self.purposes)}" if self.purposes else "")
