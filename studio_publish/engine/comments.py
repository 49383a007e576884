"""First comments: the account's own comment under its post, once the post is live.

A post with ``options.first_comment`` (``--first-comment``) gets a row in
``studio_publish_comments`` in the statement that records it ``posted`` (finish_attempt).
Right after, the same run posts the comment; a comment that could not be posted then is
due again later and taken up by a later run's due-comment pass. The post is never claimed
again for it: whatever becomes of the comment, the post stays ``posted``.

Exactly once:

* A comment is claimed (``pending`` -> ``sending``) with its own claim token and lease, so
  overlapping runs never both send it; every later write names the claim.
* Just before the call that makes it live, the comment is marked sent (``sent_at``); a
  clear answer clears the mark, an unclear one (no answer, a 5xx) keeps it. The comment's
  id is recorded the moment it arrives.
* A comment marked sent is looked for on the platform (our text, from our account, since
  the mark) before it is ever sent again: right after the unclear answer, and again at the
  next try, a backoff later (UNCLEAR_WAIT_SECONDS at least, for the listing to catch up).

Retries: ``STUDIO_PUBLISH_MAX_ATTEMPTS`` tries with the posts' backoff (RETRY_BASE_SECONDS,
RETRY_MAX_SECONDS; MIN_RETRY_SECONDS at least). A comment refused for good, or out of
tries, is ``failed``: its error says why, `status POST_ID` shows it as a warning, and a
``comment_failed`` alert is sent.

What an answer means is decided by :func:`after_comment_error` (pure), and recorded by one
store call (``finish_comment``), as for posts (outcomes.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
import psycopg

from studio_publish.engine.alerts import COMMENT_FAILED_EVENT, AlertEvent, record_events
from studio_publish.engine.outcomes import RetryPolicy
from studio_publish.engine.retry import DEFAULT_WAIT_SECONDS, backoff_seconds
from studio_publish.engine.tokens import needs_refresh, refresh_account_token
from studio_publish.errors import BadInput, UnknownPlatform
from studio_publish.platforms.base import (
    CommentContext,
    Commenting,
    Decision,
    Platform,
    PlatformError,
)
from studio_publish.platforms.transport import OutcomeUnclear
from studio_publish.redaction import redact
from studio_publish.scheduling.validation import check_saved_ids
from studio_publish.settings import Settings
from studio_publish.states import CommentState
from studio_publish.store.db import Row, first_line
from studio_publish.store.engine_store import EngineStore, LeaseLost, account_from_row

COMMENT_BATCH = 50  # comments one run's due pass takes, at most: a backlog drains over runs
MIN_RETRY_SECONDS = 30.0  # a comment tried again is never due again within the same run
# After an unclear answer: the platform's listing may not show a comment made just now.
UNCLEAR_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class CommentTransition:
    """Where a claimed comment goes next (finish_comment's parameters)."""

    state: CommentState
    message: str = ""
    comment_id: str | None = None
    delay_seconds: float = 0.0  # for pending: when it is due again
    give_back: bool = False  # waiting for a rate limit costs no try
    keep_sent: bool = False  # the comment may be live: look for it before sending again

    def params(self) -> dict[str, Any]:
        return {
            "to_state": str(self.state),
            "comment_id": self.comment_id,
            "error": self.message or None,
            "delay_seconds": self.delay_seconds,
            "give_back": self.give_back,
            "keep_sent": self.keep_sent,
        }


@dataclass(frozen=True)
class CommentResult:
    post_id: str
    platform: str
    state: CommentState | None  # None: the claim was lost, another run settles it
    message: str = ""
    comment_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "platform": self.platform,
            "state": str(self.state) if self.state else "lease_lost",
            "message": self.message,
            "comment_id": self.comment_id,
        }


# --- what an answer means (pure) ---------------------------------------------------------


def posted(comment_id: str, note: str = "") -> CommentTransition:
    return CommentTransition(CommentState.POSTED, note, comment_id=comment_id)


def failed(message: str) -> CommentTransition:
    return CommentTransition(CommentState.FAILED, message)


