"""WHEN, age and zone parsing (studio_publish.scheduling.timeparse)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio_publish.errors import BadInput
from studio_publish.scheduling.timeparse import (
    PAST_TOLERANCE,
    parse_age,
    parse_schedule_time,
    parse_when,
    parse_zone,
)

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def bad(expect: str, call: object, /, *args: object, **kwargs: object) -> BadInput:
    """Run call, expect BadInput whose message starts with the field ``expect``."""
    with pytest.raises(BadInput) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    assert info.value.field == expect
    assert str(info.value).startswith(f"{expect}: ")
    return info.value


# --- ISO 8601 -----------------------------------------------------------------------------


def test_offset_is_converted_to_utc() -> None:
    got = parse_when("2026-12-01T09:00:00+01:00", now=NOW)
    assert got == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert got.tzinfo is UTC


def test_z_means_utc() -> None:
    assert parse_when("2026-12-01T09:00:00Z", now=NOW) == datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_space_instead_of_t_and_fractions() -> None:
    got = parse_when(" 2026-12-01 09:00:00.250-05:30 ", now=NOW)
    assert got == datetime(2026, 12, 1, 14, 30, 0, 250000, tzinfo=UTC)


def test_offset_wins_over_tz() -> None:
    got = parse_when("2026-12-01T09:00+00:00", now=NOW, tz="Asia/Tokyo")
    assert got == datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_no_offset_is_refused_without_tz() -> None:
    err = bad("at", parse_when, "2026-12-01T09:00:00", now=NOW)
    assert "offset" in err.problem and "tz" in err.problem


def test_field_name_is_used() -> None:
    bad("file line 4: at", parse_when, "2026-12-01T09:00", now=NOW, field="file line 4: at")


def test_date_without_time_is_refused() -> None:
    err = bad("at", parse_when, "2026-12-01", now=NOW, tz="UTC")
    assert "time of day" in err.problem


@pytest.mark.parametrize("text", ["", "   ", "tomorrow", "2026-13-01T09:00Z", "12/01/2026 9am"])
def test_garbage_is_refused(text: str) -> None:
    bad("at", parse_when, text, now=NOW)


def test_nul_is_refused() -> None:
    bad("at", parse_when, "now\x00", now=NOW)


def test_out_of_range_is_refused() -> None:
    bad("at", parse_when, "0001-01-01T00:00:00+01:00", now=NOW)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_when("now", now=datetime(2026, 1, 1))


# --- now and relative ---------------------------------------------------------------------


def test_now() -> None:
    assert parse_when("now", now=NOW) == NOW
    assert parse_when("NOW", now=NOW) == NOW


def test_now_in_another_offset_comes_back_utc() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    got = parse_when("now", now=local)
    assert got == NOW and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("+30m", timedelta(minutes=30)),
        ("+2h", timedelta(hours=2)),
        ("+1d", timedelta(days=1)),
        ("+45s", timedelta(seconds=45)),
        ("+2w", timedelta(weeks=2)),
        ("+1h30m", timedelta(hours=1, minutes=30)),
    ],
)
def test_relative(text: str, delta: timedelta) -> None:
    assert parse_when(text, now=NOW) == NOW + delta


@pytest.mark.parametrize("text", ["+", "+30", "+30M", "+1y", "+ 30m", "+1.5h", "-30m", "+m"])
def test_bad_relative(text: str) -> None:
    bad("at", parse_when, text, now=NOW)


def test_huge_relative_is_refused() -> None:
    bad("at", parse_when, "+999999999999d", now=NOW)


# --- zones and DST ------------------------------------------------------------------------


def test_tz_reads_wall_clock_time() -> None:
    got = parse_when("2026-12-01T09:00", now=NOW, tz="Europe/Berlin")  # CET, +01:00
    assert got == datetime(2026, 12, 1, 8, tzinfo=UTC)
    summer = parse_when("2026-07-01T09:00", now=NOW, tz="America/New_York")  # EDT, -04:00
    assert summer == datetime(2026, 7, 1, 13, tzinfo=UTC)


def test_dst_gap_is_refused() -> None:
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 never happens.
    err = bad("at", parse_when, "2026-03-29T02:30", now=NOW, tz="Europe/Berlin")
    assert "does not exist" in err.problem and "Europe/Berlin" in err.problem


def test_dst_fold_takes_the_first_occurrence() -> None:
    # 2026-10-25 in Berlin: 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    got = parse_when("2026-10-25T02:30", now=NOW, tz="Europe/Berlin")
    assert got == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_unknown_tz_names_tz_field() -> None:
    err = bad("tz", parse_when, "2026-12-01T09:00", now=NOW, tz="Mars/Olympus")
    assert "Mars/Olympus" in err.problem


def test_unknown_tz_is_refused_even_when_unused() -> None:
    bad("tz", parse_when, "now", now=NOW, tz="Europe/Berlinn")


def test_tz_field_name_is_used() -> None:
    bad("row 2: tz", parse_when, "now", now=NOW, tz="nope", tz_field="row 2: tz")


@pytest.mark.parametrize("name", ["", "  ", "../etc/passwd", "+01:00", "europe/berlin", "a\x00"])
def test_parse_zone_refuses(name: str) -> None:
    bad("tz", parse_zone, name)


def test_parse_zone() -> None:
    assert parse_zone(" Europe/Berlin ").key == "Europe/Berlin"
    assert parse_zone("UTC").key == "UTC"


# --- ages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("90d", timedelta(days=90)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
        ("1d12h", timedelta(days=1, hours=12)),
    ],
)
def test_parse_age(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "90", "0d", "-1d", "+1d", "1 d", "1mo", "d"])
def test_parse_age_refuses(text: str) -> None:
    bad("older_than", parse_age, text, field="older_than")


# --- scheduling times ---------------------------------------------------------------------


def test_schedule_time_accepts_now_and_slightly_past() -> None:
    assert parse_schedule_time("now", now=NOW) == NOW
    just = (NOW - PAST_TOLERANCE).isoformat()
    assert parse_schedule_time(just, now=NOW) == NOW - PAST_TOLERANCE


def test_schedule_time_refuses_the_past() -> None:
    past = (NOW - PAST_TOLERANCE - timedelta(seconds=1)).isoformat()
    err = bad("at", parse_schedule_time, past, now=NOW)
    assert "in the past" in err.problem


# --- properties ---------------------------------------------------------------------------

aware = st.datetimes(
    min_value=datetime(1900, 1, 2),
    max_value=datetime(9998, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)


@given(aware)
def test_iso_round_trip(moment: datetime) -> None:
    assert parse_when(moment.isoformat(), now=NOW) == moment


@given(st.integers(min_value=1, max_value=10**4), st.sampled_from("smhdw"))
def test_age_and_relative_agree(number: int, unit: str) -> None:
    age = parse_age(f"{number}{unit}")
    assert parse_when(f"+{number}{unit}", now=NOW) == NOW + age


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Tokyo"]),
)
def test_tz_keeps_the_wall_clock_time(naive: datetime, name: str) -> None:
    zone = parse_zone(name)
    try:
        got = parse_when(naive.isoformat(), now=NOW, tz=name)
    except BadInput as exc:  # only a DST gap may be refused
        assert "does not exist" in exc.problem
        return
    assert got.astimezone(zone).replace(tzinfo=None) == naive
