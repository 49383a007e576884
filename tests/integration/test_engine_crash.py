"""Overlapping runs and processes killed at any line: each post is published exactly once.

Each run is a real process (tests/support/fake_run.py) running the engine with the fake platform,
whose ledger file records every publish across processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.engine import Conn, add_account, add_posts, attempts, post, statuses
from support.fakes import duplicates, read_ledger

FAKE_RUN = Path(__file__).parent.parent / "support" / "fake_run.py"


def start_run(db_url: str, ledger: Path, **env: str) -> subprocess.Popen[str]:
    environ = {
        **os.environ,
        "DATABASE_URL": db_url,
        "FAKE_LEDGER": str(ledger),
        "STUDIO_PUBLISH_LOG_FORMAT": "json",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, str(FAKE_RUN)],
        env=environ,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any]]:
    out, err = process.communicate(timeout=120)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return process.returncode, (json.loads(lines[-1]) if lines else {"stderr": err[-2000:]})


def expire_leases(conn: Conn) -> None:
    """Time passes: the dead run's lease runs out."""
    conn.execute(
        "UPDATE studio_social_posts SET lease_expires_at = now() - interval '1 second' "
        "WHERE status = 'publishing'"
    )


@pytest.mark.slow
def test_four_overlapping_runs_publish_each_post_once(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    accounts = [add_account(conn) for _ in range(40)]
    ids = [pid for a in accounts for pid in add_posts(conn, a, 10)]  # 400 due posts
    ledger = tmp_path / "ledger"

    # Four posts in flight a run (and two claimed ahead) of 40 accounts: a run up first
    # leaves accounts to the others. (With 10 accounts, 8 slots and 4 ahead it held every account,
    # and the runs starting a moment later found nothing to do: the sharing went untested.)
    runs = [start_run(db_url, ledger, FAKE_DELAY="0.02", FAKE_CONCURRENCY="4") for _ in range(4)]
    results = [finish(r) for r in runs]

    assert all(code == 0 for code, _ in results), results
    assert statuses(conn) == {"posted": 400}
    assert sorted(read_ledger(ledger)) == sorted(ids)
    assert duplicates(ledger) == {}
    claimed = [summary["claimed"] for _, summary in results]
    assert sum(claimed) == 400
    assert sum(1 for c in claimed if c > 0) >= 2, claimed  # the work really was shared
    one_attempt_each = conn.execute(
        "SELECT count(*) AS n FROM studio_publish_attempts WHERE outcome = 'posted'"
    ).fetchone()
    assert one_attempt_each == {"n": 400}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("crash", "expected_status", "expected_live"),
    [
        # Killed after claiming, before any platform call: nothing went out, so try again.
        ("die_after_claim", "posted", 1),
        # Killed after saving a platform id, before the platform accepted: the platform
        # says it is not live, so it is published (once).
        ("die_after_save", "posted", 1),
        # Killed after the platform accepted: the platform says it is live; not re-sent.
        ("die_after_accept", "posted", 1),
    ],
)
def test_killed_run_is_settled_by_the_next_without_duplicate(
    db_url: str, conn: Conn, tmp_path: Path, crash: str, expected_status: str, expected_live: int
) -> None:
    (post_id,) = add_posts(conn, add_account(conn), 1)
    ledger = tmp_path / "ledger"

    code, _ = finish(start_run(db_url, ledger, FAKE_CRASH=crash))
    assert code == -signal.SIGKILL
    assert post(conn, post_id)["status"] == "publishing"  # left claimed by the dead run

    code, summary = finish(start_run(db_url, ledger))  # lease still valid: left alone
    assert code == 0 and summary["rescued"] == 0
    assert post(conn, post_id)["status"] == "publishing"

    expire_leases(conn)
    code, summary = finish(start_run(db_url, ledger))
    assert code == 0, summary
    assert summary["rescued"] == 1
    if crash != "die_after_accept":
        # Rescue puts it back in line; the same run may already publish it, or the next.
        finish(start_run(db_url, ledger))
    row = post(conn, post_id)
    assert row["status"] == expected_status
    assert read_ledger(ledger).count(post_id) == expected_live
    history = attempts(conn, post_id)
    assert history[0]["finished_at"] is not None  # the dead attempt is settled in history


@pytest.mark.slow
def test_rescue_without_an_answer_needs_review(db_url: str, conn: Conn, tmp_path: Path) -> None:
    """Saved ids the platform cannot explain: never publish again blindly."""
    (post_id,) = add_posts(conn, add_account(conn), 1)
    conn.execute(
        "UPDATE studio_social_posts SET status = 'publishing', claim_token = gen_random_uuid(), "
        "lease_expires_at = now() - interval '1 minute', attempt_count = 1, "
        "platform_state = '{\"fake_sent\": true}' WHERE id = %s",
        [post_id],
    )
    env = {"FAKE_RECONCILE": "unknown"}
    code, summary = finish(start_run(db_url, tmp_path / "ledger", **env))
    assert code == 0, summary
    row = post(conn, post_id)
    assert row["status"] == "needs_review" and "cannot tell" in row["last_publish_error"]
    assert read_ledger(tmp_path / "ledger") == []


@pytest.mark.slow
def test_database_connection_lost_mid_run_then_next_run_recovers(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    ids = add_posts(conn, add_account(conn), 30)
    ledger = tmp_path / "ledger"
    run = start_run(db_url, ledger, FAKE_DELAY="0.5", FAKE_CONCURRENCY="4")
    deadline = time.monotonic() + 20
    while not read_ledger(ledger) and time.monotonic() < deadline:
        time.sleep(0.05)
    # What a database restart does to the run's connections.
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'studio-publish run' AND datname = current_database()"
    )
    code, summary = finish(run)
    assert code == 3, summary
    assert "lost the database" in summary["error"]

    expire_leases(conn)
    for _ in range(3):
        code, summary = finish(start_run(db_url, ledger))
        assert code == 0, summary
    assert statuses(conn) == {"posted": 30}
    assert sorted(set(read_ledger(ledger))) == sorted(ids)
    assert duplicates(ledger) == {}