def after_comment_error(
    error: PlatformError,
    *,
    attempt: int,
    policy: RetryPolicy,
    rng: random.Random,
    keep_sent: bool,
) -> CommentTransition:
    """A classified error of try ``attempt`` at a comment, under the retry policy.

    ``keep_sent``: the comment may be live (its answer was lost), so the next try looks for
    it first, no sooner than UNCLEAR_WAIT_SECONDS from now.
    """
    decision, message = error.decision, str(error)
    if decision is Decision.WAIT:
        delay = error.retry_after if error.retry_after is not None else DEFAULT_WAIT_SECONDS
        return CommentTransition(
            CommentState.PENDING, message, delay_seconds=delay, give_back=True, keep_sent=keep_sent
        )
    if decision in (Decision.FAIL, Decision.INVALID):
        note = "; it may be on the platform all the same: check the post" if keep_sent else ""
        return CommentTransition(CommentState.FAILED, f"{message}{note}", keep_sent=keep_sent)
    # RETRY, UNKNOWN (an unclear answer), and a token the platform refused (re-authorising
    # the account is for the posts to ask; a comment gives up after its tries).
    if attempt >= policy.max_attempts:
        note = (
            "; the last answer was lost, so it may be on the platform: check the post"
            if keep_sent
            else ""
        )
        return CommentTransition(
            CommentState.FAILED,
            f"gave up after {attempt} tries: {message}{note}",
            keep_sent=keep_sent,
        )
    delay = backoff_seconds(attempt, base=policy.base_seconds, maximum=policy.max_seconds, rng=rng)
    floor = max(MIN_RETRY_SECONDS, UNCLEAR_WAIT_SECONDS if keep_sent else 0.0)
    delay = max(delay, floor, error.retry_after or 0.0)
    return CommentTransition(
        CommentState.PENDING, message, delay_seconds=delay, keep_sent=keep_sent
    )


# --- one claimed comment -------------------------------------------------------------------


@dataclass(frozen=True)
class _ClaimedComment:
    """The CommentStore of one claimed comment: its writes fenced by its claim."""

    store: EngineStore
    post_id: str
    claim: str

    async def save_ids(self, ids: dict[str, Any]) -> None:
        await self.store.save_comment_state(self.post_id, self.claim, ids, sent=False)

    async def mark_sent(self) -> None:
        await self.store.save_comment_state(self.post_id, self.claim, {}, sent=True)


@dataclass(frozen=True)
class CommentRun:
    """What a run's comments share: its store, settings and platform clients."""

    store: EngineStore
    settings: Settings
    platform: Callable[[str], Platform]  # the client of a platform, by name
    rng: random.Random
    log: Any

    @property
    def policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(s.max_attempts, s.retry_base_seconds, s.retry_max_seconds)


