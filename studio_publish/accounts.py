"""Social accounts: registering them and listing them (never with their tokens)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from studio_publish.errors import BadInput, Refused
from studio_publish.ids import platform_id_problem, token_problem
from studio_publish.platforms.registry import spec_for
from studio_publish.platforms.spec import LOGIN_OPTION
from studio_publish.reporting.status import held_posts_by_account
from studio_publish.scheduling.timeparse import parse_when
from studio_publish.scheduling.validation import (
    check_text,
    parse_bool,
    validate_uuid,
)
from studio_publish.store import db

DEFAULT_WORKSPACE = "00000000-0000-0000-0000-000000000000"


@dataclass
class NewAccount:
    platform: str
    platform_account_id: str
    access_token: str
    workspace_id: str = DEFAULT_WORKSPACE
    name: str | None = None
    refresh_token: str | None = None
    token_expires_at: dt.datetime | None = None
    refresh_token_expires_at: dt.datetime | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # `--login`: which of the platform's logins issued the token (Instagram: facebook or
    # instagram), kept in the account's options; None: the platform's default.
    login: str | None = None

    def __repr__(self) -> str:  # never show tokens
        return f"NewAccount(platform={self.platform!r}, id={self.platform_account_id!r})"


def validate_account(account: NewAccount) -> None:
    spec = spec_for(account.platform)
    if account.login is not None:
        names = [login.name for login in spec.logins]
        if not names:
            raise BadInput("login", f"{spec.display_name} accounts have one login: leave it out")
        if account.login not in names:
            raise BadInput("login", f"must be one of: {', '.join(names)}")
    if not account.platform_account_id.strip():
        raise BadInput("platform_account_id", "must not be empty")
    try:
        uuid.UUID(account.workspace_id)
    except ValueError:
        raise BadInput("workspace", "must be a UUID") from None
    check_text(account.platform_account_id, "platform_account_id")
    # It goes into API paths (/{page_id}/feed): only the characters ids are made of.
    if (problem := platform_id_problem(account.platform_account_id.strip())) is not None:
        raise BadInput("platform_account_id", problem)
    check_text(account.name, "name")
    validate_tokens(account.access_token, account.refresh_token)


def validate_tokens(access_token: str, refresh_token: str | None) -> None:
    if not access_token.strip():
        raise BadInput("access_token", "is empty")
    check_text(access_token, "access_token")
    check_text(refresh_token, "refresh_token")
    # Stored stripped (below); what is left goes into a header as it is.
    for name, token in (("access_token", access_token), ("refresh_token", refresh_token)):
        if (problem := token_problem((token or "").strip() or None)) is not None:
            raise BadInput(name, problem)


def add_account(conn: db.Connection, account: NewAccount) -> db.Row:
    """Register the account; BadInput when the workspace already has it (a new token goes
    in with reauth instead, which keeps its posts, quota and history)."""
    validate_account(account)
    same = {
        "workspace_id": account.workspace_id,
        "platform": account.platform,
        "platform_account_id": account.platform_account_id.strip(),
    }
    if (existing := db.fetch_one(conn, "find_account", same)) is not None:
        raise BadInput(
            "platform_account_id",
            f"this workspace already has {spec_for(account.platform).display_name} account "
            f"{same['platform_account_id']} as {existing['id']}: give it a new token with "
            "accounts reauth",
        )
    row = db.fetch_one(
        conn,
        "insert_account",
        {
            **same,
            "name": account.name,
            "access_token": account.access_token.strip(),
            "refresh_token": (account.refresh_token or "").strip() or None,
            "token_expires_at": account.token_expires_at,
            "refresh_token_expires_at": account.refresh_token_expires_at,
            "options": Jsonb(
                {**account.options, LOGIN_OPTION: account.login}
                if account.login
                else account.options
            ),
        },
    )
    assert row is not None
    return row


@dataclass
class NewTokens:
    """The tokens of a re-authorisation. Without a refresh token, the stored one stays."""

    access_token: str
    refresh_token: str | None = None
    token_expires_at: dt.datetime | None = None
    refresh_token_expires_at: dt.datetime | None = None

    def __repr__(self) -> str:  # never show tokens
        return "NewTokens(...)"


def new_tokens(
    conn: db.Connection,
    *,
    access_token: str,
    refresh_token: str | None = None,
    token_expires_at: str | None = None,
    refresh_token_expires_at: str | None = None,
    tz: str | None = None,
) -> NewTokens:
    """The tokens as given (to `accounts add` or `accounts reauth`), with their expiry times
    read as WHEN values on the database's clock (``tz`` for times without an offset)."""
    now = db.database_now(conn)

    def when(text: str | None, field: str) -> dt.datetime | None:
        return parse_when(text, now=now, tz=tz, field=field) if text else None

    return NewTokens(
        access_token=access_token,
        refresh_token=refresh_token,
        token_expires_at=when(token_expires_at, "token_expires_at"),
        refresh_token_expires_at=when(refresh_token_expires_at, "refresh_token_expires_at"),
    )


def reauth_account(conn: db.Connection, account_id: str, tokens: NewTokens) -> db.Row:
    """Store new tokens and make the account active again, so its held posts go out."""
    account_id = validate_uuid(account_id, "account_id")
    validate_tokens(tokens.access_token, tokens.refresh_token)
    held = held_posts_by_account(conn, account_id).get(account_id, 0)
    row = db.fetch_one(
        conn,
        "reauth_account",
        {
            "id": account_id,
            "access_token": tokens.access_token.strip(),
            "refresh_token": (tokens.refresh_token or "").strip() or None,
            "token_expires_at": tokens.token_expires_at,
            "refresh_token_expires_at": tokens.refresh_token_expires_at,
        },
    )
    if row is not None:
        return {**row, "released_posts": held}
    current = db.fetch_one(conn, "get_account_platform", {"id": account_id})
    if current is None:
        raise BadInput("account_id", f"no account with id {account_id}")
    raise Refused(f"account {account_id} is {current['state']}: it is not re-authorised")


def list_accounts(conn: db.Connection) -> list[db.Row]:
    """Every account, never a token; ``login`` is the login the engine uses for it (its
    platform's default when the row names none, or one it does not have)."""
    from studio_publish.platforms.registry import PLATFORMS

    rows = db.fetch_all(conn, "list_accounts")
    for row in rows:
        spec = PLATFORMS.get(row["platform"])
        if spec is not None and spec.logins:
            row["login"] = spec.login({LOGIN_OPTION: row["login"]}).name
    return rows


def parse_account_options(platform: str, pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs for an account: the platform spec's ``account_options`` (booleans)."""
    known = spec_for(platform).account_options
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise BadInput("options", f"{pair!r} is not KEY=VALUE")
        if key not in known:
            names = ", ".join(sorted(known)) or "none"
            raise BadInput("options", f"unknown account option {key!r} (known: {names})")
        options[key] = parse_bool(value, "options")
    return options
