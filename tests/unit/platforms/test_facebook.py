"""Facebook Pages: feed, photos, multi-photo, video, reels, stories, and finding a post after
an unclear answer."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
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

from studio_publish.domain import Published
from studio_publish.platforms.base import (
    Decision,
    PlatformError,
    ProcessingTimeout,
    ReconcileStatus,
)
from studio_publish.platforms.facebook.client import FacebookPlatform, video_state
from studio_publish.platforms.graph.usage import UsageThrottle

PAGE = f"{GRAPH}/55"
FEED, PHOTOS, VIDEOS, POSTS = f"{PAGE}/feed", f"{PAGE}/photos", f"{PAGE}/videos", f"{PAGE}/posts"
IMAGE = ("https://cdn.test/a.jpg", "image")
VIDEO = ("https://cdn.test/v.mp4", "video")
LINK = "https://www.facebook.com/55/posts/1"


def platform() -> FacebookPlatform:
    return FacebookPlatform(make_settings(), throttle=UsageThrottle(), clock=lambda: NOW)


def ctx_for(api: FakeApi, post_type: str, media: Any, **kwargs: Any) -> Any:
    options = kwargs.pop("options", None)
    return make_ctx(
        make_post(post_type, media, options=options), account_id="55", api=api, **kwargs
    )


def permalink(api: FakeApi, post_id: str = "55_1", link: str = LINK) -> None:
    api.on("GET", f"{GRAPH}/{post_id}", ok({"permalink_url": link, "id": post_id}))


def test_text_post_with_link(api: FakeApi) -> None:
    api.on("POST", FEED, ok({"id": "55_1"}))
    permalink(api)
    ctx = ctx_for(api, "text", [], options={"link": "https://example.com"})
    assert run(platform().publish, ctx) == Published("55_1", LINK)
    assert form(api.calls("POST", FEED)[0]) == {
        "message": "Hello world",
        "link": "https://example.com",
    }
    assert before(api.log, "save fb_publish_sent_at", "POST /v25.0/55/feed")
    assert before(api.log, "save fb_post_id='55_1'", "GET /v25.0/55_1")
    assert api.calls("GET", f"{GRAPH}/55_1")[0].url.params["fields"] == "permalink_url"
    assert_token_safe(api)


def test_single_photo_by_url_stores_the_post_id(api: FakeApi) -> None:
    api.on("POST", PHOTOS, ok({"id": "p1", "post_id": "55_1"}))
    permalink(api)
    ctx = ctx_for(api, "image", [IMAGE])
    assert run(platform().publish, ctx).platform_post_id == "55_1"
    assert form(api.calls("POST", PHOTOS)[0]) == {"caption": "Hello world", "url": IMAGE[0]}


def test_single_local_photo_is_sent_as_multipart_source(api: FakeApi, tmp_path: Path) -> None:
    image = tmp_path / "pic.jpg"
    image.write_bytes(b"\xff\xd8jpeg-bytes")
    api.on("POST", PHOTOS, ok({"id": "p1", "post_id": "55_1"}))
    permalink(api)
    run(platform().publish, ctx_for(api, "image", [(str(image), "image")]))
    request = api.calls("POST", PHOTOS)[0]
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="source"; filename="pic.jpg"' in request.content
    assert b"\xff\xd8jpeg-bytes" in request.content
    assert b'name="caption"' in request.content


def test_several_photos_then_feed_with_attached_media(api: FakeApi) -> None:
    api.on("POST", PHOTOS, ok({"id": "p1"}), ok({"id": "p2"}))
    api.on("POST", FEED, ok({"id": "55_9"}))
    permalink(api, "55_9")
    ctx = ctx_for(api, "carousel", [IMAGE, ("https://cdn.test/b.jpg", "image")])
    assert run(platform().publish, ctx).platform_post_id == "55_9"
    first, second = (form(r) for r in api.calls("POST", PHOTOS))
    assert first == {"published": "false", "url": IMAGE[0]}
    assert second["published"] == "false"
    feed = form(api.calls("POST", FEED)[0])
    assert feed["message"] == "Hello world"
    attached = [json.loads(feed[f"attached_media[{i}]"]) for i in range(2)]
    assert attached == [{"media_fbid": "p1"}, {"media_fbid": "p2"}]
    assert saver(ctx).calls[:2] == [{"fb_photo_ids": ["p1"]}, {"fb_photo_ids": ["p1", "p2"]}]


def test_several_photos_resume_with_saved_photo_ids(api: FakeApi) -> None:
    api.on("POST", PHOTOS, ok({"id": "p2"}))
    api.on("POST", FEED, ok({"id": "55_9"}))
    permalink(api, "55_9")
    ctx = ctx_for(api, "carousel", [IMAGE, IMAGE], saved={"fb_photo_ids": ["p1"]})
    run(platform().publish, ctx)
    assert api.count("POST", PHOTOS) == 1


VIDEO_LINK = "https://www.facebook.com/55/videos/v1/"


def video_node(post_id: str | None = "55_9", video_id: str = "v1") -> httpx.Response:
    """GET /{video-id}?fields=permalink_url,post_id: the Video node's relative permalink_url
    (https://developers.facebook.com/docs/graph-api/reference/video/) and its post."""
    body = {"id": video_id, "permalink_url": f"/55/videos/{video_id}/"}
    return ok(body if post_id is None else {**body, "post_id": post_id})


def status(
    video: str = "ready",
    processing: str = "complete",
    publishing: str = "complete",
    publish_status: str | None = "published",
) -> dict[str, Any]:
    """The Video node's ``status`` as the Reels Publishing guide shows it
    (https://developers.facebook.com/docs/video-api/guides/reels-publishing):
    ``video_status`` and the uploading, processing and publishing phases."""
    phase: dict[str, Any] = {"status": publishing}
    if publish_status is not None:
        phase["publish_status"] = publish_status
    return {
        "video_status": video,
        "uploading_phase": {"status": "complete", "bytes_transferred": 37006904},
        "processing_phase": {"status": processing},
        "publishing_phase": phase,
    }


READY = status()
UPLOADED = status("upload_complete", "not_started", "not_started", None)
PROCESSING_ = status("processing", "in_progress", "not_started", None)
DRAFT = status("ready", "complete", "complete", "draft")
FAILED = {**status("error", "error", "not_started", None)}
PUBLISHING = status("ready", "complete", "in_progress", None)


# The Reels Publishing guide's status answers, as it prints them
# (https://developers.facebook.com/docs/video-api/guides/reels-publishing, "Get the Upload
# Status"): its two examples verbatim, and its table's values.
GUIDE_PROCESSING_ERROR = {
    "video_status": "processing",
    "uploading_phase": {"status": "complete"},
    "processing_phase": {
        "status": "not_started",
        "error": {"message": "Resolution too low. Video must have a minimum resolution of 540p."},
    },
    "publishing_phase": {"status": "not_started"},
}
GUIDE_INTERRUPTED_UPLOAD = {
    "video_status": "processing",
    "uploading_phase": {"status": "in_progress", "bytes_transfered": 50002},
    "processing_phase": {"status": "not_started"},
    "publishing_phase": {"status": "not_started"},
}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (GUIDE_PROCESSING_ERROR, "error"),  # the error object alone says it failed
        (GUIDE_INTERRUPTED_UPLOAD, "processing"),
        (status(publishing="completed"), "live"),  # the table's spelling
        (status(publishing="complete"), "live"),  # the examples' spelling
        (status("processing", "completed", "completed", "published"), "live"),
        (status(publishing="completed", publish_status="draft"), "processing"),
        (status(publishing="completed", publish_status="scheduled"), "processing"),
        (status(publishing="error", publish_status="error"), "error"),
        (status(publishing="completed", publish_status="error"), "error"),
        (status("ready", "completed", "not_started", None), "processing"),  # ready to publish
        (status("expired", "not_started", "not_started", None), "error"),  # upload again
        (status("upload_failed", "not_started", "not_started", None), "error"),
        (status("uploading", "not_started", "not_started", None), "processing"),
        ({"video_status": "ready"}, "live"),  # no phases at all: ready stands in
        ({}, "processing"),
    ],
)
def test_video_state_reads_the_documented_status(answer: dict[str, Any], expected: str) -> None:
    assert video_state({"id": "v1", "status": answer}) == expected


