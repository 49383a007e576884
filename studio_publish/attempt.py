"""One claimed post: publish it (or settle an earlier attempt) and record what became of it.

Every write goes through the store's fenced queries: if this run lost the post's claim,
nothing is changed, and what the attempt learned is kept in its history row.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import psycopg

from studio_publish.db import Row, first_line
from studio_publish.domain import Published
from studio_publish.errors import BadInput
from studio_publish.media_policy import MediaPolicy
from studio_publish.platforms.base import (
    Decision,
    Platform,
    PlatformError,
    PublishContext,
    ReconcileStatus,
    Reconciliation,
)
from studio_publish.redaction import redact
from studio_publish.retry import plan_for
from studio_publish.settings import Settings
from studio_publish.store import Claim, EngineStore, LeaseLost, account_from_row
from studio_publish.tokens import needs_refresh, refresh_account_token
from studio_publish.validation import (
    StoredPost,
    check_saved_ids,
    check_stored_post,
    platform_id_problem,
)

T = TypeVar("T")

# How soon to look again at a post the platform is still processing (a TikTok upload).
PENDING_RECHECK_SECONDS = 60.0


@dataclass(frozen=True)
class PostResult:
    post_id: str
    platform: str
    outcome: str  # posted, retry, wait, reauth, failed, needs_review, lease_lost, missed
    message: str = ""
    platform_post_id: str | None = None
    permalink: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "platform": self.platform,
            "outcome": self.outcome,
            "message": self.message,
            "platform_post_id": self.platform_post_id,
            "permalink": self.permalink,
        }


@dataclass(frozen=True)
class Refusal:
    """Why a claimed row is not sent at all: the state and reason it ends in, and why."""

    status: str  # failed, or needs_review when an earlier attempt may have reached it
    reason: str  # account_mismatch or invalid
    message: str


def admit(
    post_row: Row, account_row: Row, *, platform: str, media: MediaPolicy
) -> tuple[StoredPost, dict[str, Any]] | Refusal:
    """The engine's door: a claimed row and its account, checked before any platform call.

    The web app writes rows straight into the table, so a row may hold anything. Returns
    the checked content and saved platform ids, or the Refusal to record. Pure: it reads
    only its arguments (and, for a local file, whether it exists in the media root).
    """
    if account_row["platform"] != platform:
        return Refusal(
            "failed",
            "account_mismatch",
            f"the post is for {platform} but its account is a {account_row['platform']} "
            "account: nothing was sent",
        )
    if str(post_row.get("workspace_id")) != str(account_row["workspace_id"]):
        return Refusal(
            "failed",
            "account_mismatch",
            "the post's workspace_id is not its account's workspace: nothing was sent",
        )
    if (problem := platform_id_problem(account_row["platform_account_id"])) is not None:
        # The account's id goes into API paths: a row written by hand may hold anything.
        return Refusal(
            "failed", "invalid", f"the account's platform_account_id: {problem}; nothing was sent"
        )
    try:
        saved = check_saved_ids(post_row.get("platform_state"))
        content = check_stored_post(post_row, platform=platform, media=media)
    except BadInput as exc:
        if post_row.get("platform_state"):
            # Saved platform ids: an earlier attempt may have made the post live. (With none
            # saved, nothing went out: every client saves a marker before any call that can
            # make a post live.)
            return Refusal(
                "needs_review",
                "invalid",
                f"{exc}; an earlier attempt may have reached the platform, so nothing more "
                "was sent: check the account",
            )
        return Refusal("failed", "invalid", f"{exc}; nothing was sent")
    return content, saved


class PostAttempt:
    ctx: PublishContext  # built in run(), once the account is read

    def __init__(
        self,
        *,
        settings: Settings,
        rng: random.Random,
        store: EngineStore,
        http: httpx.AsyncClient,
        claim: Claim,
        platform: Platform,
        log: Any,
        record: Callable[[PostResult], None],
    ) -> None:
        self.settings = settings
        self.rng = rng
        self.store = store
        self.http = http
        self.claim = claim
        self.platform = platform
        self.log = log.bind(post_id=claim.post_id, platform=platform.name, attempt=claim.attempt)
        self.record = record
        self.secrets: list[str | None] = []
        self.refreshed = False

    async def run(self, *, rescue: bool) -> None:
        """Publish the post; for a rescue, first settle what the dead run left behind.

        Whatever the row holds, this records an outcome on the post and returns: only the
        loss of the database ends the run (the next run settles the post).
        """
        row = await self.store.account(self.claim.account_id)
        if row is None:
            await self.finish("failed", "no_account", "the post's account no longer exists")
            return
        admitted = admit(
            self.claim.row, row, platform=self.platform.name, media=self.settings.media_policy()
        )
        if isinstance(admitted, Refusal):
            await self.finish(admitted.status, admitted.reason, admitted.message)
            return
        content, saved = admitted
        self.secrets = [row["access_token"], row["refresh_token"]]
        self.ctx = PublishContext(
            post=self.claim.to_post(content),
            account=account_from_row(row),
            http=self.http,
            saved=saved,
            save_ids=lambda **ids: self.store.save_ids(self.claim, ids),
        )
        try:
            await self._publish(rescue=rescue)
        except LeaseLost:
            await self.lease_lost()
        except PlatformError as exc:
            await self.apply(exc)
        except psycopg.OperationalError:
            raise  # the database is gone: the run ends, the next one settles this post
        except Exception as exc:  # a bug, a dropped connection, a malformed answer
            await self.after_unexpected(exc)

    async def _publish(self, *, rescue: bool) -> None:
        ctx, platform = self.ctx, self.platform
        # The claim stamped updated_at with the database's clock a moment ago.
        if platform.can_refresh_tokens and needs_refresh(ctx.account, self.claim.row["updated_at"]):
            await self._refresh(force=False)
        if (ctx.saved or rescue) and await self.settle_earlier_attempt(rescue=rescue):
            return
        try:
            await self.with_refresh(lambda: platform.prepare(ctx))
        finally:  # a quota that is used up is worth showing most of all
            if "publishing_quota" in ctx.account_facts:
                quota = ctx.account_facts["publishing_quota"]
                await self.store.save_publishing_quota(self.claim.account_id, quota)
        self.log.info("publishing")
        await self.posted(await self.with_refresh(lambda: platform.publish(ctx)))

    # --- tokens --------------------------------------------------------------------------

    async def _refresh(self, *, force: bool) -> None:
        self.ctx.account = await refresh_account_token(
            self.store.pool, self.platform, self.ctx.account, self.http, force=force
        )
        # Both may have rotated: the new ones are as secret as the old.
        self.secrets += [self.ctx.account.access_token, self.ctx.account.refresh_token]

    async def with_refresh(self, step: Callable[[], Awaitable[T]]) -> T:
        """Run a platform step; on an invalid token, refresh it and run the step once more."""
        try:
            return await step()
        except PlatformError as exc:
            if exc.decision is not Decision.REFRESH_TOKEN or self.refreshed:
                raise
            self.refreshed = True
            await self._refresh(force=True)
            return await step()

    # --- asking the platform what happened ------------------------------------------------

    async def settle_earlier_attempt(self, *, rescue: bool) -> bool:
        """Settle what an earlier attempt left behind. True when the post is settled."""
        if not self.ctx.saved:
            # Rescue of a run that died before saving anything: every client saves a marker
            # before any call that can make a post live, so nothing went out. Try again.
            await self.reschedule(
                "retry",
                0.0,
                "the run publishing it stopped before contacting the platform",
                error_class="abandoned",
            )
            return True
        rec = await self.with_refresh(lambda: self.platform.reconcile(self.ctx))
        self.log.info("reconciled", status=str(rec.status), reason=redact(rec.reason, self.secrets))
        if rec.status is ReconcileStatus.NOT_LIVE and not rescue:
            return False  # safe to publish, resuming from the saved ids

        async def try_again() -> None:
            await self.reschedule(
                "retry",
                0.0,
                "the run publishing it stopped; the platform confirms it is not live, "
                "so it is tried again",
                error_class="abandoned",
            )

        await self.act_on(rec, not_live=try_again, note="found live on the platform")
        return True

    async def after_unexpected(self, exc: BaseException) -> None:
        message = redact(f"{type(exc).__name__}: {first_line(exc)}", self.secrets)
        self.log.warning("unexpected_error", error=message)
        retry = PlatformError(Decision.RETRY, message)
        if not self.ctx.saved:
            await self.apply(retry)  # nothing could have reached the platform
            return
        try:
            rec = await self.platform.reconcile(self.ctx)
        except Exception as again:
            await self.finish(
                "needs_review",
                "unknown_outcome",
                f"{message}; and the platform could not be asked what happened: "
                + redact(str(again), self.secrets),
            )
            return
        await self.act_on(rec, not_live=lambda: self.apply(retry), note=message)

    async def act_on(
        self, rec: Reconciliation, *, not_live: Callable[[], Awaitable[None]], note: str
    ) -> None:
        """What the platform said about an earlier attempt decides the post's state."""
        if rec.status is ReconcileStatus.LIVE and rec.published:
            await self.posted(rec.published, note=f"{note}: {rec.reason}" if rec.reason else note)
        elif rec.status is ReconcileStatus.NOT_LIVE:
            await not_live()
        elif rec.status is ReconcileStatus.PENDING:
            await self.reschedule(
                "wait",
                PENDING_RECHECK_SECONDS,
                rec.reason or "the platform is still processing it",
                give_back=True,
                error_class="pending",
            )
        elif rec.status is ReconcileStatus.FAILED and rec.error is not None:
            await self.apply(rec.error)
        else:
            reason = f": {rec.reason}" if rec.reason else ""
            await self.finish(
                "needs_review",
                "unknown_outcome",
                f"cannot tell whether the post went live{reason}; check the account, then "
                f"`confirm-live {self.claim.post_id}` or "
                f"`retry-failed --id {self.claim.post_id} --confirm-not-live`",
            )

    # --- outcomes --------------------------------------------------------------------------

    def result(self, outcome: str, message: str, published: Published | None = None) -> None:
        self.record(
            PostResult(
                self.claim.post_id,
                self.platform.name,
                outcome,
                message,
                published.platform_post_id if published else None,
                published.permalink if published else None,
            )
        )

    async def apply(self, error: PlatformError) -> None:
        """Turn a classified platform error into the post's next state (the retry policy)."""
        plan = plan_for(
            error,
            attempt=self.claim.attempt,
            max_attempts=self.settings.max_attempts,
            base=self.settings.retry_base_seconds,
            maximum=self.settings.retry_max_seconds,
            rng=self.rng,
        )
        message = redact(str(error), self.secrets)
        account_id = self.claim.account_id
        if plan.reauth and await self.store.mark_account_needs_reauth(account_id, message):
            self.log.warning("account_needs_reauth", account_id=account_id, error=message)
        if plan.status == "scheduled":
            await self.reschedule(
                plan.outcome,
                plan.delay_seconds or 0.0,
                message,
                give_back=plan.give_back_attempt,
                error_class=error.decision.value,
                http_status=error.http_status,
            )
            return
        if plan.reason == "max_attempts":
            message = f"gave up after {self.claim.attempt} attempts: {message}"
        await self.finish(
            plan.status,
            plan.reason or "platform",
            message,
            error_class=error.decision.value,
            http_status=error.http_status,
        )

    async def posted(self, published: Published, *, note: str | None = None) -> None:
        note = redact(note, self.secrets) if note else note  # it may quote the platform
        try:
            recorded = await self.store.finish_posted(
                self.claim,
                platform_post_id=published.platform_post_id,
                permalink=published.permalink,
                note=note,
            )
        except psycopg.errors.UniqueViolation:
            # Another row already holds this platform post: recording it twice would hide a
            # duplicate. A person looks.
            await self.finish(
                "needs_review",
                "duplicate_platform_post",
                f"platform post {published.platform_post_id} is already recorded on another post",
            )
            return
        if not recorded:
            await self.store.record_late_outcome(
                self.claim,
                f"went live as {published.platform_post_id} after this run lost its claim",
                {"platform_post_id": published.platform_post_id, "permalink": published.permalink},
            )
            self.log.warning(
                "lease_lost_after_publish", platform_post_id=published.platform_post_id
            )
            self.result("lease_lost", "published after the claim was lost; see status", published)
            return
        self.log.info(
            "posted", platform_post_id=published.platform_post_id, permalink=published.permalink
        )
        self.result("posted", note or "", published)

    async def reschedule(
        self,
        outcome: str,
        delay: float,
        message: str,
        *,
        give_back: bool = False,
        error_class: str | None = None,
        http_status: int | None = None,
    ) -> None:
        """Back to scheduled: retry later, wait for a window, or hold for re-authorisation."""
        message = redact(message, self.secrets)  # every recorded message, whoever built it
        recorded = await self.store.finish_scheduled(
            self.claim,
            delay_seconds=delay,
            give_back_attempt=give_back,
            outcome=outcome,
            error=message,
            error_class=error_class,
            http_status=http_status,
        )
        if not recorded:
            await self._claim_lost(message)
            return
        self.log.info(outcome, delay_seconds=round(delay, 1), error=message)
        self.result(outcome, message)

    async def finish(
        self,
        status: str,
        reason: str,
        message: str,
        *,
        error_class: str | None = None,
        http_status: int | None = None,
    ) -> None:
        """Failed for good, or needs_review, with the reason."""
        message = redact(message, self.secrets)  # every recorded message, whoever built it
        recorded = await self.store.finish_failed(
            self.claim,
            status=status,
            reason=reason,
            error=message,
            error_class=error_class or reason,
            http_status=http_status,
        )
        if not recorded:
            await self._claim_lost(message)
            return
        self.log.warning(status, reason=reason, error=message)
        self.result(status, message)

    async def _claim_lost(self, message: str) -> None:
        await self.store.record_late_outcome(
            self.claim, "claim lost before recording: " + message, {}
        )
        self.result("lease_lost", message)

    async def lease_lost(self) -> None:
        self.log.warning("lease_lost", saved=sorted(self.ctx.saved))
        await self.store.record_late_outcome(
            self.claim, "this run lost its claim; another run settles it", self.ctx.saved
        )
        self.result("lease_lost", "the claim was lost; another run settles the post")
