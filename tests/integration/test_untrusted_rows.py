"""Rows written by the web app are untrusted: the attacks of issue 9, against a real PostgreSQL.

Every post here is inserted by SQL, as the web app does, and published by the real engine
and the real platform clients. The platforms are faked with pytest-httpx: one router
answers like the Graph and TikTok APIs (https://developers.facebook.com/docs/graph-api/
reference/page/feed/, https://developers.tiktok.com/doc/content-posting-api-reference-
direct-post) and records every request, so each test can assert what left the machine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpx import HTTPXMock
from support.engine import (
    Conn,
    add_account,
    add_post,
    add_posts,
    attempts,
    engine_settings,
    post,
    target,
)
from support.fakes import FakePlatform

from studio_publish import operations

GRAPH = "https://graph.test/v25.0"
TIKTOK = "https://tiktok.test"
DEFAULT_WORKSPACE = "00000000-0000-0000-0000-000000000000"
SECRET_FILE_TEXT = "DATABASE_PASSWORD=hunter2-do-not-leak"
VISIBLE = {"posted", "failed", "needs_review", "scheduled"}


class Platforms:
    """Answers like Meta and TikTok; keeps every request that reached "the internet"."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.url.host == "graph.test":
            if request.method == "POST" and path.endswith("/feed"):
                return httpx.Response(200, json={"id": f"55_{len(self.requests)}"})
            if request.method == "POST" and path.endswith("/comments"):  # a first comment
                return httpx.Response(200, json={"id": f"77_{len(self.requests)}"})
            if request.method == "GET" and "_" in path.rsplit("/", 1)[-1]:
                post_id = path.rsplit("/", 1)[-1]
                return httpx.Response(
                    200,
                    json={"id": post_id, "permalink_url": f"https://www.facebook.com/{post_id}"},
                )
        if request.url.host == "tiktok.test" and path.endswith("/creator_info/query/"):
            data = {
                "creator_username": "studio",
                "privacy_level_options": ["PUBLIC_TO_EVERYONE", "SELF_ONLY"],
                "comment_disabled": False,
                "duet_disabled": False,
                "stitch_disabled": False,
                "max_video_post_duration_sec": 600,
            }
            return httpx.Response(200, json={"data": data, "error": {"code": "ok"}})
        # Anything else is refused the way Graph refuses a bad request.
        error = {"message": "Unsupported request", "type": "GraphMethodException", "code": 100}
        return httpx.Response(400, json={"error": error})

    def sent(self) -> bytes:
        """Every byte sent anywhere: headers, URLs and bodies."""
        parts = []
        for request in self.requests:
            parts.append(str(request.url).encode())
            parts.append(b"".join(k + b": " + v for k, v in request.headers.raw))
            parts.append(request.read())
        return b"\n".join(parts)

    def hosts(self) -> set[str]:
        return {request.url.host for request in self.requests}


@pytest.fixture
def platforms(httpx_mock: HTTPXMock) -> Platforms:
    router = Platforms()
    httpx_mock.add_callback(router, is_reusable=True, is_optional=True)
    return router


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff" + b"jpeg" * 10)
    (root / ".env").write_text(SECRET_FILE_TEXT)
    (tmp_path / ".env").write_text(SECRET_FILE_TEXT)  # the cron folder, beside the root
    (root / "escape.jpg").symlink_to(tmp_path / ".env")
    (root / "passwd.mp4").symlink_to("/etc/passwd")
    return root


def run(db_url: str, **overrides: Any) -> operations.RunSummary:
    values: dict[str, Any] = {"graph_api_base": GRAPH, "tiktok_api_base": TIKTOK}
    values.update(overrides)
    return operations.run_due(engine_settings(**values), target(db_url))


def insert(
    conn: Conn,
    account_id: str,
    platform: str,
    *,
    post_type: str | None,
    media: Any = None,
    options: Any = None,
    caption: str = "hello",
    workspace: str = DEFAULT_WORKSPACE,
    platform_state: Any = None,
) -> str:
    """A row as the web app writes it; jsonb values exactly as given (any JSON at all)."""
    row = conn.execute(
        """INSERT INTO studio_social_posts
               (workspace_id, social_account_id, platform, post_type, caption, media, options,
                platform_state, status, scheduled_for)
           VALUES (%s, %s, %s, %s, %s, %s::jsonb, coalesce(%s::jsonb, '{}'::jsonb),
                   coalesce(%s::jsonb, '{}'::jsonb), 'scheduled', now() - interval '1 minute')
           RETURNING id""",
        [
            workspace,
            account_id,
            platform,
            post_type,
            caption,
            json.dumps(media if media is not None else []),
            None if options is None else json.dumps(options),
            None if platform_state is None else json.dumps(platform_state),
        ],
    ).fetchone()
    assert row
    return str(row["id"])


