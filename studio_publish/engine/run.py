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
import gc
import os
import random
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from studio_publish.domain import Quota
from studio_publish.engine import outcomes, preflight
from studio_publish.engine.alerts import deliver_alerts
from studio_publish.engine.attempt import PostAttempt, PostResult
from studio_publish.engine.comments import CommentResult, CommentRun, post_due_comments
from studio_publish.engine.http_clients import HttpClients
from studio_publish.engine.waits import ProcessingWaits, no_wait
from studio_publish.errors import DatabaseUnavailable, UnknownPlatform
from studio_publish.logs import get_logger
from studio_publish.platforms.base import Platform
from studio_publish.platforms.polling import ProcessingWait
from studio_publish.scheduling.validation import FIRST_COMMENT
from studio_publish.settings import Settings
from studio_publish.states import FailureReason, Outcome, Transition
from studio_publish.store.db import DatabaseTarget, first_line
from studio_publish.store.engine_store import Claim, EngineStore
from studio_publish.store.pool import ConnectionPool

RESCUE_BATCH = 50
# run-due keeps concurrency // CLAIM_AHEAD_DIVISOR posts claimed ahead of a free slot.
CLAIM_AHEAD_DIVISOR = 2
# Objects made between two collections of the youngest generation, during a run.
RUN_GC_THRESHOLD = 20_000
# Once a claim round finds less than it asked, the next waits for a post whose account has
# more due to end, or this long: posts that fell due since are found within it.
RECLAIM_SECONDS = 1.0