def test_the_processing_error_example_fails_the_post_with_its_message(api: FakeApi) -> None:
    api.on("POST", VIDEOS, ok({"id": "v1"}))
    api.on("GET", f"{GRAPH}/v1", video_reads(GUIDE_PROCESSING_ERROR))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx_for(api, "video", [VIDEO]))
    assert caught.value.decision is Decision.FAIL
    assert "processing_phase" in caught.value.message and "540p" in caught.value.message


def test_an_unclear_finish_reads_completed_processing_as_done(api: FakeApi) -> None:
    # The table's "completed": the status can tell, and shows the finish was not taken.
    reel_api(api, status("ready", "completed", "not_started", None), READY,
             finish=[httpx.ReadTimeout, None])  # fmt: skip
    assert run(platform().publish, ctx_for(api, "reel", [REEL])).platform_post_id == "55_9"
    assert phases(api) == ["start", "finish", "finish"]


def video_reads(
    *statuses: dict[str, Any] | httpx.Response, node: list[httpx.Response] | None = None
) -> Any:
    """GET /{video-id}: ``fields=status`` answers ``statuses`` in turn (the last repeats),
    any other read the node replies in turn."""
    queue, nodes = list(statuses), list(node or [video_node()])

    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("fields") == "status":
            item = queue.pop(0) if len(queue) > 1 else queue[0]
            if isinstance(item, httpx.Response):
                return item
            return ok({"id": request.url.path.rsplit("/", 1)[-1], "status": item})
        return nodes.pop(0) if len(nodes) > 1 else nodes[0]

    return reply


def status_reads(api: FakeApi, video_id: str = "v1") -> int:
    return sum(
        1 for r in api.calls("GET", f"{GRAPH}/{video_id}") if r.url.params["fields"] == "status"
    )


def test_video_by_url_stores_the_page_post_id(api: FakeApi) -> None:
    # /videos answers only the video id (Video API publishing guide: {"id":"<VIDEO_ID>"}).
    api.on("POST", VIDEOS, ok({"id": "v1"}))
    api.on("GET", f"{GRAPH}/v1", video_reads(PROCESSING_, READY))
    ctx = ctx_for(api, "video", [VIDEO], options={"title": "My video"})
    assert run(platform().publish, ctx) == Published("55_9", VIDEO_LINK)
    # The caption is the video's description; /videos has no message.
    assert form(api.calls("POST", VIDEOS)[0]) == {
        "file_url": VIDEO[0],
        "description": "Hello world",
        "title": "My video",
    }
    # Posted only once the status says published: processing, then ready.
    reads = [r.url.params["fields"] for r in api.calls("GET", f"{GRAPH}/v1")]
    assert reads == ["status", "status", "permalink_url,post_id"]
    assert before(api.log, "save fb_video_id='v1'", "GET /v25.0/v1")
    assert ctx.saved_ids["fb_post_id"] == "55_9"
    assert_token_safe(api)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (video_node("9"), Published("55_9", VIDEO_LINK)),  # a bare post id: the Page's form
        (video_node(None), Published("v1", VIDEO_LINK)),  # no post id given: the video's
        (video_node("../x"), Published("v1", VIDEO_LINK)),  # not an id: never used
        (graph_error(2, status=500), Published("v1")),  # live all the same
    ],
)
def test_video_post_id_from_the_video_node(
    api: FakeApi, node: httpx.Response, expected: Published
) -> None:
    api.on("POST", VIDEOS, ok({"id": "v1"}))
    api.on("GET", f"{GRAPH}/v1", video_reads(READY, node=[node]))
    ctx = ctx_for(api, "video", [VIDEO])
    assert run(platform().publish, ctx) == expected
    assert ctx.saved_ids["fb_post_id"] == expected.platform_post_id


def test_a_video_node_without_post_id_field_still_gives_the_permalink(api: FakeApi) -> None:
    refused = graph_error(100, message="(#100) Tried accessing nonexisting field (post_id)")
    linked = ok({"id": "v1", "permalink_url": "/55/videos/v1/"})
    api.on("GET", f"{GRAPH}/v1", video_reads(READY, node=[refused, linked]))
    api.on("POST", VIDEOS, ok({"id": "v1"}))
    assert run(platform().publish, ctx_for(api, "video", [VIDEO])) == Published("v1", VIDEO_LINK)
    assert api.calls("GET", f"{GRAPH}/v1")[2].url.params["fields"] == "permalink_url"


def test_a_saved_video_id_is_read_and_never_sent_again(api: FakeApi) -> None:
    # The process died after /videos answered: the next attempt reads the video.
    api.on("GET", f"{GRAPH}/v1", video_reads(READY))
    saved = {"fb_publish_sent_at": NOW.isoformat(), "fb_video_id": "v1"}
    ctx = ctx_for(api, "video", [VIDEO], saved=saved)
    assert run(platform().publish, ctx) == Published("55_9", VIDEO_LINK)
    assert api.count("POST", VIDEOS) == 0
    result = run(platform().reconcile, ctx_for(api, "video", [VIDEO], saved=saved))
    assert result.status is ReconcileStatus.LIVE and result.published == Published(
        "55_9", VIDEO_LINK
    )


