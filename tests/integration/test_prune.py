"""`db prune --older-than AGE`: old attempt, run and alert rows go; posts and live history stay."""

from __future__ import annotations

from typing import Any

import pytest
from support.cli import Cli
from support.engine import Conn, add_account, add_post


def attempt(conn: Conn, post_id: str, number: int, age: str) -> None:
    conn.execute(
        """INSERT INTO studio_publish_attempts (post_id, attempt_number, started_at, outcome)
           VALUES (%s, %s, now() - %s::interval, 'retry')""",
        [post_id, number, age],
    )


def run_row(conn: Conn, age: str) -> int:
    row = conn.execute(
        """INSERT INTO studio_publish_runs (started_at, finished_at, outcome)
           VALUES (now() - %s::interval, now() - %s::interval, 'ok') RETURNING id""",
        [age, age],
    ).fetchone()
    assert row is not None
    return int(row["id"])


def alert(conn: Conn, key: str, age: str, *, sent: bool, attempts: int = 1) -> None:
    conn.execute(
        """INSERT INTO studio_publish_alerts (event_key, event, payload, created_at, sent_at,
               send_attempts)
           VALUES (%s, 'post_failed', '{}', now() - %s::interval,
                   CASE WHEN %s THEN now() - %s::interval END, %s)""",
        [key, age, sent, age, attempts],
    )


def counts(conn: Conn) -> dict[str, int]:
    found = {}
    for table in ("attempts", "runs", "alerts"):
        row = conn.execute(f"SELECT count(*) AS n FROM studio_publish_{table}").fetchone()
        assert row is not None
        found[table] = row["n"]
    row = conn.execute("SELECT count(*) AS n FROM studio_social_posts").fetchone()
    assert row is not None
    found["posts"] = row["n"]
    return found


@pytest.fixture
def history(conn: Conn) -> dict[str, Any]:
    account = add_account(conn)
    posted = add_post(conn, account, status="posted")
    failed = add_post(conn, account, status="failed")
    retrying = add_post(conn, account)  # still scheduled: its history stays
    review = add_post(conn, account, status="needs_review")  # a person reads its history
    attempt(conn, posted, 1, "100 days")
    attempt(conn, posted, 2, "1 day")
    attempt(conn, failed, 1, "200 days")
    attempt(conn, retrying, 1, "100 days")
    attempt(conn, review, 1, "100 days")
    old_runs = [run_row(conn, "120 days"), run_row(conn, "100 days")]
    recent_run = run_row(conn, "1 hour")
    alert(conn, "sent-old", "100 days", sent=True)
    alert(conn, "sent-new", "1 day", sent=True)
    alert(conn, "given-up-old", "100 days", sent=False, attempts=10)
    alert(conn, "retrying-old", "100 days", sent=False, attempts=2)
    return {
        "posted": posted,
        "retrying": retrying,
        "review": review,
        "old_runs": old_runs,
        "recent_run": recent_run,
    }


EXPECTED = {"attempts": 2, "runs": 2, "alerts": 2}


def test_prune_deletes_old_history_and_keeps_the_rest(
    cli: Cli, conn: Conn, history: dict[str, Any]
) -> None:
    before = counts(conn)

    result = cli("db", "prune", "--older-than", "90d")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Deleted history from before ")
    assert result.stdout.endswith(": 2 attempts, 2 runs, 2 alerts.\n")
    after = counts(conn)
    assert after == {
        "attempts": before["attempts"] - 2,
        "runs": before["runs"] - 2,
        "alerts": before["alerts"] - 2,
        "posts": before["posts"],
    }
    kept = conn.execute(
        "SELECT post_id::text AS post, attempt_number FROM studio_publish_attempts ORDER BY 1, 2"
    ).fetchall()
    assert sorted((r["post"], r["attempt_number"]) for r in kept) == sorted(
        [(history["posted"], 2), (history["retrying"], 1), (history["review"], 1)]
    )
    runs = [r["id"] for r in conn.execute("SELECT id FROM studio_publish_runs").fetchall()]
    assert runs == [history["recent_run"]]
    keys = {r["event_key"] for r in conn.execute("SELECT event_key FROM studio_publish_alerts")}
    assert keys == {"sent-new", "retrying-old"}


def test_the_latest_run_is_kept_however_old(cli: Cli, conn: Conn) -> None:
    run_row(conn, "300 days")
    latest = run_row(conn, "200 days")

    result = cli("db", "prune", "--older-than", "90d", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json()["runs"] == 1
    assert [r["id"] for r in conn.execute("SELECT id FROM studio_publish_runs")] == [latest]
    assert cli("status", "--json").json()["last_run"]["id"] == latest


def test_a_dry_run_counts_and_deletes_nothing(
    cli: Cli, conn: Conn, history: dict[str, Any]
) -> None:
    before = counts(conn)

    result = cli("db", "prune", "--older-than", "90d", "--dry-run", "--json")
    human = cli("db", "prune", "--older-than", "90d", "--dry-run")

    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert {k: document[k] for k in EXPECTED} == EXPECTED
    assert document["dry_run"] is True
    assert "cutoff" in document
    assert human.stdout.startswith("Would delete history from before ")
    assert counts(conn) == before
    real = cli("db", "prune", "--older-than", "90d", "--json").json()
    assert {k: real[k] for k in EXPECTED} == EXPECTED


def test_prune_in_batches(
    cli: Cli, conn: Conn, history: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("studio_publish.reporting.prune.BATCH", 1)

    result = cli("db", "prune", "--older-than", "90d", "--json")

    assert {k: result.json()[k] for k in EXPECTED} == EXPECTED


@pytest.mark.parametrize("value", ["soon", "0d", "-5d", "90", "90 days", "", "9999999999w"])
def test_a_bad_age_is_exit_2_and_deletes_nothing(
    cli: Cli, conn: Conn, history: dict[str, Any], value: str
) -> None:
    before = counts(conn)

    result = cli("db", "prune", "--older-than", value)

    assert result.exit_code == 2
    assert "--older-than" in result.stderr
    assert result.stdout == ""
    assert counts(conn) == before


def test_older_than_is_required(cli: Cli) -> None:
    assert cli("db", "prune").exit_code == 2
