"""`gomme breach` as a DPO meets it: open → assess → report → notify list, with figures equal to the seeded scope,
personal data only in the notify list, the 72-hour deadline, and bad input refused before anything is written."""

from __future__ import annotations

import csv
import datetime as dt
import json
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from gomme.state.breach import open_cases
from gomme.state.clock import stamp
from gomme.state.db import make_engine, session, upgrade
from gomme.state.models import AuditEvent, BreachCase
from gomme.state.suppression import SuppressionReason, suppress
from tests.breach.breach_kit import AWARE, NOW, UNTIL, gomme, needles, seed
from tests.state_key import TEST_KEYRING

NOTE = "A laptop holding a CSV export was stolen."


def _open(config: Path, *extra: str, aware: dt.datetime = AWARE) -> str:
    code, output = gomme(config, "breach", "open", "--connector", "crm", "--aware-at", aware.isoformat(),
                         "--until", UNTIL.isoformat(), "--note", NOTE,
                         "--establishment", "FR", *extra)
    assert code == 0, output
    return output.split("breach case ", 1)[1].split()[0]


def _suppress_returning_person(state_url: str) -> None:
    engine = make_engine(state_url)
    upgrade(engine)
    with session(engine) as db:
        suppress(db, TEST_KEYRING.email_key("returned.person@example.test"), reason=SuppressionReason.ERASURE,
                 now=stamp(NOW))
    engine.dispose()


def _state_dump(state_url: str) -> str:
    """Every row of every gomme table, as text: the haystack for personal data."""
    engine = make_engine(state_url)
    rows = []
    with engine.connect() as connection:
        for table in ("breach_case", "audit_event", "state_fact", "suppression", "run", "change"):
            rows.extend(str(tuple(row)) for row in connection.execute(text(f"SELECT * FROM {table}")))
    engine.dispose()
    return "\n".join(rows)


def _audit(state_url: str) -> list[AuditEvent]:
    engine = make_engine(state_url)
    with Session(engine) as db:
        found = list(db.exec(select(AuditEvent).where(AuditEvent.object_type == "breach")
                             .order_by(col(AuditEvent.seq))))
    engine.dispose()
    return found


def test_assessment_counts_equal_the_seeded_scope(tmp_path: Path, state_url: str) -> None:
    config = seed(tmp_path, state_url)
    _suppress_returning_person(state_url)
    case = _open(config)

    code, output = gomme(config, "breach", "assess", case[:8])

    assert code == 0, output
    assert "5 people (5 exactly), 6 records in scope" in output
    assert "and 1 record(s) already anonymised: nothing personal left, not counted" in output
    assert "crm/contact: 4 records, 4 people" in output and "crm/lead: 2 records, 2 people" in output
    assert "special categories 1, criminal 1, minors 1, erased before 1, restricted 1, reachable 4" in output
    engine = make_engine(state_url)
    with Session(engine) as db:
        stored = json.loads(db.exec(select(BreachCase)).one().assessment or "{}")
    engine.dispose()
    assert stored["people"]["country:FR"] == 1  # the person held as a contact and a lead counts once
    assert {stored["people"][f"country:{c}"] for c in ("DE", "ES", "BE", "unknown")} == {1}
    assert stored["people"]["special:health"] == 1 and stored["people"]["data:birth_date"] == 1
    assert [e.action for e in _audit(state_url)] == ["breach_opened", "breach_assessed"]
    assert _audit(state_url)[1].evidence == "people=5; records=6"


def test_where_narrows_the_scope_and_is_kept_sealed(tmp_path: Path, state_url: str) -> None:
    config = seed(tmp_path, state_url)
    case = _open(config, "--where", "country eq DE", "--where", "email eq torsten.wackelberg@example.test")

    code, output = gomme(config, "breach", "assess", case)

    assert code == 0, output
    assert "1 people (1 exactly), 1 records in scope" in output
    assert "torsten.wackelberg@example.test" not in _state_dump(state_url)  # the condition is sealed


