"""Writes of the posts in flight go together (store/batch.py), and run-due claims ahead of
its free slots (engine/run.py): each post still hears its own answer, a fault in one post's
row reaches that post alone, and a claim taken ahead and never started is given back as if
it had not been taken."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.engine import (
    Conn,
    add_account,
    add_post,
    attempts,
    claim_as_a_run,
    engine_settings,
    post,
    target,
)
from support.fakes import FakePlatform

from studio_publish import operations
from studio_publish.domain import Published
from studio_publish.engine import outcomes
from studio_publish.store import batch
from studio_publish.store.engine_store import EngineStore, LeaseLost
from studio_publish.store.pool import ConnectionPool


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many statements each batched query sent, and how many rows they carried."""
    counts: Counter[str] = Counter()
    execute = batch.Batcher._execute

    async def counting(self: batch.Batcher, rows: list[batch.PostRow]) -> set[str]:
        counts[self._name] += 1
        counts[f"{self._name} rows"] += len(rows)
        return await execute(self, rows)

    monkeypatch.setattr(batch.Batcher, "_execute", counting)
    return counts


def claim_all(conn: Conn, db_url: str, count: int) -> tuple[list[str], list[Any]]:
    """``count`` posts of as many accounts, claimed as a run claims them."""
    ids = [add_post(conn, add_account(conn), caption=f"post {n}") for n in range(count)]

    return ids, asyncio.run(claim_as_a_run(db_url, count))


async def with_store(db_url: str, work: Any) -> Any:
    pool = ConnectionPool(target(db_url), size=4)
    await pool.open()
    try:
        return await work(EngineStore(pool, lease_seconds=60, worker="t"))
    finally:
        await pool.close()


def test_posts_saving_at_once_share_statements_and_each_keeps_its_own_ids(
    db_url: str, conn: Conn, statements: Counter[str]
) -> None:
    ids, claims = claim_all(conn, db_url, 20)

    async def work(store: EngineStore) -> None:
        await asyncio.gather(*(store.save_ids(c, {"container": f"c-{c.post_id}"}) for c in claims))
        await asyncio.gather(
            *(store.finish(c, outcomes.posted(Published(f"m-{c.post_id}"))) for c in claims)
        )

    asyncio.run(with_store(db_url, work))

    for post_id in ids:
        row = post(conn, post_id)
        assert row["status"] == "posted" and row["platform_post_id"] == f"m-{post_id}"
        assert row["platform_state"] == {"container": f"c-{post_id}"}
        (attempt,) = attempts(conn, post_id)
        assert attempt["outcome"] == "posted"
        assert attempt["platform_ids"] == {
            "container": f"c-{post_id}",
            "platform_post_id": f"m-{post_id}",
        }
    assert statements["save_platform_ids rows"] == statements["finish_attempt rows"] == 20
    # The first write of each kind goes alone, at once; the 19 queued meanwhile go together.
    assert statements["save_platform_ids"] <= 3 and statements["finish_attempt"] <= 3


