"""The Salesforce transport: authentication modes, session renewal, retries, the allowance reserve, settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError
from salesforce_testkit import HOST, Harness, fitted, pull_all, settings

from gomme.connectors.base import Usage
from gomme.connectors.errors import FatalError, RetryableError
from gomme.connectors.salesforce import SalesforceConnector
from gomme.connectors.salesforce.client import credentials
from gomme.connectors.salesforce.limits import BudgetExhausted, RateLimiter, parse_limit_info
from gomme.model.conditions import PullQuery

PASSWORD = {"access_token_env": None, "username": "gomme@example.com", "password_env": "SF_PASSWORD",
            "security_token_env": "SF_SECURITY_TOKEN"}  # fmt: skip
CLIENT = {"access_token_env": None, "client_id": "3MVGclient", "client_secret_env": "SF_SECRET", "domain": "fake.my"}
ENV = {"SF_PASSWORD": "pw<&>", "SF_SECURITY_TOKEN": "tok", "SF_SECRET": "s3cret", "SF_TOKEN": "fake-token"}


def connect(sf: Harness, tmp_path: Path, **overrides: Any) -> SalesforceConnector:
    chosen = settings(**overrides)
    creds = credentials("sf", chosen, base_dir=tmp_path, env=ENV)
    return SalesforceConnector("sf", chosen, creds, sleep=sf.sleeps.append)


def logins(sf: Harness) -> list[Any]:
    return [c for c in sf.mock.calls if "/services/Soap/" in c.request.url or "/oauth2/token" in c.request.url]


# -- authentication -----------------------------------------------------------------------------------


def test_an_access_token_needs_no_login(sf: Harness, tmp_path: Path) -> None:
    sf.contact()
    pull_all(connect(sf, tmp_path))
    assert logins(sf) == [] and sf.calls()[0].request.headers["Authorization"] == "Bearer fake-token"


def test_password_login_goes_through_soap_and_escapes_the_password(sf: Harness, tmp_path: Path) -> None:
    sf.contact()
    pull_all(connect(sf, tmp_path, instance_url=None, **PASSWORD))
    [login] = logins(sf)
    assert login.request.url == "https://login.salesforce.com/services/Soap/u/62.0"
    assert "<n1:password>pw&lt;&amp;&gt;tok</n1:password>" in login.request.body
    assert sf.calls()[0].request.headers["Authorization"] == "Bearer fake-token-1"


def test_client_credentials_log_in_on_the_my_domain(sf: Harness, tmp_path: Path) -> None:
    sf.contact()
    pull_all(connect(sf, tmp_path, instance_url=None, **CLIENT))
    [login] = logins(sf)
    assert login.request.url == f"https://{HOST}/services/oauth2/token"
    assert parse_qs(login.request.body) == {"grant_type": ["client_credentials"]}
    assert login.request.headers["Authorization"].startswith("Basic ")


def test_jwt_bearer_signs_an_assertion_with_the_private_key(sf: Harness, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "sf.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    sf.contact()
    pull_all(connect(sf, tmp_path, instance_url=None, access_token_env=None, consumer_key="3MVGjwt",
                     private_key_file="sf.key", username="gomme@example.com"))  # fmt: skip
    [login] = logins(sf)
    form = parse_qs(login.request.body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(
        form["assertion"][0], key.public_key(), algorithms=["RS256"], audience="https://login.salesforce.com"
    )
    assert (claims["iss"], claims["sub"]) == ("3MVGjwt", "gomme@example.com")


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({}, "SF_TOKEN"),
        (PASSWORD | {"instance_url": None}, "SF_PASSWORD"),
        (CLIENT | {"instance_url": None}, "SF_SECRET"),
    ],
)
def test_a_missing_secret_names_its_variable(tmp_path: Path, overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(FatalError, match=named):
        credentials("sf", settings(**overrides), base_dir=tmp_path, env={})


def test_a_missing_private_key_file_is_a_clear_error(tmp_path: Path) -> None:
    chosen = settings(access_token_env=None, instance_url=None, consumer_key="k", private_key_file="nope.key",
                      username="u")  # fmt: skip
    with pytest.raises(FatalError, match="private_key_file"):
        credentials("sf", chosen, base_dir=tmp_path, env={})


# -- session renewal ------------------------------------------------------------------------------------


def test_an_expired_session_is_renewed_once_and_the_call_repeated_with_its_headers(sf: Harness, tmp_path: Path) -> None:
    for index in range(450):
        sf.contact(Email=f"p{index}@example.com")
    connector = connect(sf, tmp_path, instance_url=None, batch_size=200, objects=["Contact"], **PASSWORD)
    fitted(connector)  # the login and the describes
    sf.org.faults.expire_session_after = 2  # the query, then the second page finds it expired
    records, _ = pull_all(connector)
    assert len(records) == 450 and len(logins(sf)) == 2
    pages = [c for c in sf.calls() if "/query/" in c.request.url]
    assert [c.response.status_code for c in pages] == [200, 200, 401, 200]
    assert pages[3].request.url == pages[2].request.url
    assert pages[3].request.headers["Sforce-Query-Options"] == "batchSize=200"


def test_an_expired_access_token_stops_the_run_with_a_clear_message(sf: Harness) -> None:
    sf.contact()
    sf.org.expire_session()
    with pytest.raises(FatalError, match="INVALID_SESSION_ID"):
        pull_all(sf.connector())
    assert logins(sf) == [] and len(sf.calls("describe")) == 1  # the first call: nothing more


def test_a_fresh_session_refused_again_is_not_retried_in_a_loop(sf: Harness, tmp_path: Path) -> None:
    sf.org.faults.sessions_expire = True
    with pytest.raises(FatalError, match="freshly opened session"):
        pull_all(connect(sf, tmp_path, instance_url=None, **PASSWORD))
    assert len(logins(sf)) == 2 and len(sf.calls("describe")) == 2


# -- retries --------------------------------------------------------------------------------------------


def test_503s_are_retried_with_exponential_backoff_and_jitter(sf: Harness) -> None:
    sf.contact()
    connector = fitted(sf.connector(objects=["Contact"], backoff_seconds=1.0))
    sf.org.faults.unavailable_next = 3
    records, _ = pull_all(connector)
    assert len(records) == 1 and len(sf.calls()) == 4
    assert len(sf.sleeps) == 3 and all(0 <= pause <= 2**i for i, pause in enumerate(sf.sleeps))


def test_retry_after_is_honoured(sf: Harness) -> None:
    sf.contact()
    sf.org.faults.unavailable_next, sf.org.faults.retry_after = 1, "7"
    pull_all(sf.connector(objects=["Contact"]))
    assert sf.sleeps == [7.0]


def test_connection_resets_are_retried(sf: Harness) -> None:
    sf.contact()
    sf.org.faults.reset_next = 2
    records, _ = pull_all(sf.connector(objects=["Contact"]))
    assert len(records) == 1 and len(sf.sleeps) == 2


def test_an_unreachable_org_names_its_host_and_the_key_to_check(sf: Harness) -> None:
    connector = fitted(sf.connector(max_attempts=2))
    sf.org.faults.reset_next = 100
    with pytest.raises(RetryableError) as failed:
        pull_all(connector)
    message = str(failed.value)
    assert f"cannot reach {HOST}" in message and "connectors.sf.instance_url" in message, message
    assert "?q=" not in message and "SELECT" not in message  # never the request's path or query


def test_a_lasting_outage_gives_up_after_the_configured_attempts(sf: Harness) -> None:
    connector = fitted(sf.connector(max_attempts=4))
    sf.org.faults.unavailable_next = 100
    with pytest.raises(RetryableError):
        pull_all(connector)
    assert len(sf.calls()) == 4


def test_request_limit_exceeded_waits_long_and_retries_only_a_little(sf: Harness) -> None:
    sf.contact()
    sf.org.faults.request_limit_next = 1
    pull_all(sf.connector(objects=["Contact"], limit_backoff_seconds=300))
    assert sf.sleeps == [300.0]
    sf.org.faults.request_limit_next = 5
    sf.sleeps.clear()
    with pytest.raises(RetryableError, match="request limit"):
        pull_all(sf.connector(objects=["Contact"], limit_backoff_seconds=300, limit_attempts=2))
    assert sf.sleeps == [300.0]


def test_errors_the_caller_must_fix_are_not_retried_and_carry_no_personal_data(sf: Harness) -> None:
    connector = fitted(sf.connector())
    connector.maps["contact"] = replace(connector.maps["contact"], fields={"email": "Email", "phone": "No_Such__c"},
                                        readable=None)  # fmt: skip
    with pytest.raises(FatalError, match=r"INVALID_FIELD\): no field No_Such__c on Contact; .*field mapping") as caught:
        list(connector.find("secret.person@example.com"))
    assert "secret.person" not in str(caught.value) and len(sf.calls()) == 1 and sf.sleeps == []


def test_a_named_field_the_org_lacks_stops_before_any_query(sf: Harness) -> None:
    connector = sf.connector(contact_fields={"phone": "No_Such_Field__c"})
    with pytest.raises(FatalError, match=r"contact_fields.phone: Contact.No_Such_Field__c does not exist"):
        list(connector.find("secret.person@example.com"))
    assert sf.calls() == []


# -- the allowance reserve and the rate limiter -----------------------------------------------------------


def test_the_run_stops_before_eating_into_the_reserve(sf: Harness) -> None:
    for index in range(450):
        sf.contact(Email=f"p{index}@example.com")
    connector = fitted(sf.connector(batch_size=200, objects=["Contact"]))
    sf.org.used, sf.org.daily_limit = 898, 1000  # 900 may be used with a 10% reserve
    with pytest.raises(BudgetExhausted, match=r"900 of 1000 calls .* reserve_percent = 10"):
        pull_all(connector)
    assert len(sf.calls()) == 2 and sf.org.used == 900  # the query and one more page, then nothing


@pytest.mark.parametrize(
    ("header", "usage"),
    [
        ("api-usage=18/5000", (18, 5000)),
        ("api-usage=25/5000; per-app-api-usage=17/250(appName=sample)", (25, 5000)),
        ("per-app-api-usage=17/250(appName=sample)", None),
        (None, None),
    ],
)
def test_limit_info_is_read_for_the_org_not_the_app(header: str | None, usage: tuple[int, int] | None) -> None:
    parsed = parse_limit_info(header)
    assert (None if parsed is None else (parsed.used, parsed.total)) == usage


def test_the_rate_limiter_spaces_calls_after_a_burst() -> None:
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(2.0, burst=2, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert slept == pytest.approx([0.5, 0.5, 0.5])


# -- the HTTP session -----------------------------------------------------------------------------------


def test_standard_requests_environment_settings_and_a_timeout_apply(
    sf: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not really a certificate")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    pull_all(sf.connector(objects=["Contact"], timeout_seconds=42))
    sent = sf.calls()[0].request.req_kwargs
    assert sent["verify"] == str(bundle) and sent["timeout"] == 42
    assert sent["proxies"]["https"] == "http://proxy.example.com:3128"


def test_one_pooled_session_serves_every_call(sf: Harness) -> None:
    sf.contact()
    connector = sf.connector()
    pull_all(connector)
    connector.size()
    # a query and a count per object, and one describe per object read (Contact, Lead, Individual, consent rows,
    # Account), every one counted
    assert connector.calls == len(sf.calls()) + len(sf.calls("describe")) == 4 + 5
    assert connector.client.call("peek", lambda org: org.session) is connector.client.session


# -- settings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"access_token_env": None}, "choose exactly one way"),
        ({"instance_url": None}, "instance_url: missing"),
        (CLIENT | {"domain": "login"}, "My Domain"),
        ({"fields": {"favourite_colour": "Colour__c"}}, "unknown canonical field 'favourite_colour'"),
        ({"fields": {"email": "Email' OR Id != '"}}, "not a Salesforce field name"),
        ({"data_protection": False}, "restricted_field: needed"),
        ({"batch_size": 5000}, "less than or equal to 2000"),
        ({"reserve_percent": 100}, "less than 100"),
    ],
)
def test_settings_refuse_what_cannot_work(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**overrides)


def test_per_object_fields_override_and_an_empty_name_unmaps() -> None:
    chosen = settings(fields={"phone": "MobilePhone"}, lead_fields={"phone": "", "country": "Country"})
    assert chosen.field_map("Contact")["phone"] == "MobilePhone"
    assert "phone" not in chosen.field_map("Lead") and chosen.field_map("Lead")["country"] == "Country"
    assert "contract_end" not in chosen.field_map("Lead") and chosen.field_map("Contact")["contract_end"]


def test_without_data_protection_nothing_is_read_through_the_individual() -> None:
    chosen = settings(data_protection=False, restricted_field="Restricted__c")
    assert not any(path.startswith("Individual.") for path in chosen.field_map("Contact").values())
    assert chosen.field_map("Contact")["restricted"] == "Restricted__c"


def test_the_cursor_of_an_unchanged_org_is_stable(sf: Harness) -> None:
    sf.contact()
    connector = sf.connector(objects=["Contact"])
    _, cursor = pull_all(connector)
    sf.clock.set(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    _, again = pull_all(connector, PullQuery(everything=False, since=cursor))
    assert again == cursor


def test_usage_reports_calls_by_status_and_the_allowance_left(sf: Harness) -> None:
    sf.contact()
    connector = fitted(sf.connector(objects=["Contact"]))
    sf.org.used, sf.org.daily_limit = 100, 15_000
    sf.org.faults.unavailable_next = 1
    pull_all(connector)
    assert connector.usage() == Usage({"503": 1, "200": 1}, 15_000 - 102)