def test_report_renders_html_and_markdown_with_the_gaps_marked(tmp_path: Path, state_url: str) -> None:
    config = seed(tmp_path, state_url)
    case = _open(config)
    assert gomme(config, "breach", "assess", case)[0] == 0

    html_code, html_out = gomme(config, "breach", "report", case, "--output", str(tmp_path / "draft.html"))
    md_code, _ = gomme(config, "breach", "report", case, "--output", str(tmp_path / "draft.md"))

    assert html_code == 0 and md_code == 0, html_out
    assert "warning: no DPO contact in [register] dpo_contact" in html_out
    page = (tmp_path / "draft.html").read_text()
    ids = _ids(page)
    assert {"timeline", "dpo", "numbers", "groups-table", "countries-table", "consequences", "measures"} <= ids
    assert "TO COMPLETE</span> no DPO contact in the configuration" in page
    assert "Commission nationale de l&#39;informatique et des libertés (CNIL) (FR" in page  # the lead authority
    assert "A laptop holding a CSV export was stolen." in page
    markdown = (tmp_path / "draft.md").read_text()
    assert "Data subjects concerned: **5** (5 exactly); personal data records concerned: **6**." in markdown
    assert "1 further record(s) in scope were already anonymised" in markdown
    assert markdown.count("**TO COMPLETE**") >= 5
    assert "| DE | 1 | 1 | Der Bundesbeauftragte" in markdown
    for document in (page, markdown):
        assert not [needle for needle in needles() if needle in document]


def test_report_with_a_dpo_contact_shows_it_and_no_warning(tmp_path: Path, state_url: str) -> None:
    config = seed(tmp_path, state_url, register='dpo_contact = "dpo@example-sas.test"\n')
    case = _open(config)
    assert gomme(config, "breach", "assess", case)[0] == 0

    code, output = gomme(config, "breach", "report", case, "--output", str(tmp_path / "draft.md"))

    assert code == 0 and "warning" not in output
    assert "contact point: dpo@example-sas.test" in (tmp_path / "draft.md").read_text()


def test_notify_list_is_0600_holds_the_reachable_people_and_is_audited_by_count(
    tmp_path: Path, state_url: str
) -> None:
    config = seed(tmp_path, state_url)
    case = _open(config)
    target = tmp_path / "notify.csv"

    code, output = gomme(config, "breach", "notify-list", case, "--output", str(target))

    assert code == 0, output
    assert "4 people to inform" in output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with target.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted((row["id"], row["language"]) for row in rows) == [
        ("p-01", "fr"), ("p-03", "de"), ("p-05", "es"), ("p-08", "fr")]
    entry = _audit(state_url)[-1]
    assert entry.action == "breach_notify_list" and entry.evidence == "rows=4; file mode 0600"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".notify-")] == []


def test_no_seeded_personal_value_in_state_logs_or_audit(tmp_path: Path, state_url: str) -> None:
    config = seed(tmp_path, state_url)
    _suppress_returning_person(state_url)
    case = _open(config)
    outputs = [gomme(config, "breach", "assess", case)[1],
               gomme(config, "breach", "report", case, "--output", str(tmp_path / "draft.html"))[1],
               gomme(config, "breach", "notify-list", case, "--output", str(tmp_path / "notify.csv"))[1],
               gomme(config, "breach", "list", "--format", "json")[1],
               gomme(config, "audit", "log", "--format", "csv", "--all")[1]]

    haystack = _state_dump(state_url) + "\n".join(outputs)
    assert "breach_notify_list" in haystack  # the haystack does hold the audit rows
    assert [needle for needle in needles() if needle in haystack] == []
    notify = (tmp_path / "notify.csv").read_text()
    assert "torsten.wackelberg@example.test" in notify  # the only file holding them


def test_list_shows_open_cases_with_hours_left(tmp_path: Path, state_url: str) -> None:
    config = seed(tmp_path, state_url)
    case = _open(config)

    code, output = gomme(config, "breach", "list", "--format", "json")

    assert code == 0
    row = json.loads(output.splitlines()[-1])
    assert row["id"] == case and row["status"] == "open" and not row["overdue"]
    assert 68.5 < row["hours_left"] <= 69.0  # aware 3 hours ago: 69 hours left
    assert "warning" not in output


def test_past_the_deadline_every_breach_command_warns_until_closed(tmp_path: Path, state_url: str) -> None:
    config = seed(tmp_path, state_url)
    late = _open(config, aware=NOW - dt.timedelta(hours=80))
    warning = f"warning: breach case {late[:12]} is past its 72-hour deadline"

    outputs = {args[1]: gomme(config, *args) for args in (
        ("breach", "assess", late), ("breach", "report", late, "--output", str(tmp_path / "late.md")),
        ("breach", "notify-list", late, "--output", str(tmp_path / "n.csv")), ("breach", "list"))}

    for name, (code, output) in outputs.items():
        assert code == 0 and warning in output, name
    assert "(overdue)" in outputs["list"][1]
    assert "past the deadline by" in (tmp_path / "late.md").read_text()
    assert "Reasons for the delay (Art 33(1)): **TO COMPLETE**" in (tmp_path / "late.md").read_text()
    code, output = gomme(config, "breach", "close", late, "--reason", "notified to the CNIL")
    assert code == 0 and warning not in output
    assert "no open breach case" in gomme(config, "breach", "list")[1]