@dataclass
class RunSummary:
    command: str
    run_id: int | None = None
    # Posts claimed, each once: a post retried within the run is claimed again, not twice.
    claimed_ids: set[str] = field(default_factory=set)
    rescued: int = 0
    results: list[PostResult] = field(default_factory=list)
    # First comments this run took up (engine/comments.py): their posts are in ``results``
    # when this run posted them, or were posted by an earlier run.
    comments: list[CommentResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def claimed(self) -> int:
        return len(self.claimed_ids)

    def count(self, *wanted: str) -> int:
        return sum(1 for r in self.results if r.outcome in wanted)

    @property
    def failed(self) -> int:
        return self.count(Outcome.FAILED, Outcome.MISSED)

    @property
    def outcome(self) -> str:
        if self.error:
            return "error"
        return "failed" if self.failed else "ok"

    def counts(self) -> dict[str, int]:
        """What the run did, as recorded in studio_publish_runs and printed in its summary."""
        return {
            "claimed": self.claimed,
            "rescued": self.rescued,
            "posted": self.count(Outcome.POSTED),
            "retried": self.count(Outcome.RETRY, Outcome.WAIT, Outcome.REAUTH),
            "failed": self.failed,
            "needs_review": self.count(Outcome.NEEDS_REVIEW),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "run_id": self.run_id,
            "outcome": self.outcome,
            "seconds": round(self.seconds, 3),
            **self.counts(),
            "missed": self.count(Outcome.MISSED),
            "lease_lost": self.count(Outcome.LEASE_LOST),
            "error": self.error,
            "posts": [r.as_dict() for r in self.results],
            "first_comments": [c.as_dict() for c in self.comments],
        }


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
        # What the platforms told about each account (quota, creator info), by account id: it
        # lasts one run, so each is read at most once per account per run (see _session).
        self._account_facts: dict[str, dict[str, Any]] = {}
        # Each account's publishing quota as the run's last attempt left it: saved at its end.
        self._quotas: dict[str, Quota] = {}
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.rng = rng or random.Random()
        self.on_result = on_result
        self.log = get_logger(worker=self.worker)

    def platform(self, name: str) -> Platform:
        """The client for ``name``, made once per engine (UnknownPlatform when there is none)."""
        if self._platforms is None:
            self._platforms = {}
        if name not in self._platforms:
            from studio_publish.platforms.registry import make_client

            self._platforms[name] = make_client(name, self.settings)
        return self._platforms[name]

    # --- sessions -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _session(self, summary: RunSummary) -> AsyncIterator[tuple[EngineStore, HttpClients]]:
        """A run: its pool, its run row and HTTP clients; the run row records how it ended.

        A lost database ends the run with its posts still claimed (the next run takes them
        up) and raises DatabaseUnavailable once the run's row says so.
        """
        started = time.monotonic()
        self._account_facts, self._quotas = {}, {}  # a new run learns them afresh
        pool = ConnectionPool(self.target, size=min(8, self.settings.concurrency + 2))
        collecting = gc.get_threshold()
        # A run makes objects by the hundred thousand, next to none of them in cycles (freed
        # as soon as they are done with); with the default threshold of 700 the collector ran
        # some 250 times a 2,000-post run, about a tenth of its CPU (README.md, Performance).
        gc.set_threshold(RUN_GC_THRESHOLD, *collecting[1:])
        try:
            await pool.open()
            store = EngineStore(
                pool,
                lease_seconds=self.settings.lease_seconds,
                worker=self.worker,
                account_concurrency=self.settings.account_concurrency,
            )
            summary.run_id = await store.start_run(
                host=socket.gethostname(), pid=os.getpid(), command=summary.command
            )
            crash: Exception | None = None
            async with HttpClients(
                self.settings.concurrency, self.settings.http_timeout_seconds
            ) as http:
                try:
                    yield store, http
                    await self._save_quotas(store)
                except psycopg.OperationalError as exc:
                    summary.error = (
                        f"lost the database during the run: {first_line(exc)}; posts in "
                        "flight stay claimed and the next run settles them"
                    )
                except Exception as exc:  # a bug: end the run row in error, then raise it
                    summary.error = f"internal error: {type(exc).__name__}: {first_line(exc)}"
                    crash = exc
            with contextlib.suppress(psycopg.Error):  # if the database is gone, the error says so
                await store.finish_run(
                    summary.run_id,
                    outcome=summary.outcome,
                    error=summary.error,
                    **summary.counts(),
                )
            if crash is not None:
                raise crash
            # Last, once the run's work is recorded: a slow or dead webhook changes nothing.
            await deliver_alerts(
                pool, self.settings, summary.results, summary.run_id or 0, self.log
            )
        except psycopg.OperationalError as exc:
            summary.error = f"lost the database: {first_line(exc)}"
        finally:
            await pool.close()
            gc.set_threshold(*collecting)
        summary.seconds = time.monotonic() - started
        if summary.error:
            self.log.error("run_stopped", error=summary.error)
            raise DatabaseUnavailable(summary.error)

    # --- run-due ------------------------------------------------------------------------

    async def run_due(self, *, only_ids: list[str] | None = None) -> RunSummary:
        summary = RunSummary("run-due")
        deadline = time.monotonic() + self.settings.run_budget_seconds
        async with self._session(summary) as (store, http):
            await self._rescue(store, http, summary)
            for row in await store.mark_missed(self.settings.max_lateness_seconds, only_ids):
                self._collect(
                    summary,
                    PostResult(
                        str(row["id"]),
                        row["platform"],
                        Outcome.MISSED,
                        "first found due too long after its time; retry-failed sends it",
                    ),
                )
            await self._claim_and_publish(store, http, summary, deadline, only_ids)
            # First comments due again (an earlier try failed for now), posts staying posted.
            if time.monotonic() < deadline:
                await self._first_comments(store, http, summary, only_ids)
            await self._save_quotas(store)  # before preflight, which reads them
            await self._preflight(store, http, deadline, only_ids)
        return summary

    async def _first_comments(
        self, store: EngineStore, http: HttpClients, summary: RunSummary, only_ids: list[str] | None
    ) -> None:
        run = CommentRun(store, self.settings, self.platform, self.rng, self.log)
        summary.comments += await post_due_comments(run, http.next, only_ids)

    async def _save_quotas(self, store: EngineStore) -> None:
        """Each account's publishing quota as the run's attempts left it, once an account."""
        quotas, self._quotas = self._quotas, {}
        await store.save_publishing_quotas(quotas)

    async def _preflight(
        self, store: EngineStore, http: HttpClients, deadline: float, only_ids: list[str] | None
    ) -> None:
        """Look ahead at the posts due soon (engine/preflight.py), in what publishing left of
        the budget, up to a small share of it: a busy run leaves it to a quieter one."""
        seconds = min(
            preflight.PREFLIGHT_SHARE * self.settings.run_budget_seconds,
            deadline - time.monotonic(),
        )
        if self.settings.preflight_hours <= 0 or only_ids is not None or seconds <= 0:
            return
        await preflight.run_preflight(store, http.next, self.settings, seconds, self.log)

    async def _claim_and_publish(
        self,
        store: EngineStore,
        http: HttpClients,
        summary: RunSummary,
        deadline: float,
        only_ids: list[str] | None,
    ) -> None:
        """Keep ``concurrency`` posts in flight until nothing is due or the budget is spent.

        Claims are taken ahead: up to ``concurrency // CLAIM_AHEAD_DIVISOR`` posts wait,
        claimed, for the next free slot, and a claim round runs in the background when half of
        them are gone. A slot is refilled at once, and a claim round (which reads every due
        post) serves many posts instead of one (README.md, Performance, "CPU per call"). Posts
        claimed ahead count as in flight for ACCOUNT_CONCURRENCY, so order and fairness hold;
        those still waiting when the budget ends are given back unsent (store.release).
        """
        concurrency = self.settings.concurrency
        ahead = concurrency // CLAIM_AHEAD_DIVISOR
        in_flight: dict[asyncio.Task[None], Claim] = {}
        ready: deque[Claim] = deque()  # claimed, waiting for a slot
        claiming: asyncio.Task[list[Claim]] | None = None
        # Whether a claim round may find more: the last one was full, or a post has ended
        # since whose account has more due (ACCOUNT_CONCURRENCY held them back), or
        # RECLAIM_SECONDS have passed (posts fall due; other runs give claims back). Not at
        # every post's end: in a run's last rounds that was a round a post, each finding
        # nothing, beside the writes of the posts still in flight.
        may_find_more = True
        # When a claim round last found less than it asked (at first: the loop's start).
        short_round_at = time.monotonic()
        # Posts waiting on processing give their slot back (engine/waits.py).
        waits = ProcessingWaits(deadline)
        # Posts and claim rounds that ended since the loop last looked: each says so itself
        # and wakes the loop (one event, not an asyncio.wait over every task in flight).
        ended: list[asyncio.Task[Any]] = []
        asked = 0  # how many posts the claim round under way asked for
        # Posts whose platform calls are over, recording their outcome: they hold no slot
        # (the write takes a few milliseconds a post, which the next post's first call
        # overlaps). Their accounts still count them in flight until it is recorded.
        recording: set[asyncio.Task[Any]] = set()

        def on_end(task: asyncio.Task[Any]) -> None:
            ended.append(task)
            waits.slot_freed.set()

        def on_platform_done() -> None:
            task = asyncio.current_task()
            if task in in_flight:
                recording.add(task)
                if waits.slots_full:
                    waits.slot_freed.set()

        def holding_slots() -> int:
            """Posts in flight that hold a slot: not sleeping, not recording."""
            return len(in_flight) - waits.sleeping - len(recording)

        heartbeat = asyncio.create_task(
            self._heartbeat(store, lambda: [*in_flight.values(), *ready])
        )
        try:
            while time.monotonic() < deadline:
                free = concurrency - holding_slots()
                while free > 0 and ready:
                    claim = ready.popleft()
                    summary.claimed_ids.add(claim.post_id)
                    task = asyncio.create_task(
                        self._attempt(
                            store,
                            http,
                            claim,
                            summary,
                            wait=waits.wait,
                            on_platform_done=on_platform_done,
                        )
                    )
                    task.add_done_callback(on_end)
                    in_flight[task] = claim
                    free -= 1
                wanted = free + ahead - len(ready)
                if (
                    claiming is None
                    and may_find_more
                    and wanted > 0
                    and (free > 0 or len(ready) <= ahead // 2)
                ):
                    claiming = asyncio.create_task(
                        store.claim_due(wanted, summary.run_id or 0, only_ids)
                    )
                    claiming.add_done_callback(on_end)
                    may_find_more, asked = False, wanted
                if not in_flight and claiming is None:
                    break  # nothing running and nothing left to claim
                # Wait for a slot to free up (a post done, or one starting to wait on
                # processing), a claim round, or the budget to run out.
                waits.slots_full = holding_slots() >= concurrency
                if not ended:
                    waits.slot_freed.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                            await waits.slot_freed.wait()
                finished: list[asyncio.Task[Any]] = ended[:]
                ended.clear()
                for done in finished:
                    if claiming is not None and done is claiming:
                        claims, claiming = claiming.result(), None  # a database error ends the run
                        ready.extend(claims)
                        if len(claims) < asked:
                            short_round_at = time.monotonic()
                        may_find_more = may_find_more or len(claims) == asked
                    elif done in in_flight:
                        ended_claim = in_flight.pop(done)
                        recording.discard(done)
                        done.result()  # a database error ends the run
                        may_find_more = (
                            may_find_more
                            or ended_claim.more_due
                            or time.monotonic() - short_round_at >= RECLAIM_SECONDS
                        )
            # The budget is spent: claim nothing more, give back what was claimed ahead,
            # let what is in flight finish (a post waiting on processing is handed back at
            # its next look).
            if claiming is not None:
                ready.extend(await claiming)
                claiming = None
            released, ready = list(ready), deque()
            await store.release(released)
            if in_flight:
                await asyncio.gather(*in_flight)
        finally:
            heartbeat.cancel()
            pending_tasks: list[asyncio.Future[Any]] = [heartbeat, *in_flight]
            if claiming is not None:
                claiming.cancel()
                pending_tasks.append(claiming)
            await asyncio.gather(*pending_tasks, return_exceptions=True)

    async def _heartbeat(self, store: EngineStore, claims: Callable[[], Iterable[Claim]]) -> None:
        """Renew the leases of posts still in flight, so a slow upload keeps its claim."""
        interval = max(1.0, self.settings.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await store.renew_leases([c.token for c in claims()])
            except psycopg.Error as exc:
                self.log.warning("lease_renewal_failed", error=first_line(exc))

    # --- publish one post -----------------------------------------------------------------

    async def publish_now(self, post_id: str) -> RunSummary:
        """Claim one post whatever its time (the `publish` command), publish it, and wait.

        ``claimed`` is 0 when the post could not be claimed (its state or account said no).
        """
        summary = RunSummary("publish")
        async with self._session(summary) as (store, http):
            claim = await store.claim_now(post_id, summary.run_id or 0)
            if claim is not None:
                summary.claimed_ids.add(claim.post_id)
                heartbeat = asyncio.create_task(self._heartbeat(store, lambda: [claim]))
                try:
                    # Its client waits on processing up to POLL_TIMEOUT_SECONDS.
                    await self._attempt(store, http, claim, summary, wait=None)
                finally:
                    heartbeat.cancel()
        return summary

    # --- one claimed post ---------------------------------------------------------------

    async def _attempt(
        self,
        store: EngineStore,
        http: HttpClients,
        claim: Claim,
        summary: RunSummary,
        *,
        wait: ProcessingWait | None,
        rescue: bool = False,
        on_platform_done: Callable[[], None] | None = None,
    ) -> None:
        """One attempt at one claimed post; what it came to joins the run's summary.

        ``wait`` is how its client waits on media still processing (None: up to
        POLL_TIMEOUT_SECONDS). ``on_platform_done`` is called when its platform calls are
        over and only its outcome is left to record (not for a post whose first comment
        follows it: that is a call too).
        """
        try:
            platform = self.platform(claim.row["platform"])
        except UnknownPlatform as exc:
            # Rows are written by SQL too, and the registry, not a CHECK, says which
            # platforms exist: such a row fails alone, visibly, with nothing sent.
            transition = outcomes.failed(FailureReason.INVALID, str(exc))
            self._collect(summary, await self._record_unattempted(store, claim, transition))
            return
        attempt = PostAttempt(
            settings=self.settings,
            rng=self.rng,
            store=store,
            http=http.next(),  # one client for the post's whole attempt
            claim=claim,
            platform=platform,
            log=self.log,
            account_facts=self._account_facts.setdefault(claim.account_id, {}),
            processing_wait=wait,
            quotas=self._quotas,
            on_platform_done=None if _has_first_comment(claim) else on_platform_done,
        )
        try:
            result = await attempt.run(rescue=rescue)
        except psycopg.OperationalError:
            raise  # the database is gone: the run ends, the next one takes the post up
        except Exception as exc:
            # attempt.run records every outcome itself; this is a bug in recording one.
            # The post must still end visibly, and the run goes on with the others.
            self.log.exception("post_crashed", post_id=claim.post_id)
            transition = outcomes.needs_review(
                FailureReason.INTERNAL_ERROR,
                f"internal error while recording the outcome: {type(exc).__name__}; the "
                "platform may have the post: check the account",
                error_class=type(exc).__name__,
            )
            result = await self._record_unattempted(store, claim, transition)
        self._collect(summary, result)
        if result.outcome is Outcome.POSTED and _has_first_comment(claim):
            # Its first comment, now that it is live: in this run, right after the post.
            await self._first_comments(store, http, summary, [claim.post_id])

    async def _record_unattempted(
        self, store: EngineStore, claim: Claim, transition: Transition
    ) -> PostResult:
        """Record an outcome for a claim no PostAttempt could (or did) record."""
        try:
            await store.finish(claim, transition)
        except psycopg.OperationalError:
            raise
        except psycopg.Error:
            self.log.exception("post_outcome_not_recorded", post_id=claim.post_id)
        return PostResult.of(claim, transition)

    def _collect(self, summary: RunSummary, result: PostResult) -> None:
        summary.results.append(result)
        if self.on_result:
            self.on_result(result)

    # --- rescue -------------------------------------------------------------------------

    async def _rescue(self, store: EngineStore, http: HttpClients, summary: RunSummary) -> None:
        """Take up posts whose run died (their lease ran out) before claiming new work."""
        semaphore = asyncio.Semaphore(self.settings.concurrency)

        async def take_up(claim: Claim) -> None:
            async with semaphore:
                await self._attempt(store, http, claim, summary, wait=no_wait, rescue=True)

        while claims := await store.claim_abandoned(RESCUE_BATCH):
            summary.rescued += len(claims)
            await asyncio.gather(*(take_up(c) for c in claims))


def _has_first_comment(claim: Claim) -> bool:
    options = claim.row.get("options")
    return isinstance(options, dict) and FIRST_COMMENT in options
