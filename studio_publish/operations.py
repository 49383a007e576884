"""What the engine's commands do, usable without the CLI: run-due, publish, retry-failed."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from studio_publish.engine.run import Engine, RunSummary
from studio_publish.errors import BadInput, Refused
from studio_publish.platforms import registry
from studio_publish.platforms.registry import spec_for
from studio_publish.states import Move, Outcome, Transition, allows, guard, refusal
from studio_publish.store import db

if TYPE_CHECKING:
    from studio_publish.engine.attempt import PostResult
    from studio_publish.platforms.base import Platform
    from studio_publish.settings import Settings

# Scheduling (validation, the post file reader) is imported inside the operations that read
# one post or take ids, not here: an idle `run-due` needs none of it (bench/startup.py).

PREVIEW_LIMIT = 500


def run_due(
    settings: Settings,
    target: db.DatabaseTarget,
    *,
    only_ids: list[str] | None = None,
    platforms: Mapping[str, Platform] | None = None,
    on_result: Callable[[PostResult], None] | None = None,
) -> RunSummary:
    engine = Engine(settings, target, platforms=platforms, on_result=on_result)
    return asyncio.run(engine.run_due(only_ids=only_ids))


def preview_due(conn: db.Connection, settings: Settings) -> dict[str, Any]:
    """run-due --dry-run: what is due and what each post would do. No claim, no write, no call."""
    posts = []
    for row in db.fetch_all(
        conn,
        "due_posts_preview",
        {"max_lateness": settings.max_lateness_seconds, "limit": PREVIEW_LIMIT},
    ):
        posts.append({**_preview_fields(row), "would": _would(row, settings)})
    abandoned = db.fetch_all(conn, "abandoned_preview", {"limit": PREVIEW_LIMIT})
    return {
        "dry_run": True,
        "due": posts,
        "abandoned": [
            {
                **row,
                "would": "settle from the saved platform ids"
                if row["platform_state"]
                else "try again: nothing reached the platform",
            }
            for row in abandoned
        ],
        # First comments a run would post (or look for first, after an unclear answer).
        "first_comments": db.fetch_all(conn, "due_comments_preview", {"limit": PREVIEW_LIMIT}),
    }


def _preview_fields(row: db.Row) -> dict[str, Any]:
    keys = ("platform", "post_type", "due_at", "attempt_count")
    account = str(row["account_id"]) if row["account_id"] else None
    return {"id": str(row["id"]), **{k: row[k] for k in keys}, "account_id": account}


def _would(row: db.Row, settings: Settings) -> str:
    if row["account_id"] is None:
        return "fail: the account does not exist"
    if row["missed"]:
        return "fail as missed: first found due too long after its time"
    if row["account_state"] != "active":
        return f"wait: the account is {row['account_state']}"
    account = {
        "platform": row["account_platform"],
        "workspace_id": row["account_workspace_id"],
        "platform_account_id": row["platform_account_id"],
        "access_token": row["access_token"],
        "refresh_token": row["refresh_token"],
    }
    from studio_publish.engine.attempt import admit

    refused = admit(row, account, platform=row["platform"], media=settings.media_policy())
    if isinstance(refused, Transition):  # the engine's own door, so the preview cannot drift
        reason = f" as {refused.reason}" if refused.reason else ""
        return f"{refused.outcome}{reason}: {refused.message}"
    if row["token_expired"]:
        if row["platform"] in registry.refreshing() and row["refresh_token"]:
            return "refresh the expired token, then publish"
        return "wait: the access token has expired (re-authorise the account)"
    if row["platform_state"]:
        return "ask the platform about the earlier attempt, then finish or publish"
    return "publish"


@dataclass(frozen=True)
class PublishOutcome:
    post_id: str
    summary: RunSummary
    copy_of: str | None = None

    @property
    def result(self) -> PostResult | None:
        return self.summary.results[-1] if self.summary.results else None

    @property
    def posted(self) -> bool:
        return self.result is not None and self.result.outcome is Outcome.POSTED


def publish_post(
    settings: Settings,
    target: db.DatabaseTarget,
    conn: db.Connection,
    post_id: str,
    *,
    force: bool = False,
    platforms: Mapping[str, Platform] | None = None,
) -> PublishOutcome:
    """Publish one post now through the same engine and guards; waits for the outcome."""
    from studio_publish.scheduling.posts import get_post_or_raise
    from studio_publish.scheduling.validation import validate_uuid

    post_id = validate_uuid(post_id, "post_id")
    post = get_post_or_raise(conn, post_id)
    copy_of = None
    if force and allows(Move.REPUBLISH, post["status"]):
        copy = db.fetch_one(
            conn, "copy_post_for_republish", {**guard(Move.REPUBLISH), "id": post_id}
        )
        if copy is None:
            raise Refused(f"post {post_id} was fetched from the platform, not scheduled here")
        copy_of, post_id = post_id, str(copy["id"])
    elif not allows(Move.PUBLISH_NOW, post["status"]):
        where = post["permalink"] or post["platform_post_id"]
        raise Refused(refusal(Move.PUBLISH_NOW, post["status"], post_id, where=where))
    elif post["account_state"] is None:
        raise Refused(f"post {post_id} is not published: its account no longer exists")
    elif post["account_state"] != "active":
        reason = f": {post['account_state_reason']}" if post["account_state_reason"] else ""
        raise Refused(
            f"post {post_id} is not published: its account is {post['account_state']}{reason}"
        )

    engine = Engine(settings, target, platforms=platforms)
    summary = asyncio.run(engine.publish_now(post_id))
    if summary.claimed == 0:
        # Between our read and the claim, another process moved it.
        current = db.fetch_one(conn, "get_post", {"id": post_id})
        state = current["status"] if current else "gone"
        raise Refused(refusal(Move.PUBLISH_NOW, state, post_id, where=""))
    return PublishOutcome(post_id, summary, copy_of)


def retry_failed(
    conn: db.Connection,
    *,
    ids: list[str] | None = None,
    platform: str | None = None,
    account: str | None = None,
    since: str | None = None,
    confirm_not_live: bool = False,
) -> list[db.Row]:
    """Put failed posts back in line; needs_review posts only when named and confirmed."""
    from studio_publish.scheduling.timeparse import parse_age
    from studio_publish.scheduling.validation import validate_uuid

    post_ids = [validate_uuid(i, "id") for i in ids] if ids else None
    if platform is not None:
        spec_for(platform)
    account_id = validate_uuid(account, "account") if account else None
    since_at: dt.datetime | None = None
    if since:
        since_at = db.database_now(conn) - parse_age(since)
    if confirm_not_live and not post_ids:
        raise BadInput("confirm_not_live", "needs the posts named with {id}", refers_to=("id",))
    with conn.transaction():
        rows = db.fetch_all(
            conn,
            "retry_failed_posts",
            {
                **guard(Move.RETRY_FAILED),
                "ids": post_ids,
                "platform": platform,
                "account": account_id,
                "since": since_at,
            },
        )
        if confirm_not_live and post_ids:
            rows += db.fetch_all(
                conn, "confirm_not_live", {**guard(Move.CONFIRM_NOT_LIVE), "ids": post_ids}
            )
        # A named post that cannot be retried refuses the whole command (rolled back).
        done = {str(r["id"]) for r in rows}
        for post_id in post_ids or []:
            if post_id not in done:
                _explain_not_retried(conn, post_id, confirm_not_live)
    return rows


def _explain_not_retried(conn: db.Connection, post_id: str, confirmed: bool) -> None:
    from studio_publish.scheduling.posts import get_post_or_raise

    post = get_post_or_raise(conn, post_id, field="id")
    move = Move.CONFIRM_NOT_LIVE if confirmed else Move.RETRY_FAILED
    raise Refused(refusal(move, post["status"], post_id))


def confirm_live(
    conn: db.Connection, post_id: str, *, platform_post_id: str | None, permalink: str | None
) -> db.Row:
    """A person found a needs_review post live: record it as posted, so nothing resends it."""
    from studio_publish.scheduling.posts import get_post_or_raise
    from studio_publish.scheduling.validation import validate_uuid

    post_id = validate_uuid(post_id, "post_id")
    for value, field in ((platform_post_id, "platform_post_id"), (permalink, "permalink")):
        if value is not None and (not value.strip() or "\x00" in value):
            raise BadInput(field, "must be a non-empty text without NUL bytes")
    try:
        row = db.fetch_one(
            conn,
            "confirm_live",
            {
                **guard(Move.CONFIRM_LIVE),
                "id": post_id,
                "platform_post_id": platform_post_id,
                "permalink": permalink,
            },
        )
    except psycopg.errors.UniqueViolation:
        raise BadInput(
            "platform_post_id", f"{platform_post_id} is already recorded on another post"
        ) from None
    if row is not None:
        return row
    post = get_post_or_raise(conn, post_id)
    raise Refused(refusal(Move.CONFIRM_LIVE, post["status"], post_id))
