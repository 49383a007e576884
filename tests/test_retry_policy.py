"""The retry policy: backoff bounds (property-tested) and the plan for each decision."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.retry import DEFAULT_WAIT_SECONDS, backoff_seconds, plan_for

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


def plan(decision: Decision, attempt: int = 1, **kw: object) -> object:
    error = PlatformError(decision, "x", **kw)  # type: ignore[arg-type]
    return plan_for(
        error, attempt=attempt, max_attempts=5, base=60, maximum=3600, rng=random.Random(1)
    )


def test_plan_for_each_decision() -> None:
    retry = plan(Decision.RETRY)
    assert (retry.status, retry.outcome, retry.give_back_attempt) == ("scheduled", "retry", False)
    assert plan(Decision.RETRY, attempt=5).status == "failed"
    assert plan(Decision.RETRY, retry_after=900).delay_seconds >= 900
    wait = plan(Decision.WAIT)
    assert wait.give_back_attempt and wait.delay_seconds == DEFAULT_WAIT_SECONDS
    assert plan(Decision.WAIT, retry_after=30).delay_seconds == 30
    reauth = plan(Decision.REAUTH)
    assert reauth.reauth and reauth.give_back_attempt and reauth.status == "scheduled"
    assert plan(Decision.FAIL).status == "failed"
    assert plan(Decision.UNKNOWN).status == "needs_review"
