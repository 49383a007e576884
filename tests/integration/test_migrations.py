"""`studio-publish db migrate` against a real PostgreSQL, and what a command does on a
database that is not migrated or cannot be reached."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg.rows import dict_row
from support.cli import Cli, make_runner

from studio_publish.states import Move, guard
from studio_publish.store.migrations import available_migrations, migrate
from studio_publish.store.queries import query

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Sup3rS3cretPassw0rd"
OLD_COLUMNS = (
    "id",
    "workspace_id",
    "social_account_id",
    "platform",
    "caption",
    "external_post_id",
    "posted_at",
    "scheduled_for",
    "error_message",
    "created_at",
    "updated_at",
)
# What the spec names; the engine may add more.
SPEC_POST_COLUMNS = {
    "id",
    "workspace_id",
    "social_account_id",
    "platform",
    "post_type",
    "caption",
    "media",
    "options",
    "scheduled_for",
    "status",
    "attempt_count",
    "next_attempt_at",
    "last_publish_attempt_at",
    "last_publish_error",
    "error_message",
    "posted_at",
    "published_at",
    "platform_post_id",
    "permalink",
    "external_post_id",
    "created_at",
    "updated_at",
}
SPEC_ACCOUNT_COLUMNS = {
    "id",
    "workspace_id",
    "platform",
    "platform_account_id",
    "name",
    "access_token",
    "refresh_token",
    "token_expires_at",
    "refresh_token_expires_at",
    "state",
    "created_at",
    "updated_at",
}


def with_password(url: str, password: str) -> str:
    """The same database as ``url``, as a postgresql:// URL that carries a password."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    user = quote(str(info.get("user") or "postgres"), safe="")
    host = str(info.get("host") or "127.0.0.1")
    port = str(info.get("port") or "5432")
    dbname = quote(str(info["dbname"]), safe="")
    if host.startswith("/"):  # a Unix socket folder (the embedded server)
        return f"postgresql://{user}:{password}@/{dbname}?host={quote(host, safe='')}&port={port}"
    return f"postgresql://{user}:{password}@{host}:{port}/{dbname}"


def connect(url: str) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


def columns(conn: psycopg.Connection[dict[str, Any]], table: str) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]
    ).fetchall()
    return {r["column_name"] for r in rows}


def tables(conn: psycopg.Connection[dict[str, Any]]) -> set[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    ).fetchall()
    return {r["tablename"] for r in rows}


@pytest.fixture
def empty_cli(empty_db_url: str, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Cli:
    """The CLI against a database nothing has been applied to, through a URL with a password."""
    monkeypatch.setenv("DATABASE_URL", with_password(empty_db_url, PASSWORD))
    return make_runner()


# --- an empty database ----------------------------------------------------------------------


def test_migrate_on_an_empty_database_creates_the_schema(empty_cli: Cli, empty_db_url: str) -> None:
    result = empty_cli("db", "migrate")

    assert result.exit_code == 0, result.stderr
    assert "0001_initial.sql" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    with connect(empty_db_url) as conn:
        assert {
            "studio_social_accounts",
            "studio_social_posts",
            "studio_publish_attempts",
            "studio_publish_runs",
            "studio_publish_migrations",
        } <= tables(conn)
        assert columns(conn, "studio_social_posts") >= SPEC_POST_COLUMNS
        assert columns(conn, "studio_social_accounts") >= SPEC_ACCOUNT_COLUMNS
        assert columns(conn, "studio_publish_attempts") >= {
            "post_id",
            "attempt_number",
            "started_at",
            "finished_at",
            "outcome",
            "error_class",
            "error_message",
            "http_status",
            "platform_ids",
        }
        recorded = conn.execute("SELECT version, name FROM studio_publish_migrations").fetchall()
        assert sorted((r["version"], r["name"]) for r in recorded) == [
            (m.version, m.name) for m in available_migrations()
        ]


def test_the_check_constraints_exist_and_are_validated(db_url: str) -> None:
    with connect(db_url) as conn:
        rows = conn.execute(
            """SELECT conname, convalidated FROM pg_constraint
               WHERE contype = 'c' AND conrelid IN
                 ('studio_social_posts'::regclass, 'studio_social_accounts'::regclass)"""
        ).fetchall()
    found = {r["conname"]: r["convalidated"] for r in rows}
    for name in (
        "studio_social_posts_status_check",
        "studio_social_posts_origin_check",
        "studio_social_posts_claim_check",
        "studio_social_posts_scheduled_time_check",
        "studio_social_accounts_state_check",
    ):
        assert found.get(name) is True, f"{name} missing or NOT VALID: {found}"


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"status": "queued", "scheduled_for": "now()"}, id="unknown-status"),
        pytest.param({"status": "scheduled", "scheduled_for": "NULL"}, id="scheduled-no-time"),
        pytest.param({"status": "publishing", "scheduled_for": "now()"}, id="publishing-no-claim"),
        pytest.param(
            {"status": "scheduled", "scheduled_for": "now()", "origin": "'fetched'"},
            id="fetched-scheduled",
        ),
        pytest.param(
            {
                "status": "draft",
                "scheduled_for": "NULL",
                "claim_token": "gen_random_uuid()",
                "lease_expires_at": "now()",
            },
            id="claim-outside-publishing",
        ),
    ],
)
def test_the_posts_table_refuses_impossible_rows(db_url: str, values: dict[str, str]) -> None:
    values = {"platform": "'instagram'", **values}
    if "'" not in values["status"]:
        values["status"] = f"'{values['status']}'"
    names = ", ".join(values)
    with connect(db_url) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                f"INSERT INTO studio_social_posts ({names}) VALUES ({', '.join(values.values())})"
            )
        assert conn.execute("SELECT count(*) AS n FROM studio_social_posts").fetchone() == {"n": 0}


