"""The engine against a real PostgreSQL and a fake platform: every outcome class."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from support.engine import (
    Conn,
    add_account,
    add_post,
    add_posts,
    attempts,
    engine_settings,
    post,
    statuses,
    target,
)
from support.fakes import FakePlatform, duplicates, error

from studio_publish import operations
from studio_publish.engine.run import Engine
from studio_publish.errors import Refused
from studio_publish.platforms.base import Decision, ReconcileStatus


@pytest.fixture
def fake(tmp_path: Path) -> FakePlatform:
    return FakePlatform("instagram", tmp_path / "ledger.txt")


def run(db_url: str, fake: FakePlatform, **settings: Any) -> operations.RunSummary:
    return operations.run_due(
        engine_settings(**settings), target(db_url), platforms={fake.name: fake}
    )


def seconds_until(conn: Conn, when: dt.datetime) -> float:
    row = conn.execute("SELECT extract(epoch FROM %s - now()) AS s", [when]).fetchone()
    assert row
    return float(row["s"])


def test_due_post_is_published_once_and_recorded(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    account = add_account(conn)
    due = add_post(conn, account)
    future = add_post(conn, account, due="+1 hour")
    draft = add_post(conn, account, status="draft")

    summary = run(db_url, fake)

    assert summary.as_dict()["posted"] == 1 and summary.outcome == "ok"
    row = post(conn, due)
    assert row["status"] == "posted"
    assert row["platform_post_id"] == f"fake-{due}"
    assert row["permalink"] == f"https://fake.example/{due}"
    assert row["published_at"] is not None and row["claim_token"] is None
    assert row["platform_state"]["fake_sent"] is True
    history = attempts(conn, due)
    assert [(a["attempt_number"], a["outcome"]) for a in history] == [(1, "posted")]
    assert history[0]["finished_at"] is not None
    assert post(conn, future)["status"] == "scheduled"
    assert post(conn, draft)["status"] == "draft"
    assert fake.live() == [due]
    last_run = conn.execute("SELECT * FROM studio_publish_runs").fetchone()
    assert last_run and last_run["outcome"] == "ok" and last_run["posted"] == 1
    assert last_run["finished_at"] is not None


def test_retry_sets_backoff_within_bounds(db_url: str, conn: Conn, fake: FakePlatform) -> None:
    post_id = add_post(conn, add_account(conn))
    fake.errors = [error(Decision.RETRY, "server hiccup", http_status=500)]

    run(db_url, fake, retry_base_seconds=100)

    row = post(conn, post_id)
    assert row["status"] == "scheduled" and row["attempt_count"] == 1
    assert 0 <= seconds_until(conn, row["next_attempt_at"]) <= 100
    assert row["last_publish_error"] == "server hiccup"
    (attempt,) = attempts(conn, post_id)
    assert attempt["outcome"] == "retry" and attempt["http_status"] == 500


def test_retry_after_is_a_floor(db_url: str, conn: Conn, fake: FakePlatform) -> None:
    post_id = add_post(conn, add_account(conn))
    fake.errors = [error(Decision.RETRY, "slow down", retry_after=1800)]
    run(db_url, fake, retry_base_seconds=60, retry_max_seconds=120)
    assert seconds_until(conn, post(conn, post_id)["next_attempt_at"]) > 1790


def test_retry_until_max_attempts_then_failed_for_good(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    post_id = add_post(conn, add_account(conn))
    fake.errors = [error(Decision.RETRY, f"hiccup {i}") for i in range(3)]
    for _ in range(3):
        run(db_url, fake, max_attempts=3)
        conn.execute(
            "UPDATE studio_social_posts SET next_attempt_at = now() WHERE id = %s", [post_id]
        )
    row = post(conn, post_id)
    assert row["status"] == "failed" and row["failure_reason"] == "max_attempts"
    assert "gave up after 3 attempts: hiccup 2" in row["last_publish_error"]
    assert [a["outcome"] for a in attempts(conn, post_id)] == ["retry", "retry", "failed"]
    assert fake.live() == []


def test_wait_for_quota_does_not_use_an_attempt(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    post_id = add_post(conn, add_account(conn))
    fake.prepare_errors = [error(Decision.WAIT, "publishing quota used up", retry_after=3600)]
    run(db_url, fake)
    row = post(conn, post_id)
    assert row["status"] == "scheduled" and row["attempt_count"] == 0
    assert 3590 < seconds_until(conn, row["next_attempt_at"]) <= 3600
    assert attempts(conn, post_id)[0]["outcome"] == "wait"
    assert fake.calls["publish"] == 0


def test_failed_for_good_keeps_platform_message(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    post_id = add_post(conn, add_account(conn))
    fake.errors = [error(Decision.FAIL, "The aspect ratio is not supported.", code="36003/2207009")]
    summary = run(db_url, fake)
    row = post(conn, post_id)
    assert row["status"] == "failed" and row["failure_reason"] == "platform"
    assert row["last_publish_error"] == "The aspect ratio is not supported. [36003/2207009]"
    assert summary.outcome == "failed"


def test_unknown_outcome_needs_review(db_url: str, conn: Conn, fake: FakePlatform) -> None:
    post_id = add_post(conn, add_account(conn))
    fake.errors = [error(Decision.UNKNOWN, "media_publish timed out; container unreadable")]
    run(db_url, fake)
    row = post(conn, post_id)
    assert row["status"] == "needs_review" and row["failure_reason"] == "unknown_outcome"
    assert "timed out" in row["last_publish_error"]


def test_lost_response_is_reconciled_not_republished(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    post_id = add_post(conn, add_account(conn))
    fake.crash = "lose_response"
    run(db_url, fake)
    assert post(conn, post_id)["status"] == "posted"
    assert fake.calls["publish"] == 1 and fake.calls["reconcile"] == 1
    assert duplicates(fake.ledger) == {}


def test_reauth_holds_the_account_and_its_posts(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    account = add_account(conn)
    first = add_post(conn, account, due="-2 minutes")
    others = add_posts(conn, account, 3)
    fake.errors = [error(Decision.REAUTH, "Error validating access token [190/460]")]

    run(db_url, fake, concurrency=1)

    acct = conn.execute("SELECT * FROM studio_social_accounts WHERE id = %s", [account]).fetchone()
    assert acct and acct["state"] == "needs_reauth" and "190/460" in acct["state_reason"]
    held = post(conn, first)
    assert held["status"] == "scheduled" and held["attempt_count"] == 0
    for other in others:  # never claimed: no attempt used
        assert post(conn, other)["attempt_count"] == 0
        assert post(conn, other)["status"] == "scheduled"
    assert fake.calls["publish"] == 1

    conn.execute("UPDATE studio_social_accounts SET state = 'active' WHERE id = %s", [account])
    run(db_url, fake)
    assert statuses(conn) == {"posted": 4}


def test_refresh_token_then_retry(db_url: str, conn: Conn, tmp_path: Path) -> None:
    fake = FakePlatform("tiktok", tmp_path / "ledger", refreshable=True)
    account = add_account(
        conn, "tiktok", token="old-token-abcd", refresh_token="old-refresh", expires_in="1 day"
    )
    post_id = add_post(conn, account, platform="tiktok")
    fake.errors = [error(Decision.REFRESH_TOKEN, "access_token_invalid", http_status=401)]

    run(db_url, fake)

    assert post(conn, post_id)["status"] == "posted"
    assert fake.calls["refresh"] == 1
    assert fake.tokens_seen == ["old-token-abcd", "old-token-abcd", "refreshed-1"]
    acct = conn.execute("SELECT * FROM studio_social_accounts WHERE id = %s", [account]).fetchone()
    assert acct and acct["access_token"] == "refreshed-1" and acct["refresh_token"] == "rotated-1"


def test_expiring_token_is_refreshed_before_publishing(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    fake = FakePlatform("tiktok", tmp_path / "ledger", refreshable=True)
    account = add_account(
        conn, "tiktok", token="old-token-abcd", refresh_token="r", expires_in="1 minute"
    )
    add_post(conn, account, platform="tiktok")
    run(db_url, fake)
    assert fake.calls["refresh"] == 1 and fake.tokens_seen == ["refreshed-1", "refreshed-1"]


def test_refresh_that_fails_asks_for_reauth(db_url: str, conn: Conn, tmp_path: Path) -> None:
    fake = FakePlatform(
        "tiktok",
        tmp_path / "ledger",
        refreshable=True,
        refresh_error=error(Decision.REAUTH, "invalid_grant"),
    )
    account = add_account(conn, "tiktok", refresh_token="r", expires_in="1 day")
    post_id = add_post(conn, account, platform="tiktok")
    fake.errors = [error(Decision.REFRESH_TOKEN, "access_token_invalid")]
    run(db_url, fake)
    acct = conn.execute(
        "SELECT state FROM studio_social_accounts WHERE id = %s", [account]
    ).fetchone()
    assert acct and acct["state"] == "needs_reauth"
    assert post(conn, post_id)["attempt_count"] == 0


def test_a_refreshed_token_no_header_can_carry_is_not_kept(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    """An answer is never trusted: a new token with a line break would add headers of its own
    to every call. The stored tokens stay, and the post is tried again later."""
    fake = FakePlatform("tiktok", tmp_path / "ledger", refreshable=True)
    fake.refreshed_token = "act.{n}\r\nX-Injected: 1"
    account = add_account(
        conn, "tiktok", token="old-token-abcd", refresh_token="old-refresh", expires_in="1 minute"
    )
    post_id = add_post(conn, account, platform="tiktok")

    run(db_url, fake)

    row = post(conn, post_id)
    assert row["status"] == "scheduled" and row["next_attempt_at"] is not None
    assert "new access token that holds a space, a line break" in row["last_publish_error"]
    assert fake.calls["refresh"] == 1 and fake.calls["publish"] == 0
    acct = conn.execute("SELECT * FROM studio_social_accounts WHERE id = %s", [account]).fetchone()
    assert acct and (acct["access_token"], acct["refresh_token"]) == (
        "old-token-abcd",
        "old-refresh",
    )


def test_two_runs_refreshing_one_account_refresh_once(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    """TikTok rotates refresh tokens: the row lock makes the second run reuse the first's."""
    account = add_account(
        conn, "tiktok", token="old-token-abcd", refresh_token="r", expires_in="1 minute"
    )
    fake = FakePlatform("tiktok", tmp_path / "ledger", refreshable=True)
    original = fake.refresh_token
    entered = threading.Event()

    async def slow_refresh(acct: Any, http: Any) -> Any:
        entered.set()
        await asyncio.sleep(0.5)  # the other run arrives while this one holds the lock
        return await original(acct, http)

    fake.refresh_token = slow_refresh  # type: ignore[method-assign]
    add_posts(conn, account, 2, platform="tiktok")
    errors: list[BaseException] = []

    def one_run() -> None:
        try:
            run(db_url, fake, concurrency=1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert fake.calls["refresh"] == 1
    assert statuses(conn) == {"posted": 2}
    acct = conn.execute(
        "SELECT refresh_token FROM studio_social_accounts WHERE id = %s", [account]
    ).fetchone()
    assert acct and acct["refresh_token"] == "rotated-1"


def test_missed_post_is_not_sent_late(db_url: str, conn: Conn, fake: FakePlatform) -> None:
    post_id = add_post(conn, add_account(conn), due="-13 hours")
    summary = run(db_url, fake)
    row = post(conn, post_id)
    assert row["status"] == "failed" and row["failure_reason"] == "missed"
    assert "retry-failed" in row["last_publish_error"]
    assert fake.calls["publish"] == 0 and summary.outcome == "failed"

    operations.retry_failed(conn, ids=[post_id])
    run(db_url, fake)
    assert post(conn, post_id)["status"] == "posted"


def test_dry_run_claims_writes_and_calls_nothing(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    account = add_account(conn)
    ok = add_post(conn, account)
    late = add_post(conn, account, due="-13 hours")
    expired = add_post(conn, add_account(conn, expires_in="-1 hour"))
    before = conn.execute("SELECT * FROM studio_social_posts ORDER BY id").fetchall()

    preview = operations.preview_due(conn, engine_settings())

    would = {p["id"]: p["would"] for p in preview["due"]}
    assert would[ok] == "publish"
    assert would[late].startswith("fail as missed")
    assert "expired" in would[expired]
    assert conn.execute("SELECT * FROM studio_social_posts ORDER BY id").fetchall() == before
    assert conn.execute("SELECT count(*) AS n FROM studio_publish_runs").fetchone() == {"n": 0}
    assert fake.calls == {}


def test_budget_spent_stops_claiming(db_url: str, conn: Conn, fake: FakePlatform) -> None:
    add_posts(conn, add_account(conn), 6)
    fake.delay = 0.4
    summary = run(db_url, fake, concurrency=2, account_concurrency=2, run_budget_seconds=0.3)
    assert summary.claimed == 2  # one batch, then the budget was spent
    assert statuses(conn) == {"posted": 2, "scheduled": 4}


def test_secrets_never_reach_the_database(db_url: str, conn: Conn, fake: FakePlatform) -> None:
    post_id = add_post(conn, add_account(conn, token="tok-SUPERSECRET-99"))
    fake.errors = [error(Decision.FAIL, "bad request for access_token=tok-SUPERSECRET-99")]
    run(db_url, fake)
    dump = str(
        conn.execute(
            "SELECT p.*, t.* FROM studio_social_posts p JOIN "
            "studio_publish_attempts t ON t.post_id = p.id"
        ).fetchall()
    )
    assert "SUPERSECRET" not in dump and "[redacted]" in post(conn, post_id)["last_publish_error"]


def test_late_write_after_lease_lost_changes_nothing(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    """A run that lost its lease (another run rescued the post) cannot record an outcome."""
    post_id = add_post(conn, add_account(conn))
    stolen = threading.Event()
    original_publish = fake.publish

    async def publish_slowly(ctx: Any) -> Any:
        # While this run works, its lease is taken over by another run's rescue.
        conn.execute(
            "UPDATE studio_social_posts SET claim_token = gen_random_uuid() WHERE id = %s",
            [post_id],
        )
        stolen.set()
        return await original_publish(ctx)

    fake.publish = publish_slowly  # type: ignore[method-assign]
    summary = run(db_url, fake)
    row = post(conn, post_id)
    assert row["status"] == "publishing"  # untouched: the rescuing run owns it
    assert summary.results[0].outcome == "lease_lost"
    assert "lost its claim" in (attempts(conn, post_id)[0]["error_message"] or "")


def test_guarded_finish_refuses_a_stale_claim(db_url: str, conn: Conn) -> None:
    from studio_publish.domain import Published
    from studio_publish.engine.outcomes import posted
    from studio_publish.store.engine_store import finish_params
    from studio_publish.store.queries import query

    post_id = add_post(conn, add_account(conn))
    conn.execute(
        "UPDATE studio_social_posts SET status = 'publishing', claim_token = gen_random_uuid(), "
        "lease_expires_at = now() + interval '1 minute' WHERE id = %s",
        [post_id],
    )
    stale = "00000000-0000-0000-0000-000000000001"
    finished = conn.execute(
        query("finish_attempt"), finish_params(post_id, stale, posted(Published("x", None)))
    )
    assert finished.rowcount == 0
    assert post(conn, post_id)["status"] == "publishing"


def test_publish_command_guards(db_url: str, conn: Conn, fake: FakePlatform) -> None:
    settings = engine_settings()
    account = add_account(conn)
    post_id = add_post(conn, account, due="+3 days")

    outcome = operations.publish_post(
        settings, target(db_url), conn, post_id, platforms={"instagram": fake}
    )
    assert outcome.posted and post(conn, post_id)["status"] == "posted"

    with pytest.raises(Refused, match="already live"):
        operations.publish_post(
            settings, target(db_url), conn, post_id, platforms={"instagram": fake}
        )
    forced = operations.publish_post(
        settings, target(db_url), conn, post_id, force=True, platforms={"instagram": fake}
    )
    assert forced.posted and forced.copy_of == post_id and forced.post_id != post_id
    assert post(conn, forced.post_id)["republished_from"] is not None
    assert len(fake.live()) == 2

    busy = add_post(conn, account)
    conn.execute(
        "UPDATE studio_social_posts SET status = 'publishing', claim_token = gen_random_uuid(), "
        "lease_expires_at = now() + interval '5 minutes' WHERE id = %s",
        [busy],
    )
    with pytest.raises(Refused, match="another process"):
        operations.publish_post(settings, target(db_url), conn, busy, platforms={"instagram": fake})


def test_retry_failed_leaves_needs_review_to_a_person(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    account = add_account(conn)
    failed = add_post(conn, account)
    review = add_post(conn, account)
    conn.execute("UPDATE studio_social_posts SET status = 'failed' WHERE id = %s", [failed])
    conn.execute(
        "UPDATE studio_social_posts SET status = 'needs_review', "
        "platform_state = '{\"x\": 1}' WHERE id = %s",
        [review],
    )

    rows = operations.retry_failed(conn)
    assert [str(r["id"]) for r in rows] == [failed]
    assert post(conn, review)["status"] == "needs_review"

    with pytest.raises(Refused, match="confirm-not-live"):
        operations.retry_failed(conn, ids=[review])
    operations.retry_failed(conn, ids=[review], confirm_not_live=True)
    row = post(conn, review)
    assert row["status"] == "scheduled" and row["platform_state"] == {}


def test_retry_failed_filters(db_url: str, conn: Conn) -> None:
    ig, tt = add_account(conn), add_account(conn, "tiktok")
    a = add_post(conn, ig)
    b = add_post(conn, tt, platform="tiktok")
    conn.execute("UPDATE studio_social_posts SET status = 'failed'")
    assert [str(r["id"]) for r in operations.retry_failed(conn, platform="tiktok")] == [b]
    assert [str(r["id"]) for r in operations.retry_failed(conn, account=ig)] == [a]
    conn.execute(
        "UPDATE studio_social_posts SET status = 'failed', updated_at = now() - interval '3 days'"
    )
    assert operations.retry_failed(conn, since="1d") == []


def test_reconcile_pending_resumes_the_wait_from_the_saved_ids(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    # A post handed back while the platform was processing it: its publish resumes from the
    # saved ids (the clients look at the job again and wait on it, slot-free).
    post_id = add_post(conn, add_account(conn))
    conn.execute(
        'UPDATE studio_social_posts SET platform_state = \'{"publish_id": "p1"}\' WHERE id = %s',
        [post_id],
    )
    fake.reconcile_override = ReconcileStatus.PENDING
    run(db_url, fake)
    assert post(conn, post_id)["status"] == "posted"
    assert fake.calls["reconcile"] == fake.calls["publish"] == 1


def test_a_rescued_post_still_processing_waits_without_an_attempt(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    post_id = add_post(conn, add_account(conn))
    conn.execute(
        "UPDATE studio_social_posts SET status = 'publishing', claim_token = gen_random_uuid(), "
        "lease_expires_at = now() - interval '1 minute', attempt_count = 1, "
        'platform_state = \'{"publish_id": "p1"}\' WHERE id = %s',
        [post_id],
    )
    fake.reconcile_override = ReconcileStatus.PENDING
    run(db_url, fake, poll_interval_seconds=30)
    row = post(conn, post_id)
    # The dead run's attempt was spent waiting on the platform: it is given back.
    assert row["status"] == "scheduled" and row["attempt_count"] == 0
    assert row["platform_state"] == {"publish_id": "p1"}
    assert 25 < seconds_until(conn, row["next_attempt_at"]) <= 30  # looked at again soon
    assert fake.calls["publish"] == 0


def test_engine_without_account_fails_visibly(db_url: str, conn: Conn, fake: FakePlatform) -> None:
    account = add_account(conn)
    post_id = add_post(conn, account)
    engine = Engine(engine_settings(), target(db_url), platforms={"instagram": fake})
    conn.execute("DELETE FROM studio_social_accounts WHERE id = %s", [account])
    summary = asyncio.run(engine.run_due())
    row = post(conn, post_id)  # not left scheduled forever: it fails, with the reason
    assert row["status"] == "failed" and row["failure_reason"] == "no_account"
    assert "no longer exists" in row["last_publish_error"]
    assert fake.calls == {} and summary.outcome == "failed"
    with pytest.raises(Refused, match="no longer exists"):
        operations.publish_post(
            engine_settings(), target(db_url), conn, post_id, platforms={"instagram": fake}
        )


def test_unexpected_error_then_still_processing_waits_and_looks_again(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    """The answer was lost but the platform says it is still processing: not a review case."""
    post_id = add_post(conn, add_account(conn))
    fake.crash = "lose_response"
    fake.reconcile_override = ReconcileStatus.PENDING
    run(db_url, fake)
    row = post(conn, post_id)
    assert row["status"] == "scheduled" and row["attempt_count"] == 0
    assert attempts(conn, post_id)[0]["outcome"] == "wait"


def test_unexpected_error_that_nothing_can_explain_needs_review(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    post_id = add_post(conn, add_account(conn))
    fake.crash = "lose_response"
    fake.reconcile_override = ReconcileStatus.UNKNOWN
    run(db_url, fake)
    row = post(conn, post_id)
    assert row["status"] == "needs_review"
    assert f"confirm-live {post_id}" in row["last_publish_error"]
    assert fake.calls["publish"] == 1


def test_post_whose_account_is_of_another_platform_fails_without_sending(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    """A row the web app wrote inconsistently: never publish with the wrong account's token."""
    post_id = add_post(conn, add_account(conn, "tiktok"), platform="instagram")
    summary = run(db_url, fake)
    row = post(conn, post_id)
    assert row["status"] == "failed" and row["failure_reason"] == "account_mismatch"
    assert fake.calls["prepare"] == fake.calls["publish"] == 0
    assert summary.outcome == "failed"


def test_a_post_retried_within_the_run_is_counted_once(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    account = add_account(conn)
    posts = add_posts(conn, account, 3)
    fake.errors = [error(Decision.RETRY, "try again"), None, None, None]
    summary = run(db_url, fake, retry_base_seconds=0.001, retry_max_seconds=0.001)
    assert sorted(fake.live()) == sorted(posts)
    tries = conn.execute("SELECT count(*) AS n FROM studio_publish_attempts").fetchone()
    assert tries == {"n": 4}  # the retried post was claimed again within the run
    assert summary.as_dict()["claimed"] == 3  # four claims, three posts
    assert summary.count("retry") == 1
    row = conn.execute(
        "SELECT claimed FROM studio_publish_runs WHERE id = %s", [summary.run_id]
    ).fetchone()
    assert row == {"claimed": 3}


def test_a_runs_attempts_of_one_account_share_its_facts(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    """What a platform learns about an account (quota, creator info) is read once per
    account per run: the engine gives the run's attempts of an account one dict."""
    seen: list[tuple[str, int]] = []  # (account, how many attempts used its facts before)
    original_prepare = fake.prepare

    async def prepare(ctx: Any) -> None:
        seen.append((ctx.account.id, ctx.account_facts.get("reads", 0)))
        ctx.account_facts["reads"] = ctx.account_facts.get("reads", 0) + 1
        await original_prepare(ctx)

    fake.prepare = prepare  # type: ignore[method-assign]
    first, second = add_account(conn), add_account(conn)
    add_posts(conn, first, 3)
    add_posts(conn, second, 2)
    run(db_url, fake)
    assert sorted(n for a, n in seen if a == first) == [0, 1, 2]
    assert sorted(n for a, n in seen if a == second) == [0, 1]

    add_posts(conn, first, 1)
    seen.clear()
    run(db_url, fake)
    assert seen == [(first, 0)]  # a new run starts afresh


def test_a_run_collects_garbage_less_often_and_restores_the_threshold(
    db_url: str, conn: Conn, fake: FakePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from studio_publish.engine import run as engine_run

    seen: list[tuple[int, ...]] = []
    publish = fake.publish

    async def noting(ctx: Any) -> Any:
        seen.append(gc.get_threshold())
        return await publish(ctx)

    monkeypatch.setattr(fake, "publish", noting)
    add_post(conn, add_account(conn))
    before = gc.get_threshold()

    run(db_url, fake)

    assert seen and seen[0][0] == engine_run.RUN_GC_THRESHOLD
    assert gc.get_threshold() == before
