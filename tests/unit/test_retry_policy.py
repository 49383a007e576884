"""The retry policy: backoff bounds (property-tested) and the plan for each decision."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from studio_publish.engine.outcomes import RetryPolicy, after_error
from studio_publish.engine.retry import DEFAULT_WAIT_SECONDS, backoff_seconds
from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.states import Transition

attempts = st.integers(min_value=1, max_value=10_000)
bases = st.floats(min_value=0.001, max_value=10_000, allow_nan=False)
seeds = st.integers(min_value=0, max_value=2**32)


@given(attempt=attempts, base=bases, extra=st.floats(min_value=0, max_value=1e6), seed=seeds)
def test_backoff_is_within_zero_and_the_capped_exponential(
    attempt: int, base: float, extra: float, seed: int
) -> None:
    maximum = base + extra
    delay = backoff_seconds(attempt, base=base, maximum=maximum, rng=random.Random(seed))
    assert 0 <= delay <= min(maximum, base * 2 ** min(attempt - 1, 62))


@given(attempt=st.integers(min_value=1, max_value=30), seed=seeds)
def test_backoff_ceiling_grows_then_stays_at_the_maximum(attempt: int, seed: int) -> None:
    # With a degenerate RNG that always returns the top of the range, the ceiling shows.
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    ceiling = backoff_seconds(attempt, base=60, maximum=3600, rng=Top(seed))
    assert ceiling == min(3600, 60 * 2 ** (attempt - 1))


def test_full_jitter_spreads_retries() -> None:
    rng = random.Random(7)
    delays = [backoff_seconds(4, base=60, maximum=3600, rng=rng) for _ in range(500)]
    assert min(delays) < 60 and max(delays) > 420  # spread over [0, 480]


POLICY = RetryPolicy(max_attempts=5, base_seconds=60, max_seconds=3600)


def decide(decision: Decision, attempt: int = 1, **kw: Any) -> Transition:
    error = PlatformError(decision, "x", **kw)
    return after_error(error, attempt=attempt, policy=POLICY, rng=random.Random(1))


def test_each_decision_leads_to_its_state() -> None:
    retry = decide(Decision.RETRY)
    assert (retry.state, retry.outcome, retry.give_back_attempt) == ("scheduled", "retry", False)
    last = decide(Decision.RETRY, attempt=5)
    assert (last.state, last.reason) == ("failed", "max_attempts")
    assert "gave up after 5 attempts" in last.message
    assert decide(Decision.RETRY, retry_after=900).delay_seconds >= 900
    wait = decide(Decision.WAIT)
    assert wait.give_back_attempt and wait.delay_seconds == DEFAULT_WAIT_SECONDS
    assert decide(Decision.WAIT, retry_after=30).delay_seconds == 30
    for needs_a_person in (Decision.REAUTH, Decision.REFRESH_TOKEN):
        reauth = decide(needs_a_person)
        assert reauth.mark_reauth and reauth.give_back_attempt and reauth.state == "scheduled"
    assert (decide(Decision.FAIL).state, decide(Decision.FAIL).reason) == ("failed", "platform")
    assert decide(Decision.INVALID).reason == "invalid"
    unknown = decide(Decision.UNKNOWN)
    assert (unknown.state, unknown.reason) == ("needs_review", "unknown_outcome")


def test_every_outcome_recorded_on_a_post_leaves_it_in_a_state_the_table_allows() -> None:
    from studio_publish.states import MOVES, Move, Outcome

    finishing = (
        MOVES[Move.POST].targets | MOVES[Move.RETRY_LATER].targets | MOVES[Move.FAIL].targets
    )
    for outcome in Outcome:
        if outcome in (Outcome.LEASE_LOST,):
            assert outcome.state is None  # another run decides
        else:
            assert outcome.state in finishing | MOVES[Move.MISS].targets


@given(
    decision=st.sampled_from(list(Decision)),
    attempt=st.integers(min_value=1, max_value=10),
    retry_after=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_every_decision_ends_in_a_visible_state(
    decision: Decision, attempt: int, retry_after: float | None
) -> None:
    transition = decide(decision, attempt, retry_after=retry_after)
    assert transition.state is not None
    assert transition.message
    if transition.state in ("failed", "needs_review"):
        assert transition.reason is not None
    else:
        assert transition.reason is None and transition.delay_seconds >= 0


def test_a_processing_timeout_is_recorded_as_one() -> None:
    from studio_publish.platforms.base import ProcessingTimeout
    from studio_publish.states import FailureReason, Outcome

    policy = RetryPolicy(max_attempts=5, base_seconds=1, max_seconds=10)
    rng = random.Random(1)
    never = after_error(
        ProcessingTimeout(Decision.FAIL, "still processing"), attempt=1, policy=policy, rng=rng
    )
    maybe = after_error(
        ProcessingTimeout(Decision.UNKNOWN, "sent, unreadable"), attempt=1, policy=policy, rng=rng
    )
    assert (never.outcome, never.reason) == (Outcome.FAILED, FailureReason.PROCESSING_TIMEOUT)
    assert (maybe.outcome, maybe.reason) == (Outcome.NEEDS_REVIEW, FailureReason.PROCESSING_TIMEOUT)
