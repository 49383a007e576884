"""Alerts to STUDIO_PUBLISH_ALERT_WEBHOOK_URL: once per event, and never in a run's way."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support.cli import Cli
from support.engine import Conn, add_account, add_post, engine_settings, post, target
from support.fakes import FakePlatform, error

from studio_publish import operations
from studio_publish.engine.run import RunSummary
from studio_publish.platforms.base import Decision

TOKEN = "secret-access-token-1234"  # support.engine.add_account's token


@dataclass
class Webhook:
    """A local webhook that keeps what it receives; ``hang`` makes it never answer in time."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    hang: bool = False
    status: int = 204
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if hook.hang:
                hook.release.wait(10)  # far longer than the alert timeout
                return
            hook.raw.append(body)
            hook.received.append(json.loads(body))
            self.send_response(hook.status)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    try:
        yield hook
    finally:
        hook.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake(tmp_path: Path) -> FakePlatform:
    return FakePlatform("instagram", tmp_path / "ledger.txt")


def run(db_url: str, fake: FakePlatform, url: str | None, **settings: Any) -> RunSummary:
    values = {"alert_webhook_url": url, "alert_timeout_seconds": 0.5, **settings}
    return operations.run_due(
        engine_settings(**values), target(db_url), platforms={fake.name: fake}
    )