def good_text_post(conn: Conn, account_id: str, caption: str = "a good post") -> str:
    return insert(conn, account_id, "facebook", post_type="text", caption=caption)


def tiktok_video(conn: Conn, account_id: str, url: str) -> str:
    return insert(
        conn,
        account_id,
        "tiktok",
        post_type="video",
        media=[{"url": url, "kind": "video"}],
        options={"privacy_level": "SELF_ONLY"},
    )


def assert_invalid(conn: Conn, post_id: str, field: str) -> str:
    row = post(conn, post_id)
    assert (row["status"], row["failure_reason"]) == ("failed", "invalid"), row
    assert row["last_publish_error"].startswith(f"{field}: "), row["last_publish_error"]
    assert row["claim_token"] is None
    return str(row["last_publish_error"])


def last_run(conn: Conn) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM studio_publish_runs ORDER BY id DESC LIMIT 1").fetchone()
    assert row
    return row


# --- local files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "/etc/passwd",
        "file:///etc/hostname",
        ".env",
        "../.env",
        "escape.jpg",  # a link inside the root that leads out of it
        "passwd.mp4",
        "/etc/../etc/passwd",
    ],
)
def test_local_files_outside_the_media_root_are_never_read(
    db_url: str, conn: Conn, platforms: Platforms, media_root: Path, location: str
) -> None:
    tiktok = add_account(conn, "tiktok")
    facebook = add_account(conn, "facebook")
    kind_url = str(media_root / location) if location.startswith("escape") else location
    video = tiktok_video(conn, tiktok, kind_url)
    photo = insert(
        conn,
        facebook,
        "facebook",
        post_type="image",
        media=[{"url": kind_url, "kind": "image"}],
    )
    carousel = insert(
        conn,
        facebook,
        "facebook",
        post_type="carousel",
        media=[{"url": "photo.jpg", "kind": "image"}, {"url": kind_url, "kind": "image"}],
    )
    instagram = add_account(conn, "instagram")
    # The kinds uploaded with the resumable uploads: a Facebook video and reel, an
    # Instagram reel and story (local videos, streamed from the media root).
    uploads = [
        insert(conn, account, platform, post_type=post_type, caption=caption,
               media=[{"url": kind_url, "kind": "video"}])
        for account, platform, post_type, caption in (
            (facebook, "facebook", "video", "hello"),
            (facebook, "facebook", "reel", "hello"),
            (instagram, "instagram", "reel", "hello"),
            (instagram, "instagram", "story", ""),
        )
    ]  # fmt: skip
    good = good_text_post(conn, facebook)

    summary = run(db_url, media_root=str(media_root))

    assert_invalid(conn, video, "media[0].url")
    assert_invalid(conn, photo, "media[0].url")
    assert_invalid(conn, carousel, "media[1].url")
    for upload in uploads:
        assert_invalid(conn, upload, "media[0].url")
    assert post(conn, good)["status"] == "posted"
    sent = platforms.sent()
    assert SECRET_FILE_TEXT.encode() not in sent
    assert b"root:" not in sent  # /etc/passwd
    assert Path("/etc/hostname").read_bytes().strip() not in sent
    # Only the good post reached a platform: its feed call and its permalink read.
    assert {r.url.path for r in platforms.requests} <= {
        f"/v25.0/{post(conn, good)['platform_post_id']}",
        *{f"/v25.0/{p}/feed" for p in _page_ids(conn)},
    }
    assert summary.count("failed") == 7


@pytest.mark.parametrize("what", ["directory", "fifo"])
@pytest.mark.parametrize(
    ("platform", "post_type"),
    [("facebook", "video"), ("facebook", "reel"), ("instagram", "reel"), ("instagram", "story")],
)
def test_a_local_video_that_is_not_a_regular_file_is_refused_and_never_opened(
    db_url: str,
    conn: Conn,
    platforms: Platforms,
    media_root: Path,
    what: str,
    platform: str,
    post_type: str,
) -> None:
    target = media_root / "clip.mp4"
    if what == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)  # opening it for reading would block: it must never be opened
    account = add_account(conn, platform)
    caption = "" if post_type == "story" else "hello"
    media = [{"url": str(target), "kind": "video"}]
    post_id = insert(conn, account, platform, post_type=post_type, caption=caption, media=media)

    run(db_url, media_root=str(media_root))

    assert "not a regular file" in assert_invalid(conn, post_id, "media[0].url")
    assert platforms.requests == []


