"""Preflight: hours ahead, what would make a scheduled post fail at its time.

The worst failure is the one found at 9:00 for a post due at 9:00. After its publishing,
each `run-due` looks at the posts due in the next ``STUDIO_PUBLISH_PREFLIGHT_HOURS`` (each at
most once an hour, soonest first, within a small share of the run's budget) and asks:

* **token**: does the account's token expire before the post's time, where run-due cannot
  refresh it (Facebook Login's tokens, a refresh token that expires first, or a token that
  refreshes itself with no post due before it expires)? Is the account active?
* **media**: does each media URL answer, with a size within the platform's documented limit
  (the same SSRF-safe lookup as an upload: loopback and private addresses are refused)?
* **quota**: has the account's publishing quota, as last read, room for every post due in the
  24 hours up to this one?
* **row**: does the row still pass the checks the engine makes when it claims it?

What it finds is kept in ``studio_publish_preflight`` (one row a post: ``status --check``
prints a ``PROBLEM preflight:`` line, ``status POST_ID`` a line) and, with a webhook set, sent
once per post and cause as a ``post_at_risk`` alert. Nothing is published early and nothing
on the post changes. Permissions are not checked: the platforms offer no read that says
whether a token may publish a given type without trying it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import httpx

from studio_publish.engine.alerts import AT_RISK_EVENT, AlertEvent, record_events
from studio_publish.errors import BadInput, UnknownPlatform
from studio_publish.platforms.base import PlatformError
from studio_publish.platforms.media import url_size
from studio_publish.platforms.spec import PlatformSpec
from studio_publish.settings import Settings
from studio_publish.store.db import Row
from studio_publish.store.engine_store import EngineStore

PREFLIGHT_SHARE = 0.1  # of the run's budget, at most, and only what publishing left
BATCH = 50  # posts looked at by one run, at most
AT_ONCE = 8  # media lookups in flight at once
MEDIA_TIMEOUT = 10.0  # seconds, at most, for one media URL's answer


@dataclass(frozen=True)
class Finding:
    cause: str  # token, account, media, quota, row
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"cause": self.cause, "message": self.message}


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def account_findings(row: Row, spec: PlatformSpec) -> list[Finding]:
    """What the account says about the post's chances. Pure: reads only the row."""
    due: dt.datetime = row["scheduled_for"]
    found = []
    if row["account_state"] != "active":
        found.append(
            Finding(
                "account",
                f"the account is {row['account_state']}: its posts are held until it is "
                f"re-authorised (`accounts reauth {row['account_id']}`)",
            )
        )
    expires = row["token_expires_at"]
    if expires is not None and expires <= due and (why := _not_refreshed(row, spec)):
        found.append(
            Finding(
                "token",
                f"the account's token expires {_when(expires)}, before the post's time "
                f"{_when(due)}, and {why}: re-authorise the account "
                f"(`accounts reauth {row['account_id']}`)",
            )
        )
    return found


def _not_refreshed(row: Row, spec: PlatformSpec) -> str | None:
    """Why run-due will not have refreshed a token that expires before the post's time, or
    None when it will. The account's login says whether it refreshes (an Instagram account
    only with Instagram Login): with a refresh token until that expires (TikTok's), or, for
    a token that refreshes itself (Threads', Instagram Login's), only while it is valid,
    which run-due does when another of the account's posts is due before it expires (the
    refresh margin, days, is wider than the preflight window, hours)."""
    login = spec.login(row.get("account_options"))
    tokens = login.token_lifetimes
    if not login.refreshes_tokens:
        return "run-due cannot refresh it"
    if tokens is not None and tokens.refresh is None:  # it refreshes itself
        if row.get("due_before_token_expires"):
            return None
        return "no post of the account is due before then, when run-due would refresh it"
    if not row["has_refresh_token"]:
        return "run-due cannot refresh it"
    refresh_until = row["refresh_token_expires_at"]
    if refresh_until is None or refresh_until > row["scheduled_for"]:
        return None
    return "its refresh token expires first"


