"""Accounts in order, and fairly (STUDIO_PUBLISH_ACCOUNT_CONCURRENCY).

The claim statement, not the process, keeps both guarantees: at most that many posts of an
account in flight across every run, each account's posts in scheduled_for order, and the
accounts interleaved so that one account's backlog never holds up another's post.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.engine import (
    Conn,
    add_account,
    add_post,
    claim_as_a_run,
    engine_settings,
    statuses,
    target,
)
from support.fakes import FakePlatform

from studio_publish import operations
from studio_publish.domain import Published
from studio_publish.platforms.base import PublishContext
from studio_publish.states import Move, guard
from studio_publish.store.engine_store import claim_accounts
from studio_publish.store.queries import query


class CountingPlatform(FakePlatform):
    """A fake platform that remembers the most posts of one account it saw at once."""

    def __init__(self, name: str, ledger: Path, delay: float) -> None:
        super().__init__(name, ledger, delay=delay)
        self.lock = threading.Lock()  # overlapping runs are threads of this process
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    async def publish(self, ctx: PublishContext) -> Published:
        account = ctx.account.id
        with self.lock:
            self.now[account] += 1
            self.most[account] = max(self.most[account], self.now[account])
        try:
            return await super().publish(ctx)
        finally:
            with self.lock:
                self.now[account] -= 1


@pytest.fixture
def fake(tmp_path: Path) -> CountingPlatform:
    return CountingPlatform("instagram", tmp_path / "ledger", delay=0.05)


def add_due(conn: Conn, account: str, minutes_ago: list[int]) -> list[str]:
    """Posts overdue by these many minutes, inserted in the order given (not their order)."""
    return [
        add_post(conn, account, due=f"-{minutes} minutes", caption=f"{minutes} minutes ago")
        for minutes in minutes_ago
    ]


def run(db_url: str, fake: FakePlatform, **settings: Any) -> operations.RunSummary:
    return operations.run_due(
        engine_settings(**settings), target(db_url), platforms={fake.name: fake}
    )


def test_an_accounts_overdue_posts_go_live_in_their_order(
    db_url: str, conn: Conn, fake: CountingPlatform
) -> None:
    account = add_account(conn)
    # Due at 9:00 ... 9:04, cron down since: inserted out of order on purpose.
    by_time = add_due(conn, account, [5, 4, 3, 2, 1])
    add_due(conn, add_account(conn), [3])  # another account, interleaved meanwhile

    run(db_url, fake, concurrency=16)

    assert [p for p in fake.live() if p in by_time] == by_time
    assert fake.most[account] == 1


def test_the_order_holds_for_posts_inserted_out_of_order(
    db_url: str, conn: Conn, fake: CountingPlatform
) -> None:
    account = add_account(conn)
    ids = add_due(conn, account, [2, 9, 5, 7])
    expected = [ids[1], ids[3], ids[2], ids[0]]  # 9, 7, 5, 2 minutes ago

    run(db_url, fake, concurrency=8)

    assert fake.live() == expected


def test_one_accounts_backlog_does_not_hold_up_anothers_post(
    db_url: str, conn: Conn, fake: CountingPlatform
) -> None:
    busy, quiet = add_account(conn), add_account(conn)
    add_due(conn, busy, [60 - i // 10 for i in range(40)])  # 40 posts, all earlier
    (single,) = add_due(conn, quiet, [1])

    run(db_url, fake, concurrency=4, account_concurrency=4)

    live = fake.live()
    assert len(live) == 41
    # The first claim round takes every account's first posts: the quiet account's post
    # is among the first four sent, not after the busy account's 40.
    assert live.index(single) < 4
    assert fake.most[busy] == 4


def test_among_posts_due_at_once_the_longest_backlog_starts_first(
    db_url: str, conn: Conn, fake: CountingPlatform
) -> None:
    # A 9:00 batch: every post due at the same moment. With one slot, an account whose
    # posts must go one after another (in order) and that starts last finishes alone, slots
    # idle: the account with the most posts due is claimed first (the makespan is shortest).
    # The long account sorts last by id, the tie-break that came before.
    long = max(add_account(conn), add_account(conn))
    conn.execute(
        "INSERT INTO studio_social_posts (social_account_id, workspace_id, platform, post_type,"
        " caption, media, status, scheduled_for)"
        " SELECT a.id, a.workspace_id, 'instagram', 'image', 'batch ' || a.id || g,"
        ' \'[{"url": "https://cdn.example/a.jpg", "kind": "image"}]\','
        " 'scheduled', date_trunc('minute', now()) - interval '1 minute'"
        " FROM studio_social_accounts a,"
        " generate_series(1, CASE WHEN a.id = %s THEN 3 ELSE 1 END) g",
        [long],
    )
    rows = conn.execute(
        "SELECT id::text, social_account_id::text AS account FROM studio_social_posts"
    ).fetchall()
    owner = {r["id"]: r["account"] for r in rows}

    run(db_url, fake, concurrency=1)

    assert owner[fake.live()[0]] == long and len(fake.live()) == 4


def test_account_concurrency_bounds_what_is_in_flight(
    db_url: str, conn: Conn, fake: CountingPlatform
) -> None:
    account = add_account(conn)
    add_due(conn, account, list(range(12, 0, -1)))

    run(db_url, fake, concurrency=16, account_concurrency=3)

    assert len(fake.live()) == 12
    assert fake.most[account] == 3


def test_overlapping_runs_keep_one_post_per_account_in_flight_and_the_order(
    db_url: str, conn: Conn, fake: CountingPlatform
) -> None:
    accounts = [add_account(conn) for _ in range(3)]
    expected = {a: add_due(conn, a, [10, 8, 6, 4, 2]) for a in accounts}
    fake.delay = 0.1
    runs = [
        threading.Thread(target=run, args=(db_url, fake), kwargs={"concurrency": 8})
        for _ in range(3)
    ]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()

    live = fake.live()
    assert statuses(conn) == {"posted": 15}
    assert sorted(live) == sorted(p for ids in expected.values() for p in ids)  # each once
    for account, ids in expected.items():
        assert [p for p in live if p in ids] == ids
        assert fake.most[account] == 1


def claim_params(**extra: Any) -> dict[str, Any]:
    return {
        **guard(Move.CLAIM),
        "limit": 10,
        "worker": "test",
        "lease_seconds": 60,
        "run_id": None,
        "only_ids": None,
        "account_concurrency": 1,
        **extra,
    }


def claim(conn: Conn, **extra: Any) -> list[str]:
    """Both statements of a claim, in one transaction, as EngineStore.claim_due runs them."""
    with conn.transaction():
        params = claim_params(**extra)
        params.update(claim_accounts(conn.execute(query("lock_due_accounts"), params).fetchall()))
        return [str(r["id"]) for r in conn.execute(query("claim_due_posts"), params)]


def test_a_claim_skips_the_accounts_another_claim_holds(db_url: str, conn: Conn) -> None:
    import psycopg
    from psycopg.rows import dict_row

    account = add_account(conn)
    first, second = add_due(conn, account, [2, 1])
    with psycopg.connect(db_url, row_factory=dict_row) as other:
        # Another run is in the middle of its claim: it holds the account's lock.
        other.execute(query("lock_due_accounts"), claim_params())
        assert claim(conn) == []  # skipped, not waited for
        params = claim_params(accounts=[account], orphans=False, orphan_ids=[])
        taken = [str(r["id"]) for r in other.execute(query("claim_due_posts"), params)]
        other.commit()
    assert taken == [first]
    # The first is in flight now: the account has no room until it is settled.
    assert claim(conn) == []
    conn.execute(
        "UPDATE studio_social_posts SET status = 'posted', claim_token = NULL, "
        "claimed_by = NULL, lease_expires_at = NULL WHERE id = %s",
        [first],
    )
    assert claim(conn) == [second]


def test_a_claim_that_meets_another_claim_asks_again_instead_of_finding_nothing(
    db_url: str, conn: Conn
) -> None:
    """Runs starting together collide on the same accounts: the one that met the other's
    account locks took "nothing due" for an answer and ended, leaving the other all the
    work. It asks again once those locks are gone (they last a claim transaction)."""
    import asyncio

    import psycopg
    from psycopg.rows import dict_row

    account = add_account(conn)
    (post_id,) = add_due(conn, account, [1])

    async def claim_while_another_holds_the_account() -> list[str]:
        other = await psycopg.AsyncConnection.connect(db_url, row_factory=dict_row)
        try:
            # Another run in the middle of its claim, holding the account (and, for this
            # test, giving up without claiming, 50 ms later).
            await other.execute(query("lock_due_accounts"), claim_params())
            asyncio.get_running_loop().call_later(
                0.05, lambda: asyncio.ensure_future(other.rollback())
            )
            return [c.post_id for c in await claim_as_a_run(db_url, 10)]
        finally:
            await other.close()

    assert asyncio.run(claim_while_another_holds_the_account()) == [post_id]
    assert statuses(conn) == {"publishing": 1}


def test_a_claim_that_locked_accounts_another_claim_just_took_asks_again(
    db_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run's claim commits while this one's first statement runs: the accounts it
    took looked free in that statement's snapshot and were locked here, and the second
    statement found no room in them. Two runs order accounts alike, so they meet on the
    same ones: the one that took "nothing" for an answer ended with posts left that it
    could have taken. It asks again, and a new snapshot sees the other claim."""
    import asyncio

    from studio_publish.store import engine_store

    taken = add_account(conn)
    (in_flight,) = add_due(conn, taken, [3])
    add_due(conn, taken, [2])
    free = add_account(conn)
    (waiting,) = add_due(conn, free, [1])
    # The other run's claim of the first account (the longest waiting), committed.
    assert claim(conn, limit=1) == [in_flight]
    # This claim's first statement as its snapshot saw it: the first account still free.
    stale = iter([f"SELECT '{taken}'::uuid AS account_id, false AS orphan"])
    real = engine_store.query
    monkeypatch.setattr(
        engine_store,
        "query",
        lambda name: next(stale, real(name)) if name == "lock_due_accounts" else real(name),
    )

    assert [c.post_id for c in asyncio.run(claim_as_a_run(db_url, 10))] == [waiting]
    assert statuses(conn) == {"publishing": 2, "scheduled": 1}
