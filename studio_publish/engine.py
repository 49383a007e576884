"""The publishing engine: rescue abandoned claims, claim due posts, publish them, record why.

The promise: a post is published exactly once or it is visibly not published, with the
reason. How the engine keeps it:

* A post is claimed (``scheduled`` -> ``publishing``) in one short statement with
  ``FOR UPDATE SKIP LOCKED``, which gives it a claim token and a lease. Overlapping runs
  never claim the same post. No transaction stays open across an HTTP call.
* Every later write about the post names the state and the claim token it expects, so a
  run that lost its lease changes nothing.
* Platform ids are saved the moment they arrive. A run that dies leaves the post
  ``publishing`` with an expired lease; the next run's rescue asks the platform what
  became of it from those ids, and when nothing can tell, the post becomes
  ``needs_review``: never published again blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import psycopg

from studio_publish.alerts import deliver_alerts
from studio_publish.db import DatabaseTarget, first_line
from studio_publish.errors import DatabaseUnavailable
from studio_publish.logs import get_logger
from studio_publish.platforms.base import (
    Decision,
    Platform,
    PlatformError,
    PublishContext,
    Published,
    ReconcileStatus,
)
from studio_publish.pool import ConnectionPool
from studio_publish.retry import plan_for
from studio_publish.settings import Settings
from studio_publish.store import Claim, EngineStore, LeaseLost, account_from_row
from studio_publish.tokens import needs_refresh, refresh_account_token

T = TypeVar("T")

# How soon to look again at a post the platform is still processing (a TikTok upload).
PENDING_RECHECK_SECONDS = 60.0
RESCUE_BATCH = 50


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


@dataclass
class RunSummary:
    command: str
    run_id: int | None = None
    claimed: int = 0
    rescued: int = 0
    results: list[PostResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def count(self, *outcomes: str) -> int:
        return sum(1 for r in self.results if r.outcome in outcomes)

    @property
    def failed(self) -> int:
        return self.count("failed", "missed")

    @property
    def outcome(self) -> str:
        if self.error:
            return "error"
        return "failed" if self.failed else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "run_id": self.run_id,
            "outcome": self.outcome,
            "seconds": round(self.seconds, 3),
            "claimed": self.claimed,
            "rescued": self.rescued,
            "posted": self.count("posted"),
            "retried": self.count("retry", "wait", "reauth"),
            "failed": self.failed,
            "missed": self.count("missed"),
            "needs_review": self.count("needs_review"),
            "lease_lost": self.count("lease_lost"),
            "error": self.error,
            "posts": [r.as_dict() for r in self.results],
        }


def redact(text: str, secrets: list[str | None]) -> str:
    """Whatever a platform or library put in a message, no token leaves this process."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