class FirstComment:
    def __init__(self, run: CommentRun, http: httpx.AsyncClient, row: Row) -> None:
        self.settings, self.rng, self.store = run.settings, run.rng, run.store
        self.http, self.row, self.platform_for, self.policy = http, row, run.platform, run.policy
        self.post_id = str(row["post_id"])
        self.claim = str(row["claim_token"])
        self.attempt: int = row["attempts"]
        self.log = run.log.bind(
            post_id=self.post_id, platform=row["platform"], comment_try=self.attempt
        )
        self.secrets: list[str | None] = []

    async def run(self) -> CommentResult:
        """Post the comment (or find it, after an unclear answer) and record what became of
        it; only the loss of the database ends the run."""
        transition = await self._decide()
        if transition is None:
            return self._lost()
        transition = replace(transition, message=redact(transition.message, self.secrets))
        if not await self.store.finish_comment(self.post_id, self.claim, transition.params()):
            return self._lost()
        if transition.state is CommentState.POSTED:
            self.log.info("comment_posted", comment_id=transition.comment_id)
        else:
            self.log.warning(f"comment_{transition.state}", error=transition.message)
        return CommentResult(
            self.post_id,
            self.row["platform"],
            transition.state,
            transition.message,
            transition.comment_id,
        )

    def _lost(self) -> CommentResult:
        self.log.warning("comment_lease_lost")
        return CommentResult(self.post_id, self.row["platform"], None, "the claim was lost")

    async def _decide(self) -> CommentTransition | None:
        row = self.row
        try:
            platform = self.platform_for(row["platform"])
        except UnknownPlatform as exc:
            return failed(str(exc))
        if not isinstance(platform, Commenting):
            return failed(f"{platform.name} posts take no comments")
        if not row["platform_post_id"]:
            return failed("the post has no platform id to comment under")
        account_row = await self.store.account(str(row["social_account_id"]))
        if account_row is None:
            return failed("the post's account no longer exists")
        try:
            saved = check_saved_ids(row["platform_state"])
        except BadInput as exc:
            return failed(f"{exc}; nothing was sent")
        account = account_from_row(account_row)
        self.secrets = [account.access_token, account.refresh_token]
        had_sent = row["sent_at"] is not None
        ctx = CommentContext(
            account=account,
            http=self.http,
            platform_post_id=str(row["platform_post_id"]),
            post_ids=row["post_state"] if isinstance(row["post_state"], dict) else {},
            message=row["message"],
            saved_ids=saved,
            store=_ClaimedComment(self.store, self.post_id, self.claim),
            sent_since=row["sent_at"],
        )
        try:
            if platform.can_refresh_tokens and needs_refresh(account, row["db_now"]):
                ctx.account = await refresh_account_token(
                    self.store.pool, platform, account, self.http, force=False
                )
                self.secrets += [ctx.account.access_token, ctx.account.refresh_token]
            return await self._send(platform, ctx, had_sent)
        except LeaseLost:
            return None
        except OutcomeUnclear as exc:
            # Looked for at once (the listing may already show it), and again at the next try.
            ctx.sent_since = ctx.sent_since or row["db_now"]
            found = await self._look(platform, ctx)
            if found is not None:
                return posted(found, f"found on the platform after: {exc}")
            return self._after_error(exc, keep_sent=True)
        except PlatformError as exc:
            unclear = ctx.sent and exc.decision is Decision.UNKNOWN
            return self._after_error(exc, keep_sent=unclear or (had_sent and not ctx.sent))
        except psycopg.OperationalError:
            raise  # the database is gone: the run ends; the lease runs out, a later run retries
        except Exception as exc:  # a bug, a malformed answer: it may have gone through
            message = redact(f"{type(exc).__name__}: {first_line(exc)}", self.secrets)
            self.log.warning("comment_unexpected_error", error=message)
            sent = ctx.sent or had_sent
            error = PlatformError(Decision.UNKNOWN if sent else Decision.RETRY, message)
            return self._after_error(error, keep_sent=sent)

    async def _send(
        self, platform: Commenting, ctx: CommentContext, had_sent: bool
    ) -> CommentTransition:
        if had_sent:
            found = await platform.find_comment(ctx)
            if found is not None:
                return posted(found, "found on the platform after an unclear answer")
        return posted(await platform.send_comment(ctx))

    async def _look(self, platform: Commenting, ctx: CommentContext) -> str | None:
        try:
            return await platform.find_comment(ctx)
        except PlatformError as exc:
            self.log.info("comment_not_looked_up", error=redact(str(exc), self.secrets))
            return None

    def _after_error(self, error: PlatformError, *, keep_sent: bool) -> CommentTransition:
        return after_comment_error(
            error, attempt=self.attempt, policy=self.policy, rng=self.rng, keep_sent=keep_sent
        )


# --- a run's comments ------------------------------------------------------------------------


async def post_due_comments(
    run: CommentRun, http: Callable[[], httpx.AsyncClient], only_ids: list[str] | None = None
) -> list[CommentResult]:
    """Claim the due first comments (those of ``only_ids`` only, when given), post them side
    by side, and record a ``comment_failed`` alert for each that failed for good."""
    rows = await run.store.claim_due_comments(COMMENT_BATCH, only_ids)
    if not rows:
        return []
    semaphore = asyncio.Semaphore(run.settings.concurrency)

    async def one(row: Row) -> CommentResult:
        async with semaphore:
            return await FirstComment(run, http(), row).run()

    results = list(await asyncio.gather(*(one(r) for r in rows)))
    accounts = {str(r["post_id"]): r["social_account_id"] for r in rows}
    events = failed_events(results, accounts)
    if events and run.settings.alert_webhook_url:  # sent at the run's end (alerts.py)
        await record_events(run.store.pool, events)
    return results


def failed_events(
    results: list[CommentResult], accounts: dict[str, Any], now: dt.datetime | None = None
) -> list[AlertEvent]:
    """A ``comment_failed`` event for each comment that failed for good: once a post (a
    comment fails for good once)."""
    at = now or dt.datetime.now(dt.UTC)
    return [
        AlertEvent(
            key=f"{COMMENT_FAILED_EVENT}:{r.post_id}",
            event=COMMENT_FAILED_EVENT,
            post_id=r.post_id,
            platform=r.platform,
            account_id=str(accounts[r.post_id]) if accounts.get(r.post_id) else None,
            reason=COMMENT_FAILED_EVENT,
            message=r.message,
            at=at,
        )
        for r in results
        if r.state is CommentState.FAILED
    ]
