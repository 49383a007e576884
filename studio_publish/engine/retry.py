"""Backoff: how long a post waits before its next attempt (outcomes.after_error uses it).

Backoff is exponential with full jitter (AWS architecture blog, "Exponential Backoff And
Jitter"): the delay is uniform in [0, min(max, base * 2**(attempt-1))], which spreads the
retries of many posts that failed together. A platform's Retry-After (or its quota window)
is a floor under that delay.
"""

from __future__ import annotations

import random

# When a platform says "wait" without saying how long (e.g. a quota window whose end it
# does not give), look again after this long. Waiting does not use up an attempt.
DEFAULT_WAIT_SECONDS = 900.0


def backoff_seconds(
    attempt: int, *, base: float, maximum: float, rng: random.Random | None = None
) -> float:
    """Full-jitter backoff before attempt ``attempt + 1``; attempt counts from 1."""
    ceiling = min(maximum, base * 2 ** min(max(attempt - 1, 0), 62))
    return (rng or random).uniform(0, ceiling)
