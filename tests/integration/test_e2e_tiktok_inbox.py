"""TikTok inbox posts end to end: the real CLI, a real PostgreSQL, the sandbox's TikTok.

A video or photos with post_mode=inbox go to the creator's inbox exactly once, from the CLI
and from a row inserted by SQL, become `posted` with no permalink, and `status` says where
they went. A lost init answer is for a person, never a second inbox post.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from support.live import checked_sandbox
from test_e2e import Tool, db_rows, post_status

from studio_publish.sandbox import Sandbox

CDN = "https://cdn.example.com"
OPEN_ID = "open-inbox"
INBOX = "post_mode=inbox"


@pytest.fixture
def sandbox(db_url: str) -> Iterator[Sandbox]:
    with checked_sandbox(db_url, tiktok_status_polls=1) as box:
        box.add_account("tiktok", OPEN_ID, "tt-token-inbox", username="inbox")
        yield box


@pytest.fixture
def tool(db_url: str, sandbox: Sandbox, tmp_path: Path) -> Tool:
    return Tool(db_url, sandbox, tmp_path)


@pytest.fixture
def account(tool: Tool) -> str:
    return tool.ok(
        "accounts",
        "add",
        "--platform",
        "tiktok",
        "--platform-account-id",
        OPEN_ID,
        stdin="tt-token-inbox\n",
    )


def insert_row(db_url: str, account: str, post_type: str, media: list[str], options: dict) -> str:
    """A post as the web app writes it: straight into the table."""
    items = [{"url": url, "kind": "image"} for url in media]
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            """INSERT INTO studio_social_posts (social_account_id, platform, post_type,
                   caption, media, options, status, scheduled_for)
               VALUES (%s, 'tiktok', %s, 'from the web app', %s::jsonb, %s::jsonb,
                       'scheduled', now())
               RETURNING id""",
            [account, post_type, json.dumps(items), json.dumps(options)],
        ).fetchone()
    assert row
    return str(row[0])


def test_inbox_videos_and_photos_reach_the_inbox_once_and_status_says_so(
    tool: Tool, sandbox: Sandbox, account: str, db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 2_000_000)
    code, video, err = tool(
        "schedule", "--account", account, "--at", "now", "--media", "clip.mp4",
        "--caption", "written in the app", "--option", INBOX,
    )  # fmt: skip
    assert code == 0, err
    video = video.strip()
    assert "takes no caption" in err  # a warning: the inbox video init has no place for it
    photos = tool.ok(
        "schedule", "--account", account, "--at", "now", "--caption", "two photos",
        "--media", f"{CDN}/1.jpg", "--media", f"{CDN}/2.jpg", "--option", INBOX,
        "--option", "title=Trip",
    )  # fmt: skip
    by_sql = insert_row(db_url, account, "image", [f"{CDN}/3.jpg"], {"post_mode": "inbox"})

    summary = tool.json("run-due")

    assert summary["posted"] == 3, summary
    entries = sandbox.ledger.entries("tiktok", destination="inbox")
    assert len(entries) == 3 and sandbox.ledger.duplicate_count() == 0
    assert sandbox.ledger.count(destination="profile") == 0
    calls = sandbox.stats()["calls"]
    assert "tiktok.creator_info" not in calls  # the inbox reads no creator info
    assert calls["tiktok.inbox_video_init"] == 1 and calls["tiktok.content_init"] == 2
    for post_id in (video, photos, by_sql):
        (row,) = db_rows(db_url, "SELECT * FROM studio_social_posts WHERE id = %s", [post_id])
        assert row["status"] == "posted" and row["permalink"] is None
        assert row["platform_post_id"] == row["platform_state"]["tiktok_publish_id"]
        assert row["platform_state"]["tiktok_inbox_delivered_at"]
        assert row["platform_post_id"] in {e.platform_post_id for e in entries}
        assert "creator's TikTok inbox" in tool.ok("status", post_id)
    detail = tool.json("status", video)
    assert detail["notes"] and "finish the post in the TikTok app" in detail["notes"][0]


def test_a_lost_inbox_init_answer_is_for_a_person_never_a_second_inbox_post(
    tool: Tool, sandbox: Sandbox, account: str, db_url: str
) -> None:
    post_id = tool.ok(
        "schedule", "--account", account, "--at", "now", "--media", f"{CDN}/a.jpg",
        "--caption", "lost", "--option", INBOX,
    )  # fmt: skip
    sandbox.lose_response("tiktok.content_init")

    tool.json("run-due")
    assert post_status(db_url, post_id) == "needs_review"
    tool.json("run-due")
    assert sandbox.ledger.count() == 1  # delivered once, and never sent again on its own
    assert sandbox.stats()["calls"]["tiktok.content_init"] == 1


def test_direct_post_settings_are_refused_with_the_inbox(tool: Tool, account: str) -> None:
    code, _, err = tool(
        "schedule", "--account", account, "--at", "now", "--media", f"{CDN}/a.jpg",
        "--option", INBOX, "--option", "privacy_level=SELF_ONLY",
    )  # fmt: skip
    assert code == 2
    assert "privacy_level is only for TikTok posts with post_mode=direct" in err
    code, _, err = tool(
        "schedule", "--account", account, "--at", "now", "--media", f"{CDN}/a.jpg",
        "--option", "post_mode=drafts",
    )  # fmt: skip
    assert code == 2 and "post_mode='drafts': one of direct, inbox" in err


def test_a_full_inbox_waits_for_the_creator_without_using_attempts(
    tool: Tool, sandbox: Sandbox, account: str, db_url: str
) -> None:
    sandbox.set_knobs(tiktok_pending_share_cap=1)
    posts = []
    for n in range(2):
        media = f"{CDN}/{n}.jpg"
        args = ("--media", media, "--caption", f"photo {n}", "--option", INBOX)
        posts.append(tool.ok("schedule", "--account", account, "--at", "now", *args))
    tool.json("run-due")
    rows = db_rows(
        db_url,
        "SELECT status, attempt_count, last_publish_error FROM studio_social_posts "
        "WHERE id = ANY(%s::uuid[]) ORDER BY status",
        [posts],
    )
    assert [r["status"] for r in rows] == ["posted", "scheduled"]
    waiting = rows[1]
    assert waiting["attempt_count"] == 0  # a wait, not a failure
    assert "drafts waiting in their TikTok inbox" in waiting["last_publish_error"]
    assert sandbox.ledger.count() == 1
