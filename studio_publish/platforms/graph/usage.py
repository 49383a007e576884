"""Slowing down before Meta says stop, from the usage headers on every Graph response.

``X-App-Usage``, ``X-Page-Usage`` and ``X-Business-Use-Case-Usage`` report percentages of
the rate-limit windows. Once any value passes 90 (Mixpost's threshold), the client stops
making *writes* for that app or account: ``check()`` raises Decision.WAIT before the call,
so nothing irreversible goes out and the engine reschedules without spending an attempt.
Reads still go through: they are what brings fresh headers, and lower figures lift the
pause early. The state is per process (module-level ``SHARED``), keyed by "app" and by
the account's platform id; another process learns the same from its own first response.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from studio_publish.platforms.base import Decision, PlatformError

THRESHOLD = 90.0  # percent
# Usage is measured over a rolling hour; five minutes lets part of the window drain before
# the next write re-reads the figures.
COOLDOWN = 300.0
APP_KEY = "app"


@dataclass(frozen=True)
class Usage:
    peak: float  # the highest percentage in the headers
    regain_seconds: float | None  # BUC estimated_time_to_regain_access, in seconds


def _numbers(entry: Mapping[str, Any]) -> Iterable[float]:
    for key in ("call_count", "total_cputime", "total_time"):
        value = entry.get(key)
        if isinstance(value, int | float):
            yield float(value)


@functools.lru_cache(maxsize=512)
def _load(text: str | None) -> Any:
    """A usage header's JSON (read, never changed). Cached: every Graph response carries
    two or three, and a run sees the same few values again and again."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None  # a malformed header must not break a publish


def app_usage(headers: Mapping[str, str]) -> Usage | None:
    data = _load(headers.get("x-app-usage"))
    if not isinstance(data, dict):
        return None
    return Usage(max(_numbers(data), default=0.0), None)


def account_usage(headers: Mapping[str, str]) -> Usage | None:
    """Page and Business-Use-Case usage together: both limit this one account."""
    peaks: list[float] = []
    regain: float | None = None
    page = _load(headers.get("x-page-usage"))
    if isinstance(page, dict):
        peaks.extend(_numbers(page))
    buc = _load(headers.get("x-business-use-case-usage"))
    if isinstance(buc, dict):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, dict):
                    continue
                peaks.extend(_numbers(entry))
                minutes = entry.get("estimated_time_to_regain_access")
                if isinstance(minutes, int | float) and minutes > 0:
                    regain = max(regain or 0.0, float(minutes) * 60)
    if not peaks and regain is None:
        return None
    return Usage(max(peaks, default=0.0), regain)


@dataclass
class UsageThrottle:
    clock: Callable[[], float] = time.monotonic
    _paused_until: dict[str, float] = field(default_factory=dict)

    def observe(self, account_key: str, headers: Mapping[str, str]) -> float | None:
        """Record one response's usage; returns the BUC regain estimate in seconds, if any."""
        regain: float | None = None
        for key, usage in ((APP_KEY, app_usage(headers)), (account_key, account_usage(headers))):
            if usage is None:
                continue
            if usage.peak > THRESHOLD or usage.regain_seconds:
                wait = max(COOLDOWN, usage.regain_seconds or 0.0)
                self._paused_until[key] = self.clock() + wait
            else:
                self._paused_until.pop(key, None)
            regain = usage.regain_seconds or regain
        return regain

    def check(self, account_key: str) -> None:
        """Raise WAIT when the app or this account is close to its limit."""
        now = self.clock()
        for key in (APP_KEY, account_key):
            until = self._paused_until.get(key, 0.0)
            if until > now:
                what = "the app" if key == APP_KEY else "this account"
                raise PlatformError(
                    Decision.WAIT,
                    f"Meta rate-limit usage for {what} is above {THRESHOLD:.0f}%: pausing writes",
                    code="usage_throttle",
                    retry_after=round(until - now, 1),
                )


SHARED = UsageThrottle()