def _page_ids(conn: Conn) -> list[str]:
    rows = conn.execute(
        "SELECT platform_account_id FROM studio_social_accounts WHERE platform = 'facebook'"
    ).fetchall()
    return [r["platform_account_id"] for r in rows]


def test_without_a_media_root_every_local_file_is_refused(
    db_url: str, conn: Conn, platforms: Platforms, media_root: Path
) -> None:
    facebook = add_account(conn, "facebook")
    photo = insert(
        conn,
        facebook,
        "facebook",
        post_type="image",
        media=[{"url": str(media_root / "photo.jpg"), "kind": "image"}],
    )
    run(db_url)
    assert "STUDIO_PUBLISH_MEDIA_ROOT" in assert_invalid(conn, photo, "media[0].url")
    assert platforms.requests == []


def test_a_file_inside_the_media_root_is_uploaded(
    db_url: str, conn: Conn, httpx_mock: HTTPXMock, media_root: Path
) -> None:
    facebook = add_account(conn, "facebook")
    page = _page_ids(conn)[0]
    photo = insert(
        conn,
        facebook,
        "facebook",
        post_type="image",
        media=[{"url": "photo.jpg", "kind": "image"}],  # relative: taken from the root
    )
    httpx_mock.add_response(
        method="POST", url=f"{GRAPH}/{page}/photos", json={"id": "9", "post_id": f"{page}_9"}
    )
    httpx_mock.add_response(
        method="GET",
        url=httpx.URL(f"{GRAPH}/{page}_9", params={"fields": "permalink_url"}),
        json={"id": f"{page}_9", "permalink_url": "https://www.facebook.com/p/9"},
        is_optional=True,
    )
    run(db_url, media_root=str(media_root))
    assert post(conn, photo)["status"] == "posted", post(conn, photo)["last_publish_error"]
    upload = httpx_mock.get_requests(method="POST")[0]
    assert (media_root / "photo.jpg").read_bytes() in upload.read()


# --- internal addresses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/clip.mp4",
        "http://localhost/clip.mp4",
        "http://0x7f000001/clip.mp4",
        "http://2130706433/clip.mp4",
        "http://0177.0.0.1/clip.mp4",
        "http://169.254.169.254/latest/meta-data/clip.mp4",
        "http://[::1]/clip.mp4",
        "http://[::ffff:127.0.0.1]/clip.mp4",
        "http://10.0.0.7/clip.mp4",
        "http://192.168.1.1/clip.mp4",
        "http://[fd00::1]/clip.mp4",
        "http://cdn.example:99999/clip.mp4",
        "http://user:pass@cdn.example/clip.mp4",
    ],
)
def test_internal_media_addresses_are_never_fetched(
    db_url: str, conn: Conn, platforms: Platforms, url: str
) -> None:
    tiktok = add_account(conn, "tiktok")
    facebook = add_account(conn, "facebook")
    video = tiktok_video(conn, tiktok, url)
    good = good_text_post(conn, facebook)
    run(db_url)
    message = assert_invalid(conn, video, "media[0].url")
    assert "connect" not in message and "HTTP" not in message  # nothing about ports
    assert platforms.hosts() <= {"graph.test"}
    assert post(conn, good)["status"] == "posted"


def test_a_host_name_resolving_to_an_internal_address_is_not_fetched(
    db_url: str, conn: Conn, platforms: Platforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "127.0.0.1"]  # one public answer is not enough

    monkeypatch.setattr("studio_publish.media_policy.resolve_host", rebinding)
    tiktok = add_account(conn, "tiktok")
    video = tiktok_video(conn, tiktok, "https://media.evil.example/clip.mp4")
    run(db_url)
    row = post(conn, video)
    assert (row["status"], row["failure_reason"]) == ("failed", "invalid")
    assert "media.evil.example" in row["last_publish_error"]
    assert "STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS" in row["last_publish_error"]
    assert platforms.hosts() == {"tiktok.test"}  # creator_info only; nothing was fetched
    assert not [r for r in platforms.requests if "init" in r.url.path]


