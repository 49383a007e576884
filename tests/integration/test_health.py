"""`status --check`: one PROBLEM line per thing a person must act on, exit 1; else OK, 0."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from support.cli import Cli
from support.engine import Conn, add_account, add_post


def ran(conn: Conn, ago: str, outcome: str = "ok", error: str | None = None) -> None:
    conn.execute(
        """INSERT INTO studio_publish_runs (started_at, finished_at, outcome, error)
           VALUES (now() - %s::interval, now() - %s::interval, %s, %s)""",
        [ago, ago, outcome, error],
    )


def problems(cli: Cli) -> list[str]:
    result = cli("status", "--check")
    lines = result.stdout.splitlines()
    if result.exit_code == 0:
        assert lines == ["OK"]
        return []
    assert result.exit_code == 1, result.stderr
    assert all(line.startswith("PROBLEM ") for line in lines), lines
    return lines


def only(cli: Cli, check: str) -> str:
    """The one problem reported, which must be of the ``check`` kind."""
    document = cli("status", "--check", "--json").json()
    assert [p["check"] for p in document["problems"]] == [check], document
    lines = problems(cli)
    assert len(lines) == 1
    return lines[0]


# --- all well -------------------------------------------------------------------------------


def test_an_empty_database_that_never_ran_is_well(cli: Cli) -> None:
    result = cli("status", "--check")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "OK\n"
    assert cli("status", "--check", "--json").json() == {"ok": True, "problems": []}


def test_a_busy_healthy_queue_is_well(cli: Cli, conn: Conn) -> None:
    account = add_account(conn, expires_in="30 days")
    add_post(conn, account, due="+1 hour")
    add_post(conn, account, due="-2 minutes")  # due, but within the grace
    add_post(conn, account, status="draft")
    ran(conn, "30 seconds")
    # A lease that ran out a moment ago: the next run rescues it, no alarm yet.
    stale = add_post(conn, account)
    conn.execute(
        """UPDATE studio_social_posts SET status = 'publishing', claim_token = gen_random_uuid(),
               lease_expires_at = now() - interval '1 minute' WHERE id = %s""",
        [stale],
    )
    # A disabled account is a decision, not a problem.
    conn.execute(
        """INSERT INTO studio_social_accounts (platform, platform_account_id, access_token, state)
           VALUES ('facebook', 'off', 't', 'disabled')"""
    )

    assert problems(cli) == []


def test_nothing_scheduled_and_a_quiet_cron_is_well(cli: Cli, conn: Conn) -> None:
    add_post(conn, add_account(conn), status="draft")
    ran(conn, "3 days")

    assert problems(cli) == []


# --- each problem ---------------------------------------------------------------------------


def test_cron_not_running_while_posts_are_scheduled(cli: Cli, conn: Conn) -> None:
    add_post(conn, add_account(conn), due="+1 day")
    ran(conn, "2 hours")

    line = only(cli, "cron")

    assert re.fullmatch(r"PROBLEM cron: last run 2h0\dm ago, with 1 post waiting", line), line


def test_cron_that_never_ran_while_posts_are_scheduled(cli: Cli, conn: Conn) -> None:
    add_post(conn, add_account(conn), due="+1 day")

    assert only(cli, "cron") == "PROBLEM cron: run-due never ran, with 1 post waiting"


def test_overdue_posts(cli: Cli, conn: Conn) -> None:
    account = add_account(conn)
    for _ in range(3):
        add_post(conn, account, due="-20 minutes")
    ran(conn, "10 seconds")

    document = cli("status", "--check", "--json").json()
    line = only(cli, "overdue")

    assert line.startswith("PROBLEM overdue: 3 posts due more than 5 minutes ago")
    assert len(document["problems"][0]["ids"]) == 3


def test_posts_stuck_past_their_lease(cli: Cli, conn: Conn) -> None:
    post_id = add_post(conn, add_account(conn))
    conn.execute(
        """UPDATE studio_social_posts SET status = 'publishing', claim_token = gen_random_uuid(),
               lease_expires_at = now() - interval '20 minutes' WHERE id = %s""",
        [post_id],
    )
    ran(conn, "10 seconds")

    line = only(cli, "stuck")

    assert line.startswith("PROBLEM stuck: 1 post publishing past their lease")


def test_posts_needing_review(cli: Cli, conn: Conn) -> None:
    post_id = add_post(conn, add_account(conn), status="needs_review")

    line = only(cli, "needs_review")

    assert line.startswith("PROBLEM needs_review: 1 post may or may not be live")
    assert post_id in line
    assert "--confirm-not-live" in line and "confirm-live POST_ID" in line


def test_an_account_needing_reauthorisation_with_its_held_posts(cli: Cli, conn: Conn) -> None:
    account = add_account(conn)
    conn.execute(
        """UPDATE studio_social_accounts SET state = 'needs_reauth',
               state_reason = 'Error validating access token [190/460]' WHERE id = %s""",
        [account],
    )
    add_post(conn, account, due="-3 hours")  # held: not overdue, not a cron problem
    add_post(conn, account, due="+1 hour")
    ran(conn, "10 seconds")

    line = only(cli, "account")
    overview = cli("status", "--json").json()

    assert line == (
        f"PROBLEM account {account} (instagram instagram test) needs re-authorisation: "
        "Error validating access token [190/460]; 2 posts held"
    )
    assert overview["held_for_reauth"] == 2
    assert overview["overdue"] == []
    assert "2 scheduled post(s) wait for their account" in cli("status").stdout


@pytest.mark.parametrize(
    ("platform", "columns", "expired"),
    [
        ("instagram", {"token_expires_at": "2 days"}, False),
        ("facebook", {"token_expires_at": "-1 hour"}, True),
        # TikTok: the refresh token's expiry is the one that matters.
        (
            "tiktok",
            {"token_expires_at": "50 days", "refresh_token_expires_at": "3 days"},
            False,
        ),
    ],
)
def test_a_token_that_expires_soon(
    cli: Cli, conn: Conn, platform: str, columns: dict[str, Any], expired: bool
) -> None:
    account = add_account(conn, platform, refresh_token="r" if platform == "tiktok" else None)
    for column, delta in columns.items():
        conn.execute(
            f"UPDATE studio_social_accounts SET {column} = now() + %s::interval WHERE id = %s",
            [delta, account],
        )

    line = only(cli, "token")

    verb = "expired" if expired else "expires"
    assert line.startswith(
        f"PROBLEM token: account {account} ({platform} {platform} test) {verb} at "
    )


def test_a_tiktok_access_token_expiring_is_not_a_problem(cli: Cli, conn: Conn) -> None:
    account = add_account(conn, "tiktok", refresh_token="r", expires_in="1 hour")
    conn.execute(
        """UPDATE studio_social_accounts SET refresh_token_expires_at = now() + interval '300 days'
           WHERE id = %s""",
        [account],
    )

    assert problems(cli) == []


def test_a_last_run_that_ended_in_error(cli: Cli, conn: Conn) -> None:
    ran(conn, "20 seconds", "error", "lost the database during the run: connection reset")

    assert only(cli, "last_run") == (
        "PROBLEM last run ended in error: lost the database during the run: connection reset"
    )


def test_a_last_run_that_never_finished(cli: Cli, conn: Conn) -> None:
    """A run killed mid-way (or crashed) leaves its row `running`: that is a problem too."""
    conn.execute(
        """INSERT INTO studio_publish_runs (started_at, host, pid, command)
           VALUES (now() - interval '40 minutes', 'cron-host', 4242, 'run-due')"""
    )
    line = only(cli, "last_run")
    assert "never finished" in line and "pid 4242 on cron-host" in line


def test_a_run_still_running_within_its_time_is_well(cli: Cli, conn: Conn) -> None:
    conn.execute(
        """INSERT INTO studio_publish_runs (started_at, host, pid, command)
           VALUES (now() - interval '30 seconds', 'cron-host', 4242, 'run-due')"""
    )
    assert problems(cli) == []


# --- several at once, and the output --------------------------------------------------------


def test_every_problem_a_line_and_json_alone_on_stdout(cli: Cli, conn: Conn) -> None:
    account = add_account(conn, expires_in="1 day")
    add_post(conn, account, due="-1 hour")
    add_post(conn, account, status="needs_review")
    ran(conn, "1 hour", "error", "boom")

    lines = problems(cli)
    result = cli("status", "--check", "--json")

    assert [line.split(":")[0] for line in lines] == [
        "PROBLEM cron",
        "PROBLEM last run ended in error",
        "PROBLEM overdue",
        "PROBLEM needs_review",
        "PROBLEM token",
    ]
    assert result.exit_code == 1
    assert result.stdout.count("\n") == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert [p["message"] for p in document["problems"]] == [line[8:] for line in lines]


def test_check_with_a_post_id_is_bad_input(cli: Cli, conn: Conn) -> None:
    post_id = add_post(conn, add_account(conn))

    result = cli("status", post_id, "--check")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--check" in result.stderr
