"""Parsing of WHEN values (a post's ``at``), ages (``since``, ``older_than``) and time zones.

Every result is timezone-aware and in UTC, so it compares directly with the database's
``now()`` (which the CLI passes in as ``now``: one clock for the whole system).

WHEN formats:
- ISO 8601 with a UTC offset: ``2026-12-01T09:00:00+01:00``, ``...Z``; a space may stand for
  the ``T``. An offset in the text wins over ``tz``.
- ISO 8601 without an offset: refused unless a zone is given (``tz="Europe/Berlin"``), then read
  as wall-clock time there. A time that does not exist there (skipped by a DST jump forward) is
  refused. A time that exists twice (the hour repeated when clocks go back) means the *first*
  occurrence (the DST one, Python's ``fold=0``): posting an hour early beats an hour late, and
  a person who wanted the second one can give the offset.
- ``now``.
- Relative: ``+`` then one or more NUMBER+UNIT parts, units ``s`` ``m`` ``h`` ``d`` ``w``
  (``+30m``, ``+2h``, ``+1d``, ``+1h30m``, ``+45s``). Lower-case only: ``M`` could mean months.
  ``d`` is 24 hours exactly (not "same wall-clock time tomorrow").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from studio_publish.errors import BadInput

__all__ = [
    "PAST_TOLERANCE",
    "parse_age",
    "parse_schedule_time",
    "parse_when",
    "parse_zone",
]

# A new scheduled time may be this far behind `now` (a "now" typed by hand, clock skew between
# the caller and the database); further back is almost surely a mistake, so it is refused.
PAST_TOLERANCE = timedelta(seconds=60)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)([smhdw])")
_DURATION = re.compile(r"(?:\d+[smhdw])+")
_DURATION_HELP = "write NUMBER+UNIT with units s, m, h, d, w (e.g. 30m, 2h, 90d, 2w, 1h30m)"


def parse_zone(name: str, *, field: str = "tz") -> ZoneInfo:
    """An IANA zone such as ``Europe/Berlin``; anything else is BadInput naming ``field``."""
    key = name.strip()
    if not key:
        raise BadInput(field, "empty time zone; give an IANA name such as Europe/Berlin")
    if "\x00" in key:
        raise BadInput(field, "contains a NUL byte")
    try:
        return ZoneInfo(key)
    # ValueError: keys like "../x" or a file in the zone folder that is not a zone;
    # OSError: unreadable zone files.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadInput(
            field, f"unknown time zone {key!r}; give an IANA name such as Europe/Berlin or UTC"
        ) from None


def _duration(text: str, *, field: str) -> timedelta:
    if not _DURATION.fullmatch(text):
        raise BadInput(field, f"cannot read {text!r} as a duration; {_DURATION_HELP}")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise BadInput(field, f"{text!r} is too long a duration") from None


def parse_age(text: str, *, field: str = "since") -> timedelta:
    """``30m``, ``2h``, ``90d``, ``2w`` (also ``45s``, ``1d12h``): a positive duration."""
    if "\x00" in text:
        raise BadInput(field, "contains a NUL byte")
    age = _duration(text.strip(), field=field)
    if age <= timedelta(0):
        raise BadInput(field, "must be more than zero")
    return age


def _check_now(now: datetime) -> None:
    # A naive `now` would be a bug in the caller, not bad input.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


def _local_to_utc(naive: datetime, zone: ZoneInfo, *, text: str, field: str) -> datetime:
    first = naive.replace(tzinfo=zone, fold=0)
    # In a DST gap the wall-clock time does not survive the round trip through UTC.
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise BadInput(
            field,
            f"{text} does not exist in {zone.key} (the clocks jump forward over it); "
            "pick another time or give a UTC offset",
        )
    # Ambiguous (the hour repeated when clocks go back): the first occurrence, fold=0.
    return first.astimezone(UTC)


def parse_when(
    text: str,
    *,
    now: datetime,
    tz: str | None = None,
    field: str = "at",
    tz_field: str = "tz",
) -> datetime:
    """Read a WHEN value (see the module doc) into an aware UTC datetime.

    ``tz`` is checked whenever given, even if the value has an offset, so a typo in it never
    passes silently.
    """
    _check_now(now)
    zone = parse_zone(tz, field=tz_field) if tz is not None else None
    if "\x00" in text:
        raise BadInput(field, "contains a NUL byte")
    value = text.strip()
    if not value:
        raise BadInput(field, "empty; give an ISO 8601 time with a UTC offset, now, or +30m")
    if value.lower() == "now":
        return now.astimezone(UTC)
    if value.startswith("+"):
        try:
            return (now + _duration(value[1:], field=field)).astimezone(UTC)
        except OverflowError:
            raise BadInput(field, f"{value!r} is too far in the future") from None
    if value.startswith("-"):
        raise BadInput(field, "relative times count forward only (+30m, +2h, +1d)")
    if not re.search(r"[Tt ]", value):
        # fromisoformat reads "2026-12-01" as midnight; a date alone is too vague to schedule.
        raise BadInput(field, f"{value!r} has no time of day; write e.g. {value}T09:00:00+01:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(
            field,
            f"cannot read {value!r}: use ISO 8601 with a UTC offset "
            "(2026-12-01T09:00:00+01:00 or ...Z), now, or +30m/+2h/+1d",
        ) from None
    try:
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        if zone is None:
            raise BadInput(
                field,
                f"{value!r} has no UTC offset; add one (+01:00 or Z) or give {{tz}} ZONE",
                refers_to=("tz",),
            )
        return _local_to_utc(parsed, zone, text=value, field=field)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 has no UTC equivalent
        raise BadInput(field, f"{value!r} is out of range") from None


def parse_schedule_time(
    text: str,
    *,
    now: datetime,
    tz: str | None = None,
    field: str = "at",
    tz_field: str = "tz",
) -> datetime:
    """``parse_when`` for a time a post is to be published at: refused if more than
    :data:`PAST_TOLERANCE` before ``now`` (up to that, the post is simply due at once)."""
    when = parse_when(text, now=now, tz=tz, field=field, tz_field=tz_field)
    if when < now - PAST_TOLERANCE:
        raise BadInput(
            field,
            f"{when.isoformat()} is in the past (now is {now.astimezone(UTC).isoformat()}); "
            "use now or a later time",
        )
    return when