def test_an_allowed_internal_host_is_fetched(
    db_url: str, conn: Conn, httpx_mock: HTTPXMock, platforms: Platforms
) -> None:
    tiktok = add_account(conn, "tiktok")
    video = tiktok_video(conn, tiktok, "http://127.0.0.1:8099/clip.mp4")
    run(db_url, media_allow_hosts="127.0.0.0/8")
    # Allowed: the tool went to fetch it (the router answers 400, so the post fails there).
    assert "127.0.0.1" in platforms.hosts()
    assert post(conn, video)["failure_reason"] != "invalid"


# --- malformed rows stop nothing -----------------------------------------------------------

MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("media as a string", {"media": "https://cdn.example/a.jpg"}, "media"),
    ("media as an object", {"media": {"url": "https://cdn.example/a.jpg"}}, "media"),
    ("an item without url", {"media": [{"kind": "image"}]}, "media[0].url"),
    ("a numeric url", {"media": [{"url": 12345, "kind": "image"}]}, "media[0].url"),
    ("a list as an item", {"media": [["https://cdn.example/a.jpg"]]}, "media[0]"),
    (
        "an unknown kind",
        {"media": [{"url": "https://c.example/a.jpg", "kind": "x"}]},
        "media[0].kind",
    ),
    ("a port out of range", {"media": [{"url": "https://c.example:99999/a.jpg"}]}, "media[0].url"),
    ("options as a list", {"post_type": "text", "options": ["link=https://x.example"]}, "options"),
    ("options as a number", {"post_type": "text", "options": 7}, "options"),
    ("an unknown option", {"post_type": "text", "options": {"evil": True}}, "options"),
    ("an option of the wrong type", {"post_type": "text", "options": {"link": 5}}, "options"),
    ("an unknown post type", {"post_type": "hologram"}, "post_type"),
    (
        "a caption on a Facebook story",  # the row's "hello": refused, never dropped
        {"post_type": "story", "media": [{"url": "https://c.example/a.jpg", "kind": "image"}]},
        "caption",
    ),
    (
        "10,000 images",
        {"media": [{"url": f"https://c.example/{i}.jpg"} for i in range(10_000)]},
        "media",
    ),
]


def test_malformed_rows_fail_alone_and_the_run_finishes(
    db_url: str, conn: Conn, platforms: Platforms
) -> None:
    facebook = add_account(conn, "facebook")
    first_good = good_text_post(conn, facebook, "before")
    bad = {}
    for name, fields, field in MALFORMED:
        values: dict[str, Any] = {"post_type": "image", "media": [], **fields}
        bad[name] = (insert(conn, facebook, "facebook", **values), field)
    state_list = insert(
        conn, facebook, "facebook", post_type="text", platform_state=["fb_post_id", "1"]
    )
    state_path = insert(
        conn, facebook, "facebook", post_type="text", platform_state={"fb_post_id": "../me"}
    )
    last_good = good_text_post(conn, facebook, "after")

    summary = run(db_url)

    for name, (post_id, field) in bad.items():
        row = post(conn, post_id)
        assert (row["status"], row["failure_reason"]) == ("failed", "invalid"), name
        assert row["last_publish_error"].startswith(f"{field}: "), (name, row)
    for post_id in (state_list, state_path):
        # Saved ids that are not ids: an earlier attempt may have sent something.
        row = post(conn, post_id)
        assert (row["status"], row["failure_reason"]) == ("needs_review", "invalid")
        assert row["last_publish_error"].startswith("platform_state")
    assert post(conn, first_good)["status"] == "posted"
    assert post(conn, last_good)["status"] == "posted"
    feeds = [r for r in platforms.requests if r.url.path.endswith("/feed")]
    assert len(feeds) == 2  # the two good posts, and nothing for the bad ones
    assert not [r for r in platforms.requests if "../" in str(r.url) or "/me" in r.url.path]
    run_row = last_run(conn)
    assert run_row["finished_at"] is not None and run_row["outcome"] == "failed"
    assert summary.count("failed") == len(MALFORMED)
    assert conn.execute(
        "SELECT count(*) AS n FROM studio_social_posts WHERE status = 'publishing'"
    ).fetchone() == {"n": 0}

    again = run(db_url)  # the next run is clean: nothing left claimed, nothing to do
    assert (again.claimed, again.rescued, again.outcome) == (0, 0, "ok")


