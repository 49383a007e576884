"""One claimed post: find out what becomes of it, then record that once.

``PostAttempt.run`` asks the platform (publishing the post, or asking what became of an
earlier attempt), turns the answer into a :class:`~studio_publish.engine.outcomes.Transition` with
the pure functions in ``outcomes``, and records it with one store call. Every write is fenced
by the claim: if this run lost the post, nothing is changed, and what the attempt learned is
kept in its history row.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import psycopg

from studio_publish.domain import Quota
from studio_publish.engine import outcomes
from studio_publish.engine.tokens import needs_refresh, refresh_account_token
from studio_publish.errors import BadInput
from studio_publish.ids import platform_id_problem, token_problem
from studio_publish.media_policy import MediaPolicy
from studio_publish.platforms.base import (
    Decision,
    Platform,
    PlatformError,
    PublishContext,
    Reconciliation,
)
from studio_publish.platforms.polling import ProcessingWait
from studio_publish.platforms.registry import spec_for
from studio_publish.redaction import redact
from studio_publish.scheduling.validation import StoredPost, check_saved_ids, check_stored_post
from studio_publish.settings import Settings
from studio_publish.states import FailureReason, Outcome, Transition
from studio_publish.store.db import Row, first_line
from studio_publish.store.engine_store import (
    Claim,
    ClaimIds,
    EngineStore,
    LeaseLost,
    account_from_row,
)

T = TypeVar("T")


@dataclass(frozen=True)
class PostResult:
    """What one claimed post came to in this run: printed, counted and alerted on."""

    post_id: str
    platform: str
    outcome: Outcome
    message: str = ""
    platform_post_id: str | None = None
    permalink: str | None = None

    @classmethod
    def of(cls, claim: Claim, transition: Transition) -> PostResult:
        published = transition.published
        return cls(
            claim.post_id,
            claim.row["platform"],
            transition.outcome,
            transition.message,
            published.platform_post_id if published else None,
            published.permalink if published else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "platform": self.platform,
            "outcome": str(self.outcome),
            "message": self.message,
            "platform_post_id": self.platform_post_id,
            "permalink": self.permalink,
        }


def admit(
    post_row: Row, account_row: Row, *, platform: str, media: MediaPolicy
) -> tuple[StoredPost, dict[str, Any]] | Transition:
    """The engine's door: a claimed row and its account, checked before any platform call.

    The web app writes rows straight into the table, so a row may hold anything. Returns
    the checked content and saved ids, or the Transition (failed or needs_review) to
    record, with nothing sent. Pure: it reads
    only its arguments (and, for a local file, whether it exists in the media root).
    """
    if account_row["platform"] != platform:
        return outcomes.failed(
            FailureReason.ACCOUNT_MISMATCH,
            f"the post is for {platform} but its account is a {account_row['platform']} "
            "account: nothing was sent",
        )
    if str(post_row.get("workspace_id")) != str(account_row["workspace_id"]):
        return outcomes.failed(
            FailureReason.ACCOUNT_MISMATCH,
            "the post's workspace_id is not its account's workspace: nothing was sent",
        )
    if (problem := platform_id_problem(account_row["platform_account_id"])) is not None:
        # The account's id goes into API paths: a row written by hand may hold anything.
        return outcomes.failed(
            FailureReason.INVALID,
            f"the account's platform_account_id: {problem}; nothing was sent",
        )
    # The access token is required: a missing one (NULL) is as empty (no call goes without
    # it). A refresh token is optional.
    tokens = {
        "access_token": account_row["access_token"] or "",
        "refresh_token": account_row["refresh_token"],
    }
    for field, token in tokens.items():
        if (problem := token_problem(token)) is not None:
            # It goes into a header: a line break in it would add headers of its own.
            return outcomes.reauth(
                f"the account's {field} {problem}; nothing was sent: give the account a new "
                "token (accounts reauth)"
            )
    try:
        saved_ids = check_saved_ids(post_row.get("platform_state"))
        content = check_stored_post(post_row, platform=platform, media=media)
    except BadInput as exc:
        if post_row.get("platform_state"):
            # Saved platform ids: an earlier attempt may have made the post live. (With none
            # saved, nothing went out: every client saves a marker before any call that can
            # make a post live.)
            return outcomes.needs_review(
                FailureReason.INVALID,
                f"{exc}; an earlier attempt may have reached the platform, so nothing more "
                "was sent: check the account",
            )
        return outcomes.failed(FailureReason.INVALID, f"{exc}; nothing was sent")
    return content, saved_ids


class PostAttempt:
    ctx: PublishContext  # built in _decide(), once the account is read

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
        account_facts: dict[str, Any] | None = None,
        processing_wait: ProcessingWait | None = None,
        quotas: dict[str, Quota] | None = None,
        on_platform_done: Callable[[], None] | None = None,
    ) -> None:
        # Called once the post's platform calls are over, before its outcome is recorded:
        # the claim loop gives its slot to the next post (engine/run.py).
        self.on_platform_done = on_platform_done
        # The run's last known publishing quota of each account, saved at its end.
        self.quotas = {} if quotas is None else quotas
        self.settings = settings
        # How the platform's client waits on media still processing (see engine/waits.py).
        self.processing_wait = processing_wait
        # Shared by this run's attempts of the same account (see PublishContext).
        self.account_facts = {} if account_facts is None else account_facts
        self.policy = outcomes.RetryPolicy(
            settings.max_attempts, settings.retry_base_seconds, settings.retry_max_seconds
        )
        self.rng = rng
        self.store = store
        self.http = http
        self.claim = claim
        self.platform = platform
        self.log = log.bind(post_id=claim.post_id, platform=platform.name, attempt=claim.attempt)
        self.secrets: list[str | None] = []
        self.refreshed = False
        self.saved_ids: dict[str, Any] = {}

    async def run(self, *, rescue: bool) -> PostResult:
        """Publish the post (for a rescue, first find out what the dead run left behind),
        record what became of it, and return that.

        Whatever the row holds, the post ends in a recorded state: only the loss of the
        database ends the run (the next run takes the post up again).
        """
        transition = await self._decide(rescue=rescue)
        if self.on_platform_done is not None:
            self.on_platform_done()
        return await self.record(transition)

    async def _decide(self, *, rescue: bool) -> Transition:
        row = self.claim.account_row or await self.store.account(self.claim.account_id)
        if row is None:
            return outcomes.failed(FailureReason.NO_ACCOUNT, "the post's account no longer exists")
        admitted = admit(
            self.claim.row, row, platform=self.platform.name, media=self.settings.media_policy()
        )
        if isinstance(admitted, Transition):
            return admitted
        content, self.saved_ids = admitted
        self.secrets = [row["access_token"], row["refresh_token"]]
        self.ctx = PublishContext(
            post=self.claim.to_post(content),
            account=account_from_row(row),
            http=self.http,
            saved_ids=self.saved_ids,
            ids_store=ClaimIds(self.store, self.claim),
            account_facts=self.account_facts,
            processing_wait=self.processing_wait,
        )
        try:
            return await self._publish(rescue=rescue)
        except LeaseLost:
            return Transition(
                Outcome.LEASE_LOST, "the claim was lost; another run settles the post"
            )
        except PlatformError as exc:
            return self._after_error(exc)
        except psycopg.OperationalError:
            raise  # the database is gone: the run ends, the next one takes the post up
        except Exception as exc:  # a bug, a dropped connection, a malformed answer
            return await self._after_unexpected(exc)

    async def _publish(self, *, rescue: bool) -> Transition:
        ctx, platform = self.ctx, self.platform
        if platform.can_refresh_tokens and needs_refresh(ctx.account, self.claim.db_now):
            await self._refresh(force=False)
        if ctx.saved_ids or rescue:
            earlier = await self._ask_about_earlier_attempt(rescue=rescue)
            if earlier is not None:
                return earlier
        try:
            counted = await self._within_counted_quota()
            await self.with_refresh(lambda: platform.prepare(ctx))
            self.log.debug("publishing")  # one line a post is enough: its outcome
            published = await self.with_refresh(lambda: platform.publish(ctx))
            if counted is not None:
                ctx.quota = Quota(counted.used + 1, counted.total)
        finally:  # a quota that is used up is worth showing most of all
            if ctx.quota is not None:
                self.quotas[self.claim.account_id] = ctx.quota
        return outcomes.posted(published)

    async def _within_counted_quota(self) -> Quota | None:
        """A limit the platform documents but gives no call to read (the spec's
        CountedQuota): the account's own posts of those types live in its window, counted
        before anything is sent. Full: the post waits, using no attempt, until the oldest
        leaves the window. A post resuming from saved ids was counted when it started."""
        spec = spec_for(self.platform.name)
        counted, post = spec.counted_quota, self.ctx.post
        if counted is None or post.post_type not in counted.post_types or self.ctx.saved_ids:
            return None
        used, frees_in = await self.store.count_posted_in_window(
            self.claim.account_id,
            self.claim.post_id,
            counted.post_types,
            counted.window.total_seconds(),
        )
        self.ctx.quota = quota = Quota(used, counted.most)
        if used >= counted.most:
            hours = counted.window.total_seconds() / 3600
            raise PlatformError(
                Decision.WAIT,
                f"{spec.display_name} takes {counted.most} {post.post_type}s an account in a "
                f"moving {hours:g} hours, and this account has {used}: the post waits until "
                "the oldest leaves the window",
                code="counted_quota",
                # None live: the others are being published now; look again soon.
                retry_after=max(frees_in or 0.0, self.settings.poll_interval_seconds),
            )
        return quota

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

    async def _ask_about_earlier_attempt(self, *, rescue: bool) -> Transition | None:
        """What an earlier attempt left behind; None when it is safe to publish now."""
        if not self.ctx.saved_ids:
            # Rescue of a run that died before saving anything: every client saves a marker
            # before any call that can make a post live, so nothing went out. Try again.
            return outcomes.start_over(
                "the run publishing it stopped before contacting the platform"
            )
        rec = await self.with_refresh(lambda: self.platform.reconcile(self.ctx))
        self.log.info("reconciled", status=str(rec.status), reason=redact(rec.reason, self.secrets))
        # Not live: a rescued post starts over as a retry; any other resumes from its ids.
        # Still processing: a rescued post is looked at again soon (a rescue holds no wait),
        # any other resumes its wait at once.
        if rescue:
            if_not_live: Transition | None = outcomes.start_over(
                "the run publishing it stopped; the platform confirms it is not live, "
                "so it is tried again"
            )
            recheck: float | None = self.settings.poll_interval_seconds
        else:
            if_not_live, recheck = None, None
        return self._after_reconciliation(
            rec, if_not_live, note="found live on the platform", recheck_seconds=recheck
        )

    async def _after_unexpected(self, exc: BaseException) -> Transition:
        message = redact(f"{type(exc).__name__}: {first_line(exc)}", self.secrets)
        self.log.warning("unexpected_error", error=message)
        retry = self._after_error(PlatformError(Decision.RETRY, message))
        if not self.ctx.saved_ids:
            return retry  # nothing could have reached the platform
        try:
            rec = await self.platform.reconcile(self.ctx)
        except Exception as again:
            return outcomes.needs_review(
                FailureReason.UNKNOWN_OUTCOME,
                f"{message}; and the platform could not be asked what happened: "
                + redact(str(again), self.secrets),
            )
        return (
            self._after_reconciliation(
                rec, retry, note=message, recheck_seconds=self.settings.poll_interval_seconds
            )
            or retry
        )

    def _after_error(self, error: PlatformError) -> Transition:
        return outcomes.after_error(
            error, attempt=self.claim.attempt, policy=self.policy, rng=self.rng
        )

    def _after_reconciliation(
        self,
        rec: Reconciliation,
        if_not_live: Transition | None,
        *,
        note: str,
        recheck_seconds: float | None,
    ) -> Transition | None:
        return outcomes.after_reconciliation(
            rec,
            post_id=self.claim.post_id,
            if_not_live=if_not_live,
            note=note,
            recheck_seconds=recheck_seconds,
            attempt=self.claim.attempt,
            policy=self.policy,
            rng=self.rng,
        )

    # --- recording -------------------------------------------------------------------------

    async def record(self, transition: Transition) -> PostResult:
        """Record the transition on the post, fenced by the claim, and say what it came to."""
        # Every recorded message, whoever built it: it may quote the platform.
        transition = outcomes.with_message(transition, redact(transition.message, self.secrets))
        if transition.mark_reauth and await self.store.mark_account_needs_reauth(
            self.claim.account_id, transition.message
        ):
            self.log.warning(
                "account_needs_reauth", account_id=self.claim.account_id, error=transition.message
            )
        if transition.outcome is Outcome.LEASE_LOST:
            self.log.warning("lease_lost", saved_ids=sorted(self.saved_ids))
            await self.store.record_late_outcome(
                self.claim, "this run lost its claim; another run settles it", self.saved_ids
            )
            return PostResult.of(self.claim, transition)
        try:
            recorded = await self.store.finish(self.claim, transition)
        except psycopg.errors.UniqueViolation:
            # Another row already holds this platform post: recording it twice would hide a
            # duplicate. A person looks.
            assert transition.published is not None
            transition = outcomes.needs_review(
                FailureReason.DUPLICATE_PLATFORM_POST,
                f"platform post {transition.published.platform_post_id} is already recorded "
                "on another post",
            )
            recorded = await self.store.finish(self.claim, transition)
        if not recorded:
            return await self._record_claim_lost(transition)
        self._log(transition)
        return PostResult.of(self.claim, transition)

    async def _record_claim_lost(self, transition: Transition) -> PostResult:
        published = transition.published
        if published is None:
            await self.store.record_late_outcome(
                self.claim, "claim lost before recording: " + transition.message, {}
            )
            lost = Transition(Outcome.LEASE_LOST, transition.message)
        else:
            await self.store.record_late_outcome(
                self.claim,
                f"went live as {published.platform_post_id} after this run lost its claim",
                {"platform_post_id": published.platform_post_id, "permalink": published.permalink},
            )
            self.log.warning(
                "lease_lost_after_publish", platform_post_id=published.platform_post_id
            )
            lost = Transition(
                Outcome.LEASE_LOST,
                "published after the claim was lost; see status",
                published=published,
            )
        return PostResult.of(self.claim, lost)

    def _log(self, transition: Transition) -> None:
        outcome, message = transition.outcome, transition.message
        if transition.published is not None:
            self.log.info(
                "posted",
                platform_post_id=transition.published.platform_post_id,
                permalink=transition.published.permalink,
            )
        elif transition.reason is None:
            self.log.info(
                str(outcome), delay_seconds=round(transition.delay_seconds, 1), error=message
            )
        else:
            self.log.warning(str(outcome), reason=str(transition.reason), error=message)
