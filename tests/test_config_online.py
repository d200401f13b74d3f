"""`gomme config check --online` and a sweep against an org whose describe says something else than the config."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import responses
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS
from typer.testing import CliRunner

from gomme.cli import app

runner = CliRunner()
CONFIG = """
[state]
url = "sqlite:///{state}"

[connectors.sf]
type = "salesforce"
instance_url = "https://fake.my.salesforce.com"
access_token_env = "SF_ONLINE_TOKEN"
legal_hold_field = "Legal_Hold__c"
{extra}
"""


@dataclass
class World:
    org: FakeSalesforce
    tmp: Path

    def run(self, *args: str, extra: str = "", stdout_only: bool = False) -> tuple[int, str]:
        """The exit code and what the user sees (stdout alone with `stdout_only`: what a script parses)."""
        config = self.tmp / "config.toml"
        config.write_text(CONFIG.format(state=self.tmp / "state.db", extra=extra))
        result = runner.invoke(app, ["--config", str(config), "--log-format", "json", *args], env={"COLUMNS": "250"})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout if stdout_only else result.output


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("SF_ONLINE_TOKEN", "fake-token")
    org = FakeSalesforce(
        custom_fields=CUSTOM_FIELDS, country_picklists=False,
        hidden_fields={"Contact": {"HomePhone", "Birthdate"}}, read_only_fields={"Contact": {"Title"}},
    )  # fmt: skip
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org.register(mock)
        yield World(org, tmp_path)


def test_online_check_lists_skipped_defaults_as_warnings_and_exits_0(world: World) -> None:
    code, output = world.run("config", "check", "--online")
    assert code == 0, output
    assert "warning" in output and "HomePhone" in output and "Title" in output
    assert "0 blocking problem(s)" in output


def test_online_check_refuses_a_named_field_the_org_hides_with_exit_2(world: World) -> None:
    code, output = world.run("config", "check", "--online", extra='contact_fields = { birthdate = "Birthdate" }')
    assert code == 2, output
    assert "contact_fields.birthdate" in output and "field-level" in output
    assert "1 blocking problem(s), 3 warning(s)" in output  # HomePhone, Birthdate not cleared; Title read-only


def test_a_sweep_on_a_named_hidden_field_stops_before_reading_or_writing(world: World) -> None:
    world.org.create("Contact", LastName="Example", Email="someone@example.com")
    code, output = world.run("sweep", "--apply", extra='contact_fields = { birthdate = "Birthdate" }')
    assert code == 1, output
    assert "contact_fields.birthdate" in output and "nothing was read or written" in output
    assert world.org.calls_of("query") == 0 and world.org.calls_of("composite") == 0


def test_a_describe_that_keeps_failing_names_the_object_and_applies_nothing(world: World) -> None:
    world.org.create("Contact", LastName="Example", Email="someone@example.com", HasOptedOutOfEmail=False)
    world.org.faults.unavailable_next = 100
    code, output = world.run("sweep", "--apply", extra="max_attempts = 2\nbackoff_seconds = 0")
    assert code == 1, output
    assert re.search(r"error: Salesforce answered 503 SERVER_UNAVAILABLE to describe of (Individual|Contact)", output)
    assert world.org.calls_of("composite") == 0 and world.org.calls_of("bulk") == 0


def test_request_show_names_the_field_salesforce_would_not_let_gomme_write(world: World) -> None:
    world.org.read_only["Contact"].add("Phone")
    world.org.create("Contact", LastName="Example", Email="someone@example.com", Phone="+33 1 00 00 00 00")
    code, output = world.run("request", "rectify", "--email", "someone@example.com", "--set", "phone=+33100000001",
                             "--now")  # fmt: skip
    assert code == 1, output
    request_id = re.search(r"request ([0-9a-f]{32})", output)
    assert request_id, output
    code, shown = world.run("request", "show", request_id.group(1), stdout_only=True)
    failures = json.loads(shown)["progress"][0]["failures"]
    assert failures == [{"code": "FIELD_NOT_WRITABLE", "detail": "not writable by the integration user: Phone",
                         "changes": 1}]  # fmt: skip
    assert "+33" not in shown