@pytest.mark.parametrize("value", [None, -1, 2**31 - 1])
def test_attempt_count_is_refused_at_insert_when_not_a_count(conn: Conn, value: int | None) -> None:
    facebook = add_account(conn, "facebook")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            """INSERT INTO studio_social_posts
                   (social_account_id, platform, post_type, caption, status, scheduled_for,
                    attempt_count)
               VALUES (%s, 'facebook', 'text', 'x', 'scheduled', now(), %s)""",
            [facebook, value],
        )


def test_a_post_of_another_workspace_is_not_published_to_the_account(
    db_url: str, conn: Conn, platforms: Platforms
) -> None:
    facebook = add_account(conn, "facebook")
    stranger = insert(conn, facebook, "facebook", post_type="text", workspace=str(uuid.uuid4()))
    run(db_url)
    row = post(conn, stranger)
    assert (row["status"], row["failure_reason"]) == ("failed", "account_mismatch")
    assert "workspace" in row["last_publish_error"]
    assert platforms.requests == []


def test_a_row_for_a_platform_the_registry_does_not_hold_fails_alone(
    db_url: str, conn: Conn, platforms: Platforms
) -> None:
    """No CHECK lists the platforms (the registry does): a row the web app wrote for one
    studio-publish does not publish to is claimed, failed as invalid naming the platform,
    and nothing is sent; the run's other posts go out."""
    facebook = add_account(conn, "facebook")
    conn.execute(
        "INSERT INTO studio_social_accounts (workspace_id, platform, platform_account_id,"
        " access_token) VALUES (%s, 'myspace', '42', 'token')",
        [DEFAULT_WORKSPACE],
    )
    (myspace,) = (
        conn.execute("SELECT id FROM studio_social_accounts WHERE platform = 'myspace'")
        .fetchone()
        .values()
    )
    unknown = insert(conn, str(myspace), "myspace", post_type="text")
    on_facebook_account = insert(conn, facebook, "myspace", post_type="text")
    fine = insert(conn, facebook, "facebook", post_type="text")
    run(db_url)
    for post_id in (unknown, on_facebook_account):
        row = post(conn, post_id)
        assert (row["status"], row["failure_reason"]) == ("failed", "invalid"), row
        assert "unsupported platform 'myspace'" in row["last_publish_error"]
    assert post(conn, fine)["status"] == "posted"
    assert platforms.hosts() == {"graph.test"}


def test_an_id_answered_by_the_platform_that_is_not_an_id_is_never_used(
    db_url: str, conn: Conn, httpx_mock: HTTPXMock
) -> None:
    facebook = add_account(conn, "facebook")
    page = _page_ids(conn)[0]
    text = insert(conn, facebook, "facebook", post_type="text")
    httpx_mock.add_response(method="POST", url=f"{GRAPH}/{page}/feed", json={"id": "1/../../me"})
    run(db_url)
    row = post(conn, text)
    assert row["status"] == "needs_review"  # it may be live: a person looks
    assert [r.url.path for r in httpx_mock.get_requests()] == [f"/v25.0/{page}/feed"]


# --- anything at all in the JSON columns -----------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
# PostgreSQL's jsonb holds no NUL character and no lone surrogate; anything else goes.
JSON_VALUES = JSON.filter(
    lambda v: (
        "\\u0000" not in json.dumps(v)
        and "\\ud8" not in json.dumps(v).lower()
        and "\\udc" not in json.dumps(v).lower()
        and "\\udd" not in json.dumps(v).lower()
        and "\\ude" not in json.dumps(v).lower()
        and "\\udf" not in json.dumps(v).lower()
    )
)
MEDIA_ITEMS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "url": JSON_VALUES
            | st.sampled_from(
                ["https://c.example/a.jpg", "/etc/passwd", "http://127.0.0.1/a.mp4", "a.jpg"]
            ),
            "kind": st.sampled_from(["image", "video", "gif"]) | JSON_VALUES,
        },
    ),
    max_size=3,
)
PLATFORMS = st.sampled_from(["instagram", "facebook", "tiktok"])
# The keys the clients save and read back (their values as the web app may have written
# them): container ids and times, the processing bound's times and sizes, publish markers.
SAVED_KEYS = st.sampled_from(
    [
        "ig_container_id",
        "ig_container_created_at",
        "ig_children",
        "ig_publish_sent_at",
        "ig_media_id",
        "ig_container_retries",
        "fb_publish_sent_at",
        "fb_video_id",
        "fb_post_id",
        "fb_photo_ids",
        "fb_reel_uploaded",
        "fb_reel_finished",
        "fb_story_post_id",
        "tiktok_publish_id",
        "tiktok_init_sent_at",
        "tiktok_video_size",
        "tiktok_uploaded_at",
        "tiktok_inbox_delivered_at",
    ]
)


