"""Instagram accounts connected with Instagram Login, end to end: a real PostgreSQL, the
sandbox's graph.instagram.com stand-in (STUDIO_PUBLISH_INSTAGRAM_API_BASE), the real CLI.

Their posts go live once on the Instagram Login host, their long-lived token is refreshed
before it expires (once, under the account's row lock, by two overlapping runs too), and a
Facebook Login token on such an account fails its post with the mismatch named, without
parking the account in a re-authorisation loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import psycopg
import pytest
from support.engine import Conn, add_account, add_posts, engine_settings, statuses, target
from test_e2e import Tool, db_rows, post_status
from test_e2e import sandbox as sandbox  # the fixtures: the sandbox, the CLI pointed at it
from test_e2e import tool as tool

from studio_publish import operations
from studio_publish.engine import attempt
from studio_publish.platforms.instagram.client import InstagramPlatform
from studio_publish.sandbox import Sandbox

CDN = "https://cdn.example.com"
USER = "17841400000000042"
IG_TOKEN = "IGAAQx-instagram-login-e2e-token"
ACCOUNT_TOKEN = "SELECT access_token, token_expires_at - now() AS left FROM studio_social_accounts"


def add_instagram_login_account(tool: Tool, *extra: str, token: str = IG_TOKEN) -> str:
    return tool.ok(
        "accounts",
        "add",
        "--platform",
        "instagram",
        "--login",
        "instagram",
        "--platform-account-id",
        USER,
        *extra,
        stdin=f"{token}\n",
    )


def test_every_instagram_post_type_goes_live_once_through_instagram_login(
    tool: Tool, sandbox: Sandbox, db_url: str
) -> None:
    account = add_instagram_login_account(tool, "--token-expires-at", "+60d")
    posts = [
        tool.ok("schedule", "--account", account, "--at", "now", *args)
        for args in (
            ("--caption", "A photo", "--media", f"{CDN}/photo.jpg"),
            ("--caption", "A reel", "--media", f"{CDN}/reel.mp4"),
            ("--caption", "Two", "--media", f"{CDN}/a.jpg", "--media", f"{CDN}/b.mp4"),
            ("--type", "story", "--media", f"{CDN}/story.jpg"),
        )
    ]
    sandbox.lose_response("graph.media_publish", count=1)  # the worst case, once
    summary = tool.json("run-due")
    assert summary["posted"] == 4, summary
    assert all(post_status(db_url, post_id) == "posted" for post_id in posts)
    # The IGAA token is refused on the Graph host (190): these went to the Instagram one.
    assert sandbox.ledger.count("instagram") == 4 and sandbox.ledger.duplicate_count() == 0
    assert sandbox.stats()["lost_responses"] == 1
    assert sandbox.stats()["violations"] == []
    assert "instagram.refresh" not in sandbox.stats()["calls"]  # 60 days left: not yet
    (listed,) = tool.json("accounts", "list")
    assert listed["login"] == "instagram"


def test_an_instagram_login_token_near_expiry_is_refreshed_by_run_due(
    tool: Tool, sandbox: Sandbox, db_url: str
) -> None:
    account = add_instagram_login_account(tool, "--token-expires-at", "+2d")
    tool.ok("schedule", "--account", account, "--at", "now", "--media", f"{CDN}/a.jpg")
    code, out, err = tool("run-due", "--json")
    assert code == 0 and json.loads(out)["posted"] == 1, err
    (row,) = db_rows(db_url, f"{ACCOUNT_TOKEN} WHERE id = %s", [account])
    assert row["access_token"] != IG_TOKEN and row["access_token"].startswith("IGAA")
    assert row["left"].days >= 59  # the refresh's expires_in: 60 days from now
    assert sandbox.stats()["calls"]["instagram.refresh"] == 1
    assert sandbox.stats()["violations"] == []
    assert IG_TOKEN not in out + err and row["access_token"] not in out + err


def test_a_facebook_login_token_on_an_instagram_login_account_fails_without_a_loop(
    tool: Tool, sandbox: Sandbox, db_url: str
) -> None:
    account = add_instagram_login_account(tool, token="EAAB-facebook-login-e2e-token")
    post_id = tool.ok("schedule", "--account", account, "--at", "now", "--media", f"{CDN}/a.jpg")
    code, out, _ = tool("run-due", "--json")
    assert code == 1 and json.loads(out)["failed"] == 1
    (post,) = db_rows(
        db_url,
        "SELECT status, failure_reason, last_publish_error FROM studio_social_posts WHERE id = %s",
        [post_id],
    )
    assert (post["status"], post["failure_reason"]) == ("failed", "platform")
    assert "login mismatch" in post["last_publish_error"]
    assert "accounts add --login facebook" in post["last_publish_error"]
    assert "EAAB-facebook-login-e2e-token" not in post["last_publish_error"]
    (row,) = db_rows(db_url, "SELECT state FROM studio_social_accounts WHERE id = %s", [account])
    assert row["state"] == "active"  # not needs_reauth: a new EAA token would fail the same
    assert sandbox.ledger.count() == 0


def test_two_overlapping_runs_refresh_an_instagram_login_token_once(
    db_url: str, conn: Conn, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows the web app writes (an account whose options name Instagram Login, posts by
    SQL); two runs, each holding one of the account's posts, reach the refresh at once: the
    first refreshes under the account's row lock while the second waits on it, then reuses
    the first's token (the sandbox refuses a token under a day old, so a second refresh
    would fail)."""
    account = add_account(conn, token=IG_TOKEN, expires_in="2 days")
    conn.execute(
        """UPDATE studio_social_accounts SET options = '{"login": "instagram"}'
           WHERE id = %s""",
        [account],
    )
    add_posts(conn, account, 2)
    env = sandbox.env()
    settings = engine_settings(
        concurrency=1,
        account_concurrency=2,  # each run takes one of the account's posts at once
        graph_api_base=env["STUDIO_PUBLISH_GRAPH_API_BASE"],
        instagram_api_base=env["STUDIO_PUBLISH_INSTAGRAM_API_BASE"],
    )
    entered, grants, waited = threading.Event(), [], []  # refreshes entered, and made

    def platform() -> InstagramPlatform:
        client = InstagramPlatform(settings)
        original = client.refresh_token

        async def slow_refresh(acct: Any, http: Any) -> Any:
            waited.append(entered.is_set())  # a second entry would find it set
            entered.set()
            await asyncio.sleep(0.5)  # the other run arrives while this one holds the lock
            grant = await original(acct, http)
            grants.append(grant.access_token)
            return grant

        client.refresh_token = slow_refresh  # type: ignore[method-assign]
        return client

    # Both runs have claimed their post before either takes the account's lock (a claim
    # skips an account whose row is locked, by a claim or a refresh, so the second run
    # starts once the first has claimed, and the first waits for it here).
    both_claimed, first_claimed = threading.Barrier(2, timeout=30), threading.Event()
    refresh_account_token = attempt.refresh_account_token

    async def after_both_claimed(*args: Any, **kwargs: Any) -> Any:
        first_claimed.set()
        both_claimed.wait()  # each run's loop is its own thread: blocking it is fine
        return await refresh_account_token(*args, **kwargs)

    monkeypatch.setattr(attempt, "refresh_account_token", after_both_claimed)
    errors: list[BaseException] = []
    posted: list[int] = []

    def one_run() -> None:
        try:
            summary = operations.run_due(
                settings, target(db_url), platforms={"instagram": platform()}
            )
            posted.append(summary.as_dict()["posted"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    runs = [threading.Thread(target=one_run) for _ in range(2)]
    runs[0].start()
    assert first_claimed.wait(30)
    runs[1].start()
    for run in runs:
        run.join()
    assert not errors
    assert posted == [1, 1]  # the runs overlapped: each published one of the two posts
    assert waited == [False] and len(grants) == 1
    assert sandbox.stats()["calls"]["instagram.refresh"] == 1
    assert statuses(conn) == {"posted": 2}
    assert sandbox.ledger.count("instagram") == 2 and sandbox.ledger.duplicate_count() == 0
    (row,) = db_rows(db_url, f"{ACCOUNT_TOKEN} WHERE id = %s", [account])
    assert row["access_token"] == grants[0] and row["left"].days >= 59
    with psycopg.connect(db_url) as check:  # the old token is nowhere but where it was
        found = check.execute(
            "SELECT count(*) FROM studio_publish_attempts WHERE error_message LIKE %s",
            [f"%{IG_TOKEN}%"],
        ).fetchone()
    assert found == (0,)
