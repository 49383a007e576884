"""Threads end to end: the real CLI, a real PostgreSQL, the sandbox's Threads stand-in.

Every Threads post type goes live exactly once, also when the answer to threads_publish
is lost, and a long-lived token near its expiry is refreshed by run-due.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.live import checked_sandbox
from test_e2e import Tool, db_rows, post_status

from studio_publish.sandbox import Sandbox

CDN = "https://cdn.example.com"
USER = "6000000000000009"


@pytest.fixture
def sandbox(db_url: str) -> Iterator[Sandbox]:
    with checked_sandbox(db_url, container_polls=1) as box:
        yield box


@pytest.fixture
def tool(db_url: str, sandbox: Sandbox, tmp_path: Path) -> Tool:
    return Tool(db_url, sandbox, tmp_path)


def add_threads_account(tool: Tool, *extra: str) -> str:
    return tool.ok(
        "accounts",
        "add",
        "--platform",
        "threads",
        "--platform-account-id",
        USER,
        *extra,
        stdin="th-token-e2e\n",
    )


def test_every_threads_post_type_goes_live_once(tool: Tool, sandbox: Sandbox, db_url: str) -> None:
    account = add_threads_account(tool)
    posts = [
        tool.ok("schedule", "--account", account, "--at", "now", *args)
        for args in (
            ("--caption", "Text only", "--option", "reply_control=mentioned_only"),
            ("--caption", "A photo", "--media", f"{CDN}/photo.png"),
            ("--caption", "A video", "--media", f"{CDN}/clip.mp4"),
            ("--caption", "Two", "--media", f"{CDN}/a.jpg", "--media", f"{CDN}/b.mp4"),
        )
    ]
    sandbox.lose_response("threads.publish", count=1)  # the worst case, once
    summary = tool.json("run-due")
    assert summary["posted"] == 4, summary
    assert all(post_status(db_url, post_id) == "posted" for post_id in posts)
    assert sandbox.ledger.count("threads") == 4 and sandbox.ledger.duplicate_count() == 0
    assert sandbox.stats()["lost_responses"] == 1
    (quota,) = tool.json("status")["publishing_quota"]  # read once, counted by the run
    assert (quota["platform"], quota["total"]) == ("threads", 250) and quota["used"] <= 4


def test_a_threads_token_near_expiry_is_refreshed_by_run_due(
    tool: Tool, sandbox: Sandbox, db_url: str
) -> None:
    account = add_threads_account(tool, "--token-expires-at", "+2d")
    tool.ok("schedule", "--account", account, "--at", "now", "--caption", "Refreshed first")
    assert tool.json("run-due")["posted"] == 1
    (row,) = db_rows(
        db_url,
        "SELECT access_token, token_expires_at - now() AS left FROM studio_social_accounts"
        " WHERE id = %s",
        [account],
    )
    assert row["access_token"] != "th-token-e2e"  # the refreshed long-lived token
    assert row["left"].days >= 59
    assert sandbox.stats()["calls"].get("threads.refresh") == 1