@pytest.fixture
def accounts(conn: Conn) -> dict[str, str]:
    return {p: add_account(conn, p) for p in ("instagram", "facebook", "tiktok")}


# Each example is a row published through the real engine and PostgreSQL: slow, and sharing
# the test's fixtures (the fakes and accounts) on purpose.
ROWS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(ROWS, max_examples=60)
@given(
    platform=PLATFORMS,
    post_type=st.none() | st.sampled_from(["image", "video", "reel", "story", "carousel", "text"]),
    media=JSON_VALUES | MEDIA_ITEMS,
    options=JSON_VALUES
    | st.dictionaries(
        st.sampled_from(["privacy_level", "post_mode", "link", "title", "x", "first_comment"]),
        # TikTok's modes as the web app may spell them, beside any JSON at all (a first
        # comment too: text of any length, or anything else).
        JSON_VALUES
        | st.sampled_from(["inbox", "direct", "INBOX", " inbox", "SELF_ONLY"])
        # (PostgreSQL's jsonb holds no NUL: no web app can store one.)
        | st.text(st.characters(exclude_characters="\x00"), max_size=600),
        max_size=3,
    ),
    platform_state=JSON_VALUES
    | st.dictionaries(
        SAVED_KEYS,
        # Id-shaped values get past the door to the clients: numbers, id strings, times.
        JSON_VALUES
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)  # jsonb takes no Infinity
        | st.booleans()
        | st.from_regex(r"[0-9]{1,18}", fullmatch=True)
        | st.datetimes(timezones=st.none() | st.just(dt.UTC)).map(lambda t: t.isoformat()),
        max_size=4,
    ),
)
def test_any_json_in_a_row_ends_in_a_visible_state(
    db_url: str,
    conn: Conn,
    platforms: Platforms,
    accounts: dict[str, str],
    platform: str,
    post_type: str | None,
    media: Any,
    options: Any,
    platform_state: Any,
) -> None:
    row = published_as_is(
        db_url,
        conn,
        platforms,
        accounts[platform],
        platform,
        post_type=post_type,
        media=media,
        options=options,
        platform_state=platform_state,
    )
    assert row["status"] in VISIBLE, row


def published_as_is(
    db_url: str,
    conn: Conn,
    platforms: Platforms,
    account_id: str,
    platform: str,
    *,
    media: Any,
    options: Any,
    platform_state: Any,
    **fields: Any,
) -> dict[str, Any]:
    """A row with these values stored exactly (null too), published once: it ends visibly,
    with its reason, and nothing left for any host but the fakes."""
    post_id = insert(conn, account_id, platform, media=media, options=options, **fields)
    conn.execute(  # insert() maps JSON null to the default; here null is stored as is
        "UPDATE studio_social_posts SET media = %s::jsonb, options = %s::jsonb, "
        "platform_state = %s::jsonb WHERE id = %s",
        [json.dumps(media), json.dumps(options), json.dumps(platform_state), post_id],
    )
    summary = operations.run_due(
        # The rupload host on the fake Graph host: a saved video id can reach an upload.
        engine_settings(
            graph_api_base=GRAPH,
            tiktok_api_base=TIKTOK,
            facebook_upload_base="https://graph.test/rupload",
            max_attempts=1,
        ),
        target(db_url),
        only_ids=[post_id],
    )
    row = post(conn, post_id)
    assert row["status"] in VISIBLE, row
    assert row["claim_token"] is None
    if row["status"] != "posted":
        assert row["last_publish_error"], row
    assert [r.post_id for r in summary.results] == [post_id]
    assert not {h for h in platforms.hosts()} - {"graph.test", "tiktok.test"}
    # A first comment exists only under a posted post, and it ends visibly too.
    comments = conn.execute(
        "SELECT state, claim_token, error FROM studio_publish_comments WHERE post_id = %s",
        [post_id],
    ).fetchall()
    assert not comments or row["status"] == "posted", (row, comments)
    for comment in comments:
        assert (
            comment["state"] in ("posted", "failed", "pending") and comment["claim_token"] is None
        )
        assert comment["state"] == "posted" or comment["error"], comment
    return row


