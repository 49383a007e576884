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

from studio_publish.domain import Published
from studio_publish.engine import outcomes
from studio_publish.states import MOVES, FailureReason, Move, Outcome, Transition, guard
from studio_publish.store.batch import as_params
from studio_publish.store.engine_store import finish_params
from studio_publish.store.queries import parse_queries, query

__all__ = ["shared_conn"]  # the module-scoped database fixture, shared with test_transitions

NOW = dt.datetime.now(dt.UTC)
Params = Callable[[uuid.UUID, Any], dict[str, Any]]


def finishing(transition: Transition) -> Params:
    return lambda post_id, claim: finish_params(post_id, claim, transition)


# label: (states it may move a post out of (the spec's state machine), the state it leads
#         to, its parameters, what a post needs to qualify beyond its state (e.g. being due)).
# A label is the query's name, or "query:case" for a query that goes to several states.
GUARDED: dict[str, tuple[frozenset[str], str, Params, dict[str, Any]]] = {
    "claim_post_now": (
        frozenset({"scheduled", "draft", "failed"}),
        "publishing",
        lambda post_id, _: {
            **guard(Move.PUBLISH_NOW),
            "id": post_id,
            "worker": "t",
            "lease_seconds": 60,
            "run_id": None,
        },
        {},
    ),
    "claim_due_posts": (
        frozenset({"scheduled"}),
        "publishing",
        lambda post_id, _: {
            **guard(Move.CLAIM),
            "only_ids": [post_id],
            "limit": 5,
            "worker": "t",
            "lease_seconds": 60,
            "run_id": None,
            "account_concurrency": 5,
            "accounts": None,  # run() names the post's account, as lock_due_accounts would
            "orphans": False,
            "orphan_ids": [],
        },
        {"scheduled_for": NOW - dt.timedelta(minutes=1), "next_attempt_at": None},
    ),
    "release_claims": (
        frozenset({"publishing"}),
        "scheduled",
        lambda _, claim: {**guard(Move.RELEASE), "claims": [claim]},
        {},
    ),
    "mark_missed": (
        frozenset({"scheduled"}),
        "failed",
        lambda post_id, _: {**guard(Move.MISS), "only_ids": [post_id], "max_lateness": 3600},
        {"scheduled_for": NOW - dt.timedelta(days=2), "next_attempt_at": None},
    ),
    "finish_attempt:posted": (
        frozenset({"publishing"}),
        "posted",
        # a platform post id of its own: each is unique across posts
        lambda post_id, claim: finish_params(
            post_id, claim, outcomes.posted(Published(f"p-{post_id}"))
        ),
        {},
    ),
    "finish_attempt:retry": (
        frozenset({"publishing"}),
        "scheduled",
        finishing(Transition(Outcome.RETRY, "x", delay_seconds=60)),
        {},
    ),
    "finish_attempt:failed": (
        frozenset({"publishing"}),
        "failed",
        finishing(outcomes.failed(FailureReason.PLATFORM, "x")),
        {},
    ),
    "finish_attempt:needs_review": (
        frozenset({"publishing"}),
        "needs_review",
        finishing(outcomes.needs_review(FailureReason.UNKNOWN_OUTCOME, "x")),
        {},
    ),
    "retry_failed_posts": (
        frozenset({"failed"}),
        "scheduled",
        lambda post_id, _: {
            **guard(Move.RETRY_FAILED),
            "ids": [post_id],
            "platform": None,
            "account": None,
            "since": None,
        },
        {},
    ),
    "confirm_not_live": (
        frozenset({"needs_review"}),
        "scheduled",
        lambda post_id, _: {**guard(Move.CONFIRM_NOT_LIVE), "ids": [post_id]},
        {},
    ),
    "confirm_live": (
        frozenset({"needs_review"}),
        "posted",
        lambda post_id, _: {
            **guard(Move.CONFIRM_LIVE),
            "id": post_id,
            "platform_post_id": None,
            "permalink": None,
        },
        {},
    ),
}
# The move (studio_publish/states.py) whose guard each query is given.
MOVE_OF = {
    "claim_post_now": Move.PUBLISH_NOW,
    "claim_due_posts": Move.CLAIM,
    "release_claims": Move.RELEASE,
    "mark_missed": Move.MISS,
    "finish_attempt:posted": Move.POST,
    "finish_attempt:retry": Move.RETRY_LATER,
    "finish_attempt:failed": Move.FAIL,
    "finish_attempt:needs_review": Move.FAIL,
    "retry_failed_posts": Move.RETRY_FAILED,
    "confirm_not_live": Move.CONFIRM_NOT_LIVE,
    "confirm_live": Move.CONFIRM_LIVE,
}


def query_name(label: str) -> str:
    return label.split(":")[0]


def test_the_transition_table_agrees_with_the_spec_for_engine_sql() -> None:
    for label, (allowed, target, _, _) in GUARDED.items():
        rule = MOVES[MOVE_OF[label]]
        assert {str(s) for s in rule.sources} == set(allowed), label
        assert target in {str(s) for s in rule.targets}, label


def test_every_move_is_checked_against_its_query() -> None:
    # REPUBLISH makes a new post (copy_post_for_republish inserts); posts.sql holds the rest.
    checked = set(MOVE_OF.values()) | {Move.RESCHEDULE, Move.CANCEL, Move.REPUBLISH}
    assert checked == set(Move)


def state_changing_queries() -> set[str]:
    text = (resources.files("studio_publish") / "store" / "sql" / "engine.sql").read_text("utf-8")
    found = set()
    for name, sql in parse_queries(text, "engine.sql").items():
        code = "\n".join(line.split("--")[0] for line in sql.splitlines())
        if re.search(r"UPDATE\s+studio_social_posts\b[^;]*?\bSET\s+status\s*=", code, re.I | re.S):
            found.add(name)
    return found


def test_every_state_changing_query_in_engine_sql_is_checked_here() -> None:
    found = state_changing_queries()
    assert {"claim_due_posts", "finish_attempt", "confirm_live"} <= found
    labelled = {query_name(label) for label in GUARDED}
    assert found <= labelled, f"add {sorted(found - labelled)} to GUARDED"


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
    params = GUARDED[name][2](post_id, claim)
    if "accounts" in params:  # the accounts a claim has locked: this post's
        row = conn.execute(
            "SELECT social_account_id FROM studio_social_posts WHERE id = %s", [post_id]
        ).fetchone()
        params["accounts"] = [row["social_account_id"]] if row else []
    return conn.execute(query(query_name(name)), params).rowcount


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
    "name",
    [
        *(label for label in GUARDED if label.startswith("finish_")),
        "save_platform_ids",
        "release_claims",
    ],
)
def test_a_write_with_another_claim_token_changes_nothing(shared_conn: Conn, name: str) -> None:
    post_id = make_post(shared_conn, "publishing", "finish_attempt:posted")
    before = read_post(shared_conn, post_id)
    params: dict[str, Any] = (
        as_params([{"id": post_id, "claim": uuid.uuid4(), "doc": {}}], {"lease_seconds": 60})
        if name == "save_platform_ids"
        else GUARDED[name][2](post_id, uuid.uuid4())
    )

    assert shared_conn.execute(query(query_name(name)), params).rowcount == 0
    assert read_post(shared_conn, post_id) == before
