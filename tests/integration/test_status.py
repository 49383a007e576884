"""`studio-publish status`: the overview of the queue, and one post with its attempts."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from support.cli import Cli

Conn = psycopg.Connection[dict[str, Any]]
WIDE = {"COLUMNS": "250"}  # a wide terminal: no column of a table is cut short


def ago(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)


def ahead(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(**delta)


def insert_post(conn: Conn, platform: str, status: str, **values: Any) -> str:
    row: dict[str, Any] = {
        "workspace_id": uuid.uuid4(),
        "platform": platform,
        "post_type": "image",
        "caption": f"{platform} {status}",
        "status": status,
        **values,
    }
    if status == "publishing":
        row.setdefault("claim_token", uuid.uuid4())
        row.setdefault("lease_expires_at", ahead(minutes=5))
    names = ", ".join(row)
    marks = ", ".join(f"%({n})s" for n in row)
    inserted = conn.execute(
        f"INSERT INTO studio_social_posts ({names}) VALUES ({marks}) RETURNING id", row
    ).fetchone()
    assert inserted is not None
    return str(inserted["id"])


def only_json(result: Any) -> Any:
    """stdout must be exactly one JSON document (raw_decode would stop after the first)."""
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# --- an empty database --------------------------------------------------------------------------


def test_overview_of_an_empty_database(cli: Cli) -> None:
    document = only_json(cli("status", "--json"))

    assert document["counts"] == {}
    assert document["posted_last_24h"] == {}
    assert document["last_run"] is None
    for listing in ("next_due", "overdue", "stuck", "needs_review", "recent_failures"):
        assert document[listing] == [], listing
    assert document["accounts_needing_attention"] == []
    assert "database" in document


def test_overview_of_an_empty_database_for_a_person(cli: Cli) -> None:
    result = cli("status")

    assert result.exit_code == 0, result.stderr
    assert "Last run: never" in result.stdout
    assert "no posts yet" in result.stdout
    assert "nothing scheduled" in result.stdout


def test_overview_names_the_api_bases_that_are_not_the_real_platforms(cli: Cli) -> None:
    sandbox = "http://127.0.0.1:8765/graph/v25.0"
    env = {"STUDIO_PUBLISH_GRAPH_API_BASE": sandbox + "/"}

    document = only_json(cli("status", "--json", env=env))
    shown = cli("status", env=env).stdout

    assert document["api_bases"] == {"STUDIO_PUBLISH_GRAPH_API_BASE": sandbox}
    assert f"API base: STUDIO_PUBLISH_GRAPH_API_BASE={sandbox} (not the real" in shown


def test_an_api_base_is_shown_without_its_credentials(cli: Cli) -> None:
    env = {"STUDIO_PUBLISH_THREADS_API_BASE": "https://proxy-user:s3cr3t-pass@127.0.0.1:9/v1.0"}

    document = only_json(cli("status", "--json", env=env))
    shown = cli("status", env=env)

    base = {"STUDIO_PUBLISH_THREADS_API_BASE": "https://127.0.0.1:9/v1.0"}
    assert document["api_bases"] == base
    assert "s3cr3t-pass" not in shown.stdout + shown.stderr and "proxy-user" not in shown.stdout


def test_overview_with_the_real_apis_names_no_api_base(cli: Cli) -> None:
    assert only_json(cli("status", "--json"))["api_bases"] == {}
    assert "API base" not in cli("status").stdout


# --- a busy queue -----------------------------------------------------------------------------


@pytest.fixture
def queue(conn: Conn) -> dict[str, Any]:
    """Posts in every state, on every platform, and what status should say about them."""
    ids = {
        "next_ig": insert_post(conn, "instagram", "scheduled", scheduled_for=ahead(hours=1)),
        "later_ig": insert_post(conn, "instagram", "scheduled", scheduled_for=ahead(days=2)),
        # Due since an hour: cron is not running.
        "overdue_tt": insert_post(conn, "tiktok", "scheduled", scheduled_for=ago(hours=1)),
        # Due two minutes ago: within the grace, not overdue yet.
        "just_due_fb": insert_post(conn, "facebook", "scheduled", scheduled_for=ago(minutes=2)),
        # Its time is past but its retry is not: not due, so not overdue.
        "retry_ig": insert_post(
            conn,
            "instagram",
            "scheduled",
            scheduled_for=ago(hours=3),
            next_attempt_at=ahead(minutes=10),
            attempt_count=2,
        ),
        "draft_fb": insert_post(conn, "facebook", "draft", post_type="text"),
        "failed_fb": insert_post(
            conn,
            "facebook",
            "failed",
            failure_reason="max_attempts",
            last_publish_error="(#200) Permissions error from Graph",
            attempt_count=5,
        ),
        "failed_tt": insert_post(
            conn,
            "tiktok",
            "failed",
            failure_reason="missed",
            last_publish_error="found due 20h after its time",
        ),
        "review_ig": insert_post(
            conn,
            "instagram",
            "needs_review",
            failure_reason="publish_timeout",
            last_publish_error="media_publish timed out",
            platform_state=Jsonb({"container_id": "17890000000000000"}),
        ),
        "publishing_tt": insert_post(conn, "tiktok", "publishing", post_type="video"),
        "stuck_ig": insert_post(
            conn,
            "instagram",
            "publishing",
            claimed_by="cron-host:4242",
            lease_expires_at=ago(minutes=3),
        ),
        "posted_ig": insert_post(
            conn, "instagram", "posted", published_at=ago(hours=1), platform_post_id="ig-9"
        ),
        "old_posted_ig": insert_post(
            conn, "instagram", "posted", published_at=ago(days=3), platform_post_id="ig-8"
        ),
        "cancelled_tt": insert_post(conn, "tiktok", "cancelled", scheduled_for=ago(hours=1)),
        "fetched": insert_post(conn, "facebook", "posted", origin="fetched"),
    }
    conn.execute(
        """INSERT INTO studio_publish_runs (started_at, finished_at, host, pid, outcome,
               claimed, posted, retried, failed)
           VALUES (now() - interval '2 hours', now() - interval '2 hours', 'old', 1, 'ok',
                   1, 1, 0, 0),
                  (now() - interval '90 seconds', now() - interval '80 seconds', 'cron-host',
                   4242, 'failed', 3, 1, 1, 1)"""
    )
    account = conn.execute(
        """INSERT INTO studio_social_accounts (platform, platform_account_id, name, state,
               state_reason, access_token)
           VALUES ('instagram', '1784', 'Brand IG', 'needs_reauth', 'token revoked', 't')
           RETURNING id"""
    ).fetchone()
    expiring = conn.execute(
        """INSERT INTO studio_social_accounts (platform, platform_account_id, name,
               access_token, token_expires_at)
           VALUES ('facebook', '55', 'Page', 't', now() + interval '2 days') RETURNING id"""
    ).fetchone()
    conn.execute(
        """INSERT INTO studio_social_accounts (platform, platform_account_id, name,
               access_token, token_expires_at)
           VALUES ('facebook', '56', 'Healthy page', 't', now() + interval '50 days')"""
    )
    assert account is not None and expiring is not None
    return {**ids, "reauth_account": str(account["id"]), "expiring": str(expiring["id"])}


def test_overview_counts_the_live_states_by_platform(cli: Cli, queue: dict[str, Any]) -> None:
    document = only_json(cli("status", "--json"))

    assert document["counts"] == {
        "scheduled": {"instagram": 3, "tiktok": 1, "facebook": 1},
        "draft": {"facebook": 1},
        "failed": {"facebook": 1, "tiktok": 1},
        "needs_review": {"instagram": 1},
        "publishing": {"instagram": 1, "tiktok": 1},
    }
    assert document["posted_last_24h"] == {"instagram": 1}


def test_overview_lists_what_needs_a_person(cli: Cli, queue: dict[str, Any]) -> None:
    document = only_json(cli("status", "--json"))

    assert [p["id"] for p in document["overdue"]] == [queue["overdue_tt"]]
    assert [p["id"] for p in document["stuck"]] == [queue["stuck_ig"]]
    assert [p["id"] for p in document["needs_review"]] == [queue["review_ig"]]
    assert document["needs_review"][0]["failure_reason"] == "publish_timeout"
    failures = {p["id"]: p for p in document["recent_failures"]}
    assert set(failures) == {queue["failed_fb"], queue["failed_tt"]}
    assert failures[queue["failed_fb"]]["failure_reason"] == "max_attempts"
    assert "Permissions error" in failures[queue["failed_fb"]]["last_publish_error"]
    assert failures[queue["failed_tt"]]["failure_reason"] == "missed"
    attention = {a["id"] for a in document["accounts_needing_attention"]}
    assert attention == {queue["reauth_account"], queue["expiring"]}


def test_overview_next_due_in_order(cli: Cli, queue: dict[str, Any]) -> None:
    document = only_json(cli("status", "--json"))

    order = [p["id"] for p in document["next_due"]]
    assert order == [
        queue["overdue_tt"],
        queue["just_due_fb"],
        queue["retry_ig"],  # due when its retry is, not at its first time
        queue["next_ig"],
        queue["later_ig"],
    ]
    due_at = [dt.datetime.fromisoformat(p["due_at"]) for p in document["next_due"]]
    assert due_at == sorted(due_at)


def test_overview_shows_the_last_run(cli: Cli, queue: dict[str, Any]) -> None:
    run = only_json(cli("status", "--json"))["last_run"]

    assert run["host"] == "cron-host"
    assert run["outcome"] == "failed"
    assert (run["claimed"], run["posted"], run["retried"], run["failed"]) == (3, 1, 1, 1)


def test_overview_for_a_person(cli: Cli, queue: dict[str, Any]) -> None:
    result = cli("status", env=WIDE)

    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in (
        "Last run:",
        "failed (claimed 3, posted 1, retried 1, failed 1",
        "Posts by state",
        "Overdue",
        queue["overdue_tt"],
        "Needs review",
        "confirm-live ID",  # what a person does about one, by name
        queue["review_ig"],
        "publish_timeout",
        "Recent failures",
        queue["failed_fb"],
        "max_attempts",
        "(#200) Permissions error from Graph",
        "missed",
        "Brand IG",
        "token revoked",
        "Next due",
        queue["later_ig"],
        queue["stuck_ig"],
    ):
        assert text in out, text
    assert queue["cancelled_tt"] not in out
    assert queue["posted_ig"] not in out


def test_json_is_alone_on_stdout_even_with_logs(
    cli: Cli, queue: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for log_format in ("json", "console", "auto"):
        monkeypatch.setenv("STUDIO_PUBLISH_LOG_FORMAT", log_format)
        result = cli("status", "--json")
        assert result.exit_code == 0, result.stderr
        json.loads(result.stdout)
        assert result.stdout.count("\n") == 1


# --- one post -------------------------------------------------------------------------------


@pytest.fixture
def failed_post(conn: Conn) -> str:
    post_id = insert_post(
        conn,
        "instagram",
        "failed",
        caption="Launch day #new",
        media=Jsonb([{"url": "https://cdn.example.com/a.jpg", "kind": "image"}]),
        failure_reason="max_attempts",
        last_publish_error="(#9004) media URL not reachable",
        attempt_count=2,
        scheduled_for=ago(hours=1),
        platform_state=Jsonb({"container_id": "1790"}),
    )
    conn.execute(
        """INSERT INTO studio_publish_attempts (post_id, attempt_number, started_at,
               finished_at, outcome, error_class, error_message, http_status, platform_ids)
           VALUES (%(id)s, 2, now() - interval '30 minutes', now() - interval '29 minutes',
                   'failed', 'PermanentError', '(#9004) media URL not reachable', 400,
                   '{"container_id": "1790"}'),
                  (%(id)s, 1, now() - interval '60 minutes', now() - interval '59 minutes',
                   'retry', 'TransientError', 'HTTP 503 from graph', 503, '{}')""",
        {"id": post_id},
    )
    insert_post(conn, "instagram", "draft")  # another post's history must not show
    return post_id


def test_one_post_with_its_attempts(cli: Cli, failed_post: str) -> None:
    document = only_json(cli("status", failed_post, "--json"))

    post = document["post"]
    assert post["id"] == failed_post
    assert post["status"] == "failed"
    assert post["platform"] == "instagram"
    assert post["caption"] == "Launch day #new"
    assert post["failure_reason"] == "max_attempts"
    assert post["media"] == [{"url": "https://cdn.example.com/a.jpg", "kind": "image"}]
    assert post["platform_state"] == {"container_id": "1790"}
    assert "claim_token" not in post
    attempts = document["attempts"]
    assert [a["attempt_number"] for a in attempts] == [1, 2]
    assert [a["outcome"] for a in attempts] == ["retry", "failed"]
    assert attempts[0]["http_status"] == 503
    assert attempts[1]["error_class"] == "PermanentError"
    assert attempts[1]["platform_ids"] == {"container_id": "1790"}


def test_one_post_for_a_person(cli: Cli, failed_post: str) -> None:
    result = cli("status", failed_post, env=WIDE)

    assert result.exit_code == 0, result.stderr
    for text in (
        failed_post,
        "failed",
        "max_attempts",
        "Launch day #new",
        "Attempts",
        "HTTP 503 from graph",
        "PermanentError",
        "(#9004) media URL not reachable",
    ):
        assert text in result.stdout, text


def test_one_post_without_attempts(cli: Cli, conn: Conn) -> None:
    post_id = insert_post(conn, "tiktok", "draft", post_type="video")

    document = only_json(cli("status", post_id, "--json"))
    human = cli("status", post_id)

    assert document["attempts"] == []
    assert human.exit_code == 0
    assert "none yet" in human.stdout


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["human", "json"])
def test_an_unknown_post_gives_exit_2(cli: Cli, conn: Conn, as_json: list[str]) -> None:
    missing = cli("status", str(uuid.uuid4()), *as_json)
    malformed = cli("status", "12345", *as_json)

    for result in (missing, malformed):
        assert result.exit_code == 2
        result.assert_error_stdout()
        assert "POST_ID" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


# --- the web app's own inserts --------------------------------------------------------------


def test_a_post_inserted_like_the_web_app_does_is_complete(cli: Cli, conn: Conn) -> None:
    account = uuid.uuid4()
    workspace = uuid.uuid4()
    media = [{"url": "https://cdn.example.com/launch.jpg", "kind": "image"}]
    ids = {}
    for status, when in (("scheduled", ahead(hours=4)), ("draft", None)):
        row = conn.execute(
            """INSERT INTO studio_social_posts (workspace_id, social_account_id, platform,
                   post_type, caption, media, status, scheduled_for)
               VALUES (%s, %s, 'instagram', 'image', 'From the app', %s, %s, %s)
               RETURNING id""",
            [workspace, account, Jsonb(media), status, when],
        ).fetchone()
        assert row is not None
        ids[status] = row["id"]

    for status, post_id in ids.items():
        stored = conn.execute(
            "SELECT * FROM studio_social_posts WHERE id = %s", [post_id]
        ).fetchone()
        assert stored is not None
        assert isinstance(stored["id"], uuid.UUID)
        assert stored["options"] == {}
        assert stored["attempt_count"] == 0
        assert stored["platform_state"] == {}
        assert stored["origin"] == "scheduler"
        assert stored["status"] == status
        assert stored["created_at"] is not None and stored["updated_at"] is not None
        for column in (
            "next_attempt_at",
            "claim_token",
            "lease_expires_at",
            "platform_post_id",
            "published_at",
            "failure_reason",
            "last_publish_error",
        ):
            assert stored[column] is None, column

        document = only_json(cli("status", str(post_id), "--json"))
        assert document["post"]["id"] == str(post_id)
        assert document["post"]["status"] == status
        assert document["post"]["caption"] == "From the app"
        assert document["post"]["media"] == media
        assert document["post"]["social_account_id"] == str(account)
        assert document["attempts"] == []

    overview = only_json(cli("status", "--json"))
    assert overview["counts"] == {"scheduled": {"instagram": 1}, "draft": {"instagram": 1}}
    assert [p["id"] for p in overview["next_due"]] == [str(ids["scheduled"])]
