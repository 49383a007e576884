"""Alerts: a JSON event to STUDIO_PUBLISH_ALERT_WEBHOOK_URL when a person must act.

Events: ``post_failed`` (failed for good, ``missed`` included), ``post_needs_review``,
``account_needs_reauth``, ``post_at_risk`` (preflight, engine/preflight.py) and
``comment_failed`` (a first comment failed for good, engine/comments.py). Each is
recorded in ``studio_publish_alerts`` under a unique key
before it is sent, so it is sent once: a later run never repeats it, and an overlapping run
never sends it too. A send that fails (webhook down, slow, not 2xx) leaves the row unsent;
later runs retry it with backoff, up to MAX_SEND_ATTEMPTS times. Delivery is at least once
(a webhook that timed out may still have acted), so the payload carries the key to dedupe on.

Sending comes after the run's work is recorded, every call is bounded by
``alert_timeout_seconds``, and no error here reaches the run: it is logged and dropped.
The payload carries ids, reasons and the engine's (redacted) messages, never a token; the
webhook URL is never logged, as it often embeds a secret.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from studio_publish.settings import Settings
from studio_publish.states import Outcome
from studio_publish.store.db import Row, first_line
from studio_publish.store.pool import ConnectionPool
from studio_publish.store.queries import query

if TYPE_CHECKING:
    from studio_publish.engine.attempt import PostResult

POST_EVENTS = {
    Outcome.FAILED: "post_failed",
    Outcome.MISSED: "post_failed",
    Outcome.NEEDS_REVIEW: "post_needs_review",
}
ACCOUNT_EVENT = "account_needs_reauth"
AT_RISK_EVENT = "post_at_risk"  # preflight found what would make a scheduled post fail
COMMENT_FAILED_EVENT = "comment_failed"  # a first comment failed for good; the post is posted
SEND_BATCH = 25  # alerts sent at once by one run; a backlog drains over the next runs
MAX_SEND_ATTEMPTS = 10  # with the backoff in claim_unsent_alerts: about 4.5 hours of tries


@dataclass(frozen=True)
class AlertEvent:
    key: str
    event: str
    post_id: str | None
    platform: str | None
    account_id: str | None
    reason: str | None
    message: str
    at: dt.datetime

    def payload(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "key": self.key,
            "post_id": self.post_id,
            "platform": self.platform,
            "account_id": self.account_id,
            "reason": self.reason,
            "message": self.message,
            "at": self.at.isoformat(),
        }


def events_for(
    results: Sequence[PostResult], subjects: Mapping[str, Row], run_id: int
) -> list[AlertEvent]:
    """The events a run's results call for. ``subjects``: alert_subjects rows by post id.

    A post event is keyed by the run that settled it (a post fails at most once a run;
    after retry-failed it may fail again, and that is a new event). An account event is
    keyed by the moment the account was marked, however many posts ran into it.
    """
    events: dict[str, AlertEvent] = {}
    for result in results:
        row = subjects.get(result.post_id)
        if row is None:
            continue
        account_id = str(row["social_account_id"]) if row["social_account_id"] else None
        event = POST_EVENTS.get(result.outcome)
        if event:
            key = f"{event}:{result.post_id}:{run_id}"
            events[key] = AlertEvent(
                key=key,
                event=event,
                post_id=result.post_id,
                platform=result.platform,
                account_id=account_id,
                reason=row["failure_reason"] or result.outcome,
                message=result.message,
                at=row["updated_at"],
            )
        if account_id and row["account_state"] == "needs_reauth":
            key = f"{ACCOUNT_EVENT}:{account_id}:{row['account_updated_at'].isoformat()}"
            events.setdefault(
                key,
                AlertEvent(
                    key=key,
                    event=ACCOUNT_EVENT,
                    post_id=result.post_id,
                    platform=result.platform,
                    account_id=account_id,
                    reason="needs_reauth",
                    message=row["account_state_reason"] or "the account needs re-authorisation",
                    at=row["account_updated_at"],
                ),
            )
    return list(events.values())


async def deliver_alerts(
    pool: ConnectionPool, settings: Settings, results: Sequence[PostResult], run_id: int, log: Any
) -> None:
    """Record the events of this run's results, then send what is unsent. Never raises."""
    url = settings.alert_webhook_url
    if not url:
        return
    try:
        await _record(pool, results, run_id)
        await _send_unsent(pool, url, settings.alert_timeout_seconds, log)
    except Exception as exc:  # whatever goes wrong with alerts, the run's outcome stands
        log.warning("alerts_not_sent", error=_describe(exc, url))


async def _record(pool: ConnectionPool, results: Sequence[PostResult], run_id: int) -> None:
    ids = sorted({r.post_id for r in results})
    if not ids:
        return
    async with pool.connection() as conn:
        cursor = await conn.execute(query("alert_subjects"), {"ids": ids})
        subjects = {str(row["id"]): row for row in await cursor.fetchall()}
    await record_events(pool, events_for(results, subjects, run_id))


async def record_events(pool: ConnectionPool, events: Sequence[AlertEvent]) -> None:
    """Record events to send; an event already recorded (by any run) is not recorded again."""
    async with pool.connection() as conn:
        for event in events:
            params = {
                "key": event.key,
                "event": event.event,
                "payload": json.dumps(event.payload()),
            }
            await conn.execute(query("insert_alert"), params)


async def _send_unsent(pool: ConnectionPool, url: str, timeout: float, log: Any) -> None:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            query("claim_unsent_alerts"), {"max_attempts": MAX_SEND_ATTEMPTS, "limit": SEND_BATCH}
        )
        claimed = await cursor.fetchall()
    if not claimed:
        return
    limits = httpx.Limits(max_connections=SEND_BATCH)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        errors = await asyncio.gather(
            *(_post(http, url, row["payload"], timeout) for row in claimed)
        )
    async with pool.connection() as conn:
        for row, error in zip(claimed, errors, strict=True):
            if error is None:
                await conn.execute(query("mark_alert_sent"), {"id": row["id"]})
                log.info("alert_sent", alert=row["event_key"])
            else:
                await conn.execute(query("mark_alert_failed"), {"id": row["id"], "error": error})
                log.warning("alert_not_sent", alert=row["event_key"], error=error)


async def _post(http: httpx.AsyncClient, url: str, payload: Any, timeout: float) -> str | None:
    """POST one event; None when the webhook took it, else why not."""
    try:
        # wait_for bounds the whole exchange: httpx's timeout is per read, not per request.
        response = await asyncio.wait_for(http.post(url, json=payload), timeout)
    except (httpx.TimeoutException, TimeoutError):
        return f"the webhook did not answer within {timeout:g} s"
    except (httpx.HTTPError, OSError) as exc:
        return _describe(exc, url)
    if response.is_success:
        return None
    return f"the webhook answered HTTP {response.status_code}"


def _describe(exc: BaseException, url: str) -> str:
    # An error about the request may quote the URL, encoded or not, and a webhook URL often
    # holds a secret: in its path (Slack, Discord), its query string or its user info.
    from urllib.parse import urlsplit

    from studio_publish.redaction import redact

    parts = urlsplit(url)
    secrets = [url, parts.password, parts.query, parts.path if len(parts.path) > 1 else None]
    text = f"{type(exc).__name__}: {first_line(exc)}"
    return redact(text, secrets, replacement="[webhook URL]")