def found(message: str = "Hello world") -> httpx.Response:
    item = {"id": "55_7", "message": message, "created_time": "2026-03-01T12:00:01+0000"}
    return ok({"data": [{**item, "permalink_url": LINK}]})


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout, graph_error(2), httpx.Response(500, text="")]
)
def test_unclear_feed_then_found_is_live(api: FakeApi, failure: Any) -> None:
    api.on("POST", FEED, failure)
    api.on("GET", POSTS, ok({"data": []}), found())
    ctx = ctx_for(api, "text", [])
    assert run(platform().publish, ctx) == Published("55_7", LINK)
    assert api.count("POST", FEED) == 1
    assert ctx.saved_ids["fb_post_id"] == "55_7"
    params = api.calls("GET", POSTS)[0].url.params
    assert params["fields"] == "id,message,created_time,permalink_url"
    assert int(params["since"]) <= int(NOW.timestamp())


def test_unclear_feed_not_found_is_unknown(api: FakeApi) -> None:
    api.on("POST", FEED, httpx.ReadTimeout)
    api.on("GET", POSTS, found("another post"))
    ctx = ctx_for(api, "text", [])
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.UNKNOWN
    assert api.count("POST", FEED) == 1
    assert ctx.saved_ids["fb_publish_sent_at"]  # kept: the next attempt must look, not post
    assert_token_safe(api, str(caught.value))


def test_unclear_video_searches_the_page_videos(api: FakeApi) -> None:
    api.on("POST", VIDEOS, httpx.ReadTimeout)
    api.on("GET", VIDEOS, ok({"data": [{"id": "v7", "description": "Hello world"}]}))
    api.on("GET", f"{GRAPH}/v7", video_node("55_70", "v7"))
    ctx = ctx_for(api, "video", [VIDEO])
    assert run(platform().publish, ctx).platform_post_id == "55_70"
    assert ctx.saved_ids["fb_post_id"] == "55_70"
    assert api.count("POST", VIDEOS) == 1


# A user token where a Page token is needed: the Graph envelope with Meta's words.
PAGE_TOKEN_REFUSALS = [
    graph_error(210, message="(#210) A page access token is required to request this resource."),
    graph_error(
        200,
        message="(#200) If posting to a page, requires both pages_read_engagement and "
        "pages_manage_posts as an admin with sufficient administrative permission",
        status=403,
    ),
    graph_error(190, message="(#190) This method must be called with a Page Access Token"),
]


@pytest.mark.parametrize("refusal", PAGE_TOKEN_REFUSALS)
def test_a_user_token_is_told_how_to_get_a_page_token(
    api: FakeApi, refusal: httpx.Response
) -> None:
    api.on("POST", FEED, refusal)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx_for(api, "text", []))
    assert caught.value.decision is Decision.REAUTH
    assert "Page access token" in caught.value.message
    assert "GET /me/accounts" in caught.value.message and "CREATE_CONTENT" in caught.value.message
    assert caught.value.message.count("GET /me/accounts") == 1


def test_other_reauth_errors_get_no_page_token_hint(api: FakeApi) -> None:
    api.on("POST", FEED, graph_error(190, 463))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx_for(api, "text", []))
    assert caught.value.decision is Decision.REAUTH
    assert "GET /me/accounts" not in caught.value.message


def test_next_attempt_after_unclear_send_looks_before_posting(api: FakeApi) -> None:
    api.on("GET", POSTS, ok({"data": []}))
    ctx = ctx_for(api, "text", [], saved={"fb_publish_sent_at": NOW.isoformat()})
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.UNKNOWN
    assert api.count("POST", FEED) == 0


def test_clear_refusal_clears_the_sent_marker(api: FakeApi) -> None:
    api.on("POST", FEED, graph_error(506))
    ctx = ctx_for(api, "text", [])
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert "fb_publish_sent_at" not in ctx.saved_ids


@pytest.mark.parametrize(
    ("saved", "posts", "expected"),
    [
        ({}, None, ReconcileStatus.NOT_LIVE),
        ({"fb_photo_ids": ["p1"]}, None, ReconcileStatus.NOT_LIVE),
        ({"fb_publish_sent_at": NOW.isoformat()}, found(), ReconcileStatus.LIVE),
        ({"fb_publish_sent_at": NOW.isoformat()}, ok({"data": []}), ReconcileStatus.UNKNOWN),
    ],
)
def test_reconcile(
    api: FakeApi, saved: dict[str, Any], posts: httpx.Response | None, expected: ReconcileStatus
) -> None:
    if posts is not None:
        api.on("GET", POSTS, posts)
    result = run(platform().reconcile, ctx_for(api, "text", [], saved=saved))
    assert result.status is expected
    assert api.count("POST", FEED) == 0


def test_reconcile_with_post_id_is_live(api: FakeApi) -> None:
    permalink(api)
    result = run(platform().reconcile, ctx_for(api, "text", [], saved={"fb_post_id": "55_1"}))
    assert result.status is ReconcileStatus.LIVE
    assert result.published == Published("55_1", LINK)


# -- videos are posted only once published ----------------------------------------------


def stop_waiting(seconds: float) -> Any:
    async def wait(_: float) -> bool:
        return False

    return wait


def test_a_video_still_processing_is_handed_back_when_the_wait_says_stop(api: FakeApi) -> None:
    api.on("POST", VIDEOS, ok({"id": "v1"}))
    api.on("GET", f"{GRAPH}/v1", video_reads(PROCESSING_))
    ctx = ctx_for(api, "video", [VIDEO])
    ctx.processing_wait = stop_waiting(0)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.WAIT and caught.value.retry_after
    assert ctx.saved_ids["fb_video_id"] == "v1" and "fb_post_id" not in ctx.saved_ids
    # The next attempt reads the status again, never /videos again.
    api.on("GET", f"{GRAPH}/v1", video_reads(READY))
    again = ctx_for(api, "video", [VIDEO], saved=dict(ctx.saved_ids))
    assert run(platform().publish, again) == Published("55_9", VIDEO_LINK)
    assert api.count("POST", VIDEOS) == 1


def test_a_draft_video_is_never_posted(api: FakeApi) -> None:
    # The finding: a vertical video sent to /videos can stay a draft that never goes live.
    api.on("POST", VIDEOS, ok({"id": "v1"}))
    api.on("GET", f"{GRAPH}/v1", video_reads(DRAFT))
    ctx = ctx_for(api, "video", [VIDEO])
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.WAIT
    # Past the bound, a person looks.
    sent = (NOW - dt.timedelta(hours=25)).isoformat()
    late = ctx_for(api, "video", [VIDEO], saved={"fb_video_id": "v1", "fb_publish_sent_at": sent})
    with pytest.raises(ProcessingTimeout) as timeout:
        run(platform().publish, late)
    assert timeout.value.decision is Decision.UNKNOWN


def test_a_video_status_error_fails_the_post(api: FakeApi) -> None:
    api.on("POST", VIDEOS, ok({"id": "v1"}))
    api.on("GET", f"{GRAPH}/v1", video_reads(FAILED))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx_for(api, "video", [VIDEO]))
    assert caught.value.decision is Decision.FAIL
    saved = {"fb_video_id": "v1", "fb_publish_sent_at": NOW.isoformat()}
    result = run(platform().reconcile, ctx_for(api, "video", [VIDEO], saved=saved))
    assert result.status is ReconcileStatus.FAILED


