"""The cron hook over a real socket: only the right bearer secret runs `run-due`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from engine_support import Conn, add_account, add_post, post
from fakes import FakePlatform

from studio_publish.hook import hook_settings, make_handler
from studio_publish.settings import Settings

SECRET = "cron-secret-7f3a9c1e5b2d4f60"
Serve = Callable[..., str]


@pytest.fixture
def fake(tmp_path: Path) -> FakePlatform:
    return FakePlatform("instagram", tmp_path / "ledger.txt")


@pytest.fixture
def hook_url(
    db_url: str, clean_env: None, monkeypatch: pytest.MonkeyPatch, fake: FakePlatform
) -> Iterator[str]:
    """The hook served on a free local port, publishing through the fake platform."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CRON_SECRET", SECRET)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(platforms={"instagram": fake}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/cron"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def runs(conn: Conn) -> int:
    row = conn.execute("SELECT count(*) AS n FROM studio_publish_runs").fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_right_secret_runs_one_run_due(
    hook_url: str,
    conn: Conn,
    fake: FakePlatform,
    method: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    due = add_post(conn, add_account(conn))

    response = httpx.request(
        method, hook_url, headers={"Authorization": f"Bearer {SECRET}"}, timeout=30
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    summary = response.json()
    assert summary["command"] == "run-due"
    assert summary["outcome"] == "ok"
    assert summary["posted"] == 1
    assert [p["post_id"] for p in summary["posts"]] == [due]
    assert post(conn, due)["status"] == "posted"
    assert fake.live() == [due]
    assert runs(conn) == 1
    logs = capfd.readouterr()
    assert SECRET not in response.text + logs.out + logs.err


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-the-secret"},
        {"Authorization": f"Bearer {SECRET}x"},
        {"Authorization": SECRET},  # without the scheme
        {"Authorization": f"Basic {SECRET}"},
        {},  # no header at all
    ],
    ids=["wrong", "longer", "no-scheme", "basic", "missing"],
)
def test_anything_but_the_secret_is_refused_and_runs_nothing(
    hook_url: str,
    conn: Conn,
    fake: FakePlatform,
    headers: dict[str, str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    due = add_post(conn, add_account(conn))

    response = httpx.get(hook_url, headers=headers, timeout=30)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "unauthorised" in response.json()["error"]
    assert runs(conn) == 0
    assert post(conn, due)["status"] == "scheduled"
    assert not fake.calls
    logs = capfd.readouterr()
    assert SECRET not in response.text + logs.out + logs.err


def test_without_cron_secret_every_request_is_refused(
    hook_url: str, conn: Conn, fake: FakePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_post(conn, add_account(conn))
    monkeypatch.setenv("CRON_SECRET", "")

    for headers in ({"Authorization": "Bearer"}, {"Authorization": f"Bearer {SECRET}"}, {}):
        response = httpx.get(hook_url, headers=headers, timeout=30)
        assert response.status_code == 500
        assert "CRON_SECRET is not set" in response.json()["error"]
    assert runs(conn) == 0
    assert not fake.calls


def test_bad_configuration_is_a_500_without_detail(
    hook_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_PUBLISH_CONCURRENCY", "lots")

    response = httpx.get(hook_url, headers={"Authorization": f"Bearer {SECRET}"}, timeout=30)

    assert response.status_code == 500
    assert "misconfigured" in response.json()["error"]
    assert runs(conn) == 0


def test_an_unreachable_database_is_a_503(hook_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nothing")

    response = httpx.get(hook_url, headers={"Authorization": f"Bearer {SECRET}"}, timeout=30)

    assert response.status_code == 503
    assert "cannot reach" in response.json()["error"]


def test_an_unmigrated_database_is_a_503(
    hook_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn.execute("DELETE FROM studio_publish_migrations WHERE version = 2")

    response = httpx.get(hook_url, headers={"Authorization": f"Bearer {SECRET}"}, timeout=30)

    assert response.status_code == 503
    assert "db migrate" in response.json()["error"]
    assert runs(conn) == 0


def test_the_run_fits_in_the_time_limit() -> None:
    settings = Settings(hook_time_limit_seconds=40, run_budget_seconds=50, poll_timeout_seconds=300)

    fitted = hook_settings(settings)

    assert fitted.run_budget_seconds == 20
    assert fitted.poll_timeout_seconds == 20
    generous = hook_settings(Settings(hook_time_limit_seconds=800, run_budget_seconds=50))
    assert generous.run_budget_seconds == 50
    assert generous.poll_timeout_seconds == 300
