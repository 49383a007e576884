"""Preflight's pure decisions: the account's token and state, and the quota's room."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from studio_publish.engine.preflight import account_findings, quota_finding
from studio_publish.platforms.registry import spec_for

DUE = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)


def row(**fields: Any) -> dict[str, Any]:
    return {
        "scheduled_for": DUE,
        "account_id": "acc-1",
        "account_state": "active",
        "token_expires_at": None,
        "has_refresh_token": False,
        "refresh_token_expires_at": None,
        "publishing_quota": None,
        "due_in_window": 1,
        "post_type": "image",
        **fields,
    }


def causes(found: list[Any]) -> list[str]:
    return [f.cause for f in found]


def test_a_meta_token_expiring_before_the_post_is_a_finding() -> None:
    expiring = row(token_expires_at=DUE - dt.timedelta(hours=1))
    assert causes(account_findings(expiring, spec_for("instagram"))) == ["token"]
    assert (
        account_findings(row(token_expires_at=DUE + dt.timedelta(hours=1)), spec_for("instagram"))
        == []
    )


def test_a_tiktok_token_is_refreshed_unless_its_refresh_token_expires_first() -> None:
    tiktok = spec_for("tiktok")
    expiring = row(token_expires_at=DUE - dt.timedelta(hours=1), has_refresh_token=True)
    assert account_findings(expiring, tiktok) == []  # run-due refreshes it
    refresh_first = {**expiring, "refresh_token_expires_at": DUE - dt.timedelta(minutes=5)}
    (found,) = account_findings(refresh_first, tiktok)
    assert found.cause == "token" and "refresh token expires first" in found.message


def test_an_account_that_is_not_active_is_a_finding() -> None:
    (found,) = account_findings(row(account_state="needs_reauth"), spec_for("facebook"))
    assert found.cause == "account" and "accounts reauth acc-1" in found.message


def test_the_quota_has_room_or_says_how_much() -> None:
    quota = {"used": 48, "total": 50}
    instagram = spec_for("instagram")
    assert quota_finding(row(publishing_quota=quota, due_in_window=2), instagram) is None
    found = quota_finding(row(publishing_quota=quota, due_in_window=3), instagram)
    assert found is not None and "room for 2" in found.message


def test_a_counted_quota_is_about_its_post_types_alone() -> None:
    facebook, full = spec_for("facebook"), {"used": 30, "total": 30}
    found = quota_finding(row(publishing_quota=full, post_type="reel"), facebook)
    assert found is not None and "room for 0" in found.message
    assert quota_finding(row(publishing_quota=full, post_type="image"), facebook) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(quota=JSON | st.fixed_dictionaries({"used": JSON, "total": JSON}), due=st.integers(0, 10**6))
def test_any_saved_quota_decides_without_an_error(quota: Any, due: int) -> None:
    # The account's publishing_quota column may have been written by anyone.
    found = quota_finding(row(publishing_quota=quota, due_in_window=due), spec_for("instagram"))
    assert found is None or found.cause == "quota"


def test_an_instagram_token_refreshes_only_with_instagram_login() -> None:
    instagram = spec_for("instagram")
    expiring = row(token_expires_at=DUE - dt.timedelta(hours=1), due_before_token_expires=True)
    (found,) = account_findings(expiring, instagram)  # Facebook Login: no refresh
    assert "run-due cannot refresh it" in found.message
    ig_login = {**expiring, "account_options": {"login": "instagram"}}
    assert account_findings(ig_login, instagram) == []  # refreshed by the earlier post's run


def test_a_token_that_refreshes_itself_needs_a_post_due_before_it_expires() -> None:
    for spec, options in (
        (spec_for("instagram"), {"login": "instagram"}),
        (spec_for("threads"), {}),
    ):
        alone = row(
            token_expires_at=DUE - dt.timedelta(hours=1),
            account_options=options,
            due_before_token_expires=False,
        )
        (found,) = account_findings(alone, spec)
        assert "no post of the account is due before then" in found.message
