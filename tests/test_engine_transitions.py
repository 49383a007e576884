"""The engine's state changes (sql/engine.sql) are guarded too: from any state but the one
they name, or with a claim token that is not the post's, they change zero rows."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from test_transitions import STATES, Conn, insert_post, read_post, shared_conn

from studio_publish.queries import parse_queries, query

__all__ = ["shared_conn"]  # the module-scoped database fixture, shared with test_transitions

NOW = dt.datetime.now(dt.UTC)
Params = Callable[[uuid.UUID, Any], dict[str, Any]]


def claim_fenced(extra: dict[str, Any]) -> Params:
    return lambda post_id, claim: {"id": post_id, "claim": claim, **extra}


# name: (states it may move a post out of, the state it leads to, its parameters,
#        what a post needs to qualify beyond its state (e.g. being due))
GUARDED: dict[str, tuple[frozenset[str], str, Params, dict[str, Any]]] = {
    "claim_post_now": (
        frozenset({"scheduled", "draft", "failed"}),
        "publishing",
        lambda post_id, _: {"id": post_id, "worker": "t", "lease_seconds": 60, "run_id": None},
        {},
    ),
    "claim_due_posts": (
        frozenset({"scheduled"}),
        "publishing",
        lambda post_id, _: {
            "only_ids": [post_id],
            "limit": 5,
            "worker": "t",
            "lease_seconds": 60,
            "run_id": None,
        },
        {"scheduled_for": NOW - dt.timedelta(minutes=1), "next_attempt_at": None},
    ),
    "mark_missed": (
        frozenset({"scheduled"}),
        "failed",
        lambda post_id, _: {"only_ids": [post_id], "max_lateness": 3600},
        {"scheduled_for": NOW - dt.timedelta(days=2), "next_attempt_at": None},
    ),
    "finish_posted": (
        frozenset({"publishing"}),
        "posted",
        claim_fenced({"platform_post_id": None, "permalink": None, "note": None, "ids": "{}"}),
        {},
    ),
    "finish_scheduled": (
        frozenset({"publishing"}),
        "scheduled",
        claim_fenced(
            {
                "delay_seconds": 60,
                "give_back_attempt": False,
                "outcome": "retry",
                "error": "x",
                "error_class": None,
                "http_status": None,
            }
        ),
        {},
    ),
    "finish_failed": (
        frozenset({"publishing"}),
        "failed",
        claim_fenced(
            {
                "status": "failed",
                "reason": "platform",
                "error": "x",
                "error_class": None,
                "http_status": None,
            }
        ),
        {},
    ),
    "retry_failed_posts": (
        frozenset({"failed"}),
        "scheduled",
        lambda post_id, _: {"ids": [post_id], "platform": None, "account": None, "since": None},
        {},
    ),
    "confirm_not_live": (
        frozenset({"needs_review"}),
        "scheduled",
        lambda post_id, _: {"ids": [post_id]},
        {},
    ),
    "confirm_live": (
        frozenset({"needs_review"}),
        "posted",
        lambda post_id, _: {"id": post_id, "platform_post_id": None, "permalink": None},
        {},
    ),
}


def state_changing_queries() -> set[str]:
    text = (resources.files("studio_publish") / "sql" / "engine.sql").read_text("utf-8")
    found = set()
    for name, sql in parse_queries(text, "engine.sql").items():
        code = "\n".join(line.split("--")[0] for line in sql.splitlines())
        if re.search(r"UPDATE\s+studio_social_posts\b[^;]*?\bSET\s+status\s*=", code, re.I | re.S):
            found.add(name)
    return found


def test_every_state_changing_query_in_engine_sql_is_checked_here() -> None:
    found = state_changing_queries()
    assert {"claim_due_posts", "finish_posted", "confirm_live"} <= found
    assert found <= set(GUARDED), f"add {sorted(found - set(GUARDED))} to GUARDED"


def make_post(conn: Conn, state: str, name: str) -> uuid.UUID:
    account = conn.execute(
        "INSERT INTO studio_social_accounts (platform, platform_account_id, access_token) "
        "VALUES ('instagram', %s, 't') RETURNING id",
        [uuid.uuid4().hex],
    ).fetchone()
    assert account
    extra = dict(GUARDED[name][3]) if state == "scheduled" else {}
    return insert_post(conn, state, social_account_id=account["id"], **extra)


def run(conn: Conn, name: str, post_id: uuid.UUID, claim: Any) -> int:
    return conn.execute(query(name), GUARDED[name][2](post_id, claim)).rowcount


ILLEGAL = [(n, s) for n, (allowed, *_) in GUARDED.items() for s in STATES if s not in allowed]
LEGAL = [(n, s) for n, (allowed, *_) in GUARDED.items() for s in sorted(allowed)]


@pytest.mark.parametrize(("name", "state"), ILLEGAL, ids=[f"{n}-from-{s}" for n, s in ILLEGAL])
def test_an_illegal_engine_move_changes_nothing(shared_conn: Conn, name: str, state: str) -> None:
    post_id = make_post(shared_conn, state, name)
    before = read_post(shared_conn, post_id)

    changed = run(shared_conn, name, post_id, before["claim_token"] or uuid.uuid4())

    assert changed == 0
    assert read_post(shared_conn, post_id) == before


@pytest.mark.parametrize(("name", "state"), LEGAL, ids=[f"{n}-from-{s}" for n, s in LEGAL])
def test_a_legal_engine_move_changes_that_post(shared_conn: Conn, name: str, state: str) -> None:
    post_id = make_post(shared_conn, state, name)
    claim = read_post(shared_conn, post_id)["claim_token"]

    changed = run(shared_conn, name, post_id, claim)

    assert changed == 1
    assert read_post(shared_conn, post_id)["status"] == GUARDED[name][1]


@pytest.mark.parametrize(
    "name", ["finish_posted", "finish_scheduled", "finish_failed", "save_platform_ids"]
)
def test_a_write_with_another_claim_token_changes_nothing(shared_conn: Conn, name: str) -> None:
    post_id = make_post(shared_conn, "publishing", "finish_posted")
    before = read_post(shared_conn, post_id)
    params: dict[str, Any] = (
        {"id": post_id, "claim": uuid.uuid4(), "ids": "{}", "lease_seconds": 60}
        if name == "save_platform_ids"
        else GUARDED[name][2](post_id, uuid.uuid4())
    )

    assert shared_conn.execute(query(name), params).rowcount == 0
    assert read_post(shared_conn, post_id) == before
