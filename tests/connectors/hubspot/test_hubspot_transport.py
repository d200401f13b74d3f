"""The transport: rate limits and 429 bursts, retries of every method, lost answers, token refresh, no PII."""

from __future__ import annotations

import datetime as dt

import pytest
from fakes.hubspot import FakeHubSpot, Limits
from hubspot_testkit import ENV, OAUTH, Clock, Connect, planned

from gomme.connectors.errors import FatalError, RetryableError
from gomme.connectors.hubspot import HubSpotConnector
from gomme.connectors.hubspot.client import _named
from gomme.connectors.hubspot.limiter import RateLimiter, Window
from gomme.model.changes import Action, Outcome
from gomme.model.conditions import Condition, Op, PullQuery
from gomme.model.records import Lifecycle

EVERYTHING = PullQuery(everything=True)
PROSPECTS = PullQuery(everything=False, prefilters=((Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT),),))


def seed(hubspot: FakeHubSpot, count: int) -> list[str]:
    return [hubspot.portal.add(email=f"p{i}@example.com", lifecyclestage="lead") for i in range(count)]


def test_a_429_burst_from_the_account_limit_is_waited_out(hubspot: FakeHubSpot, connect: Connect) -> None:
    # given an account allowing 5 calls per 0.2 s, and a client that does not limit itself
    hubspot.limits = Limits(per_window=5, window_seconds=0.2, search_per_window=1_000)
    seeded = seed(hubspot, 1_500)
    # when 15 pages are read back to back (subscription statuses aside)
    connector = connect(read_subscriptions=False, read_engagements=False)  # list pages alone
    records = list(connector.pull(EVERYTHING))
    # then some calls were refused with 429, each waited out and repeated: nothing is missing
    assert [r.id for r in records] == seeded
    assert sum(hubspot.rate_limited.values()) == connector.stats.rate_limited > 0
    assert hubspot.calls["contacts.list"] == 15 + connector.stats.rate_limited


def test_the_client_side_limiter_keeps_under_the_accounts_limits(hubspot: FakeHubSpot, connect: Connect) -> None:
    # given limits of 10 calls per 0.5 s and 4 searches per 0.25 s, known to the client's limiter
    hubspot.limits = Limits(per_window=10, window_seconds=0.5, search_per_window=4, search_window_seconds=0.25)
    seed(hubspot, 1_200)
    limiter = RateLimiter((Window("ten_seconds", 10, 0.5), Window("search", 4, 0.25, burst_share=0.25)))
    connector = connect(limiter=limiter, max_attempts=1)  # any 429 would surface as an error
    # when it pulls page after page through both endpoints
    assert len(list(connector.pull(EVERYTHING))) == 1_200
    assert len(list(connector.pull(PROSPECTS))) == 1_200
    # then HubSpot never refused a call
    assert sum(hubspot.rate_limited.values()) == 0 and connector.stats.rate_limited == 0
    assert limiter.waited > 0


@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "timeout", "reset"])
@pytest.mark.parametrize("route", ["contacts.list", "contacts.search", "contacts.batch_update", "prefs.batch_write"])
def test_transient_failures_are_retried_for_every_method(
    hubspot: FakeHubSpot, connector: HubSpotConnector, fault: str, route: str
) -> None:
    (record_id,) = seed(hubspot, 1)
    hubspot.inject(fault, route=route, times=2)
    if route.startswith("contacts.list"):
        assert len(list(connector.pull(EVERYTHING))) == 1
    elif route == "contacts.search":
        assert len(list(connector.pull(PROSPECTS))) == 1
    else:
        action = Action.ANONYMISE if route == "contacts.batch_update" else Action.RESTRICT_EMAIL
        (result,) = connector.apply([planned(record_id, action)])
        assert result.outcome is Outcome.APPLIED
    assert hubspot.faults_done[fault] == 2 and connector.stats.retries == 2


@pytest.mark.parametrize(
    ("route", "action", "detail"),
    [
        ("contacts.batch_update", Action.ANONYMISE, None),
        ("contacts.gdpr_delete", Action.DELETE, "already deleted"),
        ("prefs.batch_write", Action.RESTRICT_EMAIL, None),
        ("contacts.batch_archive", Action.DELETE, "archived"),
    ],
)
def test_a_write_whose_answer_was_lost_is_repeated_safely(
    hubspot: FakeHubSpot, connect: Connect, route: str, action: Action, detail: str | None
) -> None:
    connector = connect(delete_mode="archive" if route == "contacts.batch_archive" else "gdpr")
    (record_id,) = seed(hubspot, 1)
    hubspot.inject("lost", route=route)  # HubSpot applies it, then the connection drops before the answer
    (result,) = connector.apply([planned(record_id, action)])
    assert result.outcome is Outcome.APPLIED, result
    assert detail is None or result.detail == detail
    assert hubspot.calls[route] >= 2


def test_retries_that_run_out_raise_a_retryable_error_without_personal_data(
    hubspot: FakeHubSpot, connector: HubSpotConnector, capsys: pytest.CaptureFixture[str]
) -> None:
    (record_id,) = seed(hubspot, 1)
    hubspot.inject("reset", route="prefs.batch_write", times=99)  # the body holds the address
    with pytest.raises(RetryableError) as failed:
        connector.apply([planned(record_id, Action.RESTRICT_EMAIL)])
    assert "cannot reach 127.0.0.1:" in str(failed.value) and ".base_url" in str(failed.value)
    assert "example.com" not in str(failed.value) and failed.value.__cause__ is None
    assert "example.com" not in capsys.readouterr().out  # the retry log lines either


