"""`accounts reauth ACCOUNT_ID`: new tokens, the account active again, its held posts due."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from support.cli import Cli
from support.engine import Conn, add_account, add_post, engine_settings, post, target
from support.fakes import FakePlatform

from studio_publish import operations

NEW_TOKEN = "EAAG-new-long-lived-token-5678"


@pytest.fixture
def fake(tmp_path: Path) -> FakePlatform:
    return FakePlatform("instagram", tmp_path / "ledger.txt")


def needing_reauth(conn: Conn, **account: str) -> str:
    account_id = add_account(conn, **account)
    conn.execute(
        """UPDATE studio_social_accounts SET state = 'needs_reauth',
               state_reason = 'Error validating access token [190/460]' WHERE id = %s""",
        [account_id],
    )
    return account_id


def account_row(conn: Conn, account_id: str) -> dict[str, object]:
    row = conn.execute(
        "SELECT * FROM studio_social_accounts WHERE id = %s", [account_id]
    ).fetchone()
    assert row is not None
    return row


def test_reauth_stores_the_token_and_releases_the_held_posts(
    cli: Cli, conn: Conn, db_url: str, fake: FakePlatform
) -> None:
    account = needing_reauth(conn)
    held = [add_post(conn, account), add_post(conn, account)]
    settings = engine_settings()
    before = operations.run_due(settings, target(db_url), platforms={"instagram": fake})
    assert before.claimed == 0  # held while the account needs re-authorisation

    result = cli(
        "accounts", "reauth", account, "--token-expires-at", "+60d", input=NEW_TOKEN + "\n"
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"Account {account} (instagram) is active again: "
        "2 held post(s) go out at the next run-due.\n"
    )
    assert NEW_TOKEN not in result.stdout + result.stderr
    row = account_row(conn, account)
    assert row["state"] == "active" and row["state_reason"] is None
    assert row["access_token"] == NEW_TOKEN
    assert row["token_expires_at"] is not None
    assert cli("status", "--json").json()["held_for_reauth"] == 0

    after = operations.run_due(settings, target(db_url), platforms={"instagram": fake})

    assert after.count("posted") == 2
    assert all(post(conn, p)["status"] == "posted" for p in held)
    assert set(fake.tokens_seen) == {NEW_TOKEN}


def test_reauth_from_environment_variables_with_json(
    cli: Cli, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = needing_reauth(conn, platform="tiktok", refresh_token="old-refresh")
    monkeypatch.setenv("NEW_ACCESS", NEW_TOKEN)
    monkeypatch.setenv("NEW_REFRESH", "rft-new-refresh-token")

    result = cli(
        "accounts",
        "reauth",
        account,
        "--access-token-env",
        "NEW_ACCESS",
        "--refresh-token-env",
        "NEW_REFRESH",
        "--refresh-token-expires-at",
        "+365d",
        "--json",
    )

    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert document["id"] == account and document["state"] == "active"
    assert document["released_posts"] == 0
    assert NEW_TOKEN not in result.stdout and "rft-new" not in result.stdout
    row = account_row(conn, account)
    assert row["refresh_token"] == "rft-new-refresh-token"
    assert row["refresh_token_expires_at"] is not None


def test_without_a_refresh_token_the_stored_one_stays(cli: Cli, conn: Conn) -> None:
    account = needing_reauth(conn, platform="tiktok", refresh_token="old-refresh")

    result = cli("accounts", "reauth", account, input=NEW_TOKEN + "\n")

    assert result.exit_code == 0, result.stderr
    assert account_row(conn, account)["refresh_token"] == "old-refresh"


def test_an_active_account_takes_a_new_token_too(cli: Cli, conn: Conn) -> None:
    account = add_account(conn, expires_in="2 days")

    result = cli("accounts", "reauth", account, input=NEW_TOKEN + "\n")

    assert result.exit_code == 0, result.stderr
    row = account_row(conn, account)
    assert row["access_token"] == NEW_TOKEN and row["token_expires_at"] is None


@pytest.mark.parametrize(
    ("account", "token", "field"),
    [
        (str(uuid.uuid4()), NEW_TOKEN, "ACCOUNT_ID"),
        ("not-an-id", NEW_TOKEN, "ACCOUNT_ID"),
        (None, "", "access token"),
        (None, "   ", "access token"),
        (None, NEW_TOKEN + " and more", "access token"),
        (None, NEW_TOKEN + "\nmore", "access token"),
    ],
    ids=["unknown", "malformed", "empty-token", "blank-token", "space-in-token", "two-lines"],
)
def test_bad_input_is_exit_2_and_changes_nothing(
    cli: Cli, conn: Conn, account: str | None, token: str, field: str
) -> None:
    existing = needing_reauth(conn)

    result = cli("accounts", "reauth", account or existing, input=token + "\n")

    assert result.exit_code == 2
    assert field in result.stderr
    assert result.stdout == ""
    assert account_row(conn, existing)["state"] == "needs_reauth"


def test_a_disabled_account_is_refused(cli: Cli, conn: Conn) -> None:
    account = add_account(conn)
    conn.execute("UPDATE studio_social_accounts SET state = 'disabled' WHERE id = %s", [account])

    result = cli("accounts", "reauth", account, input=NEW_TOKEN + "\n")

    assert result.exit_code == 1
    assert "disabled" in result.stderr
    assert NEW_TOKEN not in result.stderr
    assert account_row(conn, account)["access_token"] != NEW_TOKEN