# Facebook stories: the ids their flows save, as a web app may have written them.
STORY_KEYS = st.sampled_from(
    [
        "fb_photo_ids",
        "fb_video_id",
        "fb_reel_uploaded",
        "fb_reel_finished",
        "fb_story_post_id",
        "fb_publish_sent_at",
        "fb_post_id",
    ]
)
IDS = st.from_regex(r"[0-9]{1,18}", fullmatch=True)


@settings(ROWS, max_examples=40)
@given(
    media=MEDIA_ITEMS | JSON_VALUES,
    caption=st.sampled_from(["", "a caption"]) | st.text(max_size=20),
    platform_state=JSON_VALUES
    | st.dictionaries(
        STORY_KEYS,
        JSON_VALUES | IDS | st.lists(IDS, max_size=3) | st.booleans() | st.integers(),
        max_size=5,
    ),
)
def test_any_facebook_story_row_ends_in_a_visible_state(
    db_url: str,
    conn: Conn,
    platforms: Platforms,
    accounts: dict[str, str],
    media: Any,
    caption: str,
    platform_state: Any,
) -> None:
    row = published_as_is(
        db_url,
        conn,
        platforms,
        accounts["facebook"],
        "facebook",
        post_type="story",
        caption=caption.replace("\x00", ""),
        media=media,
        options={},
        platform_state=platform_state,
    )
    assert row["status"] in VISIBLE, row
    if caption.replace("\x00", "").strip():  # a story's caption is refused, never dropped
        # (for a person to look at, where saved ids say an earlier attempt may have sent)
        assert row["status"] in ("failed", "needs_review"), row
        assert row["failure_reason"] == "invalid", row


# --- an exception in one post's work stays with that post ----------------------------------


class Exploding(FakePlatform):
    """Raises what no platform documents, for the posts named in ``explode``."""

    explode: dict[str, BaseException]

    async def prepare(self, ctx: Any) -> None:
        if ctx.post.caption in self.explode:
            raise self.explode[ctx.post.caption]
        await super().prepare(ctx)


