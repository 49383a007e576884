"""Scheduling, rescheduling and cancelling posts. Everything is validated before any write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from studio_publish.errors import BadInput, Refused
from studio_publish.logs import get_logger
from studio_publish.media_policy import MediaPolicy
from studio_publish.scheduling.postfile import read_post_file
from studio_publish.scheduling.timeparse import parse_schedule_time
from studio_publish.scheduling.validation import PostInput, ValidPost, validate_post, validate_uuid
from studio_publish.states import Move, PostState, allows, guard, refusal
from studio_publish.store import db


@dataclass(frozen=True)
class PlannedPost:
    """A validated post, ready to insert: what `schedule --dry-run` reports."""

    account_id: str
    platform: str
    post: ValidPost

    @property
    def status(self) -> str:
        return PostState.DRAFT if self.post.scheduled_for is None else PostState.SCHEDULED

    def as_dict(self) -> dict[str, Any]:
        return with_warnings(
            {
                "account_id": self.account_id,
                "platform": self.platform,
                "post_type": self.post.post_type,
                "status": self.status,
                "scheduled_for": self.post.scheduled_for,
                "caption": self.post.caption,
                "media": self.post.media,
                "options": self.post.options,
            },
            self,
        )


def with_warnings(document: dict[str, Any], planned: PlannedPost) -> dict[str, Any]:
    """``document`` with the post's ``warnings`` (a list of "field: why") when it has any."""
    if not planned.post.warnings:
        return document
    return {**document, "warnings": list(planned.post.warnings)}


def warn(planned: list[PlannedPost], rows: list[Any] | None = None) -> None:
    """Each post's warnings on the log (standard error), naming the post once it has an id."""
    log = get_logger()
    for index, item in enumerate(planned):
        post_id = str(rows[index]["id"]) if rows else None
        for message in item.post.warnings:
            log.warning("post_warning", post_id=post_id, platform=item.platform, warning=message)


def plan_posts(
    conn: db.Connection, inputs: list[PostInput], media: MediaPolicy
) -> list[PlannedPost]:
    """Validate every input against its account's platform; raises on the first bad one."""
    # A row of a file names itself ("file line 3: account"); a single post is "account".
    account_field = [f"{raw.origin}: account" if raw.origin else "account" for raw in inputs]
    account_ids = []
    for raw, name in zip(inputs, account_field, strict=True):
        if not raw.account_id:
            raise BadInput(name, "is required")
        account_ids.append(validate_uuid(raw.account_id, name))
    rows = db.fetch_all(conn, "get_account_platforms", {"ids": sorted(set(account_ids))})
    platforms = {str(r["id"]): r["platform"] for r in rows}
    now = db.database_now(conn)
    planned = []
    for raw, account_id, name in zip(inputs, account_ids, account_field, strict=True):
        platform = platforms.get(account_id)
        if platform is None:
            raise BadInput(name, f"no account with id {account_id}")
        post = validate_post(raw, platform=platform, now=now, media=media)
        planned.append(PlannedPost(account_id, platform, post))
    return planned


def insert_planned(conn: db.Connection, planned: list[PlannedPost]) -> list[db.Row]:
    """Insert all posts in one transaction: all or none."""
    rows = []
    with conn.transaction():
        for item in planned:
            row = db.fetch_one(
                conn,
                "insert_post",
                {
                    "account_id": item.account_id,
                    "post_type": item.post.post_type,
                    "caption": item.post.caption,
                    "media": Jsonb(item.post.media),
                    "options": Jsonb(item.post.options),
                    "scheduled_for": item.post.scheduled_for,
                    "status": item.status,
                },
            )
            if row is None:  # the account was deleted between validation and insert
                raise BadInput("account", f"no account with id {item.account_id}")
            rows.append(row)
    return rows


def schedule_post(
    conn: db.Connection, raw: PostInput, media: MediaPolicy, *, dry_run: bool = False
) -> list[Any]:
    return _schedule(conn, plan_posts(conn, [raw], media), dry_run)


def schedule_file(
    conn: db.Connection, path: Path, media: MediaPolicy, *, dry_run: bool = False
) -> list[Any]:
    inputs = read_post_file(path)
    return _schedule(conn, plan_posts(conn, inputs, media), dry_run)


def _schedule(conn: db.Connection, planned: list[PlannedPost], dry_run: bool) -> list[Any]:
    """Write the planned posts (or, for a dry run, show them), each with its warnings."""
    if dry_run:
        warn(planned)
        return [p.as_dict() for p in planned]
    rows = insert_planned(conn, planned)
    warn(planned, rows)
    return [with_warnings(dict(row), item) for row, item in zip(rows, planned, strict=True)]


def get_post_or_raise(conn: db.Connection, post_id: str, *, field: str = "post_id") -> db.Row:
    """The post with this (validated) id, or BadInput naming ``field`` when there is none."""
    post = db.fetch_one(conn, "get_post", {"id": post_id})
    if post is None:
        raise BadInput(field, f"no post with id {post_id}")
    return post


def reschedule_post(
    conn: db.Connection, post_id: str, at: str, *, tz: str | None = None, dry_run: bool = False
) -> db.Row:
    post_id = validate_uuid(post_id, "post_id")
    when = parse_schedule_time(at, now=db.database_now(conn), tz=tz)
    current = get_post_or_raise(conn, post_id)
    refused = Refused(refusal(Move.RESCHEDULE, current["status"], post_id))
    if current["origin"] != "scheduler":
        refused = Refused(f"post {post_id} was fetched from the platform, not scheduled here")
    if dry_run:
        # The reschedule_post query's guard, from the same table: a dry run must not
        # promise a move the real run refuses.
        if not allows(Move.RESCHEDULE, current["status"]) or current["origin"] != "scheduler":
            raise refused
        return {"id": current["id"], "status": PostState.SCHEDULED, "scheduled_for": when}
    row = db.fetch_one(
        conn, "reschedule_post", {**guard(Move.RESCHEDULE), "id": post_id, "scheduled_for": when}
    )
    if row is None:
        raise refused
    return row


def cancel_post(conn: db.Connection, post_id: str) -> db.Row:
    post_id = validate_uuid(post_id, "post_id")
    row = db.fetch_one(conn, "cancel_post", {**guard(Move.CANCEL), "id": post_id})
    if row is not None:
        return row
    current = get_post_or_raise(conn, post_id)
    raise Refused(refusal(Move.CANCEL, current["status"], post_id))