def test_the_daily_limit_stops_the_run(hubspot: FakeHubSpot, connect: Connect) -> None:
    connector = connect(read_subscriptions=False, read_engagements=False)  # list pages alone
    hubspot.limits = Limits(per_window=1_000, daily=2)
    seed(hubspot, 500)
    with pytest.raises(FatalError, match="daily API limit"):
        list(connector.pull(EVERYTHING))
    # the first page, the portal's properties (to read its legal basis), then the refused page: no retry
    assert hubspot.calls["contacts.list"] == 2 and hubspot.calls["properties.list"] == 1


def test_oauth_gets_a_token_then_refreshes_it_once_on_401(hubspot: FakeHubSpot, connect: Connect) -> None:
    hubspot.oauth_client("gomme-app", "client-secret", "refresh-1")
    seed(hubspot, 150)
    connector = connect(**OAUTH)
    assert len(list(connector.pull(EVERYTHING))) == 150
    assert hubspot.calls["oauth.token"] == 1
    first = hubspot.recorded("oauth.token")[0].body
    assert first == {"grant_type": "refresh_token", "refresh_token": "refresh-1", "client_id": "gomme-app",
                     "client_secret": "client-secret"}  # fmt: skip
    hubspot.expire_tokens()
    assert connector.size() == 150  # 401, one refresh, the same call again
    assert hubspot.calls["oauth.token"] == 2 and hubspot.calls["contacts.search"] == 2


def test_an_oauth_token_is_refreshed_before_it_expires(hubspot: FakeHubSpot, connect: Connect) -> None:
    hubspot.oauth_client("gomme-app", "client-secret", "refresh-1", lifetime=600)
    clock = Clock(dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    connector = connect(clock=clock, **OAUTH)
    connector.size()
    clock.advance(seconds=599)  # within the refresh margin of the expiry
    connector.size()
    assert hubspot.calls["oauth.token"] == 2 and hubspot.calls["contacts.search"] == 2  # no 401 needed


@pytest.mark.parametrize(
    ("overrides", "env", "message"),
    [
        ({}, {"HUBSPOT_TOKEN": "pat-wrong"}, "rejected the access token"),
        (OAUTH, {**ENV, "HS_REFRESH": "stolen"}, "refused the OAuth refresh token"),
        ({}, {}, "HUBSPOT_TOKEN is not set"),
    ],
    ids=["bad private-app token", "bad refresh token", "no token"],
)
def test_auth_failures_stop_the_run_with_a_clear_message(
    hubspot: FakeHubSpot, connect: Connect, overrides: dict[str, str], env: dict[str, str], message: str
) -> None:
    hubspot.oauth_client("gomme-app", "client-secret", "refresh-1")
    with pytest.raises(FatalError, match=message) as failed:
        connect(env=env, **overrides).size()
    assert "stolen" not in str(failed.value) and "client-secret" not in str(failed.value)


def test_one_connection_pool_serves_every_api(hubspot: FakeHubSpot, connector: HubSpotConnector) -> None:
    seeded = seed(hubspot, 250)
    list(connector.pull(EVERYTHING))
    list(connector.pull(PROSPECTS))
    connector.apply([planned(record_id, Action.RESTRICT_ALL) for record_id in seeded[:5]])
    used = {"contacts.list", "contacts.search", "prefs.batch_write", "contacts.batch_update"}
    assert used <= set(hubspot.calls) and hubspot.connections == 1


def test_a_sweep_through_ten_percent_faults_still_lands_every_change(hubspot: FakeHubSpot, connect: Connect) -> None:
    # given every kind of fault on 10% of all calls (seeded), timeouts aside to keep the test quick
    seeded = seed(hubspot, 400)
    for kind in ("429", "500", "503", "reset", "lost"):
        hubspot.fault_rate(kind, 0.02)
    connector = connect(max_attempts=8)
    # when everything is read and every contact anonymised
    records = list(connector.pull(EVERYTHING))
    results = list(connector.apply([planned(record.id, Action.ANONYMISE) for record in records]))
    # then nothing is missing and every change is applied exactly as planned
    assert [r.id for r in records] == seeded
    assert all(result.outcome is Outcome.APPLIED for result in results)
    assert all((hubspot.portal.get(i) or {}).get("lastname") == "ANONYMISED" for i in seeded)
    assert sum(hubspot.faults_done.values()) > 0


def test_usage_reports_calls_by_status_and_the_daily_allowance_left(connector: HubSpotConnector) -> None:
    from gomme.model.conditions import PullQuery

    list(connector.pull(PullQuery()))
    usage = connector.usage()
    assert usage.calls.get("200", 0) >= 1 and set(usage.calls) <= {"200", "207", "429", "network"}
    assert usage.budget_remaining is None or usage.budget_remaining > 0


@pytest.mark.parametrize(("message", "named"), [
    ('Property values were not valid: [{"isValid":false,"message":"x@example.org is not valid","error":'
     '"INVALID_EMAIL","name":"email"},{"isValid":false,"error":"INVALID_OPTION","name":"lifecyclestage"}]',
     "email INVALID_EMAIL, lifecyclestage INVALID_OPTION"),
    ("Duplicate IDs found in batch input", ""),
])  # fmt: skip
def test_a_validation_error_keeps_the_properties_and_codes_it_names_never_the_value(message: str, named: str) -> None:
    assert _named({"message": message, "category": "VALIDATION_ERROR"}) == named
