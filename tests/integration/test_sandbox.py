"""The local platform sandbox: documented shapes, upload rules, knobs and control API."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from studio_publish.sandbox import Sandbox, chunk_plan_problem, serve

TOKEN = "sample-token-abc123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
IG = "17841400000000001"
PAGE = "104000000000001"
PUBLIC = "PUBLIC_TO_EVERYONE"
MB = 1_000_000


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    # No polling delay by default, so each test opts into the behaviour it checks.
    with Sandbox(container_polls=0, tiktok_status_polls=0) as sb:
        yield sb


@pytest.fixture
def graph(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH, timeout=5) as client:
        yield client


@pytest.fixture
def tiktok(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.tiktok_base, headers=AUTH, timeout=5) as client:
        yield client


def graph_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"message", "type", "code", "is_transient", "fbtrace_id"} <= set(error)
    return error


def tiktok_error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"data", "error"}
    assert set(body["error"]) == {"code", "message", "log_id"}
    code: str = body["error"]["code"]
    return code


def publish_image(graph: httpx.Client, caption: str = "hello") -> str:
    container = graph.post(
        f"/{IG}/media", data={"image_url": "https://cdn/a.jpg", "caption": caption}
    )
    assert container.status_code == 200, container.text
    published = graph.post(f"/{IG}/media_publish", params={"creation_id": container.json()["id"]})
    assert published.status_code == 200, published.text
    media_id: str = published.json()["id"]
    return media_id


def video_init(tiktok: httpx.Client, size: int, chunk: int, count: int, **post: Any) -> Any:
    info = {"title": "clip", "privacy_level": PUBLIC, **post}
    source = {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": chunk,
        "total_chunk_count": count,
    }
    return tiktok.post(
        "/v2/post/publish/video/init/", json={"post_info": info, "source_info": source}
    )


def put_chunk(url: str, first: int, body: bytes, total: int) -> httpx.Response:
    last = first + len(body) - 1
    headers = {"Content-Type": "video/mp4", "Content-Range": f"bytes {first}-{last}/{total}"}
    return httpx.put(url, content=body, headers=headers, timeout=10)


def status(tiktok: httpx.Client, publish_id: str) -> dict[str, Any]:
    response = tiktok.post("/v2/post/publish/status/fetch/", json={"publish_id": publish_id})
    assert response.status_code == 200, response.text
    assert response.json()["error"]["code"] == "ok"
    data: dict[str, Any] = response.json()["data"]
    return data


# ---- Instagram ---------------------------------------------------------------------------


def test_instagram_container_polls_then_publish_then_permalink(sandbox: Sandbox) -> None:
    sandbox.set_knobs(container_polls=2)
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH) as graph:
        created = graph.post(
            f"/{IG}/media",
            data={"video_url": "https://cdn/v.mp4", "media_type": "REELS", "caption": "reel"},
        )
        assert created.status_code == 200
        container = created.json()["id"]
        assert set(created.json()) == {"id"}

        # Publishing before FINISHED is refused with 9007/2207027.
        early = graph.post(f"/{IG}/media_publish", params={"creation_id": container})
        assert early.status_code == 400
        assert (graph_error(early)["code"], graph_error(early)["error_subcode"]) == (9007, 2207027)

        fields = {"fields": "status_code,status"}
        codes = [graph.get(f"/{container}", params=fields).json()["status_code"] for _ in range(3)]
        assert codes == ["IN_PROGRESS", "IN_PROGRESS", "FINISHED"]

        media = graph.post(f"/{IG}/media_publish", params={"creation_id": container})
        assert media.status_code == 200 and set(media.json()) == {"id"}
        media_id = media.json()["id"]
        assert graph.get(f"/{container}", params=fields).json()["status_code"] == "PUBLISHED"

        again = graph.post(f"/{IG}/media_publish", params={"creation_id": container})
        assert again.status_code == 400 and graph_error(again)["code"] == 100

        permalink = graph.get(f"/{media_id}", params={"fields": "permalink"}).json()
        assert permalink["id"] == media_id
        assert permalink["permalink"].startswith("https://www.instagram.com/reel/")

        listing = graph.get(f"/{IG}/media", params={"fields": "id,permalink,timestamp"}).json()
        assert [m["id"] for m in listing["data"]] == [media_id]
        assert set(listing["data"][0]) == {"id", "permalink", "timestamp"}

    [entry] = sandbox.ledger.entries()
    assert (entry.platform, entry.account, entry.platform_post_id) == ("instagram", IG, media_id)
    assert (entry.kind, entry.caption, entry.source_ids) == ("reel", "reel", (container,))


def test_instagram_carousel_rules(sandbox: Sandbox, graph: httpx.Client) -> None:
    child = {"image_url": "https://cdn/a.jpg", "is_carousel_item": "true"}
    one = graph.post(f"/{IG}/media", data=child).json()["id"]
    too_few = graph.post(f"/{IG}/media", data={"media_type": "CAROUSEL", "children": one})
    assert (graph_error(too_few)["code"], graph_error(too_few)["error_subcode"]) == (100, 2207028)

    ids = [one] + [graph.post(f"/{IG}/media", data=child).json()["id"] for _ in range(10)]
    too_many = graph.post(
        f"/{IG}/media", data={"media_type": "CAROUSEL", "children": ",".join(ids)}
    )
    assert graph_error(too_many)["error_subcode"] == 2207028

    captioned_child = graph.post(f"/{IG}/media", data={**child, "caption": "no"})
    assert graph_error(captioned_child)["code"] == 100

    parent = graph.post(
        f"/{IG}/media",
        data={"media_type": "CAROUSEL", "children": ",".join(ids[:3]), "caption": "album"},
    )
    assert parent.status_code == 200
    graph.post(f"/{IG}/media_publish", params={"creation_id": parent.json()["id"]})
    [entry] = sandbox.ledger.entries()
    assert entry.kind == "carousel" and entry.source_ids == (parent.json()["id"], *ids[:3])


def test_instagram_validation(graph: httpx.Client) -> None:
    long = graph.post(
        f"/{IG}/media", data={"image_url": "https://cdn/a.jpg", "caption": "x" * 2201}
    )
    assert (graph_error(long)["code"], graph_error(long)["error_subcode"]) == (36004, 2207010)
    video = graph.post(
        f"/{IG}/media", data={"video_url": "https://cdn/v.mp4", "media_type": "VIDEO"}
    )
    assert graph_error(video)["error_subcode"] == 2207023
    missing = graph.post(f"/{IG}/media", data={"caption": "nothing"})
    assert missing.status_code == 400
    unknown = graph.get(f"/{IG}/content_publishing_limit", params={"fields": "nope"})
    assert graph_error(unknown)["code"] == 100
    absent = graph.get("/999999", params={"fields": "permalink"})
    assert (graph_error(absent)["code"], graph_error(absent)["error_subcode"]) == (100, 33)


def test_publishing_quota_is_enforced_at_media_publish(
    sandbox: Sandbox, graph: httpx.Client
) -> None:
    sandbox.set_knobs(quota_total=1)
    publish_image(graph, "first")
    limit = graph.get(f"/{IG}/content_publishing_limit", params={"fields": "quota_usage,config"})
    assert limit.json() == {
        "data": [{"quota_usage": 1, "config": {"quota_total": 1, "quota_duration": 86400}}]
    }
    container = graph.post(f"/{IG}/media", data={"image_url": "https://cdn/b.jpg"}).json()["id"]
    over = graph.post(f"/{IG}/media_publish", data={"creation_id": container})
    assert (graph_error(over)["code"], graph_error(over)["error_subcode"]) == (9, 2207042)
    assert len(sandbox.ledger) == 1


def test_expired_and_failed_containers(sandbox: Sandbox, graph: httpx.Client) -> None:
    container = graph.post(f"/{IG}/media", data={"image_url": "https://cdn/a.jpg"}).json()["id"]
    assert sandbox.expire_container(container)
    read = graph.get(f"/{container}", params={"fields": "status_code"}).json()
    assert read == {"id": container, "status_code": "EXPIRED"}
    expired = graph.post(f"/{IG}/media_publish", params={"creation_id": container})
    assert graph_error(expired)["error_subcode"] == 2207020

    sandbox.set_knobs(container_failures=1)
    broken = graph.post(f"/{IG}/media", data={"image_url": "https://cdn/a.jpg"}).json()["id"]
    status_read = graph.get(f"/{broken}", params={"fields": "status_code,status"}).json()
    # The IG Container reference: for ERROR, status holds the error subcode.
    assert status_read["status_code"] == "ERROR"
    assert status_read["status"] == "Error: Media upload has failed with error code 2207053"
    assert sandbox.knobs.container_failures == 0
    sandbox.set_knobs(container_failures=1, container_error_subcode=2207026)
    final = graph.post(f"/{IG}/media", data={"image_url": "https://cdn/a.jpg"}).json()["id"]
    status_read = graph.get(f"/{final}", params={"fields": "status_code,status"}).json()
    assert status_read["status"].endswith("error code 2207026")


def test_container_reads_refused_and_without_status_code(
    sandbox: Sandbox, graph: httpx.Client
) -> None:
    sandbox.set_knobs(container_polls=0, container_read_failures=2, container_status_missing=1)
    container = graph.post(f"/{IG}/media", data={"image_url": "https://cdn/a.jpg"}).json()["id"]
    fields = {"fields": "status_code,status"}
    for _ in range(2):  # 100/33, as Meta answered for days while create and publish worked
        refused = graph.get(f"/{container}", params=fields)
        assert (graph_error(refused)["code"], graph_error(refused)["error_subcode"]) == (100, 33)
    # Publishing still works meanwhile; the next read has no status_code, then it is back.
    blank = graph.get(f"/{container}", params=fields).json()
    assert "status_code" not in blank and blank["status"].startswith("Finished")
    assert graph.get(f"/{container}", params=fields).json()["status_code"] == "FINISHED"
    assert graph.post(f"/{IG}/media_publish", data={"creation_id": container}).status_code == 200
    assert sandbox.knobs.container_read_failures == sandbox.knobs.container_status_missing == 0


# ---- Facebook Pages ------------------------------------------------------------------------


def test_facebook_feed_photos_videos_and_posts(sandbox: Sandbox, graph: httpx.Client) -> None:
    since = int(time.time()) - 5
    text = graph.post(f"/{PAGE}/feed", data={"message": "hello page"})
    assert text.status_code == 200
    assert text.json()["id"].startswith(f"{PAGE}_")

    photo = graph.post(f"/{PAGE}/photos", data={"url": "https://cdn/p.jpg", "caption": "pic"})
    assert set(photo.json()) == {"id", "post_id"}

    # Unpublished photos: no post_id, not live, then attached to one post (JSON and form).
    drafts = [
        graph.post(f"/{PAGE}/photos", data={"url": "https://cdn/p.jpg", "published": "false"})
        for _ in range(3)
    ]
    assert all(set(d.json()) == {"id"} for d in drafts)
    assert len(sandbox.ledger) == 2
    as_json = graph.post(
        f"/{PAGE}/feed",
        json={"message": "album", "attached_media": [{"media_fbid": drafts[0].json()["id"]}]},
    )
    assert as_json.status_code == 200, as_json.text
    as_form = graph.post(
        f"/{PAGE}/feed",
        data={
            "message": "album 2",
            "attached_media[0]": f'{{"media_fbid":"{drafts[1].json()["id"]}"}}',
            "attached_media[1]": f'{{"media_fbid":"{drafts[2].json()["id"]}"}}',
        },
    )
    assert as_form.status_code == 200, as_form.text
    reused = graph.post(
        f"/{PAGE}/feed",
        json={"message": "again", "attached_media": [{"media_fbid": drafts[0].json()["id"]}]},
    )
    assert graph_error(reused)["code"] == 100

    video = graph.post(
        f"/{PAGE}/videos", data={"file_url": "https://cdn/v.mp4", "description": "v"}
    )
    assert set(video.json()) == {"id"}

    # Multipart source upload for a photo.
    upload = graph.post(
        f"/{PAGE}/photos",
        data={"caption": "uploaded"},
        files={"source": ("p.jpg", b"\xff\xd8jpeg", "image/jpeg")},
    )
    assert upload.status_code == 200 and "post_id" in upload.json()

    permalink = graph.get(f"/{text.json()['id']}", params={"fields": "permalink_url"}).json()
    assert permalink["permalink_url"].startswith("https://www.facebook.com/")

    posts = graph.get(
        f"/{PAGE}/posts",
        params={"fields": "id,message,created_time,permalink_url", "since": since},
    ).json()["data"]
    assert [p["message"] for p in posts] == [
        "uploaded",
        "v",
        "album 2",
        "album",
        "pic",
        "hello page",
    ]
    assert set(posts[0]) == {"id", "message", "created_time", "permalink_url"}
    assert posts[0]["created_time"].endswith("+0000")
    future = graph.get(f"/{PAGE}/posts", params={"since": int(time.time()) + 60}).json()
    assert future["data"] == []

    kinds = [e.kind for e in sandbox.ledger.entries(platform="facebook")]
    assert kinds == ["text", "photo", "photos", "photos", "video", "photo"]
    # The ledger keeps the video's Page post, as the Video node names it.
    video_node = graph.get(f"/{video.json()['id']}", params={"fields": "post_id"}).json()
    assert sandbox.ledger.entries()[-2].platform_post_id == video_node["post_id"]
    assert sandbox.ledger.entries()[-2].source_ids == (video.json()["id"],)

    empty = graph.post(f"/{PAGE}/feed", data={})
    assert graph_error(empty)["code"] == 100


def test_graph_usage_headers(sandbox: Sandbox, graph: httpx.Client) -> None:
    response = graph.post(f"/{PAGE}/feed", data={"message": "x"})
    assert "call_count" in response.headers["x-app-usage"]
    assert PAGE in response.headers["x-business-use-case-usage"]
    sandbox.set_knobs(usage_percent=95)
    busy = graph.post(f"/{PAGE}/feed", data={"message": "y"})
    assert '"call_count":95' in busy.headers["x-app-usage"]


# ---- TikTok ---------------------------------------------------------------------------------


def test_tiktok_creator_info(tiktok: httpx.Client) -> None:
    response = tiktok.post("/v2/post/publish/creator_info/query/")
    assert response.status_code == 200
    body = response.json()
    assert body["error"]["code"] == "ok" and body["error"]["message"] == ""
    assert {
        "creator_username",
        "creator_nickname",
        "privacy_level_options",
        "comment_disabled",
        "duet_disabled",
        "stitch_disabled",
        "max_video_post_duration_sec",
    } <= set(body["data"])


def test_tiktok_chunked_upload_checks_content_range(sandbox: Sandbox, tiktok: httpx.Client) -> None:
    sandbox.set_knobs(tiktok_status_polls=2)
    size, chunk = 12 * MB, 5 * MB  # two chunks; the last takes the 2 MB tail
    init = video_init(tiktok, size, chunk, 2, title="big clip")
    assert init.status_code == 200, init.text
    data = init.json()["data"]
    url, publish_id = data["upload_url"], data["publish_id"]
    assert url.startswith(sandbox.url + "/tiktok-upload/")
    assert status(tiktok, publish_id)["status"] == "PROCESSING_UPLOAD"

    out_of_order = put_chunk(url, chunk, b"\0" * (size - chunk), size)
    assert out_of_order.status_code == 416
    assert out_of_order.headers["content-range"] == f"bytes */{size}"

    wrong_length = put_chunk(url, 0, b"\0" * (chunk - 1), size)
    assert wrong_length.status_code == 400
    assert tiktok_error_code(wrong_length) == "invalid_params"

    bad_header = httpx.put(url, content=b"\0" * chunk, headers={"Content-Type": "video/mp4"})
    assert bad_header.status_code == 400

    first = put_chunk(url, 0, b"\0" * chunk, size)
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-{chunk - 1}/{size}"
    assert status(tiktok, publish_id)["uploaded_bytes"] == chunk

    repeat = put_chunk(url, 0, b"\0" * chunk, size)
    assert repeat.status_code == 416

    short_tail = put_chunk(url, chunk, b"\0" * chunk, size)  # must carry the whole tail
    assert short_tail.status_code == 400

    last = put_chunk(url, chunk, b"\0" * (size - chunk), size)
    assert last.status_code == 201
    assert last.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    assert len(sandbox.ledger) == 1  # committed: it goes live whatever the client does now

    states = [status(tiktok, publish_id) for _ in range(3)]
    assert [s["status"] for s in states] == [
        "PROCESSING_UPLOAD",
        "PROCESSING_UPLOAD",
        "PUBLISH_COMPLETE",
    ]
    [entry] = sandbox.ledger.entries()
    assert states[-1]["publicaly_available_post_id"] == [int(entry.platform_post_id)]
    assert (entry.platform, entry.caption, entry.source_ids) == (
        "tiktok",
        "big clip",
        (publish_id,),
    )


@pytest.mark.parametrize(
    ("size", "chunk", "count", "ok"),
    [
        (1000, 1000, 1, True),  # under 5 MB: one chunk
        (1000, 500, 2, False),
        (50_000_123, 10_000_000, 5, True),  # the documented example
        (50_000_123, 10_000_000, 6, False),  # ceil instead of floor
        (60 * MB, 60 * MB, 1, True),
        (100 * 1024 * 1024, 100 * 1024 * 1024, 1, False),  # over 64 MB must be split
        (20 * MB, 4 * MB, 5, False),  # chunks under 5 MB
    ],
)
def test_chunk_plan_rules(size: int, chunk: int, count: int, ok: bool) -> None:
    assert (chunk_plan_problem(size, chunk, count) is None) is ok


def test_tiktok_init_validation(sandbox: Sandbox, tiktok: httpx.Client) -> None:
    bad_plan = video_init(tiktok, 50_000_123, 10_000_000, 6)
    assert bad_plan.status_code == 400 and tiktok_error_code(bad_plan) == "invalid_params"
    sandbox.add_account(
        "tiktok", "open-private", "private-token-1", privacy_level_options=("SELF_ONLY",)
    )
    private = httpx.Client(
        base_url=sandbox.tiktok_base, headers={"Authorization": "Bearer private-token-1"}
    )
    mismatch = video_init(private, 1000, 1000, 1)
    assert mismatch.status_code == 403
    assert tiktok_error_code(mismatch) == "privacy_level_option_mismatch"
    unknown = tiktok.post("/v2/post/publish/status/fetch/", json={"publish_id": "nope"})
    assert unknown.status_code == 400 and tiktok_error_code(unknown) == "invalid_publish_id"


def test_tiktok_pull_from_url_and_photos(sandbox: Sandbox, tiktok: httpx.Client) -> None:
    pulled = tiktok.post(
        "/v2/post/publish/video/init/",
        json={
            "post_info": {"title": "pulled", "privacy_level": "SELF_ONLY"},
            "source_info": {"source": "PULL_FROM_URL", "video_url": "https://cdn/v.mp4"},
        },
    ).json()["data"]
    assert set(pulled) == {"publish_id"}
    done = status(tiktok, pulled["publish_id"])
    assert done["status"] == "PUBLISH_COMPLETE"
    assert done["publicaly_available_post_id"] == []  # ids are shown for public posts only

    photo_post: dict[str, Any] = {
        "post_info": {"title": "t", "description": "photo post", "privacy_level": PUBLIC},
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_cover_index": 0,
            "photo_images": ["https://cdn/1.jpg", "https://cdn/2.jpg"],
        },
        "post_mode": "DIRECT_POST",
        "media_type": "PHOTO",
    }
    # The Photo Post reference marks both disclosure toggles "Required: true" for DIRECT_POST
    # (https://developers.tiktok.com/doc/content-posting-api-reference-photo-post).
    undisclosed = tiktok.post("/v2/post/publish/content/init/", json=photo_post)
    assert undisclosed.status_code == 400 and tiktok_error_code(undisclosed) == "invalid_params"
    assert "brand_content_toggle" in undisclosed.json()["error"]["message"]
    disclosure = {"brand_content_toggle": False, "brand_organic_toggle": False}
    photo_post["post_info"].update(disclosure)
    photos = tiktok.post("/v2/post/publish/content/init/", json={**photo_post, "is_aigc": False})
    assert photos.status_code == 200, photos.text
    assert status(tiktok, photos.json()["data"]["publish_id"])["status"] == "PUBLISH_COMPLETE"
    assert [(e.kind, e.caption) for e in sandbox.ledger.entries()] == [
        ("video", "pulled"),
        ("photo", "photo post"),
    ]


def test_tiktok_refresh_rotates_tokens(sandbox: Sandbox) -> None:
    sandbox.add_account("tiktok", "open-1", "tt-access-1", refresh_token="tt-refresh-1")
    form = {
        "client_key": "key",
        "client_secret": "secret",
        "grant_type": "refresh_token",
        "refresh_token": "tt-refresh-1",
    }
    with httpx.Client(base_url=sandbox.tiktok_base) as client:
        grant = client.post("/v2/oauth/token/", data=form)
        assert grant.status_code == 200
        body = grant.json()
        assert set(body) == {
            "access_token",
            "expires_in",
            "open_id",
            "refresh_token",
            "refresh_expires_in",
            "scope",
            "token_type",
        }
        assert body["open_id"] == "open-1" and body["refresh_token"] != "tt-refresh-1"

        reused = client.post("/v2/oauth/token/", data=form)
        assert reused.status_code == 400
        assert set(reused.json()) == {"error", "error_description", "log_id"}
        assert reused.json()["error"] == "invalid_grant"

        rotated = client.post(
            "/v2/oauth/token/", data={**form, "refresh_token": body["refresh_token"]}
        )
        assert rotated.status_code == 200

        new_auth = {"Authorization": f"Bearer {body['access_token']}"}
        info = client.post("/v2/post/publish/creator_info/query/", headers=new_auth)
        assert info.status_code == 200

    sandbox.set_knobs(tiktok_client_secret="right")
    with httpx.Client(base_url=sandbox.tiktok_base) as client:
        wrong = client.post("/v2/oauth/token/", data={**form, "refresh_token": "other"})
        assert wrong.json()["error"] == "invalid_client"
    assert sandbox.knobs.to_dict()["tiktok_client_secret"] == "set"


# ---- tokens ---------------------------------------------------------------------------------


def test_token_in_url_is_refused(
    sandbox: Sandbox, graph: httpx.Client, tiktok: httpx.Client
) -> None:
    leaked = graph.post(f"/{PAGE}/feed", params={"access_token": TOKEN}, data={"message": "x"})
    assert leaked.status_code == 400
    assert "Authorization header" in graph_error(leaked)["message"]
    refresh_in_url = tiktok.post("/v2/oauth/token/", params={"refresh_token": "r"}, data={})
    assert refresh_in_url.status_code == 400
    hidden = graph.get(f"/{IG}/media", params={"token": TOKEN})  # the bearer token, any name
    assert hidden.status_code == 400
    tt = tiktok.post("/v2/post/publish/creator_info/query/", params={"access_token": TOKEN})
    assert tt.status_code == 400 and tiktok_error_code(tt) == "invalid_params"
    assert len(sandbox.ledger) == 0
    assert [v["endpoint"] for v in sandbox.stats()["violations"]] == [
        "graph.feed",
        "tiktok.token",
        "graph.media_list",
        "tiktok.creator_info",
    ]
    assert TOKEN not in str(sandbox.stats())


def test_missing_and_expired_tokens(
    sandbox: Sandbox, graph: httpx.Client, tiktok: httpx.Client
) -> None:
    with httpx.Client(base_url=sandbox.graph_base) as anonymous:
        assert anonymous.post(f"/{PAGE}/feed", data={"message": "x"}).status_code == 400
    oauth_scheme = graph.post(
        f"/{PAGE}/feed", data={"message": "x"}, headers={"Authorization": f"OAuth {TOKEN}"}
    )
    assert oauth_scheme.status_code == 200

    sandbox.expire_token(TOKEN)
    expired = graph.post(f"/{PAGE}/feed", data={"message": "y"})
    assert (graph_error(expired)["code"], graph_error(expired)["error_subcode"]) == (190, 463)
    tt = tiktok.post("/v2/post/publish/creator_info/query/")
    assert tt.status_code == 401 and tiktok_error_code(tt) == "access_token_invalid"


def test_registered_tokens_are_the_only_valid_ones(sandbox: Sandbox) -> None:
    sandbox.add_account("instagram", IG, "ig-good-token")
    with httpx.Client(base_url=sandbox.graph_base) as client:
        wrong = client.get(f"/{IG}/media", headers=AUTH)
        assert (graph_error(wrong)["code"], graph_error(wrong)["error_subcode"]) == (190, 467)
        right = client.get(f"/{IG}/media", headers={"Authorization": "Bearer ig-good-token"})
        assert right.status_code == 200
        assert sandbox.expire_account("instagram", IG) == 1
        gone = client.get(f"/{IG}/media", headers={"Authorization": "Bearer ig-good-token"})
        assert graph_error(gone)["error_subcode"] == 463


# ---- knobs ----------------------------------------------------------------------------------


def test_latency_is_applied_per_call(sandbox: Sandbox, graph: httpx.Client) -> None:
    sandbox.set_knobs(latency=0.2)
    started = time.monotonic()
    graph.get(f"/{IG}/media")
    assert time.monotonic() - started >= 0.2


def test_concurrent_requests_are_served_in_parallel() -> None:
    limits = httpx.Limits(max_connections=64)
    with (
        Sandbox(latency=0.3) as sb,
        httpx.Client(base_url=sb.graph_base, headers=AUTH, timeout=10, limits=limits) as client,
    ):

        def call(i: int) -> int:
            return client.post(f"/{PAGE}/feed", data={"message": f"post {i}"}).status_code

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=50) as pool:
            codes = list(pool.map(call, range(50)))
        elapsed = time.monotonic() - started
        assert codes == [200] * 50
        assert elapsed < 2.0  # serially it would take 15 s
        assert len(sb.ledger) == 50 and sb.ledger.duplicates() == []


def test_injected_errors_have_the_platform_shape(
    sandbox: Sandbox, graph: httpx.Client, tiktok: httpx.Client
) -> None:
    sandbox.inject("graph.media_publish", count=2)
    container = graph.post(f"/{IG}/media", data={"image_url": "https://cdn/a.jpg"}).json()["id"]
    for _ in range(2):
        failed = graph.post(f"/{IG}/media_publish", params={"creation_id": container})
        assert failed.status_code == 500
        error = graph_error(failed)
        assert (error["code"], error["is_transient"]) == (2, True)
    assert len(sandbox.ledger) == 0
    assert graph.post(f"/{IG}/media_publish", params={"creation_id": container}).status_code == 200

    sandbox.inject("graph.feed", code=368, message="blocked", http_status=400)
    blocked = graph.post(f"/{PAGE}/feed", data={"message": "x"})
    assert (blocked.status_code, graph_error(blocked)["code"]) == (400, 368)

    sandbox.inject("tiktok.video_init", http_status=200, code="spam_risk_too_many_posts")
    spam = video_init(tiktok, 1000, 1000, 1)
    assert spam.status_code == 200 and tiktok_error_code(spam) == "spam_risk_too_many_posts"

    sandbox.inject("tiktok.status")
    server_error = tiktok.post("/v2/post/publish/status/fetch/", json={"publish_id": "x"})
    assert server_error.status_code == 500 and tiktok_error_code(server_error) == "internal_error"

    # Accepted, then a 500: the post is live although the client saw an error.
    sandbox.inject("graph.feed", after_action=True)
    ambiguous = graph.post(f"/{PAGE}/feed", data={"message": "did it post?"})
    assert ambiguous.status_code == 500
    assert sandbox.ledger.entries()[-1].caption == "did it post?"
    assert sandbox.stats()["faults_fired"]["error"] == 6


def test_random_errors_are_seeded(sandbox: Sandbox) -> None:
    def run() -> list[int]:
        sandbox.set_knobs(error_rate=0.5, seed=7)
        with httpx.Client(base_url=sandbox.graph_base, headers=AUTH) as client:
            return [client.get(f"/{IG}/media").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second and 500 in first and 200 in first


def test_rate_limit(sandbox: Sandbox, graph: httpx.Client, tiktok: httpx.Client) -> None:
    sandbox.rate_limit(2)
    for _ in range(2):
        limited = graph.get(f"/{IG}/media")
        assert graph_error(limited)["code"] == 4
        assert '"call_count":100' in limited.headers["x-app-usage"]
    assert graph.get(f"/{IG}/media").status_code == 200
    sandbox.rate_limit(1, endpoint="tiktok.*")
    tt = tiktok.post("/v2/post/publish/creator_info/query/")
    assert tt.status_code == 429 and tiktok_error_code(tt) == "rate_limit_exceeded"


def test_expired_token_fault(sandbox: Sandbox, graph: httpx.Client) -> None:
    sandbox.inject("graph.*", kind="expired_token")
    assert graph_error(graph.get(f"/{IG}/media"))["error_subcode"] == 463
    assert graph.get(f"/{IG}/media").status_code == 200


def test_lost_response_still_goes_live(
    sandbox: Sandbox, graph: httpx.Client, tiktok: httpx.Client
) -> None:
    container = graph.post(f"/{IG}/media", data={"image_url": "https://cdn/a.jpg", "caption": "c"})
    sandbox.lose_response("graph.media_publish")
    with pytest.raises(httpx.RemoteProtocolError):
        graph.post(f"/{IG}/media_publish", params={"creation_id": container.json()["id"]})
    assert [e.caption for e in sandbox.ledger.entries()] == ["c"]
    # The documented way to settle it: the container now reads PUBLISHED.
    read = graph.get(f"/{container.json()['id']}", params={"fields": "status_code"})
    assert read.json()["status_code"] == "PUBLISHED"

    # A hang: the work is done and the client times out waiting.
    sandbox.lose_response("graph.feed", hang=2.0)
    with pytest.raises(httpx.ReadTimeout):
        graph.post(f"/{PAGE}/feed", data={"message": "slow"}, timeout=0.3)
    assert sandbox.ledger.entries()[-1].caption == "slow"

    sandbox.lose_response("tiktok.video_init")
    pulled = {
        "post_info": {"title": "lost init", "privacy_level": PUBLIC},
        "source_info": {"source": "PULL_FROM_URL", "video_url": "https://cdn/v.mp4"},
    }
    with pytest.raises(httpx.RemoteProtocolError):
        tiktok.post("/v2/post/publish/video/init/", json=pulled)
    assert sandbox.ledger.entries()[-1].caption == "lost init"
    assert sandbox.stats()["lost_responses"] == 3


def test_duplicates_are_counted(sandbox: Sandbox, graph: httpx.Client) -> None:
    for _ in range(3):
        graph.post(f"/{PAGE}/feed", data={"message": "same"})
    graph.post(f"/{PAGE}/feed", data={"message": "other"})
    [dup] = sandbox.ledger.duplicates()
    assert (dup.platform, dup.account, dup.caption, dup.count) == ("facebook", PAGE, "same", 3)
    assert sandbox.ledger.duplicate_count() == 2


def test_tiktok_publish_failures_and_daily_cap(sandbox: Sandbox, tiktok: httpx.Client) -> None:
    sandbox.set_knobs(tiktok_publish_failures=1, tiktok_daily_post_cap=1)
    pulled = {
        "post_info": {"title": "a", "privacy_level": PUBLIC},
        "source_info": {"source": "PULL_FROM_URL", "video_url": "https://cdn/v.mp4"},
    }
    failed = tiktok.post("/v2/post/publish/video/init/", json=pulled).json()["data"]
    assert status(tiktok, failed["publish_id"])["status"] == "FAILED"
    assert len(sandbox.ledger) == 0
    tiktok.post("/v2/post/publish/video/init/", json=pulled)
    capped = tiktok.post("/v2/post/publish/video/init/", json=pulled)
    assert capped.status_code == 403 and tiktok_error_code(capped) == "spam_risk_too_many_posts"
    info = tiktok.post("/v2/post/publish/creator_info/query/")
    assert info.status_code == 200 and tiktok_error_code(info) == "spam_risk_too_many_posts"


def test_tiktok_inbox_posts_end_in_the_inbox_and_are_ledgered_apart(
    sandbox: Sandbox, tiktok: httpx.Client
) -> None:
    # The upload-video reference's body: source_info alone.
    source = {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000}
    init = tiktok.post(
        "/v2/post/publish/inbox/video/init/",
        json={"source_info": {**source, "total_chunk_count": 1}},
    )
    assert init.status_code == 200, init.text
    data = init.json()["data"]
    assert data["publish_id"].startswith("v_inbox_file")
    assert status(tiktok, data["publish_id"])["status"] == "PROCESSING_UPLOAD"
    assert put_chunk(data["upload_url"], 0, b"\0" * 1000, 1000).status_code == 201
    photos = tiktok.post(
        "/v2/post/publish/content/init/",
        json={
            "post_info": {"description": "to finish in the app"},
            "source_info": {"source": "PULL_FROM_URL", "photo_images": ["https://cdn/1.jpg"]},
            "post_mode": "MEDIA_UPLOAD",
            "media_type": "PHOTO",
        },
    )
    assert photos.status_code == 200, photos.text
    for publish_id in (data["publish_id"], photos.json()["data"]["publish_id"]):
        # Never PUBLISH_COMPLETE by itself: no creator finishes it here.
        states = {status(tiktok, publish_id)["status"] for _ in range(3)}
        assert states == {"SEND_TO_USER_INBOX"}
        assert status(tiktok, publish_id)["publicaly_available_post_id"] == []
    video, photo = sandbox.ledger.entries("tiktok")
    assert (video.destination, video.caption, video.media) == ("inbox", "", "1000 bytes")
    assert video.platform_post_id == data["publish_id"]  # no post id: the publish_id
    assert (photo.destination, photo.kind, photo.caption) == (
        "inbox",
        "photo",
        "to finish in the app",
    )
    assert sandbox.ledger.count("tiktok", destination="profile") == 0
    with httpx.Client(base_url=sandbox.url + "/_sandbox") as control:
        listed = control.get("/ledger", params={"destination": "inbox"}).json()
    assert listed["count"] == 2


def test_tiktok_pending_inbox_shares_are_capped(sandbox: Sandbox, tiktok: httpx.Client) -> None:
    sandbox.set_knobs(tiktok_pending_share_cap=2)
    body = {"source_info": {"source": "PULL_FROM_URL", "video_url": "https://cdn/v.mp4"}}
    for _ in range(2):
        assert tiktok.post("/v2/post/publish/inbox/video/init/", json=body).status_code == 200
    refused = tiktok.post("/v2/post/publish/inbox/video/init/", json=body)
    assert refused.status_code == 403
    assert tiktok_error_code(refused) == "spam_risk_too_many_pending_share"
    assert sandbox.ledger.count() == 2  # the refused one delivered nothing
    # The same video twice to one inbox is a duplicate there, as on a profile.
    assert sandbox.ledger.duplicate_count() == 1


def test_constructor_knobs_and_validation() -> None:
    with pytest.raises(TypeError):
        Sandbox(no_such_knob=1)
    with pytest.raises(ValueError):
        Sandbox(error_rate=2)
    sb = Sandbox(latency=0.01, quota_total=7)
    with pytest.raises(ValueError):
        sb.set_knobs(latency=-1)
    assert sb.knobs.latency == 0.01 and sb.knobs.quota_total == 7


# ---- control API ----------------------------------------------------------------------------


def test_control_api(sandbox: Sandbox, graph: httpx.Client) -> None:
    with httpx.Client(base_url=sandbox.url + "/_sandbox") as control:
        health = control.get("/health").json()
        assert health["graph_base"] == sandbox.graph_base
        assert health["tiktok_base"] == sandbox.tiktok_base

        assert control.post("/knobs", json={"quota_total": 3}).json()["quota_total"] == 3
        assert sandbox.knobs.quota_total == 3
        assert control.post("/knobs", json={"bogus": 1}).status_code == 400
        # JSON sent as a form (what `curl -d` does): a plain answer, not "missing field".
        as_form = control.post(
            "/knobs",
            content=b'{"quota_total": 4}',
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert as_form.status_code == 400
        assert "Content-Type: application/json" in as_form.json()["error"]
        assert sandbox.knobs.quota_total == 3

        control.post("/faults", json={"endpoint": "graph.feed", "kind": "rate_limit", "count": 1})
        assert len(control.get("/faults").json()["faults"]) == 1
        assert graph_error(graph.post(f"/{PAGE}/feed", data={"message": "x"}))["code"] == 4

        control.post("/lose_response", json={"endpoint": "graph.feed"})
        with pytest.raises(httpx.RemoteProtocolError):
            graph.post(f"/{PAGE}/feed", data={"message": "lost"})
        graph.post(f"/{PAGE}/feed", data={"message": "lost"})
        ledger = control.get("/ledger").json()
        assert ledger["count"] == 2 and ledger["duplicate_count"] == 1
        assert control.get("/ledger", params={"platform": "tiktok"}).json()["count"] == 0
        assert control.get("/ledger/duplicates").json()["duplicates"][0]["caption"] == "lost"

        added = control.post(
            "/accounts",
            json={"platform": "facebook", "account_id": PAGE, "access_tokens": ["page-token-1"]},
        )
        assert added.status_code == 200
        listed = control.get("/accounts").json()["accounts"]
        assert listed == [
            {
                "platform": "facebook",
                "account_id": PAGE,
                "username": None,
                "tokens_registered": 1,
                "refresh_token_registered": False,
            }
        ]
        page_auth = {"Authorization": "Bearer page-token-1"}
        assert (
            graph.post(f"/{PAGE}/feed", data={"message": "a"}, headers=page_auth).status_code == 200
        )
        control.post("/tokens/expire", json={"token": "page-token-1"})
        expired = graph.post(f"/{PAGE}/feed", data={"message": "b"}, headers=page_auth)
        assert graph_error(expired)["code"] == 190

        stats = control.get("/stats").json()
        assert stats["calls"]["graph.feed"] == 5 and stats["lost_responses"] == 1
        assert control.get("/nope").status_code == 400

        assert control.post("/reset").json() == {"ok": True}
        assert control.get("/ledger").json()["count"] == 0
        assert sandbox.knobs.quota_total == 50
        assert control.get("/accounts").json()["accounts"] == []


# ---- serve() ---------------------------------------------------------------------------------


def test_serve_prints_base_urls_and_stops() -> None:
    out = io.StringIO()
    stop = threading.Event()
    thread = threading.Thread(target=serve, kwargs={"port": 0, "out": out, "stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while "MEDIA_ALLOW_HOSTS" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        # The last line: what else to export to schedule the media it serves (loopback).
        assert (
            out.getvalue().splitlines()[-1].endswith("STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS=127.0.0.1")
        )
        lines = dict(
            line.split("=", 1) for line in out.getvalue().splitlines() if not line.startswith("#")
        )
        graph_base = lines["STUDIO_PUBLISH_GRAPH_API_BASE"]
        assert graph_base.endswith("/graph/v25.0")
        assert lines["STUDIO_PUBLISH_TIKTOK_API_BASE"].endswith("/tiktok")
        reply = httpx.post(f"{graph_base}/{PAGE}/feed", data={"message": "x"}, headers=AUTH)
        assert reply.status_code == 200
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM")
def test_serve_stops_on_sigterm() -> None:
    code = "from studio_publish.sandbox import serve; serve(port=0)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("STUDIO_PUBLISH_GRAPH_API_BASE=http://127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
