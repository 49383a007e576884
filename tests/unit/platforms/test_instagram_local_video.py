"""Instagram reels and stories from local files: the resumable upload
(https://developers.facebook.com/docs/instagram-platform/content-publishing/resumable-uploads):
a container made with ``upload_type=resumable``, the file streamed to rupload with
``offset`` and ``file_size``, resumed from the container's ``bytes_transferred``."""

from __future__ import annotations

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
    make_ctx,
    make_post,
    make_settings,
    ok,
    run,
)
from support.platform_fakes import api_fixture as api_fixture  # the `api` fixture

from studio_publish.domain import Published
from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.platforms.graph.usage import UsageThrottle
from studio_publish.platforms.instagram.client import InstagramPlatform

IG = f"{GRAPH}/1789"
MEDIA, PUBLISH = f"{IG}/media", f"{IG}/media_publish"
RUPLOAD = "https://rupload.facebook.com/ig-api-upload/v25.0/c1"
LINK = "https://www.instagram.com/reel/abc/"


def platform() -> InstagramPlatform:
    return InstagramPlatform(make_settings(), throttle=UsageThrottle(), clock=lambda: NOW)


def container_reads(sent: int) -> Any:
    """GET /{container}: ``fields=video_status`` says ``sent`` bytes arrived (the guide's
    "Get Media Status"); the status read says FINISHED."""

    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("fields") == "video_status":
            phase = {"status": "in_progress", "bytes_transferred": sent}
            return ok({"id": "c1", "video_status": {"uploading_phase": phase}})
        return ok({"id": "c1", "status_code": "FINISHED", "status": "Finished"})

    return reply


def flow(api: FakeApi, sent: int = 0) -> None:
    uri = "https://rupload.facebook.com/ig-api-upload/v25.0/c1"
    api.on("POST", MEDIA, ok({"id": "c1", "uri": uri}))
    api.on("GET", f"{GRAPH}/c1", container_reads(sent))
    api.on("POST", RUPLOAD, ok({"success": True, "message": "Upload successful."}))
    api.on("POST", PUBLISH, ok({"id": "m1"}))
    api.on("GET", f"{GRAPH}/m1", ok({"permalink": LINK}))


def test_a_local_reel_takes_the_resumable_upload(api: FakeApi, video: Path) -> None:
    flow(api)
    ctx = make_ctx(make_post("reel", [(str(video), "video")]), api=api)
    assert run(platform().publish, ctx) == Published("m1", LINK)
    assert form(api.calls("POST", MEDIA)[0]) == {
        "media_type": "REELS",
        "upload_type": "resumable",
        "share_to_feed": "true",
        "caption": "Hello world",
    }
    (upload,) = api.calls("POST", RUPLOAD)
    assert upload.headers["Authorization"].startswith("OAuth ")
    assert upload.headers["offset"] == "0"
    assert upload.headers["file_size"] == str(video.stat().st_size)
    assert upload.content == video.read_bytes()
    assert before(api.log, "save ig_container_id='c1'", "POST /ig-api-upload/v25.0/c1")
    assert before(api.log, "save ig_uploaded=True", "save ig_publish_sent_at")
    assert_token_safe(api)


def test_a_local_video_story_has_no_url(api: FakeApi, video: Path) -> None:
    flow(api)
    ctx = make_ctx(make_post("story", [(str(video), "video")], caption=""), api=api)
    run(platform().publish, ctx)
    assert form(api.calls("POST", MEDIA)[0]) == {
        "media_type": "STORIES",
        "upload_type": "resumable",
    }


def test_an_upload_cut_off_resumes_for_the_same_container(api: FakeApi, video: Path) -> None:
    flow(api, sent=2000)
    saved = {"ig_container_id": "c1", "ig_container_created_at": NOW.isoformat()}
    ctx = make_ctx(make_post("reel", [(str(video), "video")]), api=api, saved=saved)
    run(platform().publish, ctx)
    assert api.count("POST", MEDIA) == 0  # never a second container
    (upload,) = api.calls("POST", RUPLOAD)
    assert upload.headers["offset"] == "2000"
    assert upload.content == video.read_bytes()[2000:]
    assert api.count("POST", PUBLISH) == 1


def test_a_lost_upload_answer_is_sent_again_to_the_same_container(
    api: FakeApi, video: Path
) -> None:
    flow(api)
    api.routes[("POST", httpx.URL(RUPLOAD).path)] = []

    def lost(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("lost", request=request)

    api.on("POST", RUPLOAD, lost, ok({"success": True}))
    ctx = make_ctx(make_post("reel", [(str(video), "video")]), api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.RETRY
    assert api.count("POST", PUBLISH) == 0
    run(platform().publish, ctx)  # the next attempt: the same container, the upload again
    assert api.count("POST", MEDIA) == 1
    assert api.count("POST", RUPLOAD) == 2
    assert api.count("POST", PUBLISH) == 1


def test_an_instagram_login_account_is_refused_a_local_video_before_any_call(
    api: FakeApi, video: Path
) -> None:
    post = make_post("reel", [(str(video), "video")])
    ctx = make_ctx(post, api=api, account_options={"login": "instagram"})
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.INVALID
    assert "Facebook Login" in caught.value.message
    assert api.requests == []


def test_a_story_video_over_its_size_is_refused_before_a_container_is_made(
    api: FakeApi, video: Path
) -> None:
    with open(video, "ab") as handle:  # sparse: just over the story's 100 MB
        handle.truncate(100 * 1024**2 + 1)
    ctx = make_ctx(make_post("story", [(str(video), "video")], caption=""), api=api)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.INVALID
    assert api.requests == []
