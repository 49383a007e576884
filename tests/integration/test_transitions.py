"""State changes are guarded in the SQL: an illegal move changes zero rows and leaves the
post exactly as it was. Plus `studio-publish cancel`, the user's end of those guards."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from support.cli import Cli
from support.database import database_url

from studio_publish.states import MOVES, Move, guard
from studio_publish.store.migrations import migrate
from studio_publish.store.queries import parse_queries, query

Conn = psycopg.Connection[dict[str, Any]]

STATES = ("draft", "scheduled", "publishing", "posted", "failed", "needs_review", "cancelled")
FUTURE = dt.datetime(2031, 6, 1, 9, 30, tzinfo=dt.UTC)


def no_params() -> dict[str, Any]:
    return {}


# Every state-changing query of posts.sql: the states it may move a post out of (the spec's
# state machine), the state it moves it to, and the parameters it takes besides the post id.
GUARDED: dict[str, tuple[frozenset[str], str, Callable[[], dict[str, Any]]]] = {
    "reschedule_post": (
        frozenset({"draft", "scheduled", "failed"}),
        "scheduled",
        lambda: {**guard(Move.RESCHEDULE), "scheduled_for": FUTURE},
    ),
    "cancel_post": (frozenset({"draft", "scheduled"}), "cancelled", lambda: guard(Move.CANCEL)),
}
# The move (studio_publish/states.py) whose guard each query is given.
MOVE_OF = {"reschedule_post": Move.RESCHEDULE, "cancel_post": Move.CANCEL}


def test_the_transition_table_agrees_with_the_spec_for_posts_sql() -> None:
    for name, (allowed, target, _) in GUARDED.items():
        rule = MOVES[MOVE_OF[name]]
        assert ({str(s) for s in rule.sources}, {str(s) for s in rule.targets}) == (
            set(allowed),
            {target},
        )


def state_changing_queries() -> set[str]:
    text = (resources.files("studio_publish") / "store" / "sql" / "posts.sql").read_text(
        encoding="utf-8"
    )
    found = set()
    for name, sql in parse_queries(text, "posts.sql").items():
        code = "\n".join(line.split("--")[0] for line in sql.splitlines())
        if re.search(r"\bUPDATE\s+studio_social_posts\b", code, re.I) and re.search(
            r"\bstatus\s*=", code.split("WHERE")[0], re.I
        ):
            found.add(name)
    return found


def insert_post(conn: Conn, state: str, **extra: Any) -> uuid.UUID:
    """A post in ``state``, with what that state carries (the CHECK constraints demand some)."""
    values: dict[str, Any] = {
        "workspace_id": uuid.uuid4(),
        "social_account_id": uuid.uuid4(),
        "platform": "instagram",
        "post_type": "image",
        "caption": f"a {state} post",
        "status": state,
        "scheduled_for": None if state == "draft" else dt.datetime.now(dt.UTC),
    }
    if state == "scheduled":
        values["scheduled_for"] = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        values["next_attempt_at"] = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
        values["attempt_count"] = 1
    elif state == "publishing":
        values.update(
            claim_token=uuid.uuid4(),
            claimed_by="host:123",
            lease_expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
            attempt_started_at=dt.datetime.now(dt.UTC),
            attempt_count=1,
        )
    elif state == "posted":
        values.update(
            platform_post_id=f"ig-{uuid.uuid4().hex}",
            published_at=dt.datetime.now(dt.UTC),
            posted_at=dt.datetime.now(dt.UTC),
            permalink="https://instagram.com/p/abc",
            attempt_count=1,
        )
    elif state == "failed":
        values.update(failure_reason="max_attempts", last_publish_error="HTTP 500", attempt_count=5)
    elif state == "needs_review":
        values.update(
            failure_reason="timeout",
            last_publish_error="publish timed out",
            platform_state=psycopg.types.json.Jsonb({"container_id": "1789"}),
            attempt_count=1,
        )
    values.update(extra)
    names = ", ".join(values)
    marks = ", ".join(f"%({n})s" for n in values)
    row = conn.execute(
        f"INSERT INTO studio_social_posts ({names}) VALUES ({marks}) RETURNING id", values
    ).fetchone()
    assert row is not None
    return row["id"]


def read_post(conn: Conn, post_id: uuid.UUID) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM studio_social_posts WHERE id = %s", [post_id]).fetchone()
    assert row is not None
    return row


@pytest.fixture(scope="module")
def shared_conn(pg_server_url: str) -> Iterator[Conn]:
    """One migrated database for the query-level tests: each makes its own posts and
    compares only them, so they need no database of their own."""
    name = f"studio_publish_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = database_url(pg_server_url, name)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            migrate(conn)
            yield conn
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_state_changing_query_in_posts_sql_is_checked_here() -> None:
    found = state_changing_queries()

    assert {"reschedule_post", "cancel_post"} <= found
    assert found <= set(GUARDED), f"add {sorted(found - set(GUARDED))} to GUARDED"


ILLEGAL = [
    (name, state)
    for name, (allowed, _, _) in GUARDED.items()
    for state in STATES
    if state not in allowed
]
LEGAL = [(name, state) for name, (allowed, _, _) in GUARDED.items() for state in sorted(allowed)]


@pytest.mark.parametrize(("name", "state"), ILLEGAL, ids=[f"{n}-from-{s}" for n, s in ILLEGAL])
def test_an_illegal_move_changes_nothing(shared_conn: Conn, name: str, state: str) -> None:
    conn = shared_conn
    post_id = insert_post(conn, state)
    other = insert_post(conn, "draft")  # a bystander that no query may touch
    before = read_post(conn, post_id), read_post(conn, other)

    cursor = conn.execute(query(name), {"id": post_id, **GUARDED[name][2]()})

    assert cursor.rowcount == 0
    assert (read_post(conn, post_id), read_post(conn, other)) == before


@pytest.mark.parametrize(("name", "state"), LEGAL, ids=[f"{n}-from-{s}" for n, s in LEGAL])
def test_a_legal_move_changes_exactly_that_post(shared_conn: Conn, name: str, state: str) -> None:
    conn = shared_conn
    post_id = insert_post(conn, state)
    other = insert_post(conn, state)
    bystander = read_post(conn, other)

    cursor = conn.execute(query(name), {"id": post_id, **GUARDED[name][2]()})

    assert cursor.rowcount == 1
    assert read_post(conn, post_id)["status"] == GUARDED[name][1]
    assert read_post(conn, other) == bystander


def test_reschedule_starts_a_fresh_set_of_attempts(conn: Conn) -> None:
    post_id = insert_post(conn, "failed")

    conn.execute(
        query("reschedule_post"),
        {**guard(Move.RESCHEDULE), "id": post_id, "scheduled_for": FUTURE},
    )

    post = read_post(conn, post_id)
    assert post["status"] == "scheduled"
    assert post["scheduled_for"] == FUTURE
    assert post["attempt_count"] == 0
    assert post["next_attempt_at"] is None
    assert post["failure_reason"] is None


def test_a_cancelled_post_is_never_due(conn: Conn) -> None:
    post_id = insert_post(conn, "scheduled", scheduled_for=dt.datetime.now(dt.UTC))

    conn.execute(query("cancel_post"), {**guard(Move.CANCEL), "id": post_id})

    post = read_post(conn, post_id)
    assert post["status"] == "cancelled"
    assert post["next_attempt_at"] is None
    assert conn.execute(query("next_due"), {"limit": 10}).fetchall() == []


# --- studio-publish cancel ------------------------------------------------------------------


@pytest.mark.parametrize("state", ["draft", "scheduled"])
def test_cancel_a_draft_or_scheduled_post(cli: Cli, conn: Conn, state: str) -> None:
    post_id = insert_post(conn, state)

    result = cli("cancel", str(post_id))

    assert result.exit_code == 0, result.stderr
    assert str(post_id) in result.stdout
    assert read_post(conn, post_id)["status"] == "cancelled"


def test_cancel_json_prints_one_document(cli: Cli, conn: Conn) -> None:
    post_id = insert_post(conn, "scheduled")

    result = cli("cancel", str(post_id), "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json() == {"id": str(post_id), "status": "cancelled"}


REFUSAL_REASONS = {
    "publishing": "being published",
    "posted": "already live",
    "failed": "failed",
    "needs_review": "review",
    "cancelled": "already cancelled",
}


@pytest.mark.parametrize("state", sorted(REFUSAL_REASONS))
def test_cancel_refuses_every_other_state_with_the_reason(cli: Cli, conn: Conn, state: str) -> None:
    post_id = insert_post(conn, state)
    before = read_post(conn, post_id)

    result = cli("cancel", str(post_id))
    as_json = cli("cancel", str(post_id), "--json")

    for refused in (result, as_json):
        assert refused.exit_code == 1
        refused.assert_error_stdout()
        assert str(post_id) in refused.stderr
        assert REFUSAL_REASONS[state] in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert read_post(conn, post_id) == before


def test_cancel_an_unknown_post(cli: Cli, conn: Conn) -> None:
    missing = cli("cancel", str(uuid.uuid4()))
    malformed = cli("cancel", "not-a-post-id")

    assert missing.exit_code == 2
    assert "POST_ID" in missing.stderr
    assert malformed.exit_code == 2
    assert "POST_ID" in malformed.stderr


def test_cancel_is_refused_for_a_post_fetched_before_the_migration(cli: Cli, conn: Conn) -> None:
    post_id = insert_post(conn, "posted", origin="fetched")
    before = read_post(conn, post_id)

    result = cli("cancel", str(post_id))

    assert result.exit_code == 1
    assert read_post(conn, post_id) == before