@pytest.mark.parametrize(("args", "message"), [
    (("open", "--connector", "crm", "--aware-at", "2026-12-01", "--note", "x", "--since", "2026-11-20",
      "--until", "2026-11-10"), "--since 2026-11-20T00:00:00+00:00 is not before --until"),
    (("open", "--connector", "crm", "--aware-at", "2026-12-01", "--note", "x", "--where", "shoe_size gt 40"),
     "unknown field 'shoe_size'; use one of: crm, object_type"),
    (("open", "--connector", "crm", "--aware-at", "2026-12-01", "--note", "x", "--where", "country"),
     "expected FIELD OP VALUE"),
    (("open", "--connector", "nope", "--aware-at", "2026-12-01", "--note", "x"), "no connector named nope"),
    (("open", "--connector", "crm", "--aware-at", "yesterday", "--note", "x"), "--aware-at: 'yesterday' is not"),
    (("open", "--connector", "crm", "--aware-at", "2999-01-01", "--note", "x"), "is in the future"),
    (("open", "--connector", "crm", "--aware-at", "2026-12-01", "--note", "x", "--establishment", "US"),
     "not an EU/EEA country code"),
    (("assess", "0123456789"), "no breach case with id 0123456789: `gomme breach list` shows the open cases"),
    (("report", "0123456789", "--output", "r.html"), "no breach case with id 0123456789"),
    (("report", "0123456789", "--output", "r.pdf"), "say the format with --format html|md"),
    (("notify-list", "0123456789", "--output", "n.csv"), "no breach case with id 0123456789"),
    (("close", "0123456789", "--reason", "done"), "no breach case with id 0123456789"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    config = seed(tmp_path, state_url)
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())

    code, output = gomme(config, "breach", *args)

    assert code == 2
    assert "error: " in output and message in output.replace("\n", " ")
    assert "Traceback" not in output
    new = {p.name for p in set(tmp_path.iterdir()) - before if not p.name.startswith("state.db")}
    assert new == set()  # no report, no list (the state database is opened by the commands that read a case)
    engine = make_engine(state_url)
    upgrade(engine)
    with Session(engine) as db:
        assert open_cases(db) == [] and _audit(state_url) == []
    engine.dispose()


def test_report_before_assessment_says_what_to_run(tmp_path: Path, state_url: str) -> None:
    config = seed(tmp_path, state_url)
    case = _open(config)

    code, output = gomme(config, "breach", "report", case, "--output", str(tmp_path / "r.html"))

    assert code == 2 and f"run `gomme breach assess {case[:12]}` first" in output
    assert not (tmp_path / "r.html").exists()


def _ids(page: str) -> set[str]:
    """The ids of a page that parses as HTML with every opened section closed."""

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.ids: set[str] = set()
            self.open: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.ids.update(value for name, value in attrs if name == "id" and value)
            if tag in ("table", "p", "h1", "h2", "blockquote", "td", "th", "tr"):
                self.open.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if tag in ("table", "p", "h1", "h2", "blockquote", "td", "th", "tr"):
                assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing open"

    parser = Parser()
    parser.feed(page)
    parser.close()
    assert parser.open == [], parser.open
    return parser.ids


def test_a_case_opened_before_a_key_rotation_keeps_its_note_and_scope(
    tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = seed(tmp_path, state_url)
    case = _open(config, "--where", "country eq DE")
    new_key = "the-new-key-from-the-vault-0123456789"
    monkeypatch.setenv("GOMME_NEW_SECRET_KEY", new_key)
    code, output = gomme(config, "key", "rotate")
    assert code == 0, output
    monkeypatch.setenv("GOMME_SECRET_KEY", new_key)
    monkeypatch.delenv("GOMME_NEW_SECRET_KEY")

    code, output = gomme(config, "breach", "assess", case)  # the sealed scope opens under the new key
    assert code == 0, output
    assert "1 people (1 exactly), 1 records in scope" in output
    report = tmp_path / "draft.md"
    assert gomme(config, "breach", "report", case, "--output", str(report))[0] == 0
    assert NOTE in report.read_text()
