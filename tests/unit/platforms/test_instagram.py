"""Instagram: containers, polling, media_publish, quota, resume and unclear outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from support.platform_fakes import (
    GRAPH,
    NOW,
    FakeApi,
    assert_token_safe,
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
from studio_publish.platforms.base import (
    Decision,
    PlatformError,
    ProcessingTimeout,
    ReconcileStatus,
)
from studio_publish.platforms.graph.usage import UsageThrottle
from studio_publish.platforms.instagram.client import InstagramPlatform

IG = f"{GRAPH}/1789"
MEDIA, PUBLISH, LIMIT = f"{IG}/media", f"{IG}/media_publish", f"{IG}/content_publishing_limit"
VIDEO = ("https://cdn.test/v.mp4", "video")
IMAGE = ("https://cdn.test/a.jpg", "image")


def platform(**settings: Any) -> InstagramPlatform:
    return InstagramPlatform(make_settings(**settings), throttle=UsageThrottle(), clock=lambda: NOW)


def status(code: str, text: str = "") -> httpx.Response:
    return ok({"status_code": code, "status": text, "id": "c"})


def happy_publish(api: FakeApi, container: str = "c1") -> None:
    api.on("GET", f"{GRAPH}/{container}", status("FINISHED"))
    api.on("POST", PUBLISH, ok({"id": "m1"}))
    api.on("GET", f"{GRAPH}/m1", ok({"permalink": "https://www.instagram.com/p/abc/"}))


def test_single_image(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    happy_publish(api)
    ctx = make_ctx(make_post("image", [IMAGE]), api=api)
    result = run(platform().publish, ctx)
    assert result == Published("m1", "https://www.instagram.com/p/abc/")
    assert form(api.calls("POST", MEDIA)[0]) == {"image_url": IMAGE[0], "caption": "Hello world"}
    assert form(api.calls("POST", PUBLISH)[0]) == {"creation_id": "c1"}
    # An image container is published at once: three calls, no status read (issue 10), and
    # the account's quota, read once a run beside its first post's container.
    assert api.count("GET", f"{GRAPH}/c1") == 0
    assert len(api.requests) == 4 and api.count("GET", LIMIT) == 1
    assert api.calls("GET", f"{GRAPH}/m1")[0].url.params["fields"] == "permalink"
    log = api.log
    assert before(log, "save ig_container_id='c1'", "save ig_publish_sent_at")
    assert before(log, "save ig_publish_sent_at", "POST /v25.0/1789/media_publish")
    assert before(log, "save ig_media_id='m1'", "GET /v25.0/m1")
    assert_token_safe(api)


def test_an_image_not_ready_at_publish_is_read_until_finished_then_published(
    api: FakeApi,
) -> None:
    # "Error code 9007 ... The media is not ready for publishing, please wait" (subcode
    # 2207027): "Check the container status and publish when its status is FINISHED"
    # (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes)
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/c1", status("IN_PROGRESS"), status("FINISHED"))
    api.on("POST", PUBLISH, graph_error(9007, 2207027), ok({"id": "m1"}))
    api.on("GET", f"{GRAPH}/m1", ok({"permalink": "https://www.instagram.com/p/abc/"}))
    ctx = make_ctx(make_post("image", [IMAGE]), api=api)
    assert run(platform().publish, ctx).platform_post_id == "m1"
    assert api.count("POST", MEDIA) == 1  # the same container, published once it is ready
    assert api.count("GET", f"{GRAPH}/c1") == 2
    assert [form(c) for c in api.calls("POST", PUBLISH)] == [{"creation_id": "c1"}] * 2


def test_carousel_with_video_child(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "k1"}), ok({"id": "k2"}), ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/k1", status("FINISHED"))
    api.on("GET", f"{GRAPH}/k2", status("IN_PROGRESS"), status("FINISHED"))
    happy_publish(api)
    ctx = make_ctx(make_post("carousel", [IMAGE, VIDEO]), api=api)
    assert run(platform().publish, ctx).platform_post_id == "m1"
    child1, child2, parent = (form(r) for r in api.calls("POST", MEDIA))
    assert child1 == {"image_url": IMAGE[0], "is_carousel_item": "true"}
    assert child2 == {"media_type": "VIDEO", "video_url": VIDEO[0], "is_carousel_item": "true"}
    assert parent == {"media_type": "CAROUSEL", "children": "k1,k2", "caption": "Hello world"}
    assert saver(ctx).calls[:2] == [{"ig_children": ["k1"]}, {"ig_children": ["k1", "k2"]}]
    assert api.log[:4] == [
        "POST /v25.0/1789/media",
        "save ig_children=['k1']",
        "POST /v25.0/1789/media",
        "save ig_children=['k1', 'k2']",
    ]
    assert before(api.log, "GET /v25.0/k2", "save ig_container_id='c1'")


def test_carousel_resumes_with_saved_children(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "k2"}), ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/k1", status("FINISHED"))
    api.on("GET", f"{GRAPH}/k2", status("FINISHED"))
    happy_publish(api)
    ctx = make_ctx(make_post("carousel", [IMAGE, IMAGE]), saved={"ig_children": ["k1"]}, api=api)
    run(platform().publish, ctx)
    assert api.count("POST", MEDIA) == 2  # one child and the parent; k1 was reused


def test_reel_options(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    happy_publish(api)
    options = {
        "share_to_feed": "false",
        "cover_url": "https://cdn.test/c.jpg",
        "thumb_offset": 1500,
    }
    run(platform().publish, make_ctx(make_post("reel", [VIDEO], options=options), api=api))
    assert form(api.calls("POST", MEDIA)[0]) == {
        "media_type": "REELS",
        "video_url": VIDEO[0],
        "caption": "Hello world",
        "share_to_feed": "false",
        "cover_url": "https://cdn.test/c.jpg",
        "thumb_offset": "1500",
    }


def test_story_has_no_caption(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    happy_publish(api)
    run(platform().publish, make_ctx(make_post("story", [VIDEO]), api=api))
    assert form(api.calls("POST", MEDIA)[0]) == {"media_type": "STORIES", "video_url": VIDEO[0]}


def test_container_error_fails_with_status_text_and_drops_it(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/c1", status("IN_PROGRESS"), status("ERROR", "2207026"))
    ctx = make_ctx(make_post("reel", [VIDEO]), api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert "2207026" in caught.value.message
    assert "ig_container_id" not in ctx.saved_ids
    assert api.count("POST", PUBLISH) == 0


# The IG Container reference: "status ... If status_code is ERROR, this value will be an
# error subcode" (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container);
# what comes back reads like the first case (Postiz PRs #1992/#2033). The subcode goes through
# the error table (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes).
@pytest.mark.parametrize(
    ("text", "decision", "code"),
    [
        ("Error: Media upload has failed with error code 2207082", Decision.RETRY, "ERROR/2207082"),
        (
            "Error: 2207053: An unknown error occurred during the video upload.",
            Decision.RETRY,
            "ERROR/2207053",
        ),
        (
            "Error: Media download has timed out with error code 2207003",
            Decision.RETRY,
            "ERROR/2207003",
        ),
        (
            "Error: The video format is not supported. error code 2207026",
            Decision.FAIL,
            "ERROR/2207026",
        ),
        ("Error: Media download has failed.", Decision.FAIL, "ERROR"),
    ],
)
def test_container_error_is_classified_by_the_subcode_in_its_status(
    api: FakeApi, text: str, decision: Decision, code: str
) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/c1", status("IN_PROGRESS"), status("ERROR", text))
    ctx = make_ctx(make_post("reel", [VIDEO]), api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is decision
    assert caught.value.code == code
    assert text in caught.value.message
    assert "ig_container_id" not in ctx.saved_ids  # an ERROR container never recovers
    assert api.count("POST", PUBLISH) == 0


@pytest.mark.parametrize("reply", [ok({"id": "c1"}), ok({"id": "c1", "status_code": ""})])
def test_a_status_read_without_status_code_is_never_published_on(
    api: FakeApi, reply: httpx.Response
) -> None:
    # trypost PR #351: Graph answered only `status: "Error: Media download has failed..."`.
    # Without status_code the container's state is unknown: polled, never taken as FINISHED.
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/c1", reply)
    ctx = make_ctx(make_post("reel", [VIDEO]), api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert caught.value.decision is Decision.WAIT
    assert ctx.saved_ids["ig_container_id"] == "c1"
    assert api.count("GET", f"{GRAPH}/c1") >= 2
    assert api.count("POST", PUBLISH) == 0


def test_a_status_read_without_status_code_is_polled_until_it_has_one(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on(
        "GET",
        f"{GRAPH}/c1",
        ok({"id": "c1", "status": "Media download has failed"}),
        status("FINISHED"),
    )
    api.on("POST", PUBLISH, ok({"id": "m1"}))
    api.on("GET", f"{GRAPH}/m1", ok({"permalink": "https://www.instagram.com/p/abc/"}))
    ctx = make_ctx(make_post("reel", [VIDEO]), api=api)
    assert run(platform().publish, ctx).platform_post_id == "m1"
    assert before(api.log, "GET /v25.0/c1", "POST /v25.0/1789/media_publish")


# Postiz #1562 and events-tracker #1900: Meta answered 100/33 ("Unsupported get request. Object
# ... does not exist") to reads of fresh containers for days while POST /media and
# media_publish worked. A refused read decides nothing about the container.
def test_a_container_read_refused_with_100_33_is_read_again_not_recreated(api: FakeApi) -> None:
    api.on("GET", f"{GRAPH}/c1", graph_error(100, 33), status("FINISHED"))
    api.on("POST", PUBLISH, ok({"id": "m1"}))
    api.on("GET", f"{GRAPH}/m1", ok({"permalink": "https://www.instagram.com/p/abc/"}))
    ctx = make_ctx(make_post(), saved={"ig_container_id": "c1"}, api=api)
    assert run(platform().publish, ctx).platform_post_id == "m1"
    assert api.count("POST", MEDIA) == 0
    assert form(api.calls("POST", PUBLISH)[0]) == {"creation_id": "c1"}


def test_a_container_that_stays_unreadable_is_kept_and_retried_later(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/c1", graph_error(100, 33))
    ctx = make_ctx(make_post("reel", [VIDEO]), api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert caught.value.decision is Decision.RETRY
    assert ctx.saved_ids["ig_container_id"] == "c1"  # the next attempt reads it again
    assert api.count("POST", MEDIA) == 1
    assert api.count("POST", PUBLISH) == 0


def test_an_unreadable_container_after_a_sent_publish_waits_and_is_not_published_again(
    api: FakeApi,
) -> None:
    api.on("GET", f"{GRAPH}/c1", graph_error(100, 33))
    saved = {"ig_container_id": "c1", "ig_publish_sent_at": NOW.isoformat()}
    ctx = make_ctx(make_post(), saved=saved, api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert caught.value.decision is Decision.WAIT  # it may be live: no attempts spent
    assert ctx.saved_ids["ig_container_id"] == "c1"
    assert api.count("POST", PUBLISH) == api.count("POST", MEDIA) == 0


def test_media_builder_expired_retries_the_same_container_twice_then_a_new_one(
    api: FakeApi,
) -> None:
    # 24/2207008: "Try again 1-2 times in the next 30 seconds to 2 minutes. If unsuccessful,
    # generate a new container." (IG error codes, URL above)
    api.on("GET", f"{GRAPH}/c1", status("FINISHED"))
    api.on("POST", PUBLISH, graph_error(24, 2207008))
    ctx = make_ctx(make_post(), saved={"ig_container_id": "c1"}, api=api)
    for kept in (True, True, False):
        with pytest.raises(PlatformError) as caught:
            run(platform().publish, ctx)
        assert caught.value.decision is Decision.RETRY
        assert caught.value.retry_after == 30
        assert ("ig_container_id" in ctx.saved_ids) is kept
    assert api.count("POST", PUBLISH) == 3
    assert "ig_container_retries" not in ctx.saved_ids  # reset with the new container


def test_expired_container_is_dropped_and_retried(api: FakeApi) -> None:
    api.on("GET", f"{GRAPH}/c1", status("EXPIRED"))
    ctx = make_ctx(make_post(), saved={"ig_container_id": "c1"}, api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.RETRY
    assert "ig_container_id" not in ctx.saved_ids


def test_slow_processing_waits_and_keeps_the_container(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/c1", status("IN_PROGRESS"))
    ctx = make_ctx(make_post("reel", [VIDEO]), api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert caught.value.decision is Decision.WAIT
    assert ctx.saved_ids["ig_container_id"] == "c1"
    assert api.count("GET", f"{GRAPH}/c1") >= 2


def test_saved_finished_container_is_reused(api: FakeApi) -> None:
    happy_publish(api)
    ctx = make_ctx(make_post(), saved={"ig_container_id": "c1"}, api=api)
    assert run(platform().publish, ctx).platform_post_id == "m1"
    assert api.count("POST", MEDIA) == 0


def test_saved_media_id_publishes_nothing(api: FakeApi) -> None:
    api.on("GET", f"{GRAPH}/m1", ok({"permalink": "https://www.instagram.com/p/abc/"}))
    ctx = make_ctx(make_post(), saved={"ig_container_id": "c1", "ig_media_id": "m1"}, api=api)
    assert run(platform().publish, ctx).permalink == "https://www.instagram.com/p/abc/"
    assert api.count("POST", PUBLISH) == 0


def test_permalink_failure_does_not_undo_a_publish(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/c1", status("FINISHED"))
    api.on("POST", PUBLISH, ok({"id": "m1"}))
    api.on("GET", f"{GRAPH}/m1", httpx.ReadTimeout)
    assert run(platform().publish, make_ctx(make_post(), api=api)) == Published("m1")


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout, graph_error(1, status=500), httpx.Response(503, text="down")]
)
def test_unclear_publish_then_published_container_is_live(api: FakeApi, failure: Any) -> None:
    api.on("GET", f"{GRAPH}/c1", status("FINISHED"), status("PUBLISHED"))
    api.on("POST", PUBLISH, failure)
    media = [
        {"id": "old", "caption": "Hello world", "timestamp": "2026-02-01T10:00:00+0000"},
        {
            "id": "m9",
            "caption": "Hello world",
            "permalink": "https://ig/p/9",
            "timestamp": "2026-03-01T12:00:05+0000",
        },
    ]
    api.on("GET", MEDIA, ok({"data": media}))
    ctx = make_ctx(make_post(), saved={"ig_container_id": "c1"}, api=api)
    assert run(platform().publish, ctx) == Published("m9", "https://ig/p/9")
    assert api.count("POST", PUBLISH) == 1
    assert ctx.saved_ids["ig_media_id"] == "m9"


def test_unclear_publish_with_ambiguous_media_records_the_container(api: FakeApi) -> None:
    api.on("GET", f"{GRAPH}/c1", status("FINISHED"), status("PUBLISHED"))
    api.on("POST", PUBLISH, httpx.ReadTimeout)
    api.on("GET", MEDIA, ok({"data": []}))
    ctx = make_ctx(make_post(), saved={"ig_container_id": "c1"}, api=api)
    assert run(platform().publish, ctx) == Published("c1", None)
    assert api.count("POST", PUBLISH) == 1


def test_unclear_publish_with_finished_container_retries_later_without_republishing(
    api: FakeApi,
) -> None:
    api.on("GET", f"{GRAPH}/c1", status("FINISHED"))
    api.on("POST", PUBLISH, httpx.ReadTimeout)
    ctx = make_ctx(make_post(), saved={"ig_container_id": "c1"}, api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.RETRY
    assert api.count("POST", PUBLISH) == 1
    assert ctx.saved_ids["ig_container_id"] == "c1"  # FINISHED: safe to publish next attempt
    assert_token_safe(api, str(caught.value))


def test_resume_after_publish_sent_reads_container_first(api: FakeApi) -> None:
    api.on("GET", f"{GRAPH}/c1", status("PUBLISHED"))
    api.on(
        "GET",
        MEDIA,
        ok(
            {
                "data": [
                    {"id": "m1", "caption": "Hello world", "timestamp": "2026-03-01T12:00:00+0000"}
                ]
            }
        ),
    )
    saved = {"ig_container_id": "c1", "ig_publish_sent_at": NOW.isoformat()}
    ctx = make_ctx(make_post(), saved=saved, api=api)
    assert run(platform().publish, ctx).platform_post_id == "m1"
    assert api.count("POST", PUBLISH) == 0


@pytest.mark.parametrize(
    ("reply", "decision", "dropped"),
    [
        (graph_error(4, 2207051), Decision.FAIL, False),
        (graph_error(9, 2207042), Decision.WAIT, False),
        (graph_error(-2, 2207020), Decision.RETRY, True),
        (graph_error(190, 463), Decision.REAUTH, False),
        # IG error codes: 2207006 "Generate a new container and use it to try again"; 2207027
        # "Check the container status and publish when its status is FINISHED".
        (graph_error(24, 2207006), Decision.RETRY, True),
        (graph_error(9007, 2207027), Decision.WAIT, False),
    ],
)
def test_publish_errors(
    api: FakeApi, reply: httpx.Response, decision: Decision, dropped: bool
) -> None:
    api.on("GET", f"{GRAPH}/c1", status("FINISHED"))
    api.on("POST", PUBLISH, reply)
    ctx = make_ctx(make_post(), saved={"ig_container_id": "c1"}, api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is decision
    assert ("ig_container_id" not in ctx.saved_ids) is dropped


def test_the_quota_is_read_beside_the_first_container_and_a_full_one_keeps_it(
    api: FakeApi,
) -> None:
    # "This limit is enforced on the POST /{ig-user-id}/media_publish endpoint"
    # (https://developers.facebook.com/docs/instagram-platform/content-publishing): making a
    # container uses none of it, so both go at once; a full quota stops the publish.
    body = {"data": [{"quota_usage": 50, "config": {"quota_total": 50, "quota_duration": 86400}}]}
    api.on("GET", LIMIT, ok(body))
    api.on("POST", MEDIA, ok({"id": "c1"}))
    ctx = make_ctx(make_post("image", [IMAGE]), api=api)
    run(platform().prepare, ctx)  # not read yet: nothing to check, no call
    assert api.requests == []
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.WAIT
    assert caught.value.retry_after == 3600
    assert api.calls("GET", LIMIT)[0].url.params["fields"] == "quota_usage,config"
    assert api.count("POST", PUBLISH) == 0
    # The container is kept for the next attempt, with no publish marker: nothing was sent.
    assert ctx.saved_ids["ig_container_id"] == "c1" and "ig_publish_sent_at" not in ctx.saved_ids


def test_a_known_full_quota_is_refused_before_any_call(api: FakeApi) -> None:
    ctx = make_ctx(make_post(), api=api)
    ctx.account_facts["ig_quota"] = Quota(used=50, total=50)
    with pytest.raises(PlatformError) as caught:
        run(platform().prepare, ctx)
    assert caught.value.decision is Decision.WAIT and api.requests == []


def test_a_quota_that_cannot_be_read_keeps_the_container_for_the_next_attempt(
    api: FakeApi,
) -> None:
    api.on("GET", LIMIT, graph_error(2, status=500))
    api.on("POST", MEDIA, ok({"id": "c1"}))
    ctx = make_ctx(make_post("image", [IMAGE]), api=api)
    with pytest.raises(PlatformError):
        run(platform().publish, ctx)
    assert api.count("POST", PUBLISH) == 0
    assert ctx.saved_ids["ig_container_id"] == "c1" and "ig_publish_sent_at" not in ctx.saved_ids


def test_prepare_passes_under_quota(api: FakeApi) -> None:
    ctx = make_ctx(make_post(), api=api)
    ctx.account_facts["ig_quota"] = Quota(used=2, total=50)
    run(platform().prepare, ctx)
    assert api.requests == [] and ctx.quota == Quota(used=2, total=50)


@pytest.mark.parametrize(
    ("saved", "reply", "expected"),
    [
        ({}, None, ReconcileStatus.NOT_LIVE),
        ({"ig_children": ["k1"]}, None, ReconcileStatus.NOT_LIVE),
        ({"ig_container_id": "c1"}, status("FINISHED"), ReconcileStatus.NOT_LIVE),
        ({"ig_container_id": "c1"}, status("IN_PROGRESS"), ReconcileStatus.NOT_LIVE),
        ({"ig_container_id": "c1"}, status("EXPIRED"), ReconcileStatus.NOT_LIVE),
        ({"ig_container_id": "c1"}, status("ERROR", "2207026"), ReconcileStatus.FAILED),
        ({"ig_container_id": "c1"}, status("PUBLISHED"), ReconcileStatus.LIVE),
        (
            {"ig_container_id": "c1", "ig_publish_sent_at": NOW.isoformat()},
            status("ERROR", "Error: Media upload has failed with error code 2207082"),
            ReconcileStatus.FAILED,
        ),
        ({"ig_container_id": "c1"}, ok({"id": "c1"}), ReconcileStatus.NOT_LIVE),
        # An unreadable container (100/33) is no decision: not sent, not live; sent, look later.
        ({"ig_container_id": "c1"}, graph_error(100, 33), ReconcileStatus.NOT_LIVE),
        (
            {"ig_container_id": "c1", "ig_publish_sent_at": NOW.isoformat()},
            graph_error(100, 33),
            ReconcileStatus.PENDING,
        ),
    ],
)
def test_reconcile(
    api: FakeApi, saved: dict[str, Any], reply: httpx.Response | None, expected: ReconcileStatus
) -> None:
    if reply is not None:
        api.on("GET", f"{GRAPH}/c1", reply)
    api.on("GET", MEDIA, ok({"data": []}))
    ctx = make_ctx(make_post(), saved=saved, api=api)
    result = run(platform().reconcile, ctx)
    assert result.status is expected
    if expected is ReconcileStatus.FAILED:
        assert result.error is not None
        retryable = "2207082" in str(result.error)
        assert result.error.decision is (Decision.RETRY if retryable else Decision.FAIL)
        assert "ig_container_id" not in ctx.saved_ids  # dropped: a retry makes a new one
    if reply is not None and reply.status_code == 400:
        assert ctx.saved_ids["ig_container_id"] == "c1"  # an unreadable one is kept
    assert api.count("POST", PUBLISH) == 0


def test_reconcile_finds_a_sent_post_in_the_listing_when_its_container_is_unreadable(
    api: FakeApi,
) -> None:
    api.on("GET", f"{GRAPH}/c1", graph_error(100, 33))
    listing = [
        {
            "id": "m7",
            "caption": "Hello world",
            "permalink": "https://ig/p/7",
            "timestamp": "2026-03-01T12:00:01+0000",
        }
    ]
    api.on("GET", MEDIA, ok({"data": listing}))
    saved = {"ig_container_id": "c1", "ig_publish_sent_at": NOW.isoformat()}
    ctx = make_ctx(make_post(), saved=saved, api=api)
    result = run(platform().reconcile, ctx)
    assert result.status is ReconcileStatus.LIVE
    assert result.published == Published("m7", "https://ig/p/7")
    assert ctx.saved_ids["ig_media_id"] == "m7"


def test_alt_text_is_sent_on_image_containers(api: FakeApi) -> None:
    # "On March 24, 2025, we introduced the new alt_text field for image posts on the
    # /<IG_ID>/media endpoint": https://developers.facebook.com/docs/instagram-platform/content-publishing/
    api.on("POST", MEDIA, ok({"id": "c1"}))
    happy_publish(api)
    post = make_post("image", [IMAGE], options={"alt_text": "A red bicycle"})
    run(platform().publish, make_ctx(post, api=api))
    assert form(api.calls("POST", MEDIA)[0]) == {
        "image_url": IMAGE[0],
        "caption": "Hello world",
        "alt_text": "A red bicycle",
    }


def test_alt_text_goes_on_a_carousels_images_only(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "k1"}), ok({"id": "k2"}), ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/k1", status("FINISHED"))
    api.on("GET", f"{GRAPH}/k2", status("FINISHED"))
    happy_publish(api)
    post = make_post("carousel", [IMAGE, VIDEO], options={"alt_text": "A red bicycle"})
    run(platform().publish, make_ctx(post, api=api))
    image, video, parent = (form(r) for r in api.calls("POST", MEDIA))
    assert image["alt_text"] == "A red bicycle"
    assert "alt_text" not in video and "alt_text" not in parent


def test_reconcile_with_media_id_is_live(api: FakeApi) -> None:
    api.on("GET", f"{GRAPH}/m1", ok({"permalink": "https://ig/p/1"}))
    result = run(platform().reconcile, make_ctx(make_post(), saved={"ig_media_id": "m1"}, api=api))
    assert result.status is ReconcileStatus.LIVE
    assert result.published == Published("m1", "https://ig/p/1")


def quota(used: int, total: int = 50) -> httpx.Response:
    # https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/content_publishing_limit
    return ok({"data": [{"quota_usage": used, "config": {"quota_total": total}}]})


def test_the_quota_is_read_once_per_account_per_run_and_counts_this_runs_posts(
    api: FakeApi,
) -> None:
    """A run's attempts of one account share its facts (the engine passes one dict): the
    limit is read once, and each publish of the run is counted on it."""
    api.on("GET", LIMIT, quota(48))
    api.on("POST", MEDIA, ok({"id": "c1"}))
    happy_publish(api)
    ig = platform()
    facts: dict[str, Any] = {}
    for _ in range(2):
        ctx = make_ctx(make_post("image", [IMAGE]), api=api)
        ctx.account_facts = facts
        run(ig.prepare, ctx)
        run(ig.publish, ctx)
    assert api.count("GET", LIMIT) == 1
    third = make_ctx(make_post("image", [IMAGE]), api=api)
    third.account_facts = facts
    with pytest.raises(PlatformError) as refused:
        run(ig.prepare, third)  # 48 + 2 of 50: used up, known without a call
    assert refused.value.decision is Decision.WAIT
    assert "50/50" in refused.value.message
    assert api.count("GET", LIMIT) == 1 and api.count("POST", PUBLISH) == 2
    assert third.quota is not None and third.quota.used == 50


def test_a_new_run_reads_the_quota_again(api: FakeApi) -> None:
    api.on("GET", LIMIT, quota(3), quota(7))
    api.on("POST", MEDIA, ok({"id": "c1"}))
    happy_publish(api)
    ig = platform()
    first, second = (make_ctx(make_post("image", [IMAGE]), api=api) for _ in range(2))
    run(ig.publish, first)
    run(ig.publish, second)  # its own facts: another run
    assert api.count("GET", LIMIT) == 2
    assert first.quota is not None and second.quota is not None
    assert (first.quota.used, second.quota.used) == (4, 8)  # each counts its own publish


# --- the processing bound: a container lives 24 hours ---------------------------------------
# "Containers ... expire after 24 hours"
# (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media)
def test_a_container_still_processing_24_hours_after_it_was_made_fails_as_a_timeout(
    api: FakeApi,
) -> None:
    api.on("GET", f"{GRAPH}/c1", status("IN_PROGRESS"))
    made = (NOW - dt.timedelta(hours=24, minutes=1)).isoformat()
    saved = {"ig_container_id": "c1", "ig_container_created_at": made}
    ctx = make_ctx(make_post("reel", [VIDEO]), saved=saved, api=api)
    with pytest.raises(ProcessingTimeout) as caught:
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert "24 hours" in caught.value.message
    assert "ig_container_id" not in ctx.saved_ids  # a retry-failed starts with a new one
    assert api.count("POST", PUBLISH) == 0


def test_a_container_still_processing_within_its_life_is_handed_back_with_its_next_look(
    api: FakeApi,
) -> None:
    api.on("GET", f"{GRAPH}/c1", status("IN_PROGRESS"))
    made = (NOW - dt.timedelta(hours=23)).isoformat()
    saved = {"ig_container_id": "c1", "ig_container_created_at": made}
    ctx = make_ctx(make_post("reel", [VIDEO]), saved=saved, api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform(poll_timeout_seconds=0.05, poll_interval_seconds=0.01).publish, ctx)
    assert caught.value.decision is Decision.WAIT
    assert caught.value.retry_after == 0.01  # looked at again after POLL_INTERVAL_SECONDS
    assert ctx.saved_ids["ig_container_id"] == "c1"


@pytest.mark.parametrize("made", [None, 1234567, "yesterday", "2026-13-45T99:00:00"])
def test_a_container_saved_without_its_creation_time_is_bounded_from_first_sight(
    api: FakeApi, made: Any
) -> None:
    # Rows saved before the key existed, or a time the web app wrote as anything at all.
    api.on("GET", f"{GRAPH}/c1", status("IN_PROGRESS"))
    saved = {"ig_container_id": "c1", "ig_container_created_at": made}
    ctx = make_ctx(make_post("reel", [VIDEO]), saved=saved, api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert caught.value.decision is Decision.WAIT
    assert ctx.saved_ids["ig_container_created_at"] == NOW.isoformat()


def test_a_new_container_saves_when_it_was_made(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/c1", status("IN_PROGRESS"))
    ctx = make_ctx(make_post("reel", [VIDEO]), api=api)
    with pytest.raises(PlatformError):
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert ctx.saved_ids["ig_container_created_at"] == NOW.isoformat()


def test_a_sent_publish_unreadable_for_24_hours_is_for_a_person(api: FakeApi) -> None:
    api.on("GET", f"{GRAPH}/c1", graph_error(100, 33))
    api.on("GET", f"{IG}/media", ok({"data": []}))
    sent = (NOW - dt.timedelta(hours=25)).isoformat()
    saved = {"ig_container_id": "c1", "ig_publish_sent_at": sent}
    ctx = make_ctx(make_post(), saved=saved, api=api)
    with pytest.raises(ProcessingTimeout) as caught:
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert caught.value.decision is Decision.UNKNOWN  # it may be live
    rec = run(platform().reconcile, make_ctx(make_post(), saved=saved, api=api))
    assert rec.status is ReconcileStatus.FAILED and isinstance(rec.error, ProcessingTimeout)
    assert api.count("POST", PUBLISH) == 0


def test_the_engines_wait_decides_when_to_stop_looking(api: FakeApi) -> None:
    api.on("POST", MEDIA, ok({"id": "c1"}))
    api.on("GET", f"{GRAPH}/c1", status("IN_PROGRESS"), status("IN_PROGRESS"), status("FINISHED"))
    api.on("POST", PUBLISH, ok({"id": "m1"}))
    api.on("GET", f"{GRAPH}/m1", ok({"permalink": "https://www.instagram.com/p/abc/"}))
    looks: list[float] = []

    async def wait(seconds: float) -> bool:
        looks.append(seconds)
        return len(looks) <= 2  # the run's budget holds two more looks

    ctx = make_ctx(make_post("reel", [VIDEO]), api=api)
    ctx.processing_wait = wait
    with pytest.raises(PlatformError) as caught:
        run(platform(poll_interval_seconds=7).publish, ctx)
    assert caught.value.decision is Decision.WAIT
    assert looks == [7, 7, 7] and api.count("GET", f"{GRAPH}/c1") == 2  # no read it cannot use
    # The next run resumes the same container: one read finds it FINISHED, then it publishes.
    resumed = make_ctx(make_post("reel", [VIDEO]), saved=ctx.saved_ids, api=api)
    assert run(platform().publish, resumed).platform_post_id == "m1"
    assert api.count("POST", MEDIA) == 1