def test_the_accounts_table_refuses_an_unknown_state(db_url: str) -> None:
    with connect(db_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            """INSERT INTO studio_social_accounts (platform, platform_account_id, state)
               VALUES ('instagram', '1', 'sleeping')"""
        )


def test_the_indexes_exist(db_url: str) -> None:
    with connect(db_url) as conn:
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'studio_social_posts'"
        ).fetchall()
        defs = {r["indexname"]: r["indexdef"] for r in rows}
        # Finding due posts reads only scheduled rows.
        assert "WHERE (status = 'scheduled'::text)" in defs["studio_social_posts_due_idx"]
        assert "WHERE (status = 'publishing'::text)" in defs["studio_social_posts_lease_idx"]
        assert defs["studio_social_posts_platform_post_idx"].startswith("CREATE UNIQUE INDEX")
        attempts = {
            r["indexname"]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'studio_publish_attempts'"
            ).fetchall()
        }
        assert "studio_publish_attempts_post_idx" in attempts
        # The unique index does what it is for: one row per live platform post.
        insert = """INSERT INTO studio_social_posts (platform, status, platform_post_id)
                    VALUES ('instagram', 'posted', 'ig-1')"""
        conn.execute(insert)
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert)


def test_migrate_twice_applies_nothing_the_second_time(empty_cli: Cli, empty_db_url: str) -> None:
    assert empty_cli("db", "migrate").exit_code == 0
    with connect(empty_db_url) as conn:
        before = conn.execute("SELECT * FROM studio_publish_migrations").fetchall()

    again = empty_cli("db", "migrate")
    as_json = empty_cli("db", "migrate", "--json")

    assert again.exit_code == 0, again.stderr
    assert "up to date" in again.stdout
    assert as_json.exit_code == 0, as_json.stderr
    assert as_json.json()["applied"] == []
    assert PASSWORD not in again.stdout + again.stderr + as_json.stdout + as_json.stderr
    with connect(empty_db_url) as conn:
        assert conn.execute("SELECT * FROM studio_publish_migrations").fetchall() == before


def test_migrate_json_is_one_document(empty_cli: Cli) -> None:
    result = empty_cli("db", "migrate", "--json")

    assert result.exit_code == 0, result.stderr
    document = result.json()  # fails unless stdout is exactly one JSON document
    assert document["applied"] == [m.name for m in available_migrations()]
    assert PASSWORD not in result.stdout


# --- the web app's existing table -----------------------------------------------------------

OLD_TABLE = """
CREATE TABLE studio_social_posts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL,
    social_account_id uuid,
    platform text,
    caption text,
    external_post_id text,
    posted_at timestamptz,
    scheduled_for timestamptz,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
)"""


def old_rows() -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=123456)
    workspace = uuid.uuid4()
    rows = []
    for n, (platform, offset) in enumerate(
        [
            ("instagram", dt.timedelta(days=-30)),  # scheduled in the past
            ("instagram", dt.timedelta(minutes=-2)),  # "due" right now by time alone
            ("tiktok", dt.timedelta(days=3)),  # in the future
            ("facebook", None),  # never had a time
            ("tiktok", dt.timedelta(hours=-1)),
        ]
    ):
        rows.append(
            {
                "id": uuid.uuid4(),
                "workspace_id": workspace,
                "social_account_id": uuid.uuid4() if n % 2 == 0 else None,
                "platform": platform,
                "caption": f"fetched post {n} #tag @someone",
                "external_post_id": f"ext-{n}",
                "posted_at": now - dt.timedelta(days=n) if n != 3 else None,
                "scheduled_for": now + offset if offset is not None else None,
                "error_message": "token expired" if n == 4 else None,
                "created_at": now - dt.timedelta(days=40 + n),
                "updated_at": now - dt.timedelta(days=n),
            }
        )
    return rows


