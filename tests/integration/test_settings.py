"""Settings: a bad value stops every command with exit 2 and one line naming the variable;
a `.env` file in the working directory is read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from support.cli import Cli
from support.database import throwaway_database

BAD_SETTINGS = [
    pytest.param(
        {"STUDIO_PUBLISH_CONCURRENCY": "abc"}, "STUDIO_PUBLISH_CONCURRENCY", id="conc-abc"
    ),
    pytest.param({"STUDIO_PUBLISH_CONCURRENCY": "0"}, "STUDIO_PUBLISH_CONCURRENCY", id="conc-0"),
    pytest.param({"STUDIO_PUBLISH_CONCURRENCY": "-3"}, "STUDIO_PUBLISH_CONCURRENCY", id="conc-neg"),
    pytest.param({"STUDIO_PUBLISH_LOG_FORMAT": "xml"}, "STUDIO_PUBLISH_LOG_FORMAT", id="log-xml"),
    pytest.param(
        {"STUDIO_PUBLISH_GRAPH_API_BASE": "ftp://x"},
        "STUDIO_PUBLISH_GRAPH_API_BASE",
        id="graph-ftp",
    ),
    pytest.param(
        {"STUDIO_PUBLISH_GRAPH_API_BASE": "https://"},
        "STUDIO_PUBLISH_GRAPH_API_BASE",
        id="graph-no-host",
    ),
    pytest.param(
        {"STUDIO_PUBLISH_TIKTOK_API_BASE": "open.tiktokapis.com"},
        "STUDIO_PUBLISH_TIKTOK_API_BASE",
        id="tiktok-no-scheme",
    ),
    pytest.param(
        {"STUDIO_PUBLISH_RETRY_BASE_SECONDS": "600", "STUDIO_PUBLISH_RETRY_MAX_SECONDS": "60"},
        "STUDIO_PUBLISH_RETRY_MAX_SECONDS",
        id="retry-max-below-base",
    ),
    pytest.param(
        # The default base is 60: a max below it is as wrong as one below a given base.
        {"STUDIO_PUBLISH_RETRY_MAX_SECONDS": "30"},
        "STUDIO_PUBLISH_RETRY_MAX_SECONDS",
        id="retry-max-below-default-base",
    ),
    pytest.param(
        {"STUDIO_PUBLISH_RETRY_BASE_SECONDS": "0"}, "STUDIO_PUBLISH_RETRY_BASE_SECONDS", id="base-0"
    ),
    pytest.param({"STUDIO_PUBLISH_MAX_ATTEMPTS": "0"}, "STUDIO_PUBLISH_MAX_ATTEMPTS", id="att-0"),
    pytest.param(
        {"STUDIO_PUBLISH_LEASE_SECONDS": "five"}, "STUDIO_PUBLISH_LEASE_SECONDS", id="lease-word"
    ),
    pytest.param(
        {"STUDIO_PUBLISH_RUN_BUDGET_SECONDS": "-1"},
        "STUDIO_PUBLISH_RUN_BUDGET_SECONDS",
        id="budget-neg",
    ),
    pytest.param(
        {"STUDIO_PUBLISH_MAX_LATENESS_SECONDS": "12h"},
        "STUDIO_PUBLISH_MAX_LATENESS_SECONDS",
        id="lateness-unit",
    ),
    pytest.param(
        {"STUDIO_PUBLISH_HTTP_TIMEOUT_SECONDS": "0"},
        "STUDIO_PUBLISH_HTTP_TIMEOUT_SECONDS",
        id="timeout-0",
    ),
    pytest.param(
        {"STUDIO_PUBLISH_POLL_INTERVAL_SECONDS": "nan"},
        "STUDIO_PUBLISH_POLL_INTERVAL_SECONDS",
        id="poll-nan",
    ),
    pytest.param(
        {"STUDIO_PUBLISH_MEDIA_ROOT": "/no/such/folder"},
        "STUDIO_PUBLISH_MEDIA_ROOT",
        id="media-root-missing",
    ),
    pytest.param(
        {"STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS": "10.0.0.0/33"},
        "STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS",
        id="allow-hosts-bad-cidr",
    ),
    pytest.param(
        {"STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS": "a host"},
        "STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS",
        id="allow-hosts-space",
    ),
]


@pytest.fixture(scope="module")
def shared_db_url(pg_server_url: str) -> Iterator[str]:
    """One migrated database for this whole file: a bad setting stops every command before
    it reaches the database, so the tests need no database of their own."""
    with throwaway_database(pg_server_url) as url:
        yield url


@pytest.fixture
def db_url(shared_db_url: str) -> str:
    """Overrides conftest's db_url, so `cli` runs against the shared database."""
    return shared_db_url