class Engine:
    def __init__(
        self,
        settings: Settings,
        target: DatabaseTarget,
        *,
        platforms: Mapping[str, Platform] | None = None,
        worker: str | None = None,
        rng: random.Random | None = None,
        on_result: Callable[[PostResult], None] | None = None,
    ) -> None:
        self.settings = settings
        self.target = target
        self._platforms = dict(platforms) if platforms is not None else None
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.rng = rng or random.Random()
        self.on_result = on_result
        self.log = get_logger(worker=self.worker)

    def platform(self, name: str) -> Platform:
        if self._platforms is None:
            from studio_publish.platforms import get_platform

            self._platforms = {
                p: get_platform(p, self.settings) for p in ("instagram", "facebook", "tiktok")
            }
        return self._platforms[name]

    # --- sessions -----------------------------------------------------------------------

    async def _session(
        self, summary: RunSummary, body: Callable[[EngineStore, httpx.AsyncClient], Awaitable[None]]
    ) -> RunSummary:
        started = time.monotonic()
        pool = ConnectionPool(self.target, size=min(8, self.settings.concurrency + 2))
        try:
            await pool.open()
            store = EngineStore(pool, lease_seconds=self.settings.lease_seconds, worker=self.worker)
            summary.run_id = await store.start_run(
                host=socket.gethostname(), pid=os.getpid(), command=summary.command
            )
            limits = httpx.Limits(
                max_connections=self.settings.concurrency * 2,
                max_keepalive_connections=self.settings.concurrency,
            )
            async with httpx.AsyncClient(
                timeout=self.settings.http_timeout_seconds, limits=limits
            ) as http:
                try:
                    await body(store, http)
                except psycopg.OperationalError as exc:
                    summary.error = (
                        f"lost the database during the run: {first_line(exc)}; posts in "
                        "flight stay claimed and the next run settles them"
                    )
            summary.seconds = time.monotonic() - started
            with contextlib.suppress(psycopg.Error):  # if the database is gone, the error says so
                await store.finish_run(
                    summary.run_id,
                    outcome=summary.outcome,
                    claimed=summary.claimed,
                    posted=summary.count("posted"),
                    retried=summary.count("retry", "wait", "reauth"),
                    failed=summary.failed,
                    needs_review=summary.count("needs_review"),
                    rescued=summary.rescued,
                    error=summary.error,
                )
            # Last, once the run's work is recorded: a slow or dead webhook changes nothing.
            await deliver_alerts(
                pool, self.settings, summary.results, summary.run_id or 0, self.log
            )
        except psycopg.OperationalError as exc:
            summary.error = f"lost the database: {first_line(exc)}"
        finally:
            await pool.close()
        summary.seconds = time.monotonic() - started
        if summary.error:
            self.log.error("run_stopped", error=summary.error)
            raise DatabaseUnavailable(summary.error)
        return summary

    # --- run-due ------------------------------------------------------------------------

    async def run_due(self, *, only_ids: list[str] | None = None) -> RunSummary:
        summary = RunSummary("run-due")
        deadline = time.monotonic() + self.settings.run_budget_seconds

        async def body(store: EngineStore, http: httpx.AsyncClient) -> None:
            await self._rescue(store, http, summary)
            for row in await store.mark_missed(self.settings.max_lateness_seconds, only_ids):
                self._record(
                    summary,
                    PostResult(
                        str(row["id"]),
                        row["platform"],
                        "missed",
                        "first found due too long after its time; retry-failed sends it",
                    ),
                )
            await self._claim_and_publish(store, http, summary, deadline, only_ids)

        return await self._session(summary, body)

    async def _claim_and_publish(
        self,
        store: EngineStore,
        http: httpx.AsyncClient,
        summary: RunSummary,
        deadline: float,
        only_ids: list[str] | None,
    ) -> None:
        in_flight: dict[asyncio.Task[None], Claim] = {}
        heartbeat = asyncio.create_task(self._heartbeat(store, in_flight))
        try:
            while time.monotonic() < deadline:
                free = self.settings.concurrency - len(in_flight)
                claims = await store.claim_due(free, summary.run_id or 0, only_ids) if free else []
                summary.claimed += len(claims)
                for claim in claims:
                    task = asyncio.create_task(self._publish_claimed(store, http, claim, summary))
                    in_flight[task] = claim
                if not in_flight:
                    break  # nothing running and nothing left to claim
                if claims and len(claims) == free:
                    pass  # every slot is busy: wait below for one to free up
                done, _ = await asyncio.wait(
                    in_flight,
                    timeout=max(0.0, deadline - time.monotonic()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for task in done:
                    in_flight.pop(task)
                    task.result()  # a database error ends the run
            # The budget is spent: claim nothing more, let what is in flight finish.
            if in_flight:
                await asyncio.gather(*in_flight)
        finally:
            heartbeat.cancel()
            for task in in_flight:
                task.cancel()
            await asyncio.gather(heartbeat, *in_flight, return_exceptions=True)

    async def _heartbeat(
        self, store: EngineStore, in_flight: dict[asyncio.Task[None], Claim]
    ) -> None:
        """Renew the leases of posts still in flight, so a slow upload keeps its claim."""
        interval = max(1.0, self.settings.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await store.renew_leases([c.token for c in in_flight.values()])
            except psycopg.Error as exc:
                self.log.warning("lease_renewal_failed", error=first_line(exc))

    # --- publish one post -----------------------------------------------------------------

    async def publish_claimed_now(
        self, claim_post: Callable[[EngineStore, int], Awaitable[Claim | None]]
    ) -> RunSummary:
        """Publish one post claimed by ``claim_post`` (the `publish` command), and wait."""
        summary = RunSummary("publish")

        async def body(store: EngineStore, http: httpx.AsyncClient) -> None:
            claim = await claim_post(store, summary.run_id or 0)
            if claim is None:
                return
            summary.claimed = 1
            in_flight = {asyncio.current_task(): claim}
            heartbeat = asyncio.create_task(self._heartbeat(store, in_flight))  # type: ignore[arg-type]
            try:
                await self._publish_claimed(store, http, claim, summary)
            finally:
                heartbeat.cancel()

        return await self._session(summary, body)

    # --- one claimed post ---------------------------------------------------------------

    async def _publish_claimed(
        self, store: EngineStore, http: httpx.AsyncClient, claim: Claim, summary: RunSummary
    ) -> None:
        await self._settle(store, http, claim, summary, rescue=False)

    async def _settle(
        self,
        store: EngineStore,
        http: httpx.AsyncClient,
        claim: Claim,
        summary: RunSummary,
        *,
        rescue: bool,
    ) -> None:
        platform_name = claim.row["platform"]
        log = self.log.bind(post_id=claim.post_id, platform=platform_name, attempt=claim.attempt)
        account_row = await store.account(claim.account_id)
        secrets: list[str | None] = []
        if account_row is None:
            await self._fail(
                store,
                claim,
                summary,
                "failed",
                "no_account",
                "the post's account no longer exists",
                None,
                log,
            )
            return
        secrets = [account_row["access_token"], account_row["refresh_token"]]
        platform = self.platform(platform_name)
        ctx = PublishContext(
            post=claim.to_post(),
            account=account_from_row(account_row),
            http=http,
            saved=claim.saved_ids,
            save_ids=lambda **ids: store.save_ids(claim, ids),
        )
        refreshed = False

        async def with_refresh(step: Callable[[], Awaitable[T]]) -> T:
            nonlocal refreshed
            try:
                return await step()
            except PlatformError as exc:
                if exc.decision is not Decision.REFRESH_TOKEN or refreshed:
                    raise
                refreshed = True
                ctx.account = await refresh_account_token(
                    store.pool, platform, ctx.account, http, force=True
                )
                secrets.append(ctx.account.access_token)
                return await step()

        try:
            if platform.can_refresh_tokens and await self._token_expiring(store, ctx):
                ctx.account = await refresh_account_token(
                    store.pool, platform, ctx.account, http, force=False
                )
                secrets.append(ctx.account.access_token)
            if ctx.saved or rescue:
                settled = await self._reconcile_first(
                    store, claim, summary, ctx, platform, with_refresh, rescue, log
                )
                if settled:
                    return
            try:
                await with_refresh(lambda: platform.prepare(ctx))
            finally:  # a quota that is used up is worth showing most of all
                if "publishing_quota" in ctx.account_facts:
                    await store.save_publishing_quota(
                        claim.account_id, ctx.account_facts["publishing_quota"]
                    )
            log.info("publishing")
            published = await with_refresh(lambda: platform.publish(ctx))
            await self._posted(store, claim, summary, published, log)
        except LeaseLost:
            await self._lease_lost(store, claim, summary, ctx, log)
        except PlatformError as exc:
            await self._apply(store, claim, summary, exc, secrets, log)
        except psycopg.OperationalError:
            raise
        except (httpx.HTTPError, psycopg.Error, OSError, ValueError, KeyError, TypeError) as exc:
            # Not a classified platform answer: find out from the platform before deciding.
            log.warning("unexpected_error", error=redact(f"{type(exc).__name__}: {exc}", secrets))
            await self._after_unexpected(store, claim, summary, ctx, platform, exc, secrets, log)

    async def _token_expiring(self, store: EngineStore, ctx: PublishContext) -> bool:
        async with store.pool.connection() as conn:
            row = await (await conn.execute("SELECT now() AS now")).fetchone()
        assert row is not None
        return needs_refresh(ctx.account, row["now"])

    async def _reconcile_first(
        self,
        store: EngineStore,
        claim: Claim,
        summary: RunSummary,
        ctx: PublishContext,
        platform: Platform,
        with_refresh: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]],
        rescue: bool,
        log: Any,
    ) -> bool:
        """Settle what an earlier attempt left behind. Returns True when the post is settled."""
        if not ctx.saved:
            # Rescue of a run that died before saving anything: every client saves a marker
            # before any call that can make a post live, so nothing went out. Try again.
            await self._scheduled(
                store,
                claim,
                summary,
                "retry",
                0.0,
                False,
                "the run publishing it stopped before contacting the platform",
                "abandoned",
                None,
                log,
            )
            return True
        rec = await with_refresh(lambda: platform.reconcile(ctx))
        log.info("reconciled", status=str(rec.status), reason=rec.reason)
        if rec.status is ReconcileStatus.LIVE and rec.published:
            await self._posted(
                store,
                claim,
                summary,
                rec.published,
                log,
                note="found live on the platform: " + (rec.reason or "earlier attempt"),
            )
            return True
        if rec.status is ReconcileStatus.NOT_LIVE:
            if rescue:
                await self._scheduled(
                    store,
                    claim,
                    summary,
                    "retry",
                    0.0,
                    False,
                    "the run publishing it stopped; the platform confirms it "
                    "is not live, so it is tried again",
                    "abandoned",
                    None,
                    log,
                )
                return True
            return False  # safe to publish, resuming from the saved ids
        if rec.status is ReconcileStatus.PENDING:
            await self._scheduled(
                store,
                claim,
                summary,
                "wait",
                PENDING_RECHECK_SECONDS,
                True,
                rec.reason or "the platform is still processing it",
                "pending",
                None,
                log,
            )
            return True
        if rec.status is ReconcileStatus.FAILED and rec.error is not None:
            await self._apply(store, claim, summary, rec.error, [], log)
            return True
        await self._fail(
            store,
            claim,
            summary,
            "needs_review",
            "unknown_outcome",
            "cannot tell whether the post went live"
            + (f": {rec.reason}" if rec.reason else "")
            + "; check the account, then retry-failed --id ... --confirm-not-live",
            None,
            log,
        )
        return True

    async def _after_unexpected(
        self,
        store: EngineStore,
        claim: Claim,
        summary: RunSummary,
        ctx: PublishContext,
        platform: Platform,
        exc: BaseException,
        secrets: list[str | None],
        log: Any,
    ) -> None:
        message = redact(f"{type(exc).__name__}: {first_line(exc)}", secrets)
        if not ctx.saved:
            error = PlatformError(Decision.RETRY, message)
            await self._apply(store, claim, summary, error, secrets, log)
            return
        try:
            rec = await platform.reconcile(ctx)
        except (PlatformError, httpx.HTTPError) as again:
            rec_reason = redact(str(again), secrets)
            await self._fail(
                store,
                claim,
                summary,
                "needs_review",
                "unknown_outcome",
                f"{message}; and the platform could not be asked what happened: {rec_reason}",
                None,
                log,
            )
            return
        if rec.status is ReconcileStatus.LIVE and rec.published:
            await self._posted(store, claim, summary, rec.published, log, note=message)
        elif rec.status is ReconcileStatus.NOT_LIVE:
            await self._apply(
                store, claim, summary, PlatformError(Decision.RETRY, message), secrets, log
            )
        else:
            await self._fail(
                store,
                claim,
                summary,
                "needs_review",
                "unknown_outcome",
                f"{message}; the platform cannot tell whether it went live",
                None,
                log,
            )

    # --- outcomes -----------------------------------------------------------------------

    def _record(self, summary: RunSummary, result: PostResult) -> None:
        summary.results.append(result)
        if self.on_result:
            self.on_result(result)

    async def _posted(
        self,
        store: EngineStore,
        claim: Claim,
        summary: RunSummary,
        published: Published,
        log: Any,
        note: str | None = None,
    ) -> None:
        try:
            ok = await store.finish_posted(
                claim,
                platform_post_id=published.platform_post_id,
                permalink=published.permalink,
                note=note,
            )
        except psycopg.errors.UniqueViolation:
            # Another row already holds this platform post: recording it twice would hide a
            # duplicate. A person looks.
            await self._fail(
                store,
                claim,
                summary,
                "needs_review",
                "duplicate_platform_post",
                f"platform post {published.platform_post_id} is already recorded on another post",
                None,
                log,
            )
            return
        if not ok:
            await store.record_late_outcome(
                claim,
                f"went live as {published.platform_post_id} after this run lost its claim",
                {"platform_post_id": published.platform_post_id, "permalink": published.permalink},
            )
            log.warning("lease_lost_after_publish", platform_post_id=published.platform_post_id)
            self._record(
                summary,
                PostResult(
                    claim.post_id,
                    claim.row["platform"],
                    "lease_lost",
                    "published after the claim was lost; see status",
                    published.platform_post_id,
                    published.permalink,
                ),
            )
            return
        log.info(
            "posted", platform_post_id=published.platform_post_id, permalink=published.permalink
        )
        self._record(
            summary,
            PostResult(
                claim.post_id,
                claim.row["platform"],
                "posted",
                note or "",
                published.platform_post_id,
                published.permalink,
            ),
        )

    async def _apply(
        self,
        store: EngineStore,
        claim: Claim,
        summary: RunSummary,
        error: PlatformError,
        secrets: list[str | None],
        log: Any,
    ) -> None:
        plan = plan_for(
            error,
            attempt=claim.attempt,
            max_attempts=self.settings.max_attempts,
            base=self.settings.retry_base_seconds,
            maximum=self.settings.retry_max_seconds,
            rng=self.rng,
        )
        message = redact(str(error), secrets)
        if plan.reauth and await store.mark_account_needs_reauth(claim.account_id, message):
            log.warning("account_needs_reauth", account_id=claim.account_id, error=message)
        if plan.status == "scheduled":
            await self._scheduled(
                store,
                claim,
                summary,
                plan.outcome,
                plan.delay_seconds or 0.0,
                plan.give_back_attempt,
                message,
                error.decision.value,
                error.http_status,
                log,
            )
        else:
            if plan.reason == "max_attempts":
                message = f"gave up after {claim.attempt} attempts: {message}"
            await self._fail(
                store,
                claim,
                summary,
                plan.status,
                plan.reason or "platform",
                message,
                error.http_status,
                log,
                error_class=error.decision.value,
            )

    async def _scheduled(
        self,
        store: EngineStore,
        claim: Claim,
        summary: RunSummary,
        outcome: str,
        delay: float,
        give_back: bool,
        message: str,
        error_class: str | None,
        http_status: int | None,
        log: Any,
    ) -> None:
        ok = await store.finish_scheduled(
            claim,
            delay_seconds=delay,
            give_back_attempt=give_back,
            outcome=outcome,
            error=message,
            error_class=error_class,
            http_status=http_status,
        )
        if not ok:
            raise_lease_lost_note = "claim lost before recording: " + message
            await store.record_late_outcome(claim, raise_lease_lost_note, {})
            self._record(
                summary, PostResult(claim.post_id, claim.row["platform"], "lease_lost", message)
            )
            return
        log.info(outcome, delay_seconds=round(delay, 1), error=message)
        self._record(summary, PostResult(claim.post_id, claim.row["platform"], outcome, message))

    async def _fail(
        self,
        store: EngineStore,
        claim: Claim,
        summary: RunSummary,
        status: str,
        reason: str,
        message: str,
        http_status: int | None,
        log: Any,
        *,
        error_class: str | None = None,
    ) -> None:
        ok = await store.finish_failed(
            claim,
            status=status,
            reason=reason,
            error=message,
            error_class=error_class or reason,
            http_status=http_status,
        )
        if not ok:
            await store.record_late_outcome(claim, "claim lost before recording: " + message, {})
            self._record(
                summary, PostResult(claim.post_id, claim.row["platform"], "lease_lost", message)
            )
            return
        log.warning(status, reason=reason, error=message)
        self._record(summary, PostResult(claim.post_id, claim.row["platform"], status, message))

    async def _lease_lost(
        self, store: EngineStore, claim: Claim, summary: RunSummary, ctx: PublishContext, log: Any
    ) -> None:
        log.warning("lease_lost", saved=sorted(ctx.saved))
        await store.record_late_outcome(
            claim, "this run lost its claim; another run settles it", ctx.saved
        )
        self._record(
            summary,
            PostResult(
                claim.post_id,
                claim.row["platform"],
                "lease_lost",
                "the claim was lost; another run settles the post",
            ),
        )

    # --- rescue -------------------------------------------------------------------------

    async def _rescue(
        self, store: EngineStore, http: httpx.AsyncClient, summary: RunSummary
    ) -> None:
        """Settle posts whose run died (their lease ran out) before claiming new work."""
        semaphore = asyncio.Semaphore(self.settings.concurrency)

        async def settle(claim: Claim) -> None:
            async with semaphore:
                await self._settle(store, http, claim, summary, rescue=True)

        while claims := await store.claim_abandoned(RESCUE_BATCH):
            summary.rescued += len(claims)
            await asyncio.gather(*(settle(c) for c in claims))
