"""Threads: containers, status, threads_publish, the publishing limit, token refresh.

Responses are shaped like the Threads API documentation's:
https://developers.facebook.com/docs/threads/posts (container and publish ids),
https://developers.facebook.com/docs/threads/troubleshooting (status, error_message, the
limit's ``data`` array) and
https://developers.facebook.com/docs/threads/get-started/long-lived-tokens (refresh).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from support.platform_fakes import (
    NOW,
    TOKEN,
    FakeApi,
    before,
    form,
    graph_error,
    make_ctx,
    make_post,
    make_settings,
    ok,
    run,
    saver,
)
from support.platform_fakes import api_fixture as api_fixture  # the `api` fixture

from studio_publish.domain import Published, Quota
from studio_publish.platforms.base import Decision, PlatformError, ReconcileStatus
from studio_publish.platforms.graph.usage import UsageThrottle
from studio_publish.platforms.threads.client import ThreadsPlatform

BASE = "https://threads.test/v1.0"
USER = f"{BASE}/6001"
CREATE, PUBLISH = f"{USER}/threads", f"{USER}/threads_publish"
LIMIT, REFRESH = f"{USER}/threads_publishing_limit", "https://threads.test/refresh_access_token"
IMAGE = ("https://cdn.test/a.png", "image")
VIDEO = ("https://cdn.test/v.mp4", "video")


def platform() -> ThreadsPlatform:
    settings = make_settings(threads_api_base=BASE)
    return ThreadsPlatform(settings, throttle=UsageThrottle(), clock=lambda: NOW)


def status(value: str, error_message: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"status": value, "id": "c"}
    if error_message:
        body["error_message"] = error_message
    return ok(body)


def happy_publish(api: FakeApi, container: str = "c1") -> None:
    api.on("GET", f"{BASE}/{container}", status("FINISHED"))
    api.on("POST", PUBLISH, ok({"id": "m1"}))
    api.on("GET", f"{BASE}/m1", ok({"permalink": "https://www.threads.net/@studio/post/abc"}))


def ctx_for(post_type: str, media: list[tuple[str, str]], api: FakeApi, **kw: Any) -> Any:
    return make_ctx(make_post(post_type, media, **kw), account_id="6001", api=api)


def test_text_post(api: FakeApi) -> None:
    api.on("POST", CREATE, ok({"id": "c1"}))
    happy_publish(api)
    ctx = ctx_for("text", [], api, options={"reply_control": "mentioned_only"})
    result = run(platform().publish, ctx)
    assert result == Published("m1", "https://www.threads.net/@studio/post/abc")
    assert form(api.calls("POST", CREATE)[0]) == {
        "media_type": "TEXT",
        "text": "Hello world",
        "reply_control": "mentioned_only",
    }
    assert form(api.calls("POST", PUBLISH)[0]) == {"creation_id": "c1"}
    assert api.calls("GET", f"{BASE}/c1")[0].url.params["fields"] == "status,error_message"
    assert before(api.log, "save th_container_id='c1'", "GET /v1.0/c1")
    assert before(api.log, "save th_publish_sent_at", "POST /v1.0/6001/threads_publish")
    assert before(api.log, "save th_media_id='m1'", "GET /v1.0/m1")
    for request in api.requests:  # the token only ever in the header
        assert TOKEN not in str(request.url) and TOKEN not in request.content.decode()
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_image_post_with_alt_text_and_topic(api: FakeApi) -> None:
    api.on("POST", CREATE, ok({"id": "c1"}))
    happy_publish(api)
    options = {"alt_text": "A red door", "topic_tag": "Doors"}
    run(platform().publish, ctx_for("image", [IMAGE], api, options=options))
    assert form(api.calls("POST", CREATE)[0]) == {
        "media_type": "IMAGE",
        "image_url": IMAGE[0],
        "is_carousel_item": "false",
        "text": "Hello world",
        "alt_text": "A red door",
        "topic_tag": "Doors",
    }


def test_carousel_of_an_image_and_a_video(api: FakeApi) -> None:
    api.on("POST", CREATE, ok({"id": "k1"}), ok({"id": "k2"}), ok({"id": "c1"}))
    api.on("GET", f"{BASE}/k1", status("FINISHED"))
    api.on("GET", f"{BASE}/k2", status("IN_PROGRESS"), status("FINISHED"))
    happy_publish(api)
    ctx = ctx_for("carousel", [IMAGE, VIDEO], api)
    assert run(platform().publish, ctx).platform_post_id == "m1"
    child1, child2, parent = (form(r) for r in api.calls("POST", CREATE))
    assert child1 == {"media_type": "IMAGE", "image_url": IMAGE[0], "is_carousel_item": "true"}
    assert child2 == {"media_type": "VIDEO", "video_url": VIDEO[0], "is_carousel_item": "true"}
    assert parent == {"media_type": "CAROUSEL", "children": "k1,k2", "text": "Hello world"}
    assert saver(ctx).calls[:2] == [{"th_children": ["k1"]}, {"th_children": ["k1", "k2"]}]


def test_the_publishing_limit_is_read_and_waited_on(api: FakeApi) -> None:
    used = {"data": [{"quota_usage": 250, "config": {"quota_total": 250, "quota_duration": 86400}}]}
    api.on("GET", LIMIT, ok(used))
    api.on("POST", CREATE, ok({"id": "c1"}))
    api.on("GET", f"{BASE}/c1", status("FINISHED"))
    ctx = ctx_for("text", [], api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)  # read beside the container; nothing is published
    assert caught.value.decision is Decision.WAIT
    assert "Threads publishing quota used up (250/250" in caught.value.message
    assert ctx.quota == Quota(used=250, total=250)
    assert api.calls("GET", LIMIT)[0].url.params["fields"] == "quota_usage,config"
    assert api.count("POST", PUBLISH) == 0 and ctx.saved_ids["th_container_id"] == "c1"


def test_a_container_in_error_fails_with_its_error_message(api: FakeApi) -> None:
    api.on("POST", CREATE, ok({"id": "c1"}))
    api.on("GET", f"{BASE}/c1", status("ERROR", "FAILED_DOWNLOADING_VIDEO"))
    ctx = ctx_for("video", [VIDEO], api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert "FAILED_DOWNLOADING_VIDEO" in caught.value.message
    assert ctx.saved_ids.get("th_container_id") is None  # dropped: a new one next time
    assert api.count("POST", PUBLISH) == 0


def test_an_expired_container_is_replaced_on_the_next_attempt(api: FakeApi) -> None:
    api.on("GET", f"{BASE}/old", status("EXPIRED"))
    ctx = ctx_for("text", [], api)
    ctx.saved_ids["th_container_id"] = "old"
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.RETRY
    assert "th_container_id" not in ctx.saved_ids
    assert api.count("POST", PUBLISH) == 0


def test_a_lost_publish_answer_with_the_container_published_is_recorded_once(
    api: FakeApi,
) -> None:
    api.on("POST", CREATE, ok({"id": "c1"}))
    api.on("GET", f"{BASE}/c1", status("FINISHED"), status("PUBLISHED"))
    api.on("POST", PUBLISH, httpx.ReadTimeout)
    listing = {"data": [{"id": "m9", "text": "Hello world", "timestamp": NOW.isoformat()}]}
    api.on("GET", f"{USER}/threads", ok(listing))
    result = run(platform().publish, ctx_for("text", [], api))
    assert result.platform_post_id == "m9"
    assert api.count("POST", PUBLISH) == 1
    assert api.calls("GET", f"{USER}/threads")[0].url.params["fields"] == (
        "id,text,permalink,timestamp"
    )


def test_a_lost_publish_answer_with_the_container_unpublished_is_not_sent_again(
    api: FakeApi,
) -> None:
    api.on("POST", CREATE, ok({"id": "c1"}))
    api.on("GET", f"{BASE}/c1", status("FINISHED"))
    api.on("POST", PUBLISH, httpx.ReadTimeout)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx_for("text", [], api))
    assert caught.value.decision is Decision.RETRY  # after a backoff, reading the container first
    assert api.count("POST", PUBLISH) == 1


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ("PUBLISHED", ReconcileStatus.LIVE),
        ("FINISHED", ReconcileStatus.NOT_LIVE),
        ("ERROR", ReconcileStatus.FAILED),
        ("EXPIRED", ReconcileStatus.NOT_LIVE),
    ],
)
def test_reconcile_reads_the_container(
    api: FakeApi, container: str, expected: ReconcileStatus
) -> None:
    api.on("GET", f"{BASE}/c1", status(container))
    api.on("GET", f"{USER}/threads", ok({"data": []}))
    ctx = ctx_for("text", [], api)
    ctx.saved_ids.update(th_container_id="c1", th_publish_sent_at=NOW.isoformat())
    assert run(platform().reconcile, ctx).status is expected


@pytest.mark.parametrize(
    ("reply", "decision"),
    [
        (graph_error(190, 463, status=400), Decision.REAUTH),  # an expired token cannot refresh
        (graph_error(10, status=403), Decision.REAUTH),  # the permission is gone
        (graph_error(4, status=400), Decision.WAIT),  # the app's call limit: later
        (graph_error(2, status=500), Decision.RETRY),
    ],
)
def test_documented_errors_map_to_decisions(
    api: FakeApi, reply: httpx.Response, decision: Decision
) -> None:
    api.on("POST", CREATE, reply)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx_for("text", [], api))
    assert caught.value.decision is decision


def test_the_token_refreshes_itself_with_th_refresh_token(api: FakeApi) -> None:
    api.on(
        "POST",
        REFRESH,
        ok({"access_token": "new-long-lived", "token_type": "bearer", "expires_in": 5183944}),
    )
    ctx = ctx_for("text", [], api)
    account = dataclasses.replace(ctx.account, refresh_token=None)

    async def refresh(_: Any) -> Any:
        return await platform().refresh_token(account, ctx.http)

    grant = run(refresh, ctx)
    assert grant.access_token == "new-long-lived"
    assert grant.refresh_token is None
    assert grant.expires_at is not None and (grant.expires_at - NOW).days == 59
    (request,) = api.requests
    assert form(request) == {"grant_type": "th_refresh_token", "access_token": TOKEN}
    assert TOKEN not in str(request.url)  # in the body, never the URL


def test_a_refused_refresh_asks_for_a_new_login(api: FakeApi) -> None:
    api.on("POST", REFRESH, graph_error(190, 463))
    ctx = ctx_for("text", [], api)

    async def refresh(_: Any) -> Any:
        return await platform().refresh_token(ctx.account, ctx.http)

    with pytest.raises(PlatformError) as caught:
        run(refresh, ctx)
    assert caught.value.decision is Decision.REAUTH
    assert TOKEN not in str(caught.value)