def assert_config_error(result: Any, variable: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    result.assert_error_stdout()


def account_count(db_url: str) -> int:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT count(*) AS n FROM studio_social_accounts").fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize(("env", "variable"), BAD_SETTINGS)
def test_a_bad_setting_in_the_environment_gives_exit_2_naming_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert_config_error(cli("status"), variable)
    assert_config_error(cli("status", "--json"), variable)


@pytest.mark.parametrize(("env", "variable"), BAD_SETTINGS[:6])
def test_a_bad_setting_writes_nothing(
    cli: Cli, db_url: str, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    before = account_count(db_url)

    result = cli(
        "accounts", "add", "--platform", "instagram", "--platform-account-id", "1", input="tok\n"
    )

    assert_config_error(result, variable)
    assert account_count(db_url) == before


@pytest.mark.parametrize(("env", "variable"), BAD_SETTINGS)
def test_a_bad_setting_in_a_dotenv_file_gives_exit_2_naming_it(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    # clean_env (through cli) made tmp_path the working directory.
    assert Path.cwd() == tmp_path
    for name in env:  # the environment would win over the file
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))

    assert_config_error(cli("status"), variable)


def test_the_database_url_is_read_from_a_dotenv_file(
    cli: Cli, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    (tmp_path / ".env").write_text(f"DATABASE_URL={db_url}\n")
    before = account_count(db_url)

    result = cli(
        "accounts", "add", "--platform", "tiktok", "--platform-account-id", "x", input="t\n"
    )

    assert result.exit_code == 0, result.stderr
    assert account_count(db_url) == before + 1


def test_studio_publish_database_url_is_read_too(
    cli: Cli, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("STUDIO_PUBLISH_DATABASE_URL", db_url)

    result = cli("status", "--json")

    assert result.exit_code == 0, result.stderr
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    assert f"database {dbname} " in result.json()["database"]


def test_the_environment_wins_over_the_dotenv_file(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("STUDIO_PUBLISH_CONCURRENCY=abc\n")
    monkeypatch.setenv("STUDIO_PUBLISH_CONCURRENCY", "4")

    result = cli("status", "--json")

    assert result.exit_code == 0, result.stderr


def test_good_values_are_accepted(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "STUDIO_PUBLISH_CONCURRENCY": "1",
        "STUDIO_PUBLISH_LOG_FORMAT": "console",
        "STUDIO_PUBLISH_GRAPH_API_BASE": "http://127.0.0.1:8080/v25.0/",
        "STUDIO_PUBLISH_RETRY_BASE_SECONDS": "5",
        "STUDIO_PUBLISH_RETRY_MAX_SECONDS": "5",
        "STUDIO_PUBLISH_MAX_LATENESS_SECONDS": "60",
    }.items():
        monkeypatch.setenv(name, value)

    result = cli("status", "--json")

    assert result.exit_code == 0, result.stderr
    result.json()


def test_the_error_does_not_show_the_database_password(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:Pa55wordXYZ@127.0.0.1:1/x")
    monkeypatch.setenv("STUDIO_PUBLISH_CONCURRENCY", "abc")

    result = cli("status")

    assert_config_error(result, "STUDIO_PUBLISH_CONCURRENCY")
    assert "Pa55wordXYZ" not in result.stderr


def test_the_tiktok_client_secret_never_shows_in_repr(
    monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    monkeypatch.setenv("STUDIO_PUBLISH_TIKTOK_CLIENT_SECRET", "tt-client-secret-777")
    from studio_publish.settings import load_settings

    settings = load_settings()
    assert "tt-client-secret-777" not in repr(settings) + str(settings)
    assert settings.tiktok_client_secret is not None
    assert settings.tiktok_client_secret.get_secret_value() == "tt-client-secret-777"
