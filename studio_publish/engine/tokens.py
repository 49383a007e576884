"""Refreshing an account's access token, one run at a time.

Whether an account's token refreshes is its login's to say (``PlatformSpec.login``): TikTok's
and Threads' do, an Instagram account's only when it was connected with Instagram Login.
TikTok rotates refresh tokens: once used, the old one stops working. If two runs refreshed
the same account at once, one would save a token the platform has already replaced. So
the refresh happens inside a transaction holding the account's row lock, and the rotated
refresh token is saved in that same transaction. This is the one place where a
transaction stays open across an HTTP call, bounded by the HTTP timeout.
"""

from __future__ import annotations

import datetime as dt

import httpx

from studio_publish.domain import Account
from studio_publish.ids import token_problem
from studio_publish.platforms.base import Decision, Platform, PlatformError
from studio_publish.platforms.registry import spec_for
from studio_publish.store.engine_store import account_from_row
from studio_publish.store.pool import ConnectionPool
from studio_publish.store.queries import query


def needs_refresh(account: Account, now: dt.datetime) -> bool:
    """Whether the access token refreshes (by the account's login: an Instagram account's
    token from Instagram Login does, one from Facebook Login does not) and expires within
    that login's ``refresh_margin``."""
    login = spec_for(account.platform).login(account.options)
    expires = account.token_expires_at
    return login.refreshes_tokens and expires is not None and expires <= now + login.refresh_margin


async def refresh_account_token(
    pool: ConnectionPool,
    platform: Platform,
    account: Account,
    http: httpx.AsyncClient,
    *,
    force: bool,
) -> Account:
    """Return the account with a fresh token, refreshing it unless another run just did.

    ``force`` refreshes even an unexpired token (the platform said it is invalid), unless
    the token changed since ``account`` was read: then another run has refreshed it.
    """
    if not platform.can_refresh_tokens:
        raise PlatformError(Decision.REAUTH, f"{platform.name} tokens cannot be refreshed")
    async with pool.connection() as conn, conn.transaction():
        cursor = await conn.execute(query("lock_account_for_refresh"), {"id": account.id})
        row = await cursor.fetchone()
        if row is None:
            raise PlatformError(Decision.REAUTH, "the account no longer exists")
        current = account_from_row(row)
        now_row = await (await conn.execute("SELECT now() AS now")).fetchone()
        assert now_row is not None
        refreshed_elsewhere = current.access_token != account.access_token
        if refreshed_elsewhere and not needs_refresh(current, now_row["now"]):
            return current
        if not force and not needs_refresh(current, now_row["now"]):
            return current
        # Whether a refresh token is needed is the platform's to say: some refresh the
        # access token itself.
        grant = await platform.refresh_token(current, http)
        for name, token in (("access", grant.access_token), ("refresh", grant.refresh_token)):
            if (problem := token_problem(token)) is not None:
                # An answer is never trusted: this token would go into a header as it is.
                raise PlatformError(
                    Decision.RETRY,
                    f"the token refresh answered a new {name} token that {problem}; "
                    "the stored tokens are kept",
                )
        await conn.execute(
            query("save_refreshed_tokens"),
            {
                "id": current.id,
                "access_token": grant.access_token,
                "refresh_token": grant.refresh_token,
                "token_expires_at": grant.expires_at,
                "refresh_token_expires_at": grant.refresh_expires_at,
            },
        )
    return Account(
        id=current.id,
        platform=current.platform,
        platform_account_id=current.platform_account_id,
        access_token=grant.access_token,
        refresh_token=grant.refresh_token or current.refresh_token,
        token_expires_at=grant.expires_at,
        options=current.options,
    )
