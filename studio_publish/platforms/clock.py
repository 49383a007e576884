"""The wall clock, injectable so tests can fix "now"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def parse_time(text: object) -> dt.datetime | None:
    """ISO 8601 as saved by us, or Graph's ``2026-01-02T03:04:05+0000``; None when unreadable.

    Saved times come back from a row the web app may have written: anything that is not such
    a string (a number, a list) is unreadable too, never an error."""
    if not text or not isinstance(text, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def saved_at_least(saved: object, age: dt.timedelta, now: dt.datetime) -> bool:
    """Whether a saved time (as ``iso`` wrote it) is ``age`` or more before ``now``; an
    unreadable one never is (the processing bounds start from a time that was saved)."""
    since = parse_time(saved)
    return since is not None and now - since >= age