def test_reconcile_a_processing_video_is_pending(api: FakeApi) -> None:
    api.on("GET", f"{GRAPH}/v1", video_reads(PROCESSING_))
    saved = {"fb_video_id": "v1", "fb_publish_sent_at": NOW.isoformat()}
    result = run(platform().reconcile, ctx_for(api, "video", [VIDEO], saved=saved))
    assert result.status is ReconcileStatus.PENDING


# -- reels: the Reels Publishing API -------------------------------------------------------

REELS = f"{PAGE}/video_reels"
RUPLOAD = "https://rupload.facebook.com/video-upload/v25.0/v1"
REEL = ("https://cdn.test/r.mp4", "video")


def reel_api(
    api: FakeApi,
    *statuses: dict[str, Any],
    finish: Any = None,
    edge: str = REELS,
    finished: dict[str, Any] | None = None,
) -> None:
    """A reel's calls (or a video story's, on its ``edge``): ``finish`` answers each finish
    in turn (a list; the last repeats; None: ``finished``, the guide's success answer), an
    exception type standing for a finish whose answer is lost."""
    start = ok({"video_id": "v1", "upload_url": RUPLOAD})
    answers = list(finish) if isinstance(finish, list) else [finish]
    answers = [ok(finished or {"success": True}) if a is None else a for a in answers]

    def video_reels(request: httpx.Request) -> httpx.Response:
        phase = form(request)["upload_phase"]
        if phase == "start":
            return start
        done = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(done, type):
            raise done("simulated network failure", request=request)
        return done

    api.on("POST", edge, video_reels)
    api.on("POST", RUPLOAD, ok({"success": True}))
    api.on("GET", f"{GRAPH}/v1", video_reads(*(statuses or (READY,))))


def phases(api: FakeApi, edge: str = REELS) -> list[str]:
    return [form(r)["upload_phase"] for r in api.calls("POST", edge)]


def test_a_reel_takes_the_reels_flow(api: FakeApi) -> None:
    reel_api(api, UPLOADED, PROCESSING_, READY)
    ctx = ctx_for(api, "reel", [REEL])
    assert run(platform().publish, ctx) == Published("55_9", VIDEO_LINK)
    assert api.count("POST", VIDEOS) == 0
    assert phases(api) == ["start", "finish"]
    finish = form(api.calls("POST", REELS)[1])
    assert finish == {
        "upload_phase": "finish",
        "video_id": "v1",
        "video_state": "PUBLISHED",
        "description": "Hello world",
    }
    upload = api.calls("POST", RUPLOAD)[0]
    assert upload.headers["Authorization"].startswith("OAuth ")
    assert upload.headers["file_url"] == REEL[0]
    assert before(api.log, "save fb_video_id='v1'", "POST /video-upload/v25.0/v1")
    assert before(api.log, "save fb_reel_uploaded=True", "save fb_publish_sent_at")
    log = [entry for entry in api.log if entry.startswith(("save fb_publish", "POST"))]
    assert log[-2:] == [log[-2], "POST /v25.0/55/video_reels"]
    assert log[-2].startswith("save fb_publish_sent_at")
    assert status_reads(api) == 3
    assert ctx.saved_ids["fb_post_id"] == "55_9"


def test_the_upload_host_follows_the_setting(api: FakeApi) -> None:
    reel_api(api)
    api.on("POST", "http://127.0.0.1:9/rupload/video-upload/v25.0/v1", ok({"success": True}))
    custom = FacebookPlatform(
        make_settings(facebook_upload_base="http://127.0.0.1:9/rupload"),
        throttle=UsageThrottle(),
        clock=lambda: NOW,
    )
    run(custom.publish, ctx_for(api, "reel", [REEL]))
    (upload,) = [r for r in api.requests if r.url.host == "127.0.0.1"]
    assert upload.url.path == "/rupload/video-upload/v25.0/v1"


def test_a_reel_processing_is_handed_back_then_resumed_without_a_second_finish(
    api: FakeApi,
) -> None:
    reel_api(api, PROCESSING_)
    ctx = ctx_for(api, "reel", [REEL])
    ctx.processing_wait = stop_waiting(0)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.WAIT
    assert ctx.saved_ids["fb_reel_finished"] is True
    api.on("GET", f"{GRAPH}/v1", video_reads(READY))
    again = ctx_for(api, "reel", [REEL], saved=dict(ctx.saved_ids))
    assert run(platform().publish, again) == Published("55_9", VIDEO_LINK)
    assert phases(api) == ["start", "finish"]
    assert api.count("POST", RUPLOAD) == 1


def test_a_lost_finish_answer_reads_the_status_and_never_finishes_again(api: FakeApi) -> None:
    # The finish went through, its answer was lost: the status shows it publishing.
    reel_api(api, status("processing", "in_progress", "in_progress", None), READY,
             finish=httpx.ReadTimeout)  # fmt: skip
    ctx = ctx_for(api, "reel", [REEL])
    assert run(platform().publish, ctx) == Published("55_9", VIDEO_LINK)
    assert phases(api) == ["start", "finish"]


# Processed, never published: the guide's status after an upload whose finish was not taken.
NOT_TAKEN = status("ready", "complete", "not_started", None)


def test_a_lost_finish_the_status_shows_not_taken_is_sent_again_for_the_same_video(
    api: FakeApi,
) -> None:
    # The finish never reached Meta: the status shows no publishing, so it is sent again
    # for the same video id (one video is one reel at most) and the reel goes live.
    reel_api(api, NOT_TAKEN, READY, finish=[httpx.ReadTimeout, None])
    ctx = ctx_for(api, "reel", [REEL])
    assert run(platform().publish, ctx) == Published("55_9", VIDEO_LINK)
    assert phases(api) == ["start", "finish", "finish"]  # never a second start
    first, second = (form(r) for r in api.calls("POST", REELS)[1:])
    assert first == second and second["video_id"] == "v1"
    assert api.count("POST", RUPLOAD) == 1
    assert ctx.saved_ids["fb_reel_finished"] is True and ctx.saved_ids["fb_post_id"] == "55_9"
    # The resend keeps the first finish's time (the processing bound counts from it).
    assert [c for c in saver(ctx).calls if "fb_publish_sent_at" in c] == [
        {"fb_publish_sent_at": NOW.isoformat()}
    ]


