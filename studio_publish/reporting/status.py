"""What `status` reports: an overview of the queue, or one post with its attempt history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio_publish.platforms import registry
from studio_publish.store import db

OVERDUE_GRACE_SECONDS = 300  # cron runs every minute: five minutes late means it is not running
TOKEN_EXPIRY_WARNING_DAYS = 7
LIST_LIMIT = 10


def embedded_server(data_dir: Path) -> dict[str, Any]:
    """Where the embedded PostgreSQL keeps its data and whether it is running."""
    pid = db.embedded_pid(data_dir)
    return {"data_dir": str(data_dir), "running": pid is not None, "pid": pid}


def overview(
    conn: db.Connection,
    *,
    database: str,
    embedded_dir: Path | None = None,
    api_bases: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The queue at a glance; ``api_bases``: the platform hosts that are not the defaults."""
    counts: dict[str, dict[str, int]] = {}
    for row in db.fetch_all(conn, "count_active_by_state"):
        counts.setdefault(row["status"], {})[row["platform"] or "?"] = row["posts"]
    posted = {r["platform"] or "?": r["posts"] for r in db.fetch_all(conn, "count_posted_recently")}
    limit = {"limit": LIST_LIMIT}
    return {
        "database": database,
        # The embedded server stays up between commands (cron's next run reuses it).
        "embedded_postgres": embedded_server(embedded_dir) if embedded_dir else None,
        "api_bases": api_bases or {},
        "counts": counts,
        "posted_last_24h": posted,
        "last_run": db.fetch_one(conn, "last_run"),
        "next_due": db.fetch_all(conn, "next_due", limit),
        "overdue": db.fetch_all(conn, "overdue", {**limit, "grace_seconds": OVERDUE_GRACE_SECONDS}),
        # Every expired lease, however recent (`status --check` allows a grace).
        "stuck": db.fetch_all(conn, "stuck_publishing", {**limit, "grace_seconds": 0}),
        "needs_review": db.fetch_all(conn, "needs_review", limit),
        "recent_failures": db.fetch_all(conn, "recent_failures", limit),
        # First comments that failed for good: their posts are posted (a warning, not a
        # problem for `status --check`).
        "failed_comments": db.fetch_all(conn, "failed_comments", limit),
        "accounts_needing_attention": accounts_needing_attention(conn),
        "held_for_reauth": sum(held_posts_by_account(conn).values()),
        "publishing_quota": db.fetch_all(conn, "publishing_quotas"),
    }


def accounts_needing_attention(conn: db.Connection) -> list[db.Row]:
    """Accounts to re-authorise, or whose token (the refresh token where run-due refreshes
    access tokens) expires within TOKEN_EXPIRY_WARNING_DAYS."""
    params = {"expiry_days": TOKEN_EXPIRY_WARNING_DAYS, "refreshing": registry.refreshing()}
    return db.fetch_all(conn, "accounts_needing_attention", params)


def held_posts_by_account(conn: db.Connection, account: str | None = None) -> dict[str, int]:
    """Scheduled posts waiting for their account's re-authorisation, by account id."""
    rows = db.fetch_all(conn, "held_posts_by_account", {"account": account})
    return {str(r["account_id"]): r["posts"] for r in rows}


def post_detail(conn: db.Connection, post_id: str) -> dict[str, Any]:
    # Here, not at the top: the overview (and `status --check`) never reads a single post,
    # and scheduling's validation is a good part of their start-up (bench/startup.py).
    from studio_publish.scheduling.posts import get_post_or_raise
    from studio_publish.scheduling.validation import validate_uuid

    post_id = validate_uuid(post_id, "post_id")
    post = get_post_or_raise(conn, post_id)
    # The engine's fencing token is an internal detail, not something to act on.
    post.pop("claim_token", None)
    return {
        "post": post,
        # What the platform's spec says of the post's saved ids (a TikTok post delivered to
        # the creator's inbox rather than the profile), one sentence each.
        "notes": state_notes(post.get("platform"), post.get("platform_state")),
        "attempts": db.fetch_all(conn, "post_attempts", {"id": post_id}),
        # What the last preflight found (engine/preflight.py); None: not looked at yet.
        "preflight": db.fetch_one(conn, "preflight_of_post", {"id": post_id}),
        # Its first comment (engine/comments.py); None: it has none, or is not posted yet.
        "first_comment": db.fetch_one(conn, "comment_of_post", {"id": post_id}),
    }


def state_notes(platform: object, saved: object) -> list[str]:
    """The spec's ``state_notes`` for the keys ``saved`` (platform_state) holds."""
    spec = registry.PLATFORMS.get(platform) if isinstance(platform, str) else None
    if spec is None or not isinstance(saved, dict):
        return []
    return [note for key, note in spec.state_notes.items() if saved.get(key)]
