"""The access bundle's summary.html speaks plain language: how long each of the person's records is kept, from its
own dates ("kept until 3 years after your contract ended on ..."), periods and field names in words."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from pathlib import Path

import pytest

from gomme.jobs.access_bundle import CrmExport, ProcessingNotice, write_bundle
from gomme.model.records import Lifecycle, PersonRecord
from gomme.policies.period import Period
from gomme.policies.policy import Policy, load_pack, load_policy
from tests.reasons_crm import RECENT, gomme, local_crm

NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
CNIL = load_pack("cnil")


@pytest.mark.parametrize(
    ("text", "words"),
    [("P3Y", "3 years"), ("P1Y", "1 year"), ("P18M", "18 months"), ("P30D", "30 days"), ("P2W", "14 days"),
     ("P1Y6M", "1 year and 6 months"), ("P1Y2M3D", "1 year, 2 months and 3 days"), ("PT12H", "PT12H")],
)  # fmt: skip
def test_periods_read_in_words(text: str, words: str) -> None:
    assert Period.parse(text).words == words


def _person(n: int, **fields: object) -> PersonRecord:
    return PersonRecord(crm="crm", object_type="contact", id=f"c{n}", email=f"p{n}@example.org", **fields)  # type: ignore[arg-type]


def _summary(tmp_path: Path, people: list[PersonRecord], policy: Policy = CNIL) -> str:
    exports = [CrmExport("crm", [{"id": p.id} for p in people], people)]
    bundle = write_bundle(
        tmp_path / "bundle", request_id="r1", received="2025-05-30", exports=exports, audit_history=[],
        notice=ProcessingNotice(), policy=policy, now=NOW,
    )  # fmt: skip
    html = (bundle / "summary.html").read_text(encoding="utf-8")
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())  # the text a reader sees


def test_each_record_says_until_when_it_is_kept_in_words(tmp_path: Path) -> None:
    text = _summary(tmp_path, [
        _person(1, lifecycle=Lifecycle.FORMER_CUSTOMER, contract_end=dt.date(2024, 3, 4)),
        _person(2, lifecycle=Lifecycle.CUSTOMER, contract_end=dt.date(2027, 1, 31)),
        _person(3, lifecycle=Lifecycle.PROSPECT, last_activity_at=dt.datetime(2020, 1, 10, 9, tzinfo=dt.UTC),
                legal_hold=True),
        _person(4, lifecycle=Lifecycle.PROSPECT, created_at=dt.datetime(2024, 8, 1, tzinfo=dt.UTC)),
        _person(5, lifecycle=Lifecycle.CUSTOMER),
        _person(6, lifecycle=Lifecycle.PROSPECT, anonymised=True),
    ])  # fmt: skip

    for line in (
        "Kept until 3 years after your contract ended on 2024-03-04: your data will be erased on 2027-03-04 "
        "(your identity and contact details removed).",
        "Kept while your contract runs (it ends on 2027-01-31), then 3 years after the end of our relationship.",
        "The 3 years after your last contact with us on 2020-01-10 ended on 2023-01-10. It is kept under a legal "
        "hold (to establish or defend a legal claim): stored only, not used.",
        "Kept until 3 years after your record was created on 2024-08-01: your data will be erased on 2027-08-01",
        "Kept while you are our customer: no date shows that our relationship ended.",
        "Already erased: nothing that identifies you is left in this record.",
        "If you are a prospect: 3 years after your last contact with us (or, if there was none, after your record "
        "was created); then erased (your identity and contact details removed).",
    ):
        assert line in text, line
    for jargon in ("P3Y", "contract_end", "last_activity_at", "created_at", "erased P3Y", "@example.org"):
        assert jargon not in text, jargon


def test_an_overridden_period_and_action_are_said_in_words(tmp_path: Path) -> None:
    policy = load_policy({"extends": "cnil", "rules": [{"id": "retention-prospect", "after": "P18M",
                                                        "action": "delete"}]}, source="test")  # fmt: skip
    text = _summary(tmp_path, [_person(1, lifecycle=Lifecycle.PROSPECT,
                                       last_activity_at=dt.datetime(2024, 12, 1, tzinfo=dt.UTC))], policy)  # fmt: skip

    assert "Kept until 18 months after your last contact with us on 2024-12-01: your data will be deleted on " \
           "2026-06-01." in text  # fmt: skip
    assert "If you are a prospect: 18 months after your last contact with us" in text


def _bundle_text(tmp_path: Path, state_url: str) -> str:
    config = local_crm(tmp_path, state_url)
    config.write_text(config.read_text(encoding="utf-8") + '[requests]\nexport_dir = "exports"\n', encoding="utf-8")
    code, output = gomme(config, "request", "access", "--email", "person6@example.org", "--now")
    assert code == 0, output
    bundle = Path(output.split("access bundle: ", 1)[1].split()[0])
    html = (bundle / "summary.html").read_text(encoding="utf-8")
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_access_request_summary_states_the_rules_in_words(tmp_path: Path, state_url: str) -> None:
    text = _bundle_text(tmp_path, state_url)

    assert "If you are a former customer: 3 years after the end of our relationship" in text
    assert "erased P3Y" not in text and "contract_end" not in text


def test_the_access_request_summary_says_until_when_the_persons_record_is_kept(tmp_path: Path, state_url: str) -> None:
    text = _bundle_text(tmp_path, state_url)

    # The CRM's own date, not today's: a run that crosses midnight must not move it.
    assert f"Kept until 3 years after your last contact with us on {RECENT.date().isoformat()}" in text