def test_an_unclear_finish_of_an_earlier_attempt_is_resent_when_not_taken(api: FakeApi) -> None:
    reel_api(api, NOT_TAKEN, NOT_TAKEN, READY)  # reconcile's read, the publish's, then live
    saved = {"fb_video_id": "v1", "fb_reel_uploaded": True, "fb_publish_sent_at": NOW.isoformat()}
    # Reconcile says not live (publishing again resends, never starts anew) ...
    result = run(platform().reconcile, ctx_for(api, "reel", [REEL], saved=dict(saved)))
    assert result.status is ReconcileStatus.NOT_LIVE
    # ... and the publish does.
    assert run(platform().publish, ctx_for(api, "reel", [REEL], saved=saved)).platform_post_id
    assert phases(api) == ["finish"]


def test_a_resent_finish_unanswered_too_goes_to_a_person(api: FakeApi) -> None:
    reel_api(api, NOT_TAKEN, finish=httpx.ReadTimeout)
    ctx = ctx_for(api, "reel", [REEL])
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.UNKNOWN
    assert phases(api) == ["start", "finish", "finish"]  # resent once, not again


def test_a_resent_finish_refused_with_publishing_shown_waits_for_the_reel(api: FakeApi) -> None:
    # Refused for good: perhaps the first was taken and the status lagged. The status is
    # read once more; it shows publishing now, so the reel is waited for.
    reel_api(api, NOT_TAKEN, PUBLISHING, READY, finish=[httpx.ReadTimeout, graph_error(100)])
    assert run(platform().publish, ctx_for(api, "reel", [REEL])).platform_post_id == "55_9"
    assert phases(api) == ["start", "finish", "finish"]


def test_a_resent_finish_refused_with_no_publishing_goes_to_a_person(api: FakeApi) -> None:
    reel_api(api, NOT_TAKEN, finish=[httpx.ReadTimeout, graph_error(100)])
    ctx = ctx_for(api, "reel", [REEL])
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.UNKNOWN and "refused" in caught.value.message
    assert ctx.saved_ids["fb_publish_sent_at"]  # the first finish is still unclear


def test_a_resent_finish_refused_for_a_while_leaves_it_for_the_next_attempt(api: FakeApi) -> None:
    reel_api(api, NOT_TAKEN, finish=[httpx.ReadTimeout, graph_error(4, status=400)])
    ctx = ctx_for(api, "reel", [REEL])
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is not Decision.FAIL
    assert ctx.saved_ids["fb_publish_sent_at"] and "fb_reel_finished" not in ctx.saved_ids


def test_a_lost_finish_while_processing_waits_for_the_status_to_tell(api: FakeApi) -> None:
    reel_api(api, PROCESSING_, finish=httpx.ReadTimeout)
    ctx = ctx_for(api, "reel", [REEL])
    ctx.processing_wait = stop_waiting(0)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.WAIT
    result = run(platform().reconcile, ctx_for(api, "reel", [REEL], saved=dict(ctx.saved_ids)))
    assert result.status is ReconcileStatus.PENDING
    assert phases(api) == ["start", "finish"]


def test_a_clear_finish_refusal_clears_the_marker_and_keeps_the_upload(api: FakeApi) -> None:
    reel_api(api, finish=graph_error(100))
    ctx = ctx_for(api, "reel", [REEL])
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert "fb_publish_sent_at" not in ctx.saved_ids
    assert ctx.saved_ids["fb_video_id"] == "v1" and ctx.saved_ids["fb_reel_uploaded"] is True


def test_a_reel_resumes_from_its_saved_video_id(api: FakeApi) -> None:
    # Died after start: the upload and finish use the saved video, no second start.
    reel_api(api)
    ctx = ctx_for(api, "reel", [REEL], saved={"fb_video_id": "v1"})
    assert run(platform().publish, ctx).platform_post_id == "55_9"
    assert phases(api) == ["finish"]
    assert api.count("POST", RUPLOAD) == 1


@pytest.mark.parametrize(
    ("saved", "reads", "expected"),
    [
        ({}, READY, ReconcileStatus.NOT_LIVE),
        ({"fb_video_id": "v1", "fb_reel_uploaded": True}, READY, ReconcileStatus.NOT_LIVE),
        ({"fb_video_id": "v1", "fb_reel_finished": True}, READY, ReconcileStatus.LIVE),
        ({"fb_video_id": "v1", "fb_reel_finished": True}, PROCESSING_, ReconcileStatus.PENDING),
        ({"fb_video_id": "v1", "fb_reel_finished": True}, FAILED, ReconcileStatus.FAILED),
    ],
)
def test_reconcile_a_reel(
    api: FakeApi, saved: dict[str, Any], reads: dict[str, Any], expected: ReconcileStatus
) -> None:
    if saved.get("fb_reel_finished"):
        saved = {**saved, "fb_publish_sent_at": NOW.isoformat()}
    api.on("GET", f"{GRAPH}/v1", video_reads(reads))
    result = run(platform().reconcile, ctx_for(api, "reel", [REEL], saved=saved))
    assert result.status is expected
    assert api.count("POST", REELS) == 0


def test_a_refused_upload_is_not_marked_and_never_finishes(api: FakeApi) -> None:
    reel_api(api)
    refused = {"debug_info": {"retriable": False, "type": "ParameterValidationError"}}
    api.routes[("POST", httpx.URL(RUPLOAD).path)] = [ok(refused, status=400)]
    ctx = ctx_for(api, "reel", [REEL])
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert "ParameterValidationError" in caught.value.message
    assert "fb_reel_uploaded" not in ctx.saved_ids and phases(api) == ["start"]
    assert_token_safe(api, caught.value.message)


# -- stories: the Page Stories API (https://developers.facebook.com/docs/page-stories-api) --

PHOTO_STORIES, VIDEO_STORIES = f"{PAGE}/photo_stories", f"{PAGE}/video_stories"
STORIES = f"{PAGE}/stories"
STORY_LINK = "https://facebook.com/stories/8283482737484972"
STORY_VIDEO = ("https://cdn.test/s.mp4", "video")
# The guide's answer to photo_stories and to a video story's finish: its post_id a number.
STORY_DONE = {"success": True, "post_id": 1234}


def story_ctx(api: FakeApi, media: tuple[str, str] = IMAGE, **kwargs: Any) -> Any:
    return make_ctx(make_post("story", [media], caption=""), account_id="55", api=api, **kwargs)


def listed(media_id: str = "p1", post_id: str = "1234", kind: str = "photo") -> httpx.Response:
    """GET /{page}/stories as the guide's "Get stories" prints it (one more story first)."""

    def story(post: str, media: str, media_type: str, url: str) -> dict[str, str]:
        return {
            "post_id": post,
            "status": "PUBLISHED",
            "creation_time": "1772366401",
            "media_type": media_type,
            "media_id": media,
            "url": url,
        }

    other = story("99", "v99", "video", "https://facebook.com/stories/9")
    return ok({"data": [other, story(post_id, media_id, kind, STORY_LINK)]})


