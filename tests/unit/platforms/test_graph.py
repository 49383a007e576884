"""The shared Graph client: auth header, error classification, usage throttle, network errors."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
import pytest
from support.platform_fakes import (
    GRAPH,
    TOKEN,
    FakeApi,
    assert_token_safe,
    graph_error,
    make_ctx,
    make_post,
    make_settings,
    ok,
    run,
)
from support.platform_fakes import api_fixture as api_fixture  # the `api` fixture

from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.platforms.facebook.client import FacebookPlatform
from studio_publish.platforms.graph.client import GraphClient
from studio_publish.platforms.graph.errors import GraphError
from studio_publish.platforms.graph.usage import UsageThrottle
from studio_publish.platforms.instagram.client import InstagramPlatform
from studio_publish.platforms.transport import OutcomeUnclear

URL = f"{GRAPH}/1789/thing"


def call_get(api: FakeApi, throttle: UsageThrottle | None = None) -> dict[str, Any]:
    ctx = make_ctx(make_post())
    throttle = throttle or UsageThrottle()

    async def action(ctx: Any) -> dict[str, Any]:
        return await GraphClient(ctx.http, make_settings(), ctx.account, throttle).get("1789/thing")

    return run(action, ctx)


def call_post(
    api: FakeApi, throttle: UsageThrottle, *, irreversible: bool = True
) -> dict[str, Any]:
    ctx = make_ctx(make_post())

    async def action(ctx: Any) -> dict[str, Any]:
        client = GraphClient(ctx.http, make_settings(), ctx.account, throttle)
        return await client.post("1789/thing", {"a": "b"}, irreversible=irreversible)

    return run(action, ctx)


# (code, subcode, extra envelope fields, http status) -> decision. Reference section 3.
ERROR_TABLE: list[tuple[int, int | None, dict[str, Any], int, Decision]] = [
    (1, None, {}, 500, Decision.RETRY),
    (2, None, {}, 400, Decision.RETRY),
    (4, None, {}, 400, Decision.WAIT),
    (17, None, {"is_transient": True}, 400, Decision.WAIT),
    (32, None, {}, 400, Decision.WAIT),
    (341, None, {}, 400, Decision.WAIT),
    (613, None, {}, 400, Decision.WAIT),
    (368, None, {}, 400, Decision.FAIL),
    (80000, None, {}, 400, Decision.WAIT),
    (80001, None, {}, 400, Decision.WAIT),
    (80002, None, {}, 400, Decision.WAIT),
    (80014, None, {}, 400, Decision.WAIT),
    (3, None, {}, 400, Decision.REAUTH),
    (10, None, {}, 400, Decision.REAUTH),
    (200, None, {}, 403, Decision.REAUTH),
    (299, None, {}, 403, Decision.REAUTH),
    (102, None, {}, 401, Decision.REAUTH),
    (190, None, {}, 401, Decision.REAUTH),
    (190, 458, {}, 400, Decision.REAUTH),
    (190, 459, {}, 400, Decision.REAUTH),
    (190, 460, {}, 400, Decision.REAUTH),
    (190, 463, {}, 400, Decision.REAUTH),
    (190, 464, {}, 400, Decision.REAUTH),
    (190, 467, {}, 400, Decision.REAUTH),
    (190, 492, {}, 400, Decision.REAUTH),
    (100, None, {}, 400, Decision.FAIL),
    (506, None, {}, 400, Decision.FAIL),
    (1609005, None, {}, 400, Decision.FAIL),
    # Instagram publishing errors (IG-err), all HTTP 400.
    (-2, 2207003, {}, 400, Decision.RETRY),
    (-2, 2207020, {}, 400, Decision.RETRY),
    (-1, 2207001, {}, 400, Decision.RETRY),
    (-1, 2207032, {}, 400, Decision.RETRY),
    (-1, 2207053, {}, 400, Decision.RETRY),
    (1, 2207057, {}, 400, Decision.FAIL),
    (4, 2207051, {}, 400, Decision.FAIL),  # spam, not a rate limit
    (9, 2207042, {}, 400, Decision.WAIT),
    # "Possible permission error ... Generate a new container and use it to try again" (IG-err)
    (24, 2207006, {}, 400, Decision.RETRY),
    (24, 2207008, {}, 400, Decision.RETRY),
    (25, 2207050, {}, 400, Decision.FAIL),
    (100, 2207023, {}, 400, Decision.FAIL),
    (100, 2207028, {}, 400, Decision.FAIL),
    (100, 2207035, {}, 400, Decision.FAIL),
    (100, 2207036, {}, 400, Decision.FAIL),
    (100, 2207037, {}, 400, Decision.FAIL),
    (100, 2207040, {}, 400, Decision.FAIL),
    (352, 2207026, {}, 400, Decision.FAIL),
    (9004, 2207052, {}, 400, Decision.RETRY),
    # "Check the container status and publish when its status is FINISHED": a wait
    (9007, 2207027, {}, 400, Decision.WAIT),
    (36000, 2207004, {}, 400, Decision.FAIL),
    (36001, 2207005, {}, 400, Decision.FAIL),
    (36003, 2207009, {}, 400, Decision.FAIL),
    (36004, 2207010, {}, 400, Decision.FAIL),
    # Unlisted codes: is_transient and server errors retry, the rest fail.
    (12345, None, {"is_transient": True}, 400, Decision.RETRY),
    (12345, None, {}, 503, Decision.RETRY),
    (12345, None, {}, 400, Decision.FAIL),
]


@pytest.mark.parametrize(("code", "subcode", "extra", "status", "decision"), ERROR_TABLE)
def test_error_mapping(
    api: FakeApi,
    code: int,
    subcode: int | None,
    extra: dict[str, Any],
    status: int,
    decision: Decision,
) -> None:
    api.on("GET", URL, graph_error(code, subcode, status, **extra))
    with pytest.raises(GraphError) as caught:
        call_get(api)
    assert caught.value.decision is decision
    assert caught.value.code == (f"{code}/{subcode}" if subcode else str(code))
    if decision is Decision.WAIT:
        assert caught.value.retry_after and caught.value.retry_after > 0


def test_buc_wait_uses_estimated_time_to_regain_access(api: FakeApi) -> None:
    usage = {"1789": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    reply = graph_error(80001)
    reply.headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
    api.on("GET", URL, reply)
    with pytest.raises(GraphError) as caught:
        call_get(api)
    assert caught.value.decision is Decision.WAIT
    assert caught.value.retry_after == 7 * 60


def test_token_only_in_authorization_header_and_timeout_set(api: FakeApi) -> None:
    api.on("GET", URL, ok({"id": "1"}))
    assert call_get(api) == {"id": "1"}
    assert_token_safe(api)
    assert "access_token" not in str(api.requests[0].url)
    assert api.requests[0].extensions["timeout"]["read"] == 7


def test_error_message_echoing_the_token_is_redacted(api: FakeApi) -> None:
    api.on("GET", URL, graph_error(190, 467, message=f"Invalid OAuth access token {TOKEN}"))
    with pytest.raises(PlatformError) as caught:
        call_get(api)
    assert_token_safe(api, str(caught.value), caught.value.message, repr(caught.value.args))


@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout])
def test_not_sent_is_retry_even_for_irreversible_calls(
    api: FakeApi, failure: type[Exception]
) -> None:
    api.on("POST", URL, failure)
    with pytest.raises(PlatformError) as caught:
        call_post(api, UsageThrottle())
    assert caught.value.decision is Decision.RETRY
    assert not isinstance(caught.value, OutcomeUnclear)


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_maybe_sent_is_unclear_for_irreversible_calls(
    api: FakeApi, failure: type[Exception]
) -> None:
    api.on("POST", URL, failure)
    with pytest.raises(OutcomeUnclear) as caught:
        call_post(api, UsageThrottle())
    assert caught.value.decision is Decision.UNKNOWN
    assert_token_safe(api, str(caught.value))


def test_maybe_sent_is_retry_for_reads(api: FakeApi) -> None:
    api.on("GET", URL, httpx.ReadTimeout)
    with pytest.raises(PlatformError) as caught:
        call_get(api)
    assert caught.value.decision is Decision.RETRY


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(502, text="<html>bad gateway</html>"),
        graph_error(1, status=500),
        graph_error(2),
    ],
)
def test_server_errors_on_irreversible_calls_are_unclear(
    api: FakeApi, reply: httpx.Response
) -> None:
    api.on("POST", URL, reply)
    with pytest.raises(OutcomeUnclear):
        call_post(api, UsageThrottle())


def test_rate_limit_on_irreversible_call_is_a_clear_refusal(api: FakeApi) -> None:
    api.on("POST", URL, graph_error(4))
    with pytest.raises(GraphError) as caught:
        call_post(api, UsageThrottle())
    assert caught.value.decision is Decision.WAIT


@pytest.mark.parametrize(
    "header",
    [
        ("X-App-Usage", {"call_count": 95, "total_cputime": 10, "total_time": 10}),
        ("X-Page-Usage", {"call_count": 10, "total_cputime": 91, "total_time": 10}),
        (
            "X-Business-Use-Case-Usage",
            {
                "1789": [
                    {"type": "instagram", "call_count": 92, "estimated_time_to_regain_access": 0}
                ]
            },
        ),
    ],
)
def test_high_usage_pauses_writes_before_they_are_sent(
    api: FakeApi, header: tuple[str, dict[str, Any]]
) -> None:
    name, value = header
    api.on("GET", URL, ok({"id": "1"}, headers={name: json.dumps(value)}))
    api.on("POST", URL, ok({"id": "2"}))
    throttle = UsageThrottle()
    call_get(api, throttle)
    with pytest.raises(PlatformError) as caught:
        call_post(api, throttle)
    assert caught.value.decision is Decision.WAIT
    assert caught.value.retry_after and caught.value.retry_after > 0
    assert api.count("POST", URL) == 0  # stopped before the platform had to say stop


def test_buc_estimate_sets_the_pause_length(api: FakeApi) -> None:
    usage = {
        "1789": [{"type": "instagram", "call_count": 99, "estimated_time_to_regain_access": 30}]
    }
    api.on("GET", URL, ok({}, headers={"X-Business-Use-Case-Usage": json.dumps(usage)}))
    throttle = UsageThrottle()
    call_get(api, throttle)
    with pytest.raises(PlatformError) as caught:
        call_post(api, throttle)
    assert caught.value.retry_after is not None and 29 * 60 < caught.value.retry_after <= 30 * 60


def test_usage_back_under_the_threshold_lifts_the_pause(api: FakeApi) -> None:
    high = json.dumps({"call_count": 96, "total_cputime": 1, "total_time": 1})
    low = json.dumps({"call_count": 40, "total_cputime": 1, "total_time": 1})
    api.on("GET", URL, ok({}, headers={"X-App-Usage": high}), ok({}, headers={"X-App-Usage": low}))
    api.on("POST", URL, ok({"id": "2"}))
    throttle = UsageThrottle()
    call_get(api, throttle)
    call_get(api, throttle)
    assert call_post(api, throttle) == {"id": "2"}


def test_pause_ends_after_its_time_and_page_usage_pauses_only_that_account() -> None:
    now = [1000.0]
    throttle = UsageThrottle(clock=lambda: now[0])
    throttle.observe("1789", httpx.Headers({"X-Page-Usage": json.dumps({"call_count": 99})}))
    with pytest.raises(PlatformError):
        throttle.check("1789")
    throttle.check("another-page")  # page usage is per page
    throttle.observe("1789", httpx.Headers({"X-App-Usage": json.dumps({"call_count": 99})}))
    with pytest.raises(PlatformError):
        throttle.check("another-page")  # app usage covers every account
    now[0] += 301
    throttle.check("1789")


def test_malformed_usage_headers_are_ignored(api: FakeApi) -> None:
    api.on("GET", URL, ok({}, headers={"X-App-Usage": "not json", "X-Page-Usage": "[1,2]"}))
    api.on("POST", URL, ok({"id": "2"}))
    throttle = UsageThrottle()
    call_get(api, throttle)
    assert call_post(api, throttle) == {"id": "2"}


def test_facebook_login_tokens_cannot_be_refreshed() -> None:
    assert FacebookPlatform(make_settings()).can_refresh_tokens is False
    platform = InstagramPlatform(make_settings())
    ctx = make_ctx(make_post())  # no login option: Facebook Login (Instagram Login's do)
    with pytest.raises(PlatformError) as caught:
        run(lambda ctx: platform.refresh_token(ctx.account, ctx.http), ctx)
    assert caught.value.decision is Decision.REAUTH


# ---- finding 11: a token of the other Meta login ---------------------------------------------

# What Meta answers a token it cannot parse: code 190 with no subcode, HTTP 400 (the Graph
# envelope, https://developers.facebook.com/docs/graph-api/guides/error-handling; the message
# as reported for Instagram Login tokens on graph.facebook.com).
CANNOT_PARSE = httpx.Response(
    400,
    json={
        "error": {
            "message": "Invalid OAuth access token - Cannot parse access token",
            "type": "OAuthException",
            "code": 190,
            "fbtrace_id": "AbCdEf123",
        }
    },
)
IG_TOKEN = "IGAAQx-instagram-login-token-0123456789"


def call_with(token: str, base: str) -> dict[str, Any]:
    ctx = make_ctx(make_post())
    ctx.account = dataclasses.replace(ctx.account, access_token=token)

    async def action(ctx: Any) -> dict[str, Any]:
        settings = make_settings(graph_api_base=base)
        return await GraphClient(ctx.http, settings, ctx.account, UsageThrottle()).get("1789/x")

    return run(action, ctx)


def test_an_instagram_login_token_on_the_facebook_host_fails_naming_the_mismatch(
    api: FakeApi,
) -> None:
    api.on("GET", f"{GRAPH}/1789/x", CANNOT_PARSE)
    with pytest.raises(GraphError) as caught:
        call_with(IG_TOKEN, GRAPH)
    error = caught.value
    assert error.decision is Decision.FAIL  # not REAUTH: another IG token would loop
    assert error.code == "190"
    assert error.message.startswith("GET 1789/x: login mismatch: ")
    assert "Instagram Login token (IG…)" in error.message
    assert "Facebook Login tokens (EAA…)" in error.message
    assert "Cannot parse access token" in error.message  # Meta's own words kept
    assert IG_TOKEN not in error.message


def test_a_facebook_login_token_on_the_instagram_host_fails_naming_the_mismatch(
    api: FakeApi,
) -> None:
    base = "https://graph.instagram.com/v25.0"
    api.on("GET", f"{base}/1789/x", CANNOT_PARSE)
    with pytest.raises(GraphError) as caught:
        call_with(TOKEN, base)
    assert caught.value.decision is Decision.FAIL
    assert "Facebook Login token (EAA…)" in caught.value.message
    assert "graph.instagram.com, which takes Instagram Login tokens" in caught.value.message
    assert TOKEN not in caught.value.message


@pytest.mark.parametrize("token", [TOKEN, "sample-token-of-no-known-shape"])
def test_a_190_for_a_token_of_the_hosts_login_or_no_known_shape_is_reauth(
    api: FakeApi, token: str
) -> None:
    api.on("GET", f"{GRAPH}/1789/x", CANNOT_PARSE)
    with pytest.raises(GraphError) as caught:
        call_with(token, GRAPH)
    assert caught.value.decision is Decision.REAUTH
    assert "login mismatch" not in caught.value.message


def test_other_errors_for_an_instagram_login_token_keep_their_rules(api: FakeApi) -> None:
    api.on("GET", f"{GRAPH}/1789/x", graph_error(4))
    with pytest.raises(GraphError) as caught:
        call_with(IG_TOKEN, GRAPH)
    assert caught.value.decision is Decision.WAIT
