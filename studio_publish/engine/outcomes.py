"""What an answer means for a claimed post: pure functions that return a :class:`Transition`.

Nothing here reads the database or the network. The attempt asks a platform, gives the
answer to one of these functions, and hands the Transition to one store call
(``EngineStore.finish``) that records it, fenced by the claim.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from studio_publish.domain import Published
from studio_publish.engine.retry import DEFAULT_WAIT_SECONDS, backoff_seconds
from studio_publish.platforms.base import (
    Decision,
    PlatformError,
    ProcessingTimeout,
    ReconcileStatus,
    Reconciliation,
)
from studio_publish.states import FailureReason, Outcome, Transition


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float


def posted(published: Published, note: str = "") -> Transition:
    return Transition(Outcome.POSTED, note, published=published)


def failed(reason: FailureReason, message: str, *, error_class: str | None = None) -> Transition:
    return Transition(Outcome.FAILED, message, reason=reason, error_class=error_class or reason)


def needs_review(
    reason: FailureReason, message: str, *, error_class: str | None = None
) -> Transition:
    return Transition(
        Outcome.NEEDS_REVIEW, message, reason=reason, error_class=error_class or reason
    )


def reauth(message: str) -> Transition:
    """The account must be re-authorised by a person: the post waits, held by its account's
    state, without using an attempt (see after_error)."""
    return Transition(
        Outcome.REAUTH,
        message,
        give_back_attempt=True,
        error_class=Decision.REAUTH.value,
        mark_reauth=True,
    )


def start_over(message: str) -> Transition:
    """An earlier attempt certainly did not go live: try again now, as a retry."""
    return Transition(Outcome.RETRY, message, error_class="abandoned")


def cannot_tell(post_id: str, why: str = "") -> Transition:
    reason = f": {why}" if why else ""
    return needs_review(
        FailureReason.UNKNOWN_OUTCOME,
        f"cannot tell whether the post went live{reason}; check the account, then "
        f"`confirm-live {post_id}` or `retry-failed --id {post_id} --confirm-not-live`",
    )


def after_error(
    error: PlatformError, *, attempt: int, policy: RetryPolicy, rng: random.Random
) -> Transition:
    """A classified platform error, under the retry policy.

    Backoff is exponential with full jitter (see retry.py); a platform's Retry-After (or
    its quota window) is a floor under it.
    """
    decision, message = error.decision, str(error)
    delay, give_back, reason = 0.0, False, None
    if decision is Decision.RETRY:
        if attempt >= policy.max_attempts:
            outcome, reason = Outcome.FAILED, FailureReason.MAX_ATTEMPTS
            message = f"gave up after {attempt} attempts: {message}"
        else:
            outcome = Outcome.RETRY
            delay = backoff_seconds(
                attempt, base=policy.base_seconds, maximum=policy.max_seconds, rng=rng
            )
            delay = max(delay, error.retry_after or 0.0)
    elif decision is Decision.WAIT:
        outcome, give_back = Outcome.WAIT, True
        delay = error.retry_after if error.retry_after is not None else DEFAULT_WAIT_SECONDS
    elif decision in (Decision.REAUTH, Decision.REFRESH_TOKEN):
        # A refresh that did not help is a re-authorisation: a person must act. The post
        # waits (held by its account's state) without using its attempts, due again the
        # moment the account is re-authorised.
        return replace(reauth(message), http_status=error.http_status, error_class=decision.value)
    elif decision is Decision.FAIL:
        outcome, reason = Outcome.FAILED, FailureReason.PLATFORM
    elif decision is Decision.INVALID:
        outcome, reason = Outcome.FAILED, FailureReason.INVALID
    else:
        outcome, reason = Outcome.NEEDS_REVIEW, FailureReason.UNKNOWN_OUTCOME
    if isinstance(error, ProcessingTimeout) and reason is not None:
        reason = FailureReason.PROCESSING_TIMEOUT
    return Transition(
        outcome,
        message,
        reason=reason,
        delay_seconds=delay,
        give_back_attempt=give_back,
        error_class=decision.value,
        http_status=error.http_status,
        mark_reauth=outcome is Outcome.REAUTH,
    )


def after_reconciliation(
    rec: Reconciliation,
    *,
    post_id: str,
    if_not_live: Transition | None,
    note: str,
    recheck_seconds: float | None,
    attempt: int,
    policy: RetryPolicy,
    rng: random.Random,
) -> Transition | None:
    """What the platform said about an earlier attempt.

    ``if_not_live`` is what a certain "not live" means here; None means "publish now"
    (the caller resumes from the saved ids), and then None is returned. A platform still
    processing it is looked at again after ``recheck_seconds``, or, when that is None, now
    (None is returned: the caller's publish resumes the wait, slot-free, from the saved ids).
    """
    if rec.status is ReconcileStatus.LIVE and rec.published:
        return posted(rec.published, f"{note}: {rec.reason}" if rec.reason else note)
    if rec.status is ReconcileStatus.NOT_LIVE:
        return if_not_live
    if rec.status is ReconcileStatus.PENDING:
        if recheck_seconds is None:
            return None
        return Transition(
            Outcome.WAIT,
            rec.reason or "the platform is still processing it",
            delay_seconds=recheck_seconds,
            give_back_attempt=True,
            error_class="pending",
        )
    if rec.status is ReconcileStatus.FAILED and rec.error is not None:
        return after_error(rec.error, attempt=attempt, policy=policy, rng=rng)
    return cannot_tell(post_id, rec.reason)


def with_message(transition: Transition, message: str) -> Transition:
    return replace(transition, message=message)