def snapshot(conn: psycopg.Connection[dict[str, Any]]) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {', '.join(OLD_COLUMNS)} FROM studio_social_posts ORDER BY id"
    ).fetchall()


@pytest.fixture
def app_database(empty_db_url: str) -> list[dict[str, Any]]:
    """The web app's database: the old studio_social_posts holding fetched posts."""
    rows = old_rows()
    with connect(empty_db_url) as conn:
        conn.execute(OLD_TABLE)
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO studio_social_posts ({', '.join(OLD_COLUMNS)}) "
                f"VALUES ({', '.join('%(' + c + ')s' for c in OLD_COLUMNS)})",
                rows,
            )
        assert len(snapshot(conn)) == len(rows)
    return rows


def test_migrate_keeps_every_value_of_the_apps_existing_posts(
    app_database: list[dict[str, Any]], empty_cli: Cli, empty_db_url: str
) -> None:
    with connect(empty_db_url) as conn:
        before = snapshot(conn)

    result = empty_cli("db", "migrate")

    assert result.exit_code == 0, result.stderr
    with connect(empty_db_url) as conn:
        assert snapshot(conn) == before
        assert columns(conn, "studio_social_posts") >= SPEC_POST_COLUMNS | {"origin"}
    assert before == sorted(app_database, key=lambda r: r["id"])


def test_the_apps_existing_posts_are_never_due(
    app_database: list[dict[str, Any]], empty_cli: Cli, empty_db_url: str
) -> None:
    assert empty_cli("db", "migrate").exit_code == 0

    with connect(empty_db_url) as conn:
        rows = conn.execute("SELECT id, status, origin FROM studio_social_posts").fetchall()
        assert len(rows) == len(app_database)
        assert all(r["status"] not in ("scheduled", "publishing", "draft") for r in rows), rows
        # Not due by the spec's definition, and not in the engine's "next due" list.
        due = conn.execute(
            """SELECT count(*) AS n FROM studio_social_posts WHERE status = 'scheduled'
               AND greatest(scheduled_for, next_attempt_at) <= now()"""
        ).fetchone()
        assert due == {"n": 0}
        assert conn.execute(query("next_due"), {"limit": 100}).fetchall() == []

        before = conn.execute("SELECT * FROM studio_social_posts ORDER BY id").fetchall()
        for row in rows:
            # Nobody can move one into the publishing states, even by hand.
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(
                    """UPDATE studio_social_posts
                       SET status = 'scheduled', scheduled_for = now() - interval '1 minute'
                       WHERE id = %s""",
                    [row["id"]],
                )
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(
                    "UPDATE studio_social_posts SET status = 'draft' WHERE id = %s", [row["id"]]
                )
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(
                    """UPDATE studio_social_posts SET status = 'publishing',
                       claim_token = gen_random_uuid(), lease_expires_at = now()
                       WHERE id = %s""",
                    [row["id"]],
                )
            # Nor through the CLI's own reschedule query.
            changed = conn.execute(
                query("reschedule_post"),
                {
                    **guard(Move.RESCHEDULE),
                    "id": row["id"],
                    "scheduled_for": dt.datetime.now(dt.UTC),
                },
            ).rowcount
            assert changed == 0
        assert conn.execute("SELECT * FROM studio_social_posts ORDER BY id").fetchall() == before


def test_posts_written_after_the_migration_are_the_schedulers(
    app_database: list[dict[str, Any]], empty_cli: Cli, empty_db_url: str
) -> None:
    assert empty_cli("db", "migrate").exit_code == 0
    with connect(empty_db_url) as conn:
        row = conn.execute(
            """INSERT INTO studio_social_posts (workspace_id, platform, post_type, caption,
                   media, status, scheduled_for)
               VALUES (%s, 'instagram', 'image', 'new', '[]', 'scheduled', now())
               RETURNING origin, status""",
            [app_database[0]["workspace_id"]],
        ).fetchone()
    assert row == {"origin": "scheduler", "status": "scheduled"}


# --- two migrations at once -----------------------------------------------------------------


