"""Helpers shared by the engine tests: settings, posts inserted as the web app does."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg

from studio_publish.settings import Settings
from studio_publish.store.db import DatabaseTarget
from studio_publish.store.engine_store import Claim, EngineStore
from studio_publish.store.pool import ConnectionPool

Conn = psycopg.Connection[dict[str, Any]]


def engine_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "concurrency": 4,
        "run_budget_seconds": 30,
        "lease_seconds": 60,
        "max_attempts": 3,
        "retry_base_seconds": 60,
        "retry_max_seconds": 3600,
        "poll_interval_seconds": 0.01,
        "poll_timeout_seconds": 1,
        "log_format": "json",
        # Preflight looks up media URLs of future posts: only its own tests turn it on, with
        # media the sandbox serves (no test reaches a host other than 127.0.0.1).
        "preflight_hours": 0,
    }
    values.update(overrides)
    return Settings(**values)


def target(url: str) -> DatabaseTarget:
    return DatabaseTarget(url, False, "test database")


async def claim_as_a_run(url: str, limit: int) -> list[Claim]:
    """Up to ``limit`` due posts, claimed as a run claims them: its store over a pool of its
    own, in a run of its own (ACCOUNT_CONCURRENCY 1)."""
    pool = ConnectionPool(target(url), size=2)
    await pool.open()
    try:
        store = EngineStore(pool, lease_seconds=60, worker="t", account_concurrency=1)
        run_id = await store.start_run(host="test", pid=1, command="run-due")
        return await store.claim_due(limit, run_id, None)
    finally:
        await pool.close()


def add_account(
    conn: Conn,
    platform: str = "instagram",
    *,
    token: str = "secret-access-token-1234",
    refresh_token: str | None = None,
    expires_in: str | None = None,
) -> str:
    row = conn.execute(
        """INSERT INTO studio_social_accounts
               (platform, platform_account_id, name, access_token, refresh_token, token_expires_at)
           VALUES (%s, %s, %s, %s, %s, now() + %s::interval) RETURNING id""",
        [
            platform,
            f"acct-{uuid.uuid4().hex[:8]}",
            f"{platform} test",
            token,
            refresh_token,
            expires_in,
        ],
    ).fetchone()
    assert row
    return str(row["id"])


def add_post(
    conn: Conn,
    account_id: str,
    *,
    platform: str = "instagram",
    due: str = "-1 minute",
    status: str = "scheduled",
    caption: str = "hello",
) -> str:
    """Insert a post the way the web app does: only the required columns."""
    row = conn.execute(
        """INSERT INTO studio_social_posts
               (workspace_id, social_account_id, platform, post_type, caption, media, options,
                status, scheduled_for)
           VALUES ('00000000-0000-0000-0000-000000000000', %s, %s, 'image', %s, %s, %s, %s,
                   now() + %s::interval)
           RETURNING id""",
        [
            account_id,
            platform,
            caption,
            json.dumps([{"url": "https://cdn.example/a.jpg", "kind": "image"}]),
            # TikTok requires a privacy level (validation.py), as the web app must send.
            json.dumps({"privacy_level": "SELF_ONLY"} if platform == "tiktok" else {}),
            status,
            due,
        ],
    ).fetchone()
    assert row
    return str(row["id"])


def add_posts(conn: Conn, account_id: str, count: int, **kw: Any) -> list[str]:
    return [add_post(conn, account_id, caption=f"post {i}", **kw) for i in range(count)]


def post(conn: Conn, post_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM studio_social_posts WHERE id = %s", [post_id]).fetchone()
    assert row
    return row


def attempts(conn: Conn, post_id: str) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT * FROM studio_publish_attempts WHERE post_id = %s ORDER BY attempt_number, id",
        [post_id],
    ).fetchall()


def statuses(conn: Conn) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) AS n FROM studio_social_posts GROUP BY status"
    ).fetchall()
    return {r["status"]: r["n"] for r in rows}
