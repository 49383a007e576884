"""Retry policy: what becomes of a post after each kind of outcome.

Backoff is exponential with full jitter (AWS architecture blog, "Exponential Backoff And
Jitter"): the delay is uniform in [0, min(max, base * 2**(attempt-1))], which spreads the
retries of many posts that failed together. A platform's Retry-After (or its quota window)
is a floor under that delay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from studio_publish.platforms.base import Decision, PlatformError

# When a platform says "wait" without saying how long (e.g. a quota window whose end it
# does not give), look again after this long. Waiting does not use up an attempt.
DEFAULT_WAIT_SECONDS = 900.0


def backoff_seconds(
    attempt: int, *, base: float, maximum: float, rng: random.Random | None = None
) -> float:
    """Full-jitter backoff before attempt ``attempt + 1``; attempt counts from 1."""
    ceiling = min(maximum, base * 2 ** min(max(attempt - 1, 0), 62))
    return (rng or random).uniform(0, ceiling)


@dataclass(frozen=True)
class Plan:
    """What the engine does with a post after a failed attempt."""

    status: str  # scheduled, failed or needs_review
    outcome: str  # recorded on the attempt: retry, wait, reauth, failed, needs_review
    delay_seconds: float | None = None  # for scheduled: when to try again
    give_back_attempt: bool = False  # waiting for a quota or a person costs no attempt
    reason: str | None = None  # failure_reason for failed / needs_review
    reauth: bool = False  # mark the account needs_reauth


def plan_for(
    error: PlatformError,
    *,
    attempt: int,
    max_attempts: int,
    base: float,
    maximum: float,
    rng: random.Random | None = None,
) -> Plan:
    decision = error.decision
    if decision is Decision.RETRY:
        if attempt >= max_attempts:
            return Plan("failed", "failed", reason="max_attempts")
        delay = backoff_seconds(attempt, base=base, maximum=maximum, rng=rng)
        return Plan("scheduled", "retry", delay_seconds=max(delay, error.retry_after or 0.0))
    if decision is Decision.WAIT:
        delay = error.retry_after if error.retry_after is not None else DEFAULT_WAIT_SECONDS
        return Plan("scheduled", "wait", delay_seconds=delay, give_back_attempt=True)
    if decision in (Decision.REAUTH, Decision.REFRESH_TOKEN):
        # A refresh that did not help is a re-authorisation: a person must act. The post
        # waits (held by its account's state) without using its attempts.
        # delay 0: due again the moment the account is re-authorised.
        return Plan("scheduled", "reauth", delay_seconds=0.0, give_back_attempt=True, reauth=True)
    if decision is Decision.FAIL:
        return Plan("failed", "failed", reason="platform")
    if decision is Decision.INVALID:
        return Plan("failed", "failed", reason="invalid")
    return Plan("needs_review", "needs_review", reason="unknown_outcome")