def alert_rows(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute("SELECT * FROM studio_publish_alerts ORDER BY id").fetchall()


# --- once per event -------------------------------------------------------------------------


def test_a_post_that_fails_for_good_is_alerted_once(
    db_url: str, conn: Conn, fake: FakePlatform, webhook: Webhook
) -> None:
    account = add_account(conn)
    post_id = add_post(conn, account)
    fake.errors = [error(Decision.FAIL, "(#100) caption too long")]

    first = run(db_url, fake, webhook.url)
    add_post(conn, account)  # the second run has other work: it posts this one
    second = run(db_url, fake, webhook.url)

    assert first.failed == 1 and second.count("posted") == 1
    assert len(webhook.received) == 1
    event = webhook.received[0]
    assert event == {
        "event": "post_failed",
        "key": f"post_failed:{post_id}:{first.run_id}",
        "post_id": post_id,
        "platform": "instagram",
        "account_id": account,
        "reason": "platform",
        "message": "(#100) caption too long",
        "at": event["at"],
    }
    assert event["at"] == post(conn, post_id)["updated_at"].isoformat()
    assert TOKEN not in webhook.raw[0].decode()
    [row] = alert_rows(conn)
    assert row["sent_at"] is not None and row["send_attempts"] == 1


def test_a_post_failing_again_after_retry_failed_is_a_new_event(
    db_url: str, conn: Conn, fake: FakePlatform, webhook: Webhook
) -> None:
    post_id = add_post(conn, add_account(conn))
    fake.errors = [error(Decision.FAIL, "first"), error(Decision.FAIL, "second")]

    run(db_url, fake, webhook.url)
    operations.retry_failed(conn, ids=[post_id])
    run(db_url, fake, webhook.url)

    assert [e["message"] for e in webhook.received] == ["first", "second"]


def test_needs_review_and_missed_posts_are_alerted(
    db_url: str, conn: Conn, fake: FakePlatform, webhook: Webhook
) -> None:
    account = add_account(conn)
    review = add_post(conn, account)
    missed = add_post(conn, account, due="-2 days")
    fake.errors = [error(Decision.UNKNOWN, "media_publish timed out")]

    run(db_url, fake, webhook.url)
    run(db_url, fake, webhook.url)

    events = {e["post_id"]: e for e in webhook.received}
    assert len(webhook.received) == 2
    assert events[review]["event"] == "post_needs_review"
    assert events[review]["reason"] == "unknown_outcome"
    assert events[missed]["event"] == "post_failed"
    assert events[missed]["reason"] == "missed"


def test_an_account_needing_reauthorisation_is_alerted_once(
    db_url: str, conn: Conn, fake: FakePlatform, webhook: Webhook
) -> None:
    account = add_account(conn)
    first, second = add_post(conn, account), add_post(conn, account)
    fake.errors = [
        error(Decision.REAUTH, f"Error validating access token {TOKEN} [190/460]"),
        error(Decision.REAUTH, "Error validating access token [190/460]"),
    ]

    # Both posts in flight at once, so both meet the dead token.
    summary = run(db_url, fake, webhook.url, account_concurrency=2)
    run(db_url, fake, webhook.url, account_concurrency=2)

    assert summary.count("reauth") == 2 and summary.failed == 0
    assert len(webhook.received) == 1
    event = webhook.received[0]
    assert event["event"] == "account_needs_reauth"
    assert event["account_id"] == account
    assert event["post_id"] in (first, second)
    assert event["reason"] == "needs_reauth"
    assert "Error validating access token" in event["message"]
    assert TOKEN not in webhook.raw[0].decode()


def test_no_webhook_no_alert_rows(db_url: str, conn: Conn, fake: FakePlatform) -> None:
    add_post(conn, add_account(conn))
    fake.errors = [error(Decision.FAIL, "nope")]

    run(db_url, fake, None)

    assert alert_rows(conn) == []


# --- a webhook that is down, slow or refusing -----------------------------------------------


def test_a_webhook_that_times_out_does_not_hold_up_the_run(
    db_url: str, conn: Conn, fake: FakePlatform, webhook: Webhook
) -> None:
    account = add_account(conn)
    add_post(conn, account)
    add_post(conn, account)
    fake.errors = [error(Decision.UNKNOWN, "lost"), None]
    webhook.hang = True

    started = time.monotonic()
    summary = run(db_url, fake, webhook.url, alert_timeout_seconds=0.3)
    elapsed = time.monotonic() - started

    assert summary.outcome == "ok"
    assert summary.count("posted") == 1 and summary.count("needs_review") == 1
    assert elapsed < 3, elapsed
    [row] = alert_rows(conn)
    assert row["sent_at"] is None
    assert row["send_attempts"] == 1
    assert "did not answer within 0.3 s" in row["last_error"]


def test_run_due_exits_0_while_the_webhook_hangs(
    cli: Cli, conn: Conn, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command as cron runs it, with an unsent alert to retry and a webhook that hangs."""
    conn.execute(
        """INSERT INTO studio_publish_alerts (event_key, event, payload)
           VALUES ('post_failed:x:1', 'post_failed', '{"event": "post_failed"}')"""
    )
    webhook.hang = True
    monkeypatch.setenv("STUDIO_PUBLISH_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("STUDIO_PUBLISH_ALERT_TIMEOUT_SECONDS", "0.3")

    started = time.monotonic()
    result = cli("run-due", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json()["outcome"] == "ok"
    assert time.monotonic() - started < 3
    assert "alert_not_sent" in result.stderr
    assert webhook.url not in result.stderr
    [row] = alert_rows(conn)
    assert row["sent_at"] is None and row["send_attempts"] == 1


def test_an_unsent_alert_is_sent_by_a_later_run(
    db_url: str, conn: Conn, fake: FakePlatform, webhook: Webhook
) -> None:
    post_id = add_post(conn, add_account(conn))
    fake.errors = [error(Decision.FAIL, "nope")]
    webhook.status = 503

    run(db_url, fake, webhook.url)
    run(db_url, fake, webhook.url)  # within the backoff: not tried again yet
    [row] = alert_rows(conn)
    assert (row["send_attempts"], row["sent_at"]) == (1, None)
    assert row["last_error"] == "the webhook answered HTTP 503"

    webhook.status = 204
    conn.execute("UPDATE studio_publish_alerts SET last_attempt_at = now() - interval '2 minutes'")
    run(db_url, fake, webhook.url)
    run(db_url, fake, webhook.url)

    [row] = alert_rows(conn)
    assert row["sent_at"] is not None and row["send_attempts"] == 2
    assert [e["post_id"] for e in webhook.received] == [post_id, post_id]  # 503, then 204


def test_an_unreachable_webhook_gives_up_after_the_last_attempt(
    db_url: str, conn: Conn, fake: FakePlatform
) -> None:
    from studio_publish.engine.alerts import MAX_SEND_ATTEMPTS

    add_post(conn, add_account(conn))
    fake.errors = [error(Decision.FAIL, "nope")]
    nowhere = "http://127.0.0.1:1/alerts"

    summary = run(db_url, fake, nowhere)
    conn.execute("UPDATE studio_publish_alerts SET send_attempts = %s", [MAX_SEND_ATTEMPTS - 1])
    conn.execute("UPDATE studio_publish_alerts SET last_attempt_at = now() - interval '2 hours'")
    run(db_url, fake, nowhere)
    conn.execute("UPDATE studio_publish_alerts SET last_attempt_at = now() - interval '2 hours'")
    run(db_url, fake, nowhere)

    assert summary.failed == 1
    [row] = alert_rows(conn)
    assert row["send_attempts"] == MAX_SEND_ATTEMPTS and row["sent_at"] is None
    assert "ConnectError" in row["last_error"]