def test_concurrent_migrations_apply_each_migration_once(empty_db_url: str) -> None:
    workers = 4
    barrier = threading.Barrier(workers)
    applied: list[list[str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            with connect(empty_db_url) as conn:
                barrier.wait(timeout=10)
                names = [m.name for m in migrate(conn)]
            with lock:
                applied.append(names)
        except BaseException as exc:  # reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(applied) == workers
    every = sorted(name for names in applied for name in names)
    assert every == sorted(m.name for m in available_migrations())
    with connect(empty_db_url) as conn:
        assert conn.execute("SELECT count(*) AS n FROM studio_publish_migrations").fetchone() == {
            "n": len(available_migrations())
        }


def test_two_migrate_processes_at_once(empty_db_url: str, tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("STUDIO_PUBLISH_") or k == "DATABASE_URL")
    }
    env.update(DATABASE_URL=empty_db_url, STUDIO_PUBLISH_LOG_FORMAT="json")
    command = [sys.executable, "-m", "studio_publish", "db", "migrate", "--json"]
    processes = [
        subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in processes]

    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
    applied = sorted(name for out, _ in outputs for name in json.loads(out)["applied"])
    assert applied == sorted(m.name for m in available_migrations())


# --- not migrated, not reachable ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (("status",), None),
        (("status", "--json"), None),
        (("accounts", "list"), None),
        (("accounts", "add", "--platform", "instagram", "--platform-account-id", "1"), "tok\n"),
    ],
    ids=["status", "status-json", "accounts-list", "accounts-add"],
)
def test_a_database_that_is_not_migrated_gives_exit_3(
    empty_cli: Cli, empty_db_url: str, args: tuple[str, ...], stdin: str | None
) -> None:
    result = empty_cli(*args, input=stdin)

    assert result.exit_code == 3
    assert "studio-publish db migrate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result.assert_error_stdout()
    assert PASSWORD not in result.stderr
    with connect(empty_db_url) as conn:
        assert tables(conn) == set(), "only `db migrate` may create the schema"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/postgres", id="refused"),
        pytest.param(f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/x", id="bad-port"),
    ],
)
@pytest.mark.parametrize("command", [("status",), ("db", "migrate"), ("accounts", "list")])
def test_an_unreachable_database_gives_exit_3_without_the_password(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, url: str, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    result = make_runner()(*command)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert result.stdout == ""
    result.error_message()  # the one failure line
    assert len(result.stderr.strip().splitlines()) == 1
    assert PASSWORD not in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"postgresql://postgres:{PASSWORD}@[::1/postgres", id="malformed-url"),
        pytest.param(f"postgresql://postgres:{PASSWORD}%zz@127.0.0.1:1/x", id="bad-escape"),
        pytest.param(f"host=127.0.0.1 port=1 password=two {PASSWORD}", id="bad-key-value"),
    ],
)
def test_a_malformed_database_url_is_bad_configuration_without_the_password(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    result = make_runner()("status")

    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.error_message().startswith("DATABASE_URL: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert PASSWORD not in result.stderr


def test_a_database_behind_by_one_migration(empty_cli: Cli, empty_db_url: str) -> None:
    """An upgrade: the database has the older migrations; only the new ones are applied."""
    shipped = available_migrations()
    if len(shipped) < 2:
        pytest.skip("only one migration ships")
    older, newer = shipped[:-1], shipped[-1]
    with connect(empty_db_url) as conn:
        conn.execute(
            """CREATE TABLE studio_publish_migrations (version integer PRIMARY KEY,
               name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        for migration in older:
            conn.execute(migration.sql())
            conn.execute(
                "INSERT INTO studio_publish_migrations (version, name) VALUES (%s, %s)",
                [migration.version, migration.name],
            )

    behind = empty_cli("status")
    upgrade = empty_cli("db", "migrate", "--json")
    after = empty_cli("status", "--json")

    assert behind.exit_code == 3
    assert newer.name in behind.stderr
    assert "studio-publish db migrate" in behind.stderr
    assert upgrade.exit_code == 0, upgrade.stderr
    assert upgrade.json()["applied"] == [newer.name]
    assert after.exit_code == 0, after.stderr


def test_the_platform_column_is_not_limited_by_the_schema(conn: Any) -> None:
    """The registry, not a CHECK, says which platforms exist (sql/0007): a new platform
    needs no migration, and both doors refuse an unknown one (test_untrusted_rows)."""
    conn.execute(
        "INSERT INTO studio_social_posts (platform, post_type, caption, status, scheduled_for)"
        " VALUES ('twitter', 'text', 'x', 'scheduled', now())"
    )