def test_a_photo_story_uploads_the_photo_unpublished_then_publishes_the_story(
    api: FakeApi,
) -> None:
    api.on("POST", PHOTOS, ok({"id": "p1"}))
    api.on("POST", PHOTO_STORIES, ok(STORY_DONE))
    api.on("GET", STORIES, listed())
    ctx = story_ctx(api)
    assert run(platform().publish, ctx) == Published("1234", STORY_LINK)
    assert form(api.calls("POST", PHOTOS)[0]) == {"published": "false", "url": IMAGE[0]}
    assert form(api.calls("POST", PHOTO_STORIES)[0]) == {"photo_id": "p1"}
    assert before(api.log, "save fb_photo_ids=['p1']", "POST /v25.0/55/photo_stories")
    assert before(api.log, "save fb_publish_sent_at", "POST /v25.0/55/photo_stories")
    assert before(api.log, "save fb_post_id='1234'", "GET /v25.0/55/stories")
    assert ctx.saved_ids["fb_post_id"] == "1234"
    assert api.count("POST", FEED) == 0
    assert_token_safe(api)


def test_a_local_photo_story_is_uploaded_as_multipart_source(api: FakeApi, tmp_path: Path) -> None:
    image = tmp_path / "story.png"
    image.write_bytes(b"\x89PNG-bytes")
    api.on("POST", PHOTOS, ok({"id": "p1"}))
    api.on("POST", PHOTO_STORIES, ok(STORY_DONE))
    api.on("GET", STORIES, listed())
    run(platform().publish, story_ctx(api, (str(image), "image")))
    request = api.calls("POST", PHOTOS)[0]
    assert b'name="source"; filename="story.png"' in request.content
    assert b'name="published"' in request.content and b"caption" not in request.content


def test_a_lost_photo_upload_answer_uploads_again_and_publishes_one_story(api: FakeApi) -> None:
    # An unpublished photo is invisible: a lost answer leaves one nobody sees.
    api.on("POST", PHOTOS, httpx.ReadTimeout, ok({"id": "p2"}))
    api.on("POST", PHOTO_STORIES, ok(STORY_DONE))
    api.on("GET", STORIES, listed("p2"))
    ctx = story_ctx(api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.RETRY and ctx.saved_ids == {}
    again = story_ctx(api, saved=dict(ctx.saved_ids))
    assert run(platform().publish, again).platform_post_id == "1234"
    assert form(api.calls("POST", PHOTO_STORIES)[0]) == {"photo_id": "p2"}
    assert api.count("POST", PHOTO_STORIES) == 1


def test_a_saved_photo_id_is_reused_not_uploaded_again(api: FakeApi) -> None:
    api.on("POST", PHOTO_STORIES, ok(STORY_DONE))
    api.on("GET", STORIES, listed())
    run(platform().publish, story_ctx(api, saved={"fb_photo_ids": ["p1"]}))
    assert api.count("POST", PHOTOS) == 0 and api.count("POST", PHOTO_STORIES) == 1


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout, graph_error(2), httpx.Response(500, text="")]
)
def test_an_unclear_photo_stories_answer_finds_the_story_by_its_photo(
    api: FakeApi, failure: Any
) -> None:
    api.on("POST", PHOTOS, ok({"id": "p1"}))
    api.on("POST", PHOTO_STORIES, failure)
    api.on("GET", STORIES, ok({"data": []}), listed())  # the list catches up on a second look
    ctx = story_ctx(api)
    assert run(platform().publish, ctx) == Published("1234", STORY_LINK)
    assert api.count("POST", PHOTO_STORIES) == 1
    assert ctx.saved_ids["fb_post_id"] == "1234"
    assert int(api.calls("GET", STORIES)[0].url.params["since"]) <= int(NOW.timestamp())