def test_a_write_arriving_as_every_statement_ends_is_still_sent(
    db_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement in flight ends in the same turn of the loop, and a post woken by the
    first of them writes again at once: a sender must take that write (a sender's task is
    told ended a step after it ended, and counting tasks left the write with no sender)."""
    _, claims = claim_all(conn, db_url, batch.SENDERS)
    first = claims[0].post_id
    first_answered, gate = asyncio.Event(), asyncio.Event()
    started: list[int] = []  # rows of each statement, as it starts
    answered = 0
    execute = batch.Batcher._execute

    async def held(self: batch.Batcher, rows: list[batch.PostRow]) -> set[str]:
        """Each statement runs; then all of them end in one turn of the loop, the first
        post's sender first (so that post wakes before any sender's end is told)."""
        nonlocal answered
        started.append(len(rows))
        changed = await execute(self, rows)
        if any(str(row["id"]) == first for row in rows):
            first_answered.set()
        else:
            await first_answered.wait()
        answered += 1
        if answered < batch.SENDERS:
            await gate.wait()
        else:
            gate.set()
            await asyncio.sleep(0)  # the others go first
        return changed

    monkeypatch.setattr(batch.Batcher, "_execute", held)

    async def work(store: EngineStore) -> None:
        async def first_writes_twice() -> None:
            await store.save_ids(claims[0], {"container": "c-1"})
            await store.save_ids(claims[0], {"media": "m-1"})

        async def each_on_a_sender_of_its_own() -> None:
            writes = []
            for n, claim in enumerate(claims[1:], start=1):
                while len(started) < n:  # the statements before this one are under way
                    await asyncio.sleep(0)
                writes.append(asyncio.create_task(store.save_ids(claim, {"container": "c"})))
            await asyncio.gather(*writes)

        async with asyncio.timeout(20):
            await asyncio.gather(first_writes_twice(), each_on_a_sender_of_its_own())

    asyncio.run(with_store(db_url, work))

    assert started == [1] * (batch.SENDERS + 1)  # each alone, the late one too
    assert post(conn, claims[0].post_id)["platform_state"] == {"container": "c-1", "media": "m-1"}


def test_a_lost_claim_in_a_batch_is_that_posts_alone(db_url: str, conn: Conn) -> None:
    ids, claims = claim_all(conn, db_url, 6)
    taken_over = claims[2]
    conn.execute(
        "UPDATE studio_social_posts SET claim_token = gen_random_uuid() WHERE id = %s",
        [taken_over.post_id],
    )

    async def work(store: EngineStore) -> list[Any]:
        return await asyncio.gather(
            *(store.save_ids(c, {"x": "1"}) for c in claims), return_exceptions=True
        )

    results = asyncio.run(with_store(db_url, work))

    assert [type(r) for r in results] == [type(None)] * 2 + [LeaseLost] + [type(None)] * 3
    assert post(conn, taken_over.post_id)["platform_state"] == {}
    assert all(
        post(conn, i)["platform_state"] == {"x": "1"} for i in ids if i != taken_over.post_id
    )


def test_a_row_the_database_refuses_fails_its_own_post_and_no_other(
    db_url: str, conn: Conn, statements: Counter[str]
) -> None:
    ids, claims = claim_all(conn, db_url, 5)
    # Another post already holds platform post "dup": recording it again is refused (a
    # unique index), and the engine sends that post to review (attempt.record).
    holder = add_post(conn, add_account(conn), status="posted")
    conn.execute("UPDATE studio_social_posts SET platform_post_id = 'dup' WHERE id = %s", [holder])

    async def work(store: EngineStore) -> list[Any]:
        return await asyncio.gather(
            *(
                store.finish(c, outcomes.posted(Published("dup" if n == 3 else f"m-{n}")))
                for n, c in enumerate(claims)
            ),
            return_exceptions=True,
        )

    results = asyncio.run(with_store(db_url, work))

    assert isinstance(results[3], psycopg.errors.UniqueViolation)
    assert [r for n, r in enumerate(results) if n != 3] == [True] * 4
    assert [post(conn, i)["status"] for i in ids] == ["posted"] * 3 + ["publishing", "posted"]


def test_a_message_postgresql_cannot_store_fails_its_own_write_only(
    db_url: str, conn: Conn
) -> None:
    ids, claims = claim_all(conn, db_url, 3)

    async def work(store: EngineStore) -> list[Any]:
        return await asyncio.gather(
            *(
                store.finish(c, outcomes.failed(outcomes.FailureReason.PLATFORM, text))
                for c, text in zip(claims, ["fine", "a NUL \x00 here", "fine too"], strict=True)
            ),
            return_exceptions=True,
        )

    results = asyncio.run(with_store(db_url, work))

    assert results[0] is True and results[2] is True
    assert isinstance(results[1], psycopg.Error)
    assert [post(conn, i)["status"] for i in ids] == ["failed", "publishing", "failed"]


# --- claims taken ahead --------------------------------------------------------------------


class SlowPlatform(FakePlatform):
    """Each publish takes ``delay`` seconds: the run's budget ends with posts in flight."""


def test_claims_taken_ahead_and_never_started_are_given_back_unsent(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    ids = [add_post(conn, add_account(conn), caption=f"post {n}") for n in range(10)]
    fake = SlowPlatform("instagram", tmp_path / "ledger", delay=1.5)

    summary = operations.run_due(
        engine_settings(concurrency=4, run_budget_seconds=0.5),
        target(db_url),
        platforms={"instagram": fake},
    )

    # Four started (one a slot) and went live; two more were claimed ahead of a slot
    # (concurrency // 2), never started, and are scheduled again as if never claimed.
    live = set(fake.live())
    assert len(live) == 4 and summary.claimed == 4 and summary.as_dict()["posted"] == 4
    for post_id in ids:
        row = post(conn, post_id)
        if post_id in live:
            assert row["status"] == "posted" and row["attempt_count"] == 1
        else:
            assert row["status"] == "scheduled" and row["attempt_count"] == 0
            assert row["claim_token"] is None and row["lease_expires_at"] is None
            assert attempts(conn, post_id) == []
    # The next run publishes the rest, each once.
    operations.run_due(
        engine_settings(concurrency=8),
        target(db_url),
        platforms={"instagram": FakePlatform("instagram", tmp_path / "ledger")},
    )
    assert sorted(fake.live()) == sorted(ids)


def test_a_run_claims_ahead_in_rounds_not_one_claim_a_post(
    db_url: str, conn: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds: list[int] = []
    claim_due = EngineStore.claim_due

    async def counting(self: EngineStore, limit: int, run_id: int, only: Any) -> Any:
        claims = await claim_due(self, limit, run_id, only)
        rounds.append(len(claims))
        return claims

    monkeypatch.setattr(EngineStore, "claim_due", counting)
    for n in range(40):
        add_post(conn, add_account(conn), caption=f"post {n}")

    operations.run_due(
        engine_settings(concurrency=8),
        target(db_url),
        platforms={"instagram": FakePlatform("instagram", tmp_path / "ledger", delay=0.05)},
    )

    # 8 in flight and 4 ready after the first round; a round when half the ready are gone.
    assert sum(rounds) == 40
    assert len(rounds) <= 40 // 2 + 2, rounds  # not one a post, as before
    # Once a round finds less than it asked, a post's end brings no new round unless its
    # account has more due: the last posts' ends each brought one, finding nothing.
    assert rounds.count(0) <= 1, rounds
