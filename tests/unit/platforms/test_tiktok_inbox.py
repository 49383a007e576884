"""TikTok's inbox (post_mode=inbox): the documented init shapes, SEND_TO_USER_INBOX as the
outcome, the lost-answer rule at init, and the pending-share refusal.

Shapes from https://developers.tiktok.com/doc/content-posting-api-reference-upload-video
(the inbox video init: source_info alone), https://developers.tiktok.com/doc/content-posting-api-reference-photo-post
(post_mode=MEDIA_UPLOAD) and https://developers.tiktok.com/doc/content-posting-api-reference-get-video-status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from support.platform_fakes import (
    NOW,
    TIKTOK,
    FakeApi,
    assert_token_safe,
    before,
    body_json,
    make_ctx,
    make_post,
    make_settings,
    ok,
    run,
    tiktok_error,
    tiktok_ok,
)
from support.platform_fakes import api_fixture as api_fixture  # the `api` fixture

from studio_publish.domain import Published
from studio_publish.platforms.base import Decision, PlatformError, ReconcileStatus
from studio_publish.platforms.tiktok import INBOX_DELIVERED
from studio_publish.platforms.tiktok.api import PENDING_SHARE_WAIT
from studio_publish.platforms.tiktok.client import TikTokPlatform

# No creator_info route: an inbox post that read it would fail on "unexpected request".
INBOX_INIT = f"{TIKTOK}/v2/post/publish/inbox/video/init/"
PHOTO_INIT = f"{TIKTOK}/v2/post/publish/content/init/"
STATUS = f"{TIKTOK}/v2/post/publish/status/fetch/"
UPLOAD = "https://upload.tiktok.test/video/?upload_id=1&upload_token=secret-upload"
INBOX = {"post_mode": "inbox"}
PULL = {"tiktok_pull_from_url": True}
URL = "https://cdn.test/v.mp4"
PUBLISH_ID = "v_inbox_file~v2-1.7"


def platform() -> TikTokPlatform:
    return TikTokPlatform(make_settings(), clock=lambda: NOW)


def inbox_video(api: FakeApi, media: str, **kwargs: Any) -> Any:
    post = make_post("video", [(media, "video")], caption="", options=INBOX)
    return make_ctx(post, api=api, **kwargs)


def delivered() -> httpx.Response:
    # The status reference's outcome of the inbox flow; no post id: nothing is public yet.
    return tiktok_ok({"status": "SEND_TO_USER_INBOX", "publicaly_available_post_id": []})


def test_an_inbox_video_is_uploaded_and_posted_once_delivered(api: FakeApi, video: Path) -> None:
    api.on("POST", INBOX_INIT, tiktok_ok({"publish_id": PUBLISH_ID, "upload_url": UPLOAD}))
    api.on("PUT", UPLOAD, ok(status=201))
    api.on("POST", STATUS, tiktok_ok({"status": "PROCESSING_UPLOAD"}), delivered())
    ctx = inbox_video(api, str(video))
    tiktok = platform()
    run(tiktok.prepare, ctx)  # reads nothing: the inbox needs no creator_info
    assert api.requests == []
    assert run(tiktok.publish, ctx) == Published(PUBLISH_ID)  # no permalink
    # source_info alone: the inbox video init documents no post_info.
    assert body_json(api.calls("POST", INBOX_INIT)[0]) == {
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": 3072,
            "chunk_size": 3072,
            "total_chunk_count": 1,
        }
    }
    assert api.calls("PUT", UPLOAD)[0].content == video.read_bytes()
    assert before(api.log, "save tiktok_init_sent_at", "POST /v2/post/publish/inbox/video/init/")
    assert before(api.log, f"save tiktok_publish_id={PUBLISH_ID!r}", "PUT /video/")
    assert ctx.saved_ids[INBOX_DELIVERED] == NOW.isoformat()
    assert_token_safe(api)


def test_an_inbox_video_tiktok_pulls_from_a_url(api: FakeApi) -> None:
    api.on("POST", INBOX_INIT, tiktok_ok({"publish_id": "v_inbox_url~v2-1.8"}))
    api.on("POST", STATUS, tiktok_ok({"status": "PROCESSING_DOWNLOAD"}), delivered())
    result = run(platform().publish, inbox_video(api, URL, account_options=PULL))
    assert result == Published("v_inbox_url~v2-1.8")
    assert body_json(api.calls("POST", INBOX_INIT)[0]) == {
        "source_info": {"source": "PULL_FROM_URL", "video_url": URL}
    }


def test_inbox_photos_go_through_media_upload_with_their_text_only(api: FakeApi) -> None:
    api.on("POST", PHOTO_INIT, tiktok_ok({"publish_id": "p_inbox_url~v2.9"}))
    api.on("POST", STATUS, delivered())
    images = [("https://cdn.test/1.jpg", "image"), ("https://cdn.test/2.jpg", "image")]
    options = {**INBOX, "title": "Trip", "photo_cover_index": 1}
    post = make_post("carousel", images, options=options)
    ctx = make_ctx(post, api=api)
    assert run(platform().publish, ctx) == Published("p_inbox_url~v2.9")
    # Title and description only: privacy, comments, music and the disclosure are "Required
    # for DIRECT POST" or "Only works for post_mode = DIRECT POST"; the creator sets them.
    assert body_json(api.calls("POST", PHOTO_INIT)[0]) == {
        "post_info": {"description": "Hello world", "title": "Trip"},
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_cover_index": 1,
            "photo_images": ["https://cdn.test/1.jpg", "https://cdn.test/2.jpg"],
        },
        "post_mode": "MEDIA_UPLOAD",
        "media_type": "PHOTO",
    }
    assert INBOX_DELIVERED in ctx.saved_ids


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout, tiktok_error("internal_error", 500), httpx.Response(502, text="<html>")],
)
def test_a_lost_inbox_init_answer_is_unknown_and_never_sent_again(
    api: FakeApi, failure: Any
) -> None:
    api.on("POST", INBOX_INIT, failure)
    ctx = inbox_video(api, URL, account_options=PULL)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.UNKNOWN
    assert ctx.saved_ids["tiktok_init_sent_at"]
    with pytest.raises(PlatformError) as again:  # a second inbox post would be a duplicate
        run(platform().publish, ctx)
    assert again.value.decision is Decision.UNKNOWN
    reconciled = run(platform().reconcile, ctx)
    assert reconciled.status is ReconcileStatus.UNKNOWN
    assert api.count("POST", INBOX_INIT) == 1


def test_too_many_pending_shares_waits_for_the_creator_without_an_attempt(api: FakeApi) -> None:
    api.on("POST", INBOX_INIT, tiktok_error("spam_risk_too_many_pending_share", 403))
    ctx = inbox_video(api, URL, account_options=PULL)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    error = caught.value
    assert (error.decision, error.retry_after) == (Decision.WAIT, PENDING_SHARE_WAIT)
    assert "drafts waiting in their TikTok inbox" in error.message
    assert "tiktok_init_sent_at" not in ctx.saved_ids  # a clear refusal: nothing was sent


def test_an_unaudited_app_is_pointed_at_the_inbox(api: FakeApi) -> None:
    creator = {"creator_username": "studio", "privacy_level_options": ["PUBLIC_TO_EVERYONE"]}
    api.on("POST", f"{TIKTOK}/v2/post/publish/creator_info/query/", tiktok_ok(creator))
    code = "unaudited_client_can_only_post_to_private_accounts"
    api.on("POST", f"{TIKTOK}/v2/post/publish/video/init/", tiktok_error(code, 403))
    post = make_post("video", [(URL, "video")], options={"privacy_level": "PUBLIC_TO_EVERYONE"})
    ctx = make_ctx(post, api=api, account_options=PULL)
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert "post_mode=inbox" in caught.value.message


@pytest.mark.parametrize(
    "reply",
    [
        delivered(),
        # The creator already finished it in the app: delivered all the same, no link.
        tiktok_ok({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7301]}),
    ],
)
def test_a_saved_inbox_publish_id_is_settled_from_its_status(
    api: FakeApi, reply: httpx.Response
) -> None:
    api.on("POST", STATUS, reply)
    saved = {"tiktok_publish_id": PUBLISH_ID, "tiktok_init_sent_at": NOW.isoformat()}
    reconciled = run(platform().reconcile, inbox_video(api, URL, saved=dict(saved)))
    assert reconciled.status is ReconcileStatus.LIVE
    assert reconciled.published == Published(PUBLISH_ID)
    ctx = inbox_video(api, URL, saved=dict(saved))
    assert run(platform().publish, ctx) == Published(PUBLISH_ID)  # resumed: status only
    assert INBOX_DELIVERED in ctx.saved_ids
    assert api.count("POST", INBOX_INIT) == 0 and api.count("POST", STATUS) == 2


def test_an_inbox_post_that_failed_is_abandoned_like_a_direct_one(api: FakeApi) -> None:
    api.on(
        "POST", STATUS, tiktok_ok({"status": "FAILED", "fail_reason": "file_format_check_failed"})
    )
    ctx = inbox_video(api, URL, saved={"tiktok_publish_id": PUBLISH_ID})
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert ctx.saved_ids["tiktok_abandoned_publish_id"] == PUBLISH_ID
    assert INBOX_DELIVERED not in ctx.saved_ids
