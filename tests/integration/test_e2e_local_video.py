"""Local video files end to end: the real CLI, a real PostgreSQL, the sandbox.

An Instagram reel (the resumable upload, a Facebook Login account), a Facebook video (the
Video API's resumable upload) and a Facebook reel (rupload's local-file upload) go live
once from a file in STUDIO_PUBLISH_MEDIA_ROOT, from the CLI and from a row inserted by SQL;
an upload broken midway or a lost upload answer is sent again for the same container or
video, never a second post.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row
from support.live import checked_sandbox
from test_e2e import Tool, post_status

from studio_publish.sandbox import Sandbox

SIZE = 3_000_000  # several of the sandbox's 1 MiB transfer chunks


@pytest.fixture
def sandbox(db_url: str) -> Iterator[Sandbox]:
    with checked_sandbox(db_url, container_polls=1) as box:
        yield box


@pytest.fixture
def tool(db_url: str, sandbox: Sandbox, tmp_path: Path) -> Tool:
    (tmp_path / "clip.mp4").write_bytes(bytes(range(256)) * (SIZE // 256))
    return Tool(db_url, sandbox, tmp_path)


@pytest.fixture
def accounts(tool: Tool) -> dict[str, str]:
    return {
        platform: tool.ok(
            "accounts",
            "add",
            "--platform",
            platform,
            "--platform-account-id",
            account_id,
            stdin=f"{platform}-token-local\n",
        )
        for platform, account_id in (("instagram", "17841400000000019"), ("facebook", "1020019"))
    }


@pytest.fixture
def schedule(tool: Tool, accounts: dict[str, str]) -> Callable[..., str]:
    def schedule(platform: str, *args: str) -> str:
        return tool.ok("schedule", "--account", accounts[platform], "--at", "now", *args)

    return schedule


def until_posted(tool: Tool, db_url: str, post_id: str) -> None:
    """run-due, and again with the post's backoff skipped, a few times at most."""
    for _ in range(4):
        tool.json("run-due")
        if post_status(db_url, post_id) != "scheduled":
            return
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE studio_social_posts SET next_attempt_at = now() WHERE id = %s", [post_id]
            )


def test_a_local_instagram_reel_and_facebook_video_and_reel_go_live_once(
    tool: Tool, sandbox: Sandbox, schedule: Callable[..., str], db_url: str
) -> None:
    ids = [
        schedule("instagram", "--type", "reel", "--caption", "ig local", "--media", "clip.mp4"),
        schedule("facebook", "--caption", "fb local video", "--media", "clip.mp4"),
        schedule("facebook", "--type", "reel", "--caption", "fb local", "--media", "clip.mp4"),
    ]

    assert tool.json("run-due")["posted"] == 3

    assert all(post_status(db_url, post_id) == "posted" for post_id in ids)
    calls = sandbox.stats()["calls"]
    assert calls["rupload.ig_api_upload"] == 1 and calls["rupload.video_upload"] == 1
    assert calls["graph.media_publish"] == 1 and calls["graph.video_reels.finish"] == 1
    assert calls["graph.videos"] == 2 + SIZE // (1024 * 1024) + 1  # start, transfers, finish
    assert sandbox.ledger.count() == 3 and sandbox.ledger.duplicate_count() == 0
    assert tool.json("run-due")["claimed"] == 0


def test_an_upload_broken_midway_resumes_for_the_same_container(
    tool: Tool, sandbox: Sandbox, schedule: Callable[..., str], db_url: str
) -> None:
    post_id = schedule("instagram", "--type", "reel", "--caption", "broken", "--media", "clip.mp4")
    sandbox.set_knobs(rupload_fail_after_bytes=1_000_000)

    until_posted(tool, db_url, post_id)

    assert post_status(db_url, post_id) == "posted"
    calls = sandbox.stats()["calls"]
    assert calls["graph.media"] == 1  # one container: the upload carried on
    assert calls["rupload.ig_api_upload"] == 2
    assert sandbox.ledger.count() == 1 and sandbox.ledger.duplicate_count() == 0


def test_a_lost_upload_answer_never_makes_a_second_post(
    tool: Tool, sandbox: Sandbox, schedule: Callable[..., str], db_url: str
) -> None:
    reel = schedule("facebook", "--type", "reel", "--caption", "lost", "--media", "clip.mp4")
    sandbox.lose_response("rupload.video_upload")

    until_posted(tool, db_url, reel)

    assert post_status(db_url, reel) == "posted"
    calls = sandbox.stats()["calls"]
    assert calls["graph.video_reels"] == 1 and calls["graph.video_reels.finish"] == 1
    assert sandbox.ledger.count() == 1 and sandbox.ledger.duplicate_count() == 0


def test_local_video_rows_inserted_by_sql_go_live_once(
    tool: Tool, sandbox: Sandbox, accounts: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    local = {"url": str(tmp_path / "clip.mp4"), "kind": "video"}
    rows = [("instagram", "reel"), ("instagram", "story"), ("facebook", "video")]
    ids = []
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        for platform, post_type in rows:
            caption = "" if post_type == "story" else f"sql {platform} {post_type}"
            row = conn.execute(
                """INSERT INTO studio_social_posts (social_account_id, platform, post_type,
                       caption, media, status, scheduled_for)
                   VALUES (%s, %s, %s, %s, %s::jsonb, 'scheduled', now())
                   RETURNING id""",
                [accounts[platform], platform, post_type, caption, json.dumps([local])],
            ).fetchone()
            assert row
            ids.append(str(row["id"]))

    assert tool.json("run-due")["posted"] == 3

    assert all(post_status(db_url, post_id) == "posted" for post_id in ids)
    assert sandbox.ledger.count() == 3 and sandbox.ledger.duplicate_count() == 0