def test_an_unclear_photo_story_not_found_goes_to_a_person_and_is_never_sent_again(
    api: FakeApi,
) -> None:
    api.on("POST", PHOTOS, ok({"id": "p1"}))
    api.on("POST", PHOTO_STORIES, httpx.ReadTimeout)
    api.on("GET", STORIES, listed("another-photo"))
    ctx = story_ctx(api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.UNKNOWN
    assert ctx.saved_ids["fb_publish_sent_at"] and ctx.saved_ids["fb_photo_ids"] == ["p1"]
    # The next attempt looks again, and never publishes blindly.
    with pytest.raises(PlatformError) as again:
        run(platform().publish, story_ctx(api, saved=dict(ctx.saved_ids)))
    assert again.value.decision is Decision.UNKNOWN
    assert api.count("POST", PHOTO_STORIES) == 1 and api.count("POST", PHOTOS) == 1


def test_a_photo_stories_refusal_clears_the_marker_and_keeps_the_photo(api: FakeApi) -> None:
    api.on("POST", PHOTOS, ok({"id": "p1"}))
    api.on("POST", PHOTO_STORIES, graph_error(100))
    ctx = story_ctx(api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert "fb_publish_sent_at" not in ctx.saved_ids and ctx.saved_ids["fb_photo_ids"] == ["p1"]


def test_a_story_answered_without_a_post_id_is_found_by_its_photo(api: FakeApi) -> None:
    api.on("POST", PHOTOS, ok({"id": "p1"}))
    api.on("POST", PHOTO_STORIES, ok({"success": True}))
    api.on("GET", STORIES, listed())
    assert run(platform().publish, story_ctx(api)) == Published("1234", STORY_LINK)


def test_a_story_post_id_that_is_not_an_id_is_never_saved_or_used(api: FakeApi) -> None:
    # Answered and listed with a post id that is no id: the photo's id stands in.
    api.on("POST", PHOTOS, ok({"id": "p1"}))
    api.on("POST", PHOTO_STORIES, ok({"success": True, "post_id": "../me"}))
    api.on("GET", STORIES, listed(post_id="../me"))
    ctx = story_ctx(api)
    assert run(platform().publish, ctx) == Published("p1", STORY_LINK)
    assert ctx.saved_ids["fb_post_id"] == "p1"
    assert not any(".." in r.url.path for r in api.requests)


def test_a_live_story_whose_list_fails_keeps_its_post_id(api: FakeApi) -> None:
    api.on("POST", PHOTOS, ok({"id": "p1"}))
    api.on("POST", PHOTO_STORIES, ok(STORY_DONE))
    api.on("GET", STORIES, graph_error(2, status=500))
    assert run(platform().publish, story_ctx(api)) == Published("1234")


SENT = {"fb_photo_ids": ["p1"], "fb_publish_sent_at": NOW.isoformat()}


@pytest.mark.parametrize(
    ("saved", "stories", "expected"),
    [
        ({}, None, ReconcileStatus.NOT_LIVE),
        ({"fb_photo_ids": ["p1"]}, None, ReconcileStatus.NOT_LIVE),  # an unpublished photo
        (SENT, listed(), ReconcileStatus.LIVE),
        (SENT, ok({"data": []}), ReconcileStatus.UNKNOWN),
        ({**SENT, "fb_post_id": "1234"}, listed(), ReconcileStatus.LIVE),
    ],
)
def test_reconcile_a_photo_story(
    api: FakeApi, saved: dict[str, Any], stories: httpx.Response | None, expected: ReconcileStatus
) -> None:
    if stories is not None:
        api.on("GET", STORIES, stories)
    result = run(platform().reconcile, story_ctx(api, saved=saved))
    assert result.status is expected
    if expected is ReconcileStatus.LIVE:
        assert result.published == Published("1234", STORY_LINK)
    assert api.count("POST", PHOTO_STORIES) == 0 and api.count("POST", PHOTOS) == 0


def video_story_api(api: FakeApi, *statuses: dict[str, Any], finish: Any = None) -> None:
    reel_api(api, *statuses, finish=finish, edge=VIDEO_STORIES, finished=STORY_DONE)
    api.on("GET", STORIES, listed("v1", kind="video"))


def test_a_video_story_takes_the_upload_session_and_waits_for_the_status(api: FakeApi) -> None:
    video_story_api(api, UPLOADED, PROCESSING_, READY)
    ctx = story_ctx(api, STORY_VIDEO)
    assert run(platform().publish, ctx) == Published("1234", STORY_LINK)
    assert phases(api, VIDEO_STORIES) == ["start", "finish"]
    # The finish names the video alone: a story takes no text and no video_state.
    assert form(api.calls("POST", VIDEO_STORIES)[1]) == {"upload_phase": "finish", "video_id": "v1"}
    upload = api.calls("POST", RUPLOAD)[0]
    assert upload.headers["file_url"] == STORY_VIDEO[0]
    assert upload.headers["Authorization"].startswith("OAuth ")
    assert before(api.log, "save fb_video_id='v1'", "POST /video-upload/v25.0/v1")
    finish = api.log.index("POST /v25.0/55/video_stories", 1)  # the second: the finish
    assert api.log[finish - 1].startswith("save fb_publish_sent_at")
    # The finish's post id is saved at once; the post is live only once the status says so.
    assert before(api.log, "save fb_story_post_id='1234'", "GET /v25.0/v1")
    assert status_reads(api) == 3 and ctx.saved_ids["fb_post_id"] == "1234"
    assert api.count("POST", REELS) == 0 and api.count("POST", VIDEOS) == 0
    assert_token_safe(api)


def test_a_lost_video_story_start_answer_leaves_nothing_and_starts_anew(api: FakeApi) -> None:
    video_story_api(api)
    api.routes[("POST", httpx.URL(VIDEO_STORIES).path)].insert(0, httpx.ReadTimeout)
    ctx = story_ctx(api, STORY_VIDEO)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.RETRY and ctx.saved_ids == {}
    assert api.count("POST", RUPLOAD) == 0


def test_a_lost_video_story_finish_answer_reads_the_status_and_never_finishes_again(
    api: FakeApi,
) -> None:
    video_story_api(api, PUBLISHING, READY, finish=httpx.ReadTimeout)
    ctx = story_ctx(api, STORY_VIDEO)
    # The finish's answer (its post id) was lost: the Page's stories give it.
    assert run(platform().publish, ctx) == Published("1234", STORY_LINK)
    assert phases(api, VIDEO_STORIES) == ["start", "finish"]
    assert "fb_story_post_id" not in ctx.saved_ids and ctx.saved_ids["fb_post_id"] == "1234"


def test_a_video_story_finish_that_never_arrived_is_sent_again_for_the_same_video(
    api: FakeApi,
) -> None:
    video_story_api(api, NOT_TAKEN, READY, finish=[httpx.ReadTimeout, None])
    ctx = story_ctx(api, STORY_VIDEO)
    assert run(platform().publish, ctx).platform_post_id == "1234"
    assert phases(api, VIDEO_STORIES) == ["start", "finish", "finish"]  # never a second start
    assert api.count("POST", RUPLOAD) == 1


def test_a_video_story_in_error_fails(api: FakeApi) -> None:
    video_story_api(api, GUIDE_PROCESSING_ERROR)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, story_ctx(api, STORY_VIDEO))
    assert caught.value.decision is Decision.FAIL and "540p" in caught.value.message


@pytest.mark.parametrize(
    ("saved", "reads", "expected"),
    [
        ({}, READY, ReconcileStatus.NOT_LIVE),
        ({"fb_video_id": "v1", "fb_reel_uploaded": True}, READY, ReconcileStatus.NOT_LIVE),
        ({"fb_video_id": "v1", "fb_publish_sent_at": "x"}, NOT_TAKEN, ReconcileStatus.NOT_LIVE),
        ({"fb_video_id": "v1", "fb_publish_sent_at": "x"}, READY, ReconcileStatus.LIVE),
        ({"fb_video_id": "v1", "fb_reel_finished": True}, PROCESSING_, ReconcileStatus.PENDING),
        ({"fb_video_id": "v1", "fb_reel_finished": True}, FAILED, ReconcileStatus.FAILED),
    ],
)
def test_reconcile_a_video_story(
    api: FakeApi, saved: dict[str, Any], reads: dict[str, Any], expected: ReconcileStatus
) -> None:
    if saved.get("fb_reel_finished"):
        saved = {**saved, "fb_publish_sent_at": NOW.isoformat()}
    video_story_api(api, reads)
    result = run(platform().reconcile, story_ctx(api, STORY_VIDEO, saved=saved))
    assert result.status is expected
    if expected is ReconcileStatus.LIVE:
        assert result.published == Published("1234", STORY_LINK)
    assert api.count("POST", VIDEO_STORIES) == 0


# -- local videos: streamed from the media root ----------------------------------------------


def uploading(sent: int) -> dict[str, Any]:
    """A video's status with ``sent`` bytes of its upload arrived (the Reels Publishing
    guide's ``uploading_phase.bytes_transferred``)."""
    return {**UPLOADED, "uploading_phase": {"status": "in_progress", "bytes_transferred": sent}}


def test_a_local_reel_is_streamed_to_rupload_with_offset_and_file_size(
    api: FakeApi, video: Path
) -> None:
    reel_api(api, uploading(0), UPLOADED, READY)
    ctx = ctx_for(api, "reel", [(str(video), "video")])
    assert run(platform().publish, ctx) == Published("55_9", VIDEO_LINK)
    (upload,) = api.calls("POST", RUPLOAD)
    assert upload.headers["offset"] == "0"
    assert upload.headers["file_size"] == str(video.stat().st_size)
    assert upload.headers["Authorization"].startswith("OAuth ")
    assert "file_url" not in upload.headers
    assert upload.content == video.read_bytes()
    assert before(api.log, "save fb_video_id='v1'", "POST /video-upload/v25.0/v1")
    assert phases(api) == ["start", "finish"]
    assert_token_safe(api)


def test_a_local_reel_upload_resumes_from_the_bytes_the_status_reports(
    api: FakeApi, video: Path
) -> None:
    reel_api(api, uploading(1000), UPLOADED, READY)
    saved = {"fb_video_id": "v1"}  # an earlier attempt was stopped mid-upload
    run(platform().publish, ctx_for(api, "reel", [(str(video), "video")], saved=saved))
    (upload,) = api.calls("POST", RUPLOAD)
    assert upload.headers["offset"] == "1000"
    assert upload.content == video.read_bytes()[1000:]
    assert api.count("POST", REELS) == 1  # the finish only: never a second start


def test_a_local_video_story_whose_upload_all_arrived_is_not_sent_again(
    api: FakeApi, video: Path
) -> None:
    stories = f"{PAGE}/video_stories"
    size = video.stat().st_size
    reel_api(api, uploading(size), READY, edge=stories, finished={"success": True, "post_id": 7})
    api.on("GET", f"{PAGE}/stories", ok({"data": []}))
    ctx = ctx_for(api, "story", [(str(video), "video")], saved={"fb_video_id": "v1"})
    ctx.post = make_post("story", [(str(video), "video")], caption="")
    run(platform().publish, ctx)
    assert api.count("POST", RUPLOAD) == 0
    assert phases(api, stories) == ["finish"]


SESSION = {"video_id": "v1", "upload_session_id": "s1", "start_offset": "0", "end_offset": "1024"}


def video_session(api: FakeApi, *transfers: Any, finish: Any = None) -> None:
    """/videos's resumable upload: start answers SESSION, each transfer the next offsets in
    turn (as the Video API's publishing guide shows them), finish ``{success: true}``."""
    queue = list(transfers)

    def videos(request: httpx.Request) -> httpx.Response:
        body = request.content
        if b'name="upload_phase"\r\n\r\ntransfer' in body:
            reply = queue.pop(0)
            if isinstance(reply, httpx.Response):
                return reply
            return ok({"start_offset": str(reply[0]), "end_offset": str(reply[1])})
        phase = form(request).get("upload_phase")
        if phase == "start":
            return ok(SESSION)
        if isinstance(finish, type):
            raise finish("simulated network failure", request=request)
        return finish or ok({"success": True})

    api.on("POST", VIDEOS, videos)
    api.on("GET", f"{GRAPH}/v1", video_reads(PROCESSING_, READY))


def video_phase(request: httpx.Request) -> str:
    """A /videos call's upload_phase: a transfer is multipart (its chunk), the rest forms."""
    if b"video_file_chunk" in request.content:
        return "transfer"
    return form(request).get("upload_phase", "")


def transfers(api: FakeApi) -> list[httpx.Request]:
    return [r for r in api.calls("POST", VIDEOS) if b"video_file_chunk" in r.content]


def test_a_local_video_takes_the_resumable_upload_start_transfer_finish(
    api: FakeApi, video: Path
) -> None:
    size = video.stat().st_size  # 3072
    video_session(api, (1024, 3072), (3072, 3072))
    ctx = ctx_for(api, "video", [(str(video), "video")], options={"title": "My video"})
    assert run(platform().publish, ctx) == Published("55_9", VIDEO_LINK)
    start, *_, finish = api.calls("POST", VIDEOS)
    assert [video_phase(r) for r in api.calls("POST", VIDEOS)] == [
        "start",
        "transfer",
        "transfer",
        "finish",
    ]
    assert form(start) == {"upload_phase": "start", "file_size": str(size)}
    assert form(finish) == {
        "upload_phase": "finish",
        "upload_session_id": "s1",
        "description": "Hello world",
        "title": "My video",
    }
    first, second = transfers(api)
    data = video.read_bytes()
    assert b'name="start_offset"\r\n\r\n0\r\n' in first.content
    assert data[:1024] in first.content and data[:1025] not in first.content
    assert b'name="start_offset"\r\n\r\n1024\r\n' in second.content
    assert data[1024:] in second.content
    assert b'name="upload_session_id"\r\n\r\ns1\r\n' in second.content
    saves = saver(ctx).calls
    assert saves[0] == {
        "fb_upload_session_id": "s1",
        "fb_upload_video_id": "v1",
        "fb_upload_range": [0, 1024],
    }
    assert {"fb_upload_range": [1024, 3072]} in saves
    assert before(api.log, "save fb_publish_sent_at", "save fb_video_id='v1'")
    assert ctx.saved_ids["fb_post_id"] == "55_9"
    assert_token_safe(api)


def test_a_local_video_resumes_its_session_from_the_saved_range(api: FakeApi, video: Path) -> None:
    video_session(api, (3072, 3072))
    saved = {
        "fb_upload_session_id": "s1",
        "fb_upload_video_id": "v1",
        "fb_upload_range": [1024, 3072],
    }
    run(platform().publish, ctx_for(api, "video", [(str(video), "video")], saved=saved))
    phases_sent = [video_phase(r) for r in api.calls("POST", VIDEOS)]
    assert phases_sent == ["transfer", "finish"]
    (transfer,) = transfers(api)
    assert b'name="start_offset"\r\n\r\n1024\r\n' in transfer.content


def test_a_refused_transfer_drops_the_session_for_a_new_one(api: FakeApi, video: Path) -> None:
    refused = graph_error(100, "(#100) upload session expired", status=400)
    video_session(api, refused)
    ctx = ctx_for(api, "video", [(str(video), "video")])
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.RETRY
    assert ctx.saved_ids.get("fb_upload_session_id") is None
    assert "fb_publish_sent_at" not in ctx.saved_ids or not ctx.saved_ids["fb_publish_sent_at"]


def test_a_lost_finish_answer_never_sends_a_second_finish(api: FakeApi, video: Path) -> None:
    video_session(api, (3072, 3072), finish=httpx.ReadTimeout)
    api.on("GET", f"{PAGE}/videos", ok({"data": []}))
    ctx = ctx_for(api, "video", [(str(video), "video")])
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.UNKNOWN
    with pytest.raises(PlatformError):
        run(platform().publish, ctx)  # the next attempt looks, never finishes again
    sent = [video_phase(r) for r in api.calls("POST", VIDEOS)]
    assert sent == ["start", "transfer", "finish"]


def test_a_local_video_over_the_cap_is_refused_before_any_call(api: FakeApi, video: Path) -> None:
    small = FacebookPlatform(make_settings(), throttle=UsageThrottle(), clock=lambda: NOW)
    ctx = ctx_for(api, "video", [(str(video), "video")])
    from studio_publish.platforms.facebook import SPEC

    cap = SPEC.upload_cap("video", "video")
    assert cap == 4 * 1024**3
    with open(video, "ab") as handle:  # a sparse file just over the cap: nothing is read
        handle.truncate(cap + 1)
    with pytest.raises(PlatformError) as caught:
        run(small.publish, ctx)
    assert caught.value.decision is Decision.INVALID
    assert api.requests == []