def test_an_unexpected_exception_is_recorded_on_its_post_and_the_run_goes_on(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    fake = Exploding("instagram", tmp_path / "ledger")
    fake.explode = {"zero": ZeroDivisionError("division by zero"), "lookup": LookupError("x")}
    account = add_account(conn, "instagram")
    bad = [add_post(conn, account, caption=c) for c in fake.explode]
    good = add_posts(conn, account, 3)
    summary = operations.run_due(
        engine_settings(max_attempts=1), target(db_url), platforms={"instagram": fake}
    )
    assert sorted(fake.live()) == sorted(good)
    for post_id, name in zip(bad, ("ZeroDivisionError", "LookupError"), strict=True):
        row = post(conn, post_id)
        assert row["status"] == "failed" and row["claim_token"] is None
        # The class and message are kept on the post (nothing reached the platform).
        assert f"{name}: " in row["last_publish_error"], row["last_publish_error"]
    assert {a["error_class"] for p in bad for a in attempts(conn, p)} == {"retry"}
    assert last_run(conn)["finished_at"] is not None
    assert summary.count("posted") == 3


def test_a_crash_while_recording_ends_the_post_in_review_and_the_run_row(
    db_url: str, conn: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio_publish.store.engine_store import EngineStore

    fake = FakePlatform("instagram", tmp_path / "ledger")
    account = add_account(conn, "instagram")
    broken = add_post(conn, account, caption="broken")
    others = add_posts(conn, account, 2)
    real_finish = EngineStore.finish

    async def finish(self: EngineStore, claim: Any, transition: Any) -> bool:
        if claim.post_id == broken and transition.published is not None:
            raise RuntimeError("a bug in recording")
        return await real_finish(self, claim, transition)

    monkeypatch.setattr(EngineStore, "finish", finish)
    operations.run_due(engine_settings(), target(db_url), platforms={"instagram": fake})
    row = post(conn, broken)
    assert (row["status"], row["failure_reason"]) == ("needs_review", "internal_error")
    assert all(post(conn, p)["status"] == "posted" for p in others)
    assert last_run(conn)["finished_at"] is not None


def test_an_account_id_that_is_not_an_id_is_never_put_in_a_path(
    db_url: str, conn: Conn, platforms: Platforms
) -> None:
    facebook = add_account(conn, "facebook")
    conn.execute(
        "UPDATE studio_social_accounts SET platform_account_id = 'me/accounts?x=' WHERE id = %s",
        [facebook],
    )
    text = insert(conn, facebook, "facebook", post_type="text")
    run(db_url)
    row = post(conn, text)
    assert (row["status"], row["failure_reason"]) == ("failed", "invalid")
    assert "platform_account_id" in row["last_publish_error"]
    assert platforms.requests == []


@pytest.mark.parametrize("token", ["tok\r\nX-Injected: 1", "tok en", "tök", "", None])
def test_a_stored_token_no_header_can_carry_is_never_sent(
    db_url: str, conn: Conn, platforms: Platforms, token: str | None
) -> None:
    """A token written into the table by hand (or by another tool): its posts wait for a new
    token, visibly, and nothing is sent; the account's other work is not affected."""
    facebook = add_account(conn, "facebook")
    conn.execute(
        "UPDATE studio_social_accounts SET access_token = %s WHERE id = %s", [token, facebook]
    )
    text = insert(conn, facebook, "facebook", post_type="text")
    summary = run(db_url)
    row = post(conn, text)
    assert row["status"] == "scheduled" and row["attempt_count"] == 0
    assert "access_token" in row["last_publish_error"]
    assert "accounts reauth" in row["last_publish_error"]
    state = conn.execute("SELECT state FROM studio_social_accounts WHERE id = %s", [facebook])
    assert state.fetchone()["state"] == "needs_reauth"
    assert platforms.requests == [] and summary.counts()["retried"] == 1


@settings(ROWS, max_examples=40)
@given(
    platform=PLATFORMS,
    token=st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)))
    | st.sampled_from(["tok\r\nX-Injected: 1", "tok\n", "\rtok", "tok\u2028x", " tok "]),
)
def test_any_stored_token_ends_its_post_visibly_and_no_header_carries_a_line_break(
    db_url: str,
    conn: Conn,
    platforms: Platforms,
    accounts: dict[str, str],
    platform: str,
    token: str,
) -> None:
    conn.execute(
        "UPDATE studio_social_accounts SET access_token = %s, state = 'active' WHERE id = %s",
        [token, accounts[platform]],
    )
    sent_before = len(platforms.requests)
    row = published_as_is(
        db_url,
        conn,
        platforms,
        accounts[platform],
        platform,
        post_type="text" if platform == "facebook" else None,
        media=[]
        if platform == "facebook"
        else [{"url": "https://cdn.example/a.jpg", "kind": "image"}],
        options={},
        platform_state=None,
    )
    for request in platforms.requests[sent_before:]:
        for _, value in request.headers.raw:
            assert b"\r" not in value and b"\n" not in value
    if any(c in token for c in "\r\n"):
        assert row["status"] == "scheduled" and "access_token" in row["last_publish_error"]
        assert len(platforms.requests) == sent_before  # nothing sent


def test_run_due_dry_run_says_which_rows_would_fail_and_why(
    db_url: str, conn: Conn, platforms: Platforms
) -> None:
    tiktok = add_account(conn, "tiktok")
    facebook = add_account(conn, "facebook")
    hostile = tiktok_video(conn, tiktok, "/etc/passwd")
    good = good_text_post(conn, facebook)
    injecting = add_account(conn, "facebook")
    conn.execute(
        "UPDATE studio_social_accounts SET access_token = %s WHERE id = %s",
        ["tok-SECRET-42\r\nX-Injected: 1", injecting],
    )
    held = good_text_post(conn, injecting)
    tokenless = add_account(conn, "facebook")
    conn.execute("UPDATE studio_social_accounts SET access_token = NULL WHERE id = %s", [tokenless])
    unsendable = good_text_post(conn, tokenless)
    preview = operations.preview_due(conn, engine_settings())
    would = {p["id"]: p["would"] for p in preview["due"]}
    assert would[good] == "publish"
    assert would[hostile].startswith("failed as invalid: media[0].url: ")
    assert would[held].startswith("reauth: the account's access_token holds a space, a line")
    assert would[unsendable].startswith("reauth: the account's access_token is empty")
    assert "SECRET-42" not in json.dumps(preview, default=str)  # the token is never shown
    assert post(conn, hostile)["status"] == "scheduled"  # nothing written
    assert platforms.requests == []
