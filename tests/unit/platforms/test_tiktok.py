"""TikTok: creator_info rules, init, chunk upload, status polling, errors, tokens."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.platform_fakes import (
    NOW,
    TIKTOK,
    TOKEN,
    FakeApi,
    assert_token_safe,
    before,
    body_json,
    form,
    make_ctx,
    make_post,
    make_settings,
    ok,
    run,
    tiktok_error,
    tiktok_ok,
)
from support.platform_fakes import api_fixture as api_fixture  # the `api` fixture

from studio_publish.domain import Account, Published
from studio_publish.platforms.base import (
    Decision,
    PlatformError,
    ProcessingTimeout,
    ReconcileStatus,
)
from studio_publish.platforms.tiktok import TOKENS
from studio_publish.platforms.tiktok.api import fail_reason_error
from studio_publish.platforms.tiktok.chunks import ChunkPlan
from studio_publish.platforms.tiktok.client import TikTokPlatform
from studio_publish.platforms.tiktok.upload import UploadIncomplete, upload_chunks
from studio_publish.platforms.transport import OutcomeUnclear

CREATOR = f"{TIKTOK}/v2/post/publish/creator_info/query/"
INIT = f"{TIKTOK}/v2/post/publish/video/init/"
PHOTO_INIT = f"{TIKTOK}/v2/post/publish/content/init/"
STATUS = f"{TIKTOK}/v2/post/publish/status/fetch/"
TOKEN_URL = f"{TIKTOK}/v2/oauth/token/"
UPLOAD = "https://upload.tiktok.test/video/?upload_id=1&upload_token=secret-upload"
SOURCE = "https://cdn.test/clip.mov"
OPTIONS = {"privacy_level": "PUBLIC_TO_EVERYONE"}
CREATOR_DATA = {
    "creator_username": "studio",
    "privacy_level_options": ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
    "comment_disabled": True,
    "duet_disabled": False,
    "stitch_disabled": True,
    "max_video_post_duration_sec": 300,
}


def platform(**settings: Any) -> TikTokPlatform:
    return TikTokPlatform(make_settings(**settings), clock=lambda: NOW)


def video_ctx(api: FakeApi, media: str, **kwargs: Any) -> Any:
    options = {**OPTIONS, **kwargs.pop("options", {})}
    return make_ctx(make_post("video", [(media, "video")], options=options), api=api, **kwargs)


def complete(post_id: int | None = 7301) -> httpx.Response:
    ids = [post_id] if post_id else []
    return tiktok_ok({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": ids})


def processing() -> httpx.Response:
    return tiktok_ok({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 0})


def test_file_upload_flow(api: FakeApi, video: Path) -> None:
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, tiktok_ok({"publish_id": "v_pub_1", "upload_url": UPLOAD}))
    api.on("PUT", UPLOAD, ok(status=201))
    api.on("POST", STATUS, processing(), complete())
    ctx = video_ctx(
        api, str(video), options={"disable_duet": "true", "video_cover_timestamp_ms": "1000"}
    )
    result = run(platform().publish, ctx)
    assert result == Published("7301", "https://www.tiktok.com/@studio/video/7301")
    init = body_json(api.calls("POST", INIT)[0])
    assert init["source_info"] == {
        "source": "FILE_UPLOAD",
        "video_size": 3072,
        "chunk_size": 3072,
        "total_chunk_count": 1,
    }
    assert init["post_info"] == {
        "privacy_level": "PUBLIC_TO_EVERYONE",
        "title": "Hello world",
        "disable_comment": True,  # the creator has comments off
        "disable_duet": True,  # asked for in the post options
        "disable_stitch": True,  # the creator has stitch off
        "brand_content_toggle": False,
        "brand_organic_toggle": False,
        "is_aigc": False,
        "video_cover_timestamp_ms": 1000,
    }
    put = api.calls("PUT", UPLOAD)[0]
    assert put.headers["Content-Type"] == "video/mp4"
    assert put.headers["Content-Length"] == "3072"
    assert put.headers["Content-Range"] == "bytes 0-3071/3072"
    assert put.content == video.read_bytes()
    assert body_json(api.calls("POST", STATUS)[0]) == {"publish_id": "v_pub_1"}
    assert before(api.log, "save tiktok_init_sent_at", "POST /v2/post/publish/video/init/")
    assert before(api.log, "save tiktok_publish_id='v_pub_1'", "PUT /video/")
    for request in api.calls("POST", INIT) + api.calls("POST", CREATOR):
        assert request.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert_token_safe(api)


# The media host as the resolver answers (a public address): the tool connects to the
# address it checked, naming the host in the Host header and for TLS.
SOURCE_ADDRESS = "93.184.215.14"
PINNED_SOURCE = f"https://{SOURCE_ADDRESS}:443/clip.mov"


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    answers = [SOURCE_ADDRESS]

    async def resolve(host: str, port: int) -> list[str]:
        assert host == "cdn.test" and port == 443
        return list(answers)

    monkeypatch.setattr("studio_publish.media_policy.resolve_host", resolve)
    return answers


def test_file_upload_from_a_url_streams_ranges(api: FakeApi, resolver: list[str]) -> None:
    data = b"0123456789" * 50
    api.on("HEAD", PINNED_SOURCE, httpx.Response(200, headers={"Content-Length": str(len(data))}))

    def ranged(request: httpx.Request) -> httpx.Response:
        first, last = map(int, request.headers["Range"].removeprefix("bytes=").split("-"))
        return httpx.Response(206, content=data[first : last + 1])

    api.on("GET", PINNED_SOURCE, ranged)
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, tiktok_ok({"publish_id": "v_pub_1", "upload_url": UPLOAD}))
    api.on("PUT", UPLOAD, ok(status=201))
    api.on("POST", STATUS, complete(None))
    result = run(platform().publish, video_ctx(api, SOURCE))
    assert result == Published("v_pub_1")  # no public id yet: the publish_id stands in
    put = api.calls("PUT", UPLOAD)[0]
    assert put.content == data
    assert put.headers["Content-Type"] == "video/quicktime"
    get = api.calls("GET", PINNED_SOURCE)[0]
    assert get.headers["Range"] == f"bytes=0-{len(data) - 1}"
    assert get.headers["Host"] == "cdn.test"
    assert get.extensions["sni_hostname"] == "cdn.test"
    assert "Authorization" not in get.headers


@pytest.mark.parametrize(
    "answers",
    [["127.0.0.1"], ["10.1.2.3"], ["169.254.169.254"], [SOURCE_ADDRESS, "::1"], []],
)
def test_a_media_host_resolving_to_an_internal_address_is_never_fetched(
    api: FakeApi, resolver: list[str], answers: list[str]
) -> None:
    resolver[:] = answers
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, video_ctx(api, SOURCE))
    assert caught.value.decision is Decision.INVALID
    assert "cdn.test" in caught.value.message
    assert not [r for r in api.requests if r.url.host != "tiktok.test"]
    assert api.calls("POST", INIT) == []


def test_a_redirect_from_the_media_host_is_not_followed(api: FakeApi, resolver: list[str]) -> None:
    moved = httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    api.on("HEAD", PINNED_SOURCE, moved)
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, video_ctx(api, SOURCE))
    assert caught.value.decision is Decision.INVALID
    assert "redirect" in caught.value.message
    assert [r.url.host for r in api.requests if r.url.host != "tiktok.test"] == [SOURCE_ADDRESS]


def test_a_video_over_tiktoks_4_gb_is_refused_before_any_upload(
    api: FakeApi, resolver: list[str]
) -> None:
    too_big = str(4 * 1024**3 + 1)
    api.on("HEAD", PINNED_SOURCE, httpx.Response(200, headers={"Content-Length": too_big}))
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, video_ctx(api, SOURCE))
    assert caught.value.decision is Decision.INVALID
    assert api.calls("POST", INIT) == []


def test_pull_from_url_when_the_account_allows_it(api: FakeApi) -> None:
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, tiktok_ok({"publish_id": "v_pub_1"}))
    api.on("POST", STATUS, tiktok_ok({"status": "PROCESSING_DOWNLOAD"}), complete())
    ctx = video_ctx(api, "https://cdn.test/v.mp4", account_options={"tiktok_pull_from_url": True})
    run(platform().publish, ctx)
    init = body_json(api.calls("POST", INIT)[0])
    assert init["source_info"] == {"source": "PULL_FROM_URL", "video_url": "https://cdn.test/v.mp4"}
    assert api.count("PUT", UPLOAD) == 0


def test_creator_info_is_read_once_per_attempt(api: FakeApi) -> None:
    """prepare() reads creator_info; publish() in the same attempt reuses it (3 calls, not 4)."""
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, tiktok_ok({"publish_id": "v_pub_1"}))
    api.on("POST", STATUS, complete())
    ctx = video_ctx(api, "https://cdn.test/v.mp4", account_options={"tiktok_pull_from_url": True})
    tiktok = platform()
    run(tiktok.prepare, ctx)
    run(tiktok.publish, ctx)
    assert api.count("POST", CREATOR) == 1
    assert len(api.requests) == 3


def test_creator_info_is_read_once_per_account_per_run(api: FakeApi) -> None:
    """The engine gives a run's attempts of one account the same facts: a second post of
    the account costs init and status only (2 calls, not 3)."""
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, tiktok_ok({"publish_id": "v_pub_1"}))
    api.on("POST", STATUS, complete())
    tiktok, facts = platform(), {}
    for _ in range(2):
        ctx = video_ctx(
            api, "https://cdn.test/v.mp4", account_options={"tiktok_pull_from_url": True}
        )
        ctx.account_facts = facts
        run(tiktok.prepare, ctx)
        run(tiktok.publish, ctx)
    assert api.count("POST", CREATOR) == 1
    assert api.count("POST", INIT) == 2 and len(api.requests) == 5


def test_photo_post(api: FakeApi) -> None:
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", PHOTO_INIT, tiktok_ok({"publish_id": "p_pub_1"}))
    api.on("POST", STATUS, complete(99))
    images = [("https://cdn.test/1.jpg", "image"), ("https://cdn.test/2.jpg", "image")]
    post = make_post("carousel", images, options={**OPTIONS, "title": "Trip"})
    result = run(platform().publish, make_ctx(post, api=api))
    assert result.permalink == "https://www.tiktok.com/@studio/photo/99"
    assert body_json(api.calls("POST", PHOTO_INIT)[0]) == {
        "post_info": {
            "privacy_level": "PUBLIC_TO_EVERYONE",
            "disable_comment": True,
            "description": "Hello world",
            "title": "Trip",
            "auto_add_music": True,
            "brand_content_toggle": False,
            "brand_organic_toggle": False,
        },
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_cover_index": 0,
            "photo_images": ["https://cdn.test/1.jpg", "https://cdn.test/2.jpg"],
        },
        "post_mode": "DIRECT_POST",
        "media_type": "PHOTO",
        "is_aigc": False,
    }


def test_photo_post_sends_the_disclosure_and_the_ai_label(api: FakeApi) -> None:
    # The Photo Post reference marks brand_content_toggle and brand_organic_toggle
    # "Required: true" for DIRECT_POST and puts is_aigc at the top level of the body:
    # https://developers.tiktok.com/doc/content-posting-api-reference-photo-post
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", PHOTO_INIT, tiktok_ok({"publish_id": "p_pub_1"}))
    api.on("POST", STATUS, complete(99))
    options = {**OPTIONS, "brand_content_toggle": True, "brand_organic_toggle": "true"}
    post = make_post(
        "image", [("https://cdn.test/1.jpg", "image")], options={**options, "is_aigc": True}
    )
    run(platform().publish, make_ctx(post, api=api))
    body = body_json(api.calls("POST", PHOTO_INIT)[0])
    assert body["post_info"]["brand_content_toggle"] is True
    assert body["post_info"]["brand_organic_toggle"] is True
    assert body["is_aigc"] is True
    assert "is_aigc" not in body["post_info"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "privacy_level"),
        ({"privacy_level": "FOLLOWER_OF_CREATOR"}, "PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS"),
        ({"privacy_level": "SELF_ONLY", "duration_sec": "301"}, "at most 300 s"),
    ],
)
def test_prepare_enforces_creator_info(
    api: FakeApi, options: dict[str, Any], expected: str
) -> None:
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    post = make_post("video", [("https://cdn.test/v.mp4", "video")], options=options)
    with pytest.raises(PlatformError) as caught:
        run(platform().prepare, make_ctx(post, api=api))
    assert caught.value.decision is Decision.FAIL
    assert expected in caught.value.message


# Reference 4.6: error.code -> decision (HTTP status as documented).
ERROR_CODES = [
    ("invalid_param", 400, Decision.FAIL),
    ("invalid_params", 400, Decision.FAIL),
    ("app_version_check_failed", 400, Decision.FAIL),
    ("invalid_file_upload", 400, Decision.FAIL),
    ("spam_risk_too_many_posts", 200, Decision.WAIT),  # HTTP 200 on purpose
    ("spam_risk_user_banned_from_posting", 200, Decision.FAIL),
    ("spam_risk_too_many_pending_share", 403, Decision.WAIT),
    ("reached_active_user_cap", 200, Decision.WAIT),
    ("unaudited_client_can_only_post_to_private_accounts", 403, Decision.FAIL),
    ("url_ownership_unverified", 403, Decision.FAIL),
    ("privacy_level_option_mismatch", 403, Decision.FAIL),
    ("access_token_invalid", 401, Decision.REFRESH_TOKEN),
    ("scope_not_authorized", 401, Decision.REAUTH),
    ("scope_permission_missed", 401, Decision.REAUTH),
    ("rate_limit_exceeded", 429, Decision.WAIT),
    ("something_new", 400, Decision.FAIL),
    ("something_new", 401, Decision.REFRESH_TOKEN),
]


@pytest.mark.parametrize(("code", "status", "decision"), ERROR_CODES)
def test_init_error_mapping(
    api: FakeApi, video: Path, code: str, status: int, decision: Decision
) -> None:
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, tiktok_error(code, status))
    ctx = video_ctx(api, str(video))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is decision
    assert caught.value.code == code
    if decision is Decision.WAIT:
        assert caught.value.retry_after and caught.value.retry_after > 0
    assert "tiktok_init_sent_at" not in ctx.saved_ids  # a clear refusal: nothing was created


def test_daily_cap_waits_until_tomorrow(api: FakeApi) -> None:
    api.on("POST", CREATOR, tiktok_error("spam_risk_too_many_posts", 200))
    with pytest.raises(PlatformError) as caught:
        run(platform().prepare, video_ctx(api, SOURCE))
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 86400 + 600
    assert caught.value.decision is Decision.WAIT


def test_rate_limit_waits_about_a_minute(api: FakeApi) -> None:
    api.on("POST", CREATOR, tiktok_error("rate_limit_exceeded", 429))
    with pytest.raises(PlatformError) as caught:
        run(platform().prepare, video_ctx(api, SOURCE))
    assert (caught.value.decision, caught.value.retry_after) == (Decision.WAIT, 60)


@pytest.mark.parametrize(
    ("reason", "decision"),
    [
        ("internal", Decision.RETRY),
        ("video_pull_failed", Decision.RETRY),
        ("photo_pull_failed", Decision.RETRY),
        ("file_format_check_failed", Decision.FAIL),
        ("duration_check_failed", Decision.FAIL),
        ("frame_rate_check_failed", Decision.FAIL),
        ("picture_size_check_failed", Decision.FAIL),
        ("publish_cancelled", Decision.FAIL),
        ("auth_removed", Decision.REAUTH),
        ("spam_risk_too_many_posts", Decision.WAIT),
        ("spam_risk_user_banned_from_posting", Decision.FAIL),
        ("spam_risk_text", Decision.FAIL),
        ("spam_risk", Decision.FAIL),
        ("never_heard_of_it", Decision.FAIL),
    ],
)
def test_fail_reason_mapping(reason: str, decision: Decision) -> None:
    assert fail_reason_error(reason).decision is decision


def test_failed_status_is_mapped_and_the_publish_id_abandoned(api: FakeApi) -> None:
    api.on("POST", STATUS, tiktok_ok({"status": "FAILED", "fail_reason": "duration_check_failed"}))
    ctx = video_ctx(api, SOURCE, saved={"tiktok_publish_id": "v_pub_1"})
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.FAIL
    assert "duration_check_failed" in caught.value.message
    assert "tiktok_publish_id" not in ctx.saved_ids
    assert ctx.saved_ids["tiktok_abandoned_publish_id"] == "v_pub_1"


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout, tiktok_error("internal_error", 500), httpx.Response(502, text="<html>")],
)
def test_unclear_init_is_unknown_and_never_resent(api: FakeApi, video: Path, failure: Any) -> None:
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, failure)
    ctx = video_ctx(api, str(video))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.UNKNOWN
    assert ctx.saved_ids["tiktok_init_sent_at"]
    with pytest.raises(PlatformError) as again:  # the next attempt does not init again
        run(platform().publish, ctx)
    assert again.value.decision is Decision.UNKNOWN
    assert api.count("POST", INIT) == 1
    assert_token_safe(api, str(caught.value), str(again.value))


def test_init_not_sent_is_plain_retry(api: FakeApi, video: Path) -> None:
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, httpx.ConnectError)
    ctx = video_ctx(api, str(video))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.RETRY
    assert "tiktok_init_sent_at" not in ctx.saved_ids


def test_saved_publish_id_resumes_with_status_only(api: FakeApi) -> None:
    api.on("POST", STATUS, complete())
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))  # for the username in the permalink
    ctx = video_ctx(api, SOURCE, saved={"tiktok_publish_id": "v_pub_1"})
    assert run(platform().publish, ctx).permalink == "https://www.tiktok.com/@studio/video/7301"
    assert api.count("POST", INIT) == 0


def test_still_processing_waits_and_keeps_the_publish_id(api: FakeApi) -> None:
    api.on("POST", STATUS, processing())
    ctx = video_ctx(api, SOURCE, saved={"tiktok_publish_id": "v_pub_1"})
    with pytest.raises(PlatformError) as caught:
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert caught.value.decision is Decision.WAIT
    assert ctx.saved_ids["tiktok_publish_id"] == "v_pub_1"


def test_expired_upload_url_abandons_the_publish_id_and_retries(api: FakeApi, video: Path) -> None:
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, tiktok_ok({"publish_id": "v_pub_1", "upload_url": UPLOAD}))
    api.on("PUT", UPLOAD, ok(status=403))
    ctx = video_ctx(api, str(video))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, ctx)
    assert caught.value.decision is Decision.RETRY
    assert "tiktok_publish_id" not in ctx.saved_ids
    assert ctx.saved_ids["tiktok_abandoned_publish_id"] == "v_pub_1"
    assert "secret-upload" not in caught.value.message


def test_unclear_final_chunk_checks_status_instead_of_failing(api: FakeApi, video: Path) -> None:
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, tiktok_ok({"publish_id": "v_pub_1", "upload_url": UPLOAD}))
    api.on("PUT", UPLOAD, httpx.ReadTimeout)
    api.on("POST", STATUS, complete())
    ctx = video_ctx(api, str(video))
    assert run(platform().publish, ctx).platform_post_id == "7301"
    assert api.count("POST", INIT) == 1
    assert api.count("PUT", UPLOAD) == 4  # the chunk and its three resends


@pytest.mark.parametrize(
    ("saved", "reply", "expected"),
    [
        ({}, None, ReconcileStatus.NOT_LIVE),
        ({"tiktok_init_sent_at": NOW.isoformat()}, None, ReconcileStatus.UNKNOWN),
        ({"tiktok_publish_id": "v"}, complete(), ReconcileStatus.LIVE),
        ({"tiktok_publish_id": "v"}, processing(), ReconcileStatus.PENDING),
        (
            {"tiktok_publish_id": "v"},
            tiktok_ok({"status": "FAILED", "fail_reason": "internal"}),
            ReconcileStatus.FAILED,
        ),
    ],
)
def test_reconcile(
    api: FakeApi, saved: dict[str, Any], reply: httpx.Response | None, expected: ReconcileStatus
) -> None:
    if reply is not None:
        api.on("POST", STATUS, reply)
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    result = run(platform().reconcile, video_ctx(api, SOURCE, saved=saved))
    assert result.status is expected
    assert api.count("POST", INIT) == 0


def test_reconcile_with_an_unknown_publish_id_is_unknown(api: FakeApi) -> None:
    api.on("POST", STATUS, tiktok_error("invalid_publish_id", 400))
    with pytest.raises(PlatformError) as caught:
        run(platform().reconcile, video_ctx(api, SOURCE, saved={"tiktok_publish_id": "v"}))
    assert caught.value.decision is Decision.UNKNOWN


# -- chunk upload ---------------------------------------------------------------------------

PLAN = ChunkPlan(30, 10, 3, ((0, 9), (10, 19), (20, 29)))
DATA = bytes(range(30))


async def chunk_body(first: int, last: int) -> AsyncIterator[bytes]:
    yield DATA[first : last + 1]


def upload(api: FakeApi) -> None:
    async def main() -> None:
        async with httpx.AsyncClient() as http:
            await upload_chunks(
                http, UPLOAD, PLAN, chunk_body, content_type="video/webm", timeout=5, backoff=0.001
            )

    asyncio.run(main())


def ranges(api: FakeApi) -> list[str]:
    return [r.headers["Content-Range"] for r in api.calls("PUT", UPLOAD)]


def test_chunks_are_sent_in_order_with_headers(api: FakeApi) -> None:
    api.on("PUT", UPLOAD, ok(status=206), ok(status=206), ok(status=201))
    upload(api)
    assert ranges(api) == ["bytes 0-9/30", "bytes 10-19/30", "bytes 20-29/30"]
    assert [r.content for r in api.calls("PUT", UPLOAD)] == [DATA[:10], DATA[10:20], DATA[20:]]
    assert {r.headers["Content-Length"] for r in api.calls("PUT", UPLOAD)} == {"10"}
    assert {r.headers["Content-Type"] for r in api.calls("PUT", UPLOAD)} == {"video/webm"}


def test_server_error_resends_that_chunk(api: FakeApi) -> None:
    api.on(
        "PUT",
        UPLOAD,
        ok(status=206),
        ok(status=503),
        httpx.ReadTimeout,
        ok(status=206),
        ok(status=201),
    )
    upload(api)
    assert ranges(api) == ["bytes 0-9/30"] + ["bytes 10-19/30"] * 3 + ["bytes 20-29/30"]


def test_416_resyncs_from_content_range(api: FakeApi) -> None:
    out_of_step = httpx.Response(416, headers={"Content-Range": "bytes 0-19/30"})
    api.on("PUT", UPLOAD, out_of_step, ok(status=201))
    upload(api)
    assert ranges(api) == ["bytes 0-9/30", "bytes 20-29/30"]


def test_416_without_usable_range_is_incomplete(api: FakeApi) -> None:
    api.on("PUT", UPLOAD, httpx.Response(416, headers={"Content-Range": "bytes 0-14/30"}))
    with pytest.raises(UploadIncomplete) as caught:
        upload(api)
    assert caught.value.decision is Decision.RETRY


def test_403_is_incomplete_and_retried_later(api: FakeApi) -> None:
    api.on("PUT", UPLOAD, ok(status=206), ok(status=403))
    with pytest.raises(UploadIncomplete) as caught:
        upload(api)
    assert (caught.value.decision, caught.value.http_status) == (Decision.RETRY, 403)


def test_persistent_failure_before_the_final_chunk_is_incomplete(api: FakeApi) -> None:
    api.on("PUT", UPLOAD, httpx.Response(500))
    with pytest.raises(UploadIncomplete):
        upload(api)
    assert ranges(api) == ["bytes 0-9/30"] * 4


def test_persistent_failure_of_the_final_chunk_is_unclear(api: FakeApi) -> None:
    api.on("PUT", UPLOAD, ok(status=206), ok(status=206), httpx.Response(500))
    with pytest.raises(OutcomeUnclear):
        upload(api)


# -- tokens ---------------------------------------------------------------------------------


def account(refresh: str | None = "refresh-secret-abc") -> Account:
    return Account("acc-1", "tiktok", "open-1", TOKEN, refresh_token=refresh)


def refresh(api: FakeApi, platform_: TikTokPlatform, acc: Account) -> Any:
    ctx = make_ctx(make_post(), api=api)
    return run(lambda ctx: platform_.refresh_token(acc, ctx.http), ctx)


def test_refresh_token(api: FakeApi) -> None:
    body = {
        "access_token": "new-access",
        "expires_in": 7200,
        "open_id": "open-1",
        "refresh_token": "new-refresh",
        "refresh_expires_in": 15552000,
        "scope": "video.publish",
        "token_type": "Bearer",
    }
    api.on("POST", TOKEN_URL, ok(body))
    grant = refresh(api, platform(), account())
    assert grant.access_token == "new-access"
    assert grant.refresh_token == "new-refresh"
    assert grant.expires_at == NOW + dt.timedelta(hours=2)
    assert grant.refresh_expires_at == NOW + dt.timedelta(days=180)
    request = api.calls("POST", TOKEN_URL)[0]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(request) == {
        "client_key": "client-key",
        "client_secret": "client-secret-xyz",
        "grant_type": "refresh_token",
        "refresh_token": "refresh-secret-abc",
    }
    assert "refresh-secret-abc" not in str(request.url)
    assert platform().can_refresh_tokens is True


def test_token_lifetimes_come_from_the_answer_not_from_the_documented_figures(
    api: FakeApi,
) -> None:
    # TikTok documents 2 hours and 180 days today (the spec's TOKENS), 24 hours and 365 days
    # on an older page: whatever a refresh answers is what counts.
    assert (TOKENS.access, TOKENS.refresh, TOKENS.rotated) == (
        dt.timedelta(hours=2),
        dt.timedelta(days=180),
        True,
    )
    body = {"access_token": "a", "expires_in": 86400, "refresh_expires_in": 31536000}
    api.on("POST", TOKEN_URL, ok({**body, "refresh_token": "r", "open_id": "open-1"}))
    grant = refresh(api, platform(), account())
    assert grant.expires_at == NOW + dt.timedelta(hours=24)
    assert grant.refresh_expires_at == NOW + dt.timedelta(days=365)


def test_the_sandbox_issues_tokens_for_the_documented_lifetimes() -> None:
    from studio_publish.sandbox.knobs import Knobs

    knobs = Knobs()
    assert TOKENS.access is not None and TOKENS.refresh is not None
    assert knobs.tiktok_access_token_ttl == TOKENS.access.total_seconds() == 7200
    assert knobs.tiktok_refresh_token_ttl == TOKENS.refresh.total_seconds() == 15552000


@pytest.mark.parametrize(
    ("reply", "decision"),
    [
        (
            httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "bad refresh-secret-abc"}
            ),
            Decision.REAUTH,
        ),
        (
            httpx.Response(400, json={"error": "invalid_client", "error_description": "x"}),
            Decision.REAUTH,
        ),
        (httpx.Response(503, text="busy"), Decision.RETRY),
        (tiktok_error("rate_limit_exceeded", 429), Decision.WAIT),
    ],
)
def test_refresh_errors(api: FakeApi, reply: httpx.Response, decision: Decision) -> None:
    api.on("POST", TOKEN_URL, reply)
    with pytest.raises(PlatformError) as caught:
        refresh(api, platform(), account())
    assert caught.value.decision is decision
    for secret in (TOKEN, "refresh-secret-abc", "client-secret-xyz"):
        assert secret not in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"tiktok_client_key": None}, "STUDIO_PUBLISH_TIKTOK_CLIENT_KEY"),
        ({"tiktok_client_secret": ""}, "STUDIO_PUBLISH_TIKTOK_CLIENT_SECRET"),
    ],
)
def test_refresh_without_client_settings_is_reauth(
    api: FakeApi, settings: dict[str, Any], missing: str
) -> None:
    with pytest.raises(PlatformError) as caught:
        refresh(api, platform(**settings), account())
    assert caught.value.decision is Decision.REAUTH
    assert missing in caught.value.message
    assert api.requests == []


def test_refresh_without_refresh_token_is_reauth(api: FakeApi) -> None:
    with pytest.raises(PlatformError) as caught:
        refresh(api, platform(), account(None))
    assert caught.value.decision is Decision.REAUTH


@pytest.mark.parametrize("head_status", [403, 405])
@pytest.mark.parametrize("honours_range", [True, False])
def test_a_media_server_without_head_or_range_still_works(
    api: FakeApi, resolver: list[str], head_status: int, honours_range: bool
) -> None:
    """Presigned URLs often refuse HEAD; some servers ignore Range: the size comes from GET."""
    data = b"abcdefghij" * 40
    api.on("HEAD", PINNED_SOURCE, httpx.Response(head_status))

    def get(request: httpx.Request) -> httpx.Response:
        if not honours_range:
            return httpx.Response(200, content=data)  # the whole file, Range ignored
        first, last = map(int, request.headers["Range"].removeprefix("bytes=").split("-"))
        total = f"bytes {first}-{last}/{len(data)}"
        return httpx.Response(206, content=data[first : last + 1], headers={"Content-Range": total})

    api.on("GET", PINNED_SOURCE, get)
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, tiktok_ok({"publish_id": "v_pub_2", "upload_url": UPLOAD}))
    api.on("PUT", UPLOAD, ok(status=201))
    api.on("POST", STATUS, complete(None))
    assert run(platform().publish, video_ctx(api, SOURCE)) == Published("v_pub_2")
    init = api.calls("POST", INIT)[0]
    assert json.loads(init.content)["source_info"]["video_size"] == len(data)
    assert api.calls("PUT", UPLOAD)[0].content == data


def test_an_unreachable_media_host_is_named_in_the_error(api: FakeApi, resolver: list[str]) -> None:
    api.on("HEAD", PINNED_SOURCE, httpx.ConnectError)
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    with pytest.raises(PlatformError) as caught:
        run(platform().publish, video_ctx(api, SOURCE))
    assert caught.value.decision is Decision.RETRY
    assert caught.value.message.startswith("downloading the media from cdn.test (size lookup): ")
    assert "could not connect" in caught.value.message


# --- the processing bound (finding 6) ---------------------------------------------------------
# "The upload_url is valid for one hour after issuance. The upload must be completed in this
# time range"; the status answer carries uploaded_bytes
# (https://developers.tiktok.com/doc/content-posting-api-reference-direct-post,
# https://developers.tiktok.com/doc/content-posting-api-reference-get-video-status).
def stuck(uploaded: int) -> httpx.Response:
    return tiktok_ok({"status": "PROCESSING_UPLOAD", "uploaded_bytes": uploaded})


def killed_mid_upload(minutes_ago: int = 5) -> dict[str, Any]:
    """What a run killed during its upload leaves saved: init answered, upload unfinished."""
    sent = (NOW - dt.timedelta(minutes=minutes_ago)).isoformat()
    return {"tiktok_publish_id": "v_old", "tiktok_init_sent_at": sent, "tiktok_video_size": 3072}


def test_an_upload_that_can_never_finish_is_abandoned_and_a_new_init_starts_at_once(
    api: FakeApi, video: Path
) -> None:
    api.on("POST", STATUS, stuck(1024), complete())
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    api.on("POST", INIT, tiktok_ok({"publish_id": "v_new", "upload_url": UPLOAD}))
    api.on("PUT", UPLOAD, ok(status=201))
    ctx = video_ctx(api, str(video), saved=killed_mid_upload())
    published = run(platform(poll_interval_seconds=0.01).publish, ctx)
    assert published.platform_post_id == "7301"
    assert ctx.saved_ids["tiktok_abandoned_publish_id"] == "v_old"
    assert ctx.saved_ids["tiktok_publish_id"] == "v_new"
    assert api.count("POST", INIT) == 1


def test_reconcile_abandons_a_publish_id_whose_upload_stopped(api: FakeApi) -> None:
    api.on("POST", STATUS, stuck(1024))
    ctx = video_ctx(api, SOURCE, saved=killed_mid_upload())
    rec = run(platform().reconcile, ctx)
    assert rec.status is ReconcileStatus.NOT_LIVE and "1024 of 3072 bytes" in rec.reason
    assert ctx.saved_ids == {"tiktok_abandoned_publish_id": "v_old"}  # the next init is fresh


def test_an_upload_we_finished_is_waited_for_not_abandoned(api: FakeApi) -> None:
    api.on("POST", STATUS, stuck(1024))  # TikTok's count lags behind the bytes we sent
    saved = {**killed_mid_upload(), "tiktok_uploaded_at": NOW.isoformat()}
    ctx = video_ctx(api, SOURCE, saved=saved)
    with pytest.raises(PlatformError) as caught:
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert caught.value.decision is Decision.WAIT
    assert ctx.saved_ids["tiktok_publish_id"] == "v_old"


@pytest.mark.parametrize("status", ["PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD"])
def test_a_publish_id_processing_past_the_upload_urls_life_is_abandoned(
    api: FakeApi, status: str
) -> None:
    api.on("POST", STATUS, tiktok_ok({"status": status}))
    saved = {**killed_mid_upload(minutes_ago=121), "tiktok_uploaded_at": NOW.isoformat()}
    rec = run(platform().reconcile, video_ctx(api, SOURCE, saved=saved))
    assert rec.status is ReconcileStatus.NOT_LIVE and "one-hour life" in rec.reason


def test_a_post_processing_for_24_hours_is_for_a_person(api: FakeApi) -> None:
    api.on("POST", STATUS, tiktok_ok({"status": "MODERATION"}))  # no status TikTok documents
    saved = killed_mid_upload(minutes_ago=24 * 60 + 1)
    ctx = video_ctx(api, SOURCE, saved=saved)
    with pytest.raises(ProcessingTimeout) as caught:
        run(platform(poll_timeout_seconds=0.05).publish, ctx)
    assert caught.value.decision is Decision.UNKNOWN
    assert api.count("POST", INIT) == 0


def test_a_resume_after_reconcile_reads_the_status_once(api: FakeApi) -> None:
    api.on("POST", STATUS, processing(), complete())
    api.on("POST", CREATOR, tiktok_ok(CREATOR_DATA))
    saved = {**killed_mid_upload(), "tiktok_uploaded_at": NOW.isoformat()}
    ctx = video_ctx(api, SOURCE, saved=saved)

    async def reconcile_then_publish(ctx: Any) -> Published:
        tiktok = platform(poll_interval_seconds=0.01)
        assert (await tiktok.reconcile(ctx)).status is ReconcileStatus.PENDING
        return await tiktok.publish(ctx)

    assert run(reconcile_then_publish, ctx).platform_post_id == "7301"
    assert api.count("POST", STATUS) == 2  # reconcile's read, then one look later


@pytest.mark.parametrize("uploaded", [True, "1024", -1, None, 1.5])
def test_an_uploaded_count_that_is_not_a_count_decides_nothing(api: FakeApi, uploaded: Any) -> None:
    # Trust nothing read: a status whose uploaded_bytes is not TikTok's integer is no proof
    # the upload stopped, so the publish_id is kept (and bounded by time instead).
    api.on("POST", STATUS, tiktok_ok({"status": "PROCESSING_UPLOAD", "uploaded_bytes": uploaded}))
    ctx = video_ctx(api, SOURCE, saved=killed_mid_upload())
    rec = run(platform().reconcile, ctx)
    assert rec.status is ReconcileStatus.PENDING
    assert ctx.saved_ids["tiktok_publish_id"] == "v_old"
