"""Rendering `status` on a terminal (the data comes from studio_publish.reporting.status)."""

from __future__ import annotations

from typing import Any

from studio_publish.cli.output import print_line, print_table
from studio_publish.formatting import human
from studio_publish.states import CommentState, PostState

# The states a post waits or stops in (posted ones are counted over the last 24 hours).
STATES = tuple(str(s) for s in PostState if s not in (PostState.POSTED, PostState.CANCELLED))


def show_overview(data: dict[str, Any]) -> None:
    print_line(f"Database: {data['database']}")
    if embedded := data.get("embedded_postgres"):
        state = f"running (pid {embedded['pid']})" if embedded["running"] else "not running"
        print_line(
            f"Embedded PostgreSQL: {state}, data in {embedded['data_dir']}; it stays up "
            "between commands, `studio-publish db stop` stops it"
        )
    for variable, url in data.get("api_bases", {}).items():
        print_line(f"API base: {variable}={url} (not the real platform's)")
    run = data["last_run"]
    if run:
        print_line(
            f"Last run: {human(run['started_at'])}, {run['outcome']} "
            f"(claimed {run['claimed']}, posted {run['posted']}, retried {run['retried']}, "
            f"failed {run['failed']}, needs review {run['needs_review']})"
        )
    else:
        print_line("Last run: never (is cron set up? see the README)")

    counts = data["counts"]
    posted = data["posted_last_24h"]
    platforms = sorted({p for by_state in counts.values() for p in by_state} | set(posted))
    rows = [
        {
            "platform": p,
            **{s: counts.get(s, {}).get(p, 0) for s in STATES},
            "posted_24h": posted.get(p, 0),
        }
        for p in platforms
    ]
    print_table("Posts by state", ["platform", *STATES, "posted_24h"], rows, empty="no posts yet")
    print_table(
        "Overdue (cron may not be running)",
        ["id", "platform", "post_type", "due_at", "overdue_by", "attempt_count"],
        data["overdue"],
    )
    print_table(
        "Stuck past their lease (the next run rescues them)",
        ["id", "platform", "claimed_by", "lease_expires_at"],
        data["stuck"],
    )
    print_table(
        "Needs review (may or may not be live: check the account, then `confirm-live ID` if it "
        "is live, or `retry-failed --id ID --confirm-not-live` if it is not)",
        ["id", "platform", "post_type", "updated_at", "failure_reason", "last_publish_error"],
        data["needs_review"],
    )
    print_table(
        "Recent failures",
        ["id", "platform", "post_type", "updated_at", "failure_reason", "last_publish_error"],
        data["recent_failures"],
    )
    if data.get("failed_comments"):
        print_table(
            "First comments that failed (their posts are posted)",
            ["id", "platform", "updated_at", "attempts", "error"],
            data["failed_comments"],
        )
    if data["held_for_reauth"]:
        print_line(
            f"Held: {data['held_for_reauth']} scheduled post(s) wait for their account to be "
            "re-authorised (`studio-publish accounts reauth ACCOUNT_ID`)"
        )
    print_table(
        "Accounts needing attention",
        ["id", "platform", "name", "state", "state_reason", "expires_at"],
        data["accounts_needing_attention"],
    )
    print_table(
        "Publishing quota (rolling 24 hours, as last read)",
        ["id", "platform", "name", "used", "total", "left_24h", "checked_at"],
        data["publishing_quota"],
    )
    print_table(
        "Next due",
        ["id", "platform", "post_type", "due_at", "attempt_count", "caption"],
        data["next_due"],
        empty="nothing scheduled",
    )


POST_FIELDS = (
    "id",
    "status",
    "platform",
    "post_type",
    "account_name",
    "social_account_id",
    "scheduled_for",
    "next_attempt_at",
    "attempt_count",
    "failure_reason",
    "last_publish_error",
    "platform_post_id",
    "permalink",
    "published_at",
    "platform_state",
    "caption",
    "media",
    "options",
    "created_at",
    "updated_at",
)


def show_post(data: dict[str, Any]) -> None:
    post = data["post"]
    rows = [{"field": name, "value": post.get(name)} for name in POST_FIELDS]
    print_table(f"Post {post['id']}", ["field", "value"], rows)
    for note in data.get("notes", ()):
        print_line(f"Note: {note}.")
    print_table(
        "Attempts",
        ["attempt_number", "started_at", "finished_at", "outcome", "error_class", "error_message"],
        data["attempts"],
        empty="none yet",
    )
    if (comment := data.get("first_comment")) is not None:
        print_line(first_comment_line(comment))
    checked = data.get("preflight")
    if checked:
        problems = [p for p in checked["problems"] if isinstance(p, dict)]
        found = "; ".join(f"{p.get('cause')}: {p.get('message')}" for p in problems)
        print_line(f"Preflight ({human(checked['checked_at'])}): {found or 'nothing found'}")


def first_comment_line(comment: dict[str, Any]) -> str:
    """What became of a post's first comment, in one line (a failed one is a warning: the
    post itself is posted)."""
    state, tries = comment["state"], comment["attempts"]
    if state == CommentState.POSTED:
        return f"First comment: posted as {comment['comment_id']} ({human(comment['posted_at'])})"
    if state == CommentState.FAILED:
        return (
            f"Warning: the first comment failed for good after {tries} tries: "
            f"{comment['error']}. The post itself is posted."
        )
    if state == CommentState.SENDING:
        return "First comment: being sent right now"
    last = f"; last error: {comment['error']}" if comment["error"] else ""
    return (
        f"First comment: pending, {tries} tries so far, next at {comment['next_attempt_at']}{last}"
    )
