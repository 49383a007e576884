"""Instagram accounts connected with Instagram Login: their host, their token's refresh, and
a token of the other login.

Shapes as Meta documents them: content publishing is the same on graph.instagram.com
(https://developers.facebook.com/docs/instagram-platform/content-publishing/: POST
/{ig-user-id}/media answers {"id"}, POST /{ig-user-id}/media_publish?creation_id answers
{"id"}, GET /{container}?fields=status_code, GET /{ig-user-id}/content_publishing_limit
answers {"data": [{"quota_usage", "config": {"quota_total", ...}}]}), and the long-lived
token refreshes with GET https://graph.instagram.com/refresh_access_token
?grant_type=ig_refresh_token&access_token=... answering {access_token, token_type,
expires_in} (https://developers.facebook.com/docs/instagram-platform/reference/refresh_access_token).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import httpx
import pytest
from support.platform_fakes import (
    GRAPH,
    NOW,
    TOKEN,
    FakeApi,
    form,
    graph_error,
    make_ctx,
    make_post,
    make_settings,
    ok,
    run,
)
from support.platform_fakes import api_fixture as api_fixture  # the `api` fixture

from studio_publish.domain import Account, Published, Quota
from studio_publish.engine.tokens import needs_refresh
from studio_publish.platforms.base import Decision, PlatformError, PublishContext
from studio_publish.platforms.graph.errors import GraphError
from studio_publish.platforms.graph.usage import UsageThrottle
from studio_publish.platforms.instagram.client import InstagramPlatform

IG_HOST = "https://instagram.test/v25.0"  # STUDIO_PUBLISH_INSTAGRAM_API_BASE
USER = f"{IG_HOST}/1789"
MEDIA, PUBLISH = f"{USER}/media", f"{USER}/media_publish"
LIMIT = f"{USER}/content_publishing_limit"
REFRESH = "https://instagram.test/refresh_access_token"  # unversioned, as documented
IG_TOKEN = "IGAAQx-instagram-login-token-0123456789"
IMAGE = ("https://cdn.test/a.jpg", "image")
VIDEO = ("https://cdn.test/v.mp4", "video")
# What Meta answers a token its host cannot parse: 190, no subcode.
CANNOT_PARSE = graph_error(190, message="Invalid OAuth access token - Cannot parse access token")
INSTAGRAM_LOGIN = {"login": "instagram"}


def platform() -> InstagramPlatform:
    settings = make_settings(instagram_api_base=IG_HOST)
    return InstagramPlatform(settings, throttle=UsageThrottle(), clock=lambda: NOW)


def ig_ctx(api: FakeApi, post: Any = None, *, token: str = IG_TOKEN, **options: Any) -> Any:
    ctx = make_ctx(
        post or make_post("image", [IMAGE]),
        account_options={**INSTAGRAM_LOGIN, **options},
        api=api,
    )
    ctx.account = dataclasses.replace(ctx.account, access_token=token, refresh_token=None)
    return ctx


def refresh(ctx: PublishContext) -> Any:
    return platform().refresh_token(ctx.account, ctx.http)


def test_an_instagram_login_account_publishes_on_the_instagram_host(api: FakeApi) -> None:
    api.on("GET", LIMIT, ok({"data": [{"quota_usage": 3, "config": {"quota_total": 100}}]}))
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on("POST", PUBLISH, ok({"id": "m1"}))
    api.on("GET", f"{IG_HOST}/m1", ok({"permalink": "https://www.instagram.com/p/abc/"}))
    ctx = ig_ctx(api)

    async def prepare_then_publish(ctx: PublishContext) -> Published:
        await platform().prepare(ctx)
        return await platform().publish(ctx)

    assert run(prepare_then_publish, ctx) == Published("m1", "https://www.instagram.com/p/abc/")
    assert ctx.quota == Quota(used=4, total=100)
    assert form(api.calls("POST", MEDIA)[0]) == {"image_url": IMAGE[0], "caption": "Hello world"}
    assert form(api.calls("POST", PUBLISH)[0]) == {"creation_id": "c1"}
    assert api.calls("GET", f"{IG_HOST}/m1")[0].url.params["fields"] == "permalink"
    for request in api.requests:  # nothing went to graph.facebook.com's stand-in
        assert request.url.host == "instagram.test"
        assert request.headers["Authorization"] == f"Bearer {IG_TOKEN}"
        assert IG_TOKEN not in str(request.url)


def test_a_reel_waits_for_its_container_on_the_instagram_host(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c2"}))
    api.on(
        "GET",
        f"{IG_HOST}/c2",
        ok({"status_code": "IN_PROGRESS", "id": "c2"}),
        ok({"status_code": "FINISHED", "id": "c2"}),
    )
    api.on("POST", PUBLISH, ok({"id": "m2"}))
    api.on("GET", f"{IG_HOST}/m2", ok({"permalink": "https://www.instagram.com/reel/xyz/"}))
    result = run(platform().publish, ig_ctx(api, make_post("reel", [VIDEO])))
    assert result.platform_post_id == "m2"
    assert form(api.calls("POST", MEDIA)[0])["media_type"] == "REELS"
    assert api.count("GET", f"{IG_HOST}/c2") == 2


def test_a_facebook_login_account_still_publishes_on_the_graph_host(api: FakeApi) -> None:
    api.on("POST", f"{GRAPH}/1789/media", ok({"id": "c1"}))
    api.on("POST", f"{GRAPH}/1789/media_publish", ok({"id": "m1"}))
    api.on("GET", f"{GRAPH}/m1", ok({"permalink": "https://www.instagram.com/p/abc/"}))
    ctx = make_ctx(make_post("image", [IMAGE]), api=api)  # no login option: Facebook Login
    assert run(platform().publish, ctx).platform_post_id == "m1"
    assert {request.url.host for request in api.requests} == {"graph.test"}


def test_the_token_refreshes_with_ig_refresh_token(api: FakeApi) -> None:
    api.on(
        "GET",
        REFRESH,
        ok({"access_token": "IGAAnew-long-lived", "token_type": "bearer", "expires_in": 5183944}),
    )
    grant = run(refresh, ig_ctx(api))
    assert grant.access_token == "IGAAnew-long-lived"
    assert grant.refresh_token is None  # the access token refreshes itself
    assert grant.expires_at == NOW + dt.timedelta(seconds=5183944)
    (request,) = api.requests
    # A GET, as documented ("Creating: This operation is not supported"), on the host's root.
    assert request.method == "GET" and request.url.path == "/refresh_access_token"
    assert dict(request.url.params) == {"grant_type": "ig_refresh_token", "access_token": IG_TOKEN}


@pytest.mark.parametrize(
    ("reply", "decision"),
    [
        (graph_error(190, 463), Decision.REAUTH),  # expired: it can no longer be refreshed
        (graph_error(10, status=403), Decision.REAUTH),  # the permission was taken back
        (graph_error(2, status=500), Decision.RETRY),
        (graph_error(4), Decision.WAIT),
    ],
)
def test_a_refused_refresh(api: FakeApi, reply: httpx.Response, decision: Decision) -> None:
    api.on("GET", REFRESH, reply)
    with pytest.raises(PlatformError) as caught:
        run(refresh, ig_ctx(api))
    assert caught.value.decision is decision
    assert IG_TOKEN not in str(caught.value)
    if decision is Decision.REAUTH:
        assert "Instagram Login token could not be refreshed" in caught.value.message


def test_a_facebook_login_account_has_no_refresh(api: FakeApi) -> None:
    with pytest.raises(PlatformError) as caught:
        run(refresh, make_ctx(make_post(), api=api))
    assert caught.value.decision is Decision.REAUTH
    assert api.requests == []


def account(options: dict[str, Any], expires_in: dt.timedelta) -> Account:
    return Account("a", "instagram", "1789", IG_TOKEN, None, NOW + expires_in, options)


def test_only_instagram_login_tokens_are_refreshed_a_week_before_they_expire() -> None:
    assert needs_refresh(account(INSTAGRAM_LOGIN, dt.timedelta(days=6)), NOW)
    assert not needs_refresh(account(INSTAGRAM_LOGIN, dt.timedelta(days=8)), NOW)
    assert not needs_refresh(account({}, dt.timedelta(days=1)), NOW)  # Facebook Login
    assert not needs_refresh(account({"login": "facebook"}, dt.timedelta(days=1)), NOW)


def test_a_facebook_login_token_on_an_instagram_login_account_is_a_clear_error(
    api: FakeApi,
) -> None:
    api.on("POST", MEDIA, CANNOT_PARSE)
    with pytest.raises(GraphError) as caught:
        run(platform().publish, ig_ctx(api, token=TOKEN))  # EAA...: Facebook Login's
    error = caught.value
    assert error.decision is Decision.FAIL  # not REAUTH: another EAA token would loop
    assert error.message.startswith("POST 1789/media: login mismatch: ")
    assert "Facebook Login token (EAA…)" in error.message
    assert "which takes Instagram Login tokens (IG…) only" in error.message
    assert "`accounts add --login facebook`" in error.message
    assert TOKEN not in error.message


def test_an_instagram_login_token_on_a_facebook_login_account_names_the_flag(
    api: FakeApi,
) -> None:
    api.on("POST", f"{GRAPH}/1789/media", CANNOT_PARSE)
    ctx = make_ctx(make_post("image", [IMAGE]), api=api)
    ctx.account = dataclasses.replace(ctx.account, access_token=IG_TOKEN)
    with pytest.raises(GraphError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert "`accounts add --login instagram`" in caught.value.message
    assert IG_TOKEN not in caught.value.message


def test_an_instagram_token_the_instagram_host_cannot_read_is_reauth(api: FakeApi) -> None:
    # The host's own login's token, refused: a plain re-authorisation, as before.
    api.on("POST", MEDIA, graph_error(190, 460))
    with pytest.raises(GraphError) as caught:
        run(platform().publish, ig_ctx(api))
    assert caught.value.decision is Decision.REAUTH
    assert "login mismatch" not in caught.value.message