def quota_finding(row: Row, platform: PlatformSpec) -> Finding | None:
    """Whether the account's quota, as last read, has room for this post. Pure. A counted
    quota (Facebook's reels) is about its post types alone."""
    counted = platform.counted_quota
    if counted is not None and row["post_type"] not in counted.post_types:
        return None
    quota = row["publishing_quota"]
    if not isinstance(quota, dict):
        return None
    used, total = quota.get("used"), quota.get("total")
    if not (isinstance(used, int) and isinstance(total, int)) or total <= 0:
        return None
    room, due = max(0, total - used), int(row["due_in_window"])
    if due <= room:
        return None
    return Finding(
        "quota",
        f"{due} posts of this account are due in the 24 hours up to this one and its "
        f"publishing quota had room for {room} ({used}/{total} used when last read): it would "
        "wait for room instead of going out on time",
    )


# The HTTP client, asked for only when a media URL is to be looked up: an idle run makes none
# (making one loads the certificate store, a tenth of an idle run-due's start-up).
ClientFor: TypeAlias = Callable[[], httpx.AsyncClient]


async def media_findings(
    content: Any, platform: PlatformSpec, http: ClientFor, settings: Settings
) -> list[Finding]:
    """Whether each of the post's media URLs answers, with a size within its limit."""
    found = []
    rule = platform.post_types.get(content.post_type)
    for number, (url, kind) in enumerate(content.media, start=1):
        if not url.startswith(("http://", "https://")):
            continue  # a local file: the row's check found it in the media root already
        limit = rule.limits.get(kind) if rule else None
        most = (limit.max_bytes if limit else None) or platform.media[kind].max_bytes
        try:
            await url_size(
                http(),
                url,
                settings.media_policy(),
                timeout=min(MEDIA_TIMEOUT, settings.http_timeout_seconds),
                max_bytes=most,
            )
        except (PlatformError, BadInput) as exc:
            found.append(Finding("media", f"media item {number}: {exc}"))
    return found


async def check_post(row: Row, http: ClientFor, settings: Settings) -> list[Finding]:
    """Everything preflight finds about one candidate row (see the module docstring)."""
    from studio_publish.platforms.registry import spec_for
    from studio_publish.scheduling.validation import check_stored_post

    try:
        spec = spec_for(row["platform"])
    except UnknownPlatform as exc:
        return [Finding("row", str(exc))]
    try:
        content = check_stored_post(row, platform=spec.name, media=settings.media_policy())
    except BadInput as exc:
        return [Finding("row", f"{exc}: the post will fail when it is due")]
    found = account_findings(row, spec)
    if (quota := quota_finding(row, spec)) is not None:
        found.append(quota)
    found += await media_findings(content, spec, http, settings)
    return found


def problems_json(findings: list[Finding]) -> str:
    return json.dumps([f.as_dict() for f in findings])


async def run_preflight(
    store: EngineStore, http: ClientFor, settings: Settings, seconds: float, log: Any
) -> None:
    """Check the candidates within ``seconds``; record each as it is done. A post not
    reached is looked at by a later run."""
    from studio_publish.platforms.registry import PLATFORMS

    counted = {
        name: sorted(spec.counted_quota.post_types)
        for name, spec in PLATFORMS.items()
        if spec.counted_quota is not None
    }
    rows = await store.preflight_candidates(settings.preflight_hours * 3600, BATCH, counted)
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(row: Row) -> None:
        async with gate:
            findings = await check_post(row, http, settings)
        await store.record_preflight(str(row["id"]), problems_json(findings))
        if findings and settings.alert_webhook_url:  # sent at the run's end (alerts.py)
            await record_events(store.pool, at_risk_events(row, findings))
        if findings:
            log.warning(
                "post_at_risk", post_id=str(row["id"]), causes=sorted({f.cause for f in findings})
            )

    tasks = [asyncio.ensure_future(one(row)) for row in rows]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=seconds)
        for task in pending:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):  # preflight is advice: the run goes on
                log.warning("preflight_failed", error=f"{type(result).__name__}: {result}")


def at_risk_events(row: Row, findings: list[Finding]) -> list[AlertEvent]:
    """One ``post_at_risk`` event per post and cause, keyed so it is recorded once ever."""
    now = dt.datetime.now(dt.UTC)
    by_cause: dict[str, list[str]] = {}
    for finding in findings:
        by_cause.setdefault(finding.cause, []).append(finding.message)
    return [
        AlertEvent(
            key=f"{AT_RISK_EVENT}:{row['id']}:{cause}",
            event=AT_RISK_EVENT,
            post_id=str(row["id"]),
            platform=row["platform"],
            account_id=str(row["account_id"]),
            reason=cause,
            message="; ".join(messages),
            at=now,
        )
        for cause, messages in by_cause.items()
    ]
