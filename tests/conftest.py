"""Fixtures: a real PostgreSQL for every test, each test in a throwaway database of its own.

TEST_DATABASE_URL names a server to use (CI uses the machine's); without it the tests
start the embedded PostgreSQL in a temporary folder and stop it at the end.

tests/unit needs none of this (tests/unit/conftest.py refuses a database there);
tests/integration talks to the database, the CLI and the sandbox. Shared helpers are in
tests/support.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from support.cli import Cli, make_runner
from support.database import throwaway_database


def pytest_configure(config: pytest.Config) -> None:
    """Every temporary folder of the run lives in one folder, removed when the run ends.

    pytest keeps its last three runs' folders in /tmp/pytest-of-USER otherwise (tens of MB
    each, embedded PostgreSQL data included): the suite leaves nothing behind.
    """
    if config.option.basetemp is None:
        folder = tempfile.mkdtemp(prefix="studio-publish-tests-")
        config.option.basetemp = folder
        config.stash[_RUN_FOLDER] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_RUN_FOLDER, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


_RUN_FOLDER = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from studio_publish.store.db import import_pgserver

    pgserver = import_pgserver()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        folder = tmp_path_factory.mktemp("embedded-postgres")
        server = pgserver.get_server(folder, cleanup_mode="stop")
    yield str(server.get_uri())
    server.cleanup()


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A new, empty database, dropped after the test."""
    with throwaway_database(pg_server_url, migrated=False) as url:
        yield url


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A new database with every migration applied."""
    from studio_publish.store.migrations import migrate

    with psycopg.connect(empty_db_url, autocommit=True, row_factory=dict_row) as conn:
        migrate(conn)
    return empty_db_url


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as connection:
        yield connection


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No setting leaks in from the developer's environment or a .env file."""
    for name in list(os.environ):
        if name.startswith("STUDIO_PUBLISH_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_PUBLISH_LOG_FORMAT", "json")
    # Local media is read only from the media root: the test's own folder.
    monkeypatch.setenv("STUDIO_PUBLISH_MEDIA_ROOT", str(tmp_path))
    # Preflight looks up future posts' media URLs: only its own tests turn it on, with
    # media the sandbox serves on 127.0.0.1.
    monkeypatch.setenv("STUDIO_PUBLISH_PREFLIGHT_HOURS", "0")


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Cli:
    """Run the CLI in-process as a user would, against the test database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    return make_runner()


@pytest.fixture
def add_account(cli: Cli) -> Callable[..., str]:
    """Register an account through the CLI; returns its id."""

    def add(
        platform: str = "instagram", account_id: str = "17841400000000001", **extra: str
    ) -> str:
        args = ["accounts", "add", "--platform", platform, "--platform-account-id", account_id]
        for key, value in extra.items():
            args += [f"--{key.replace('_', '-')}", value]
        result = cli(*args, input="test-access-token\n")
        assert result.exit_code == 0, result.stderr
        return result.stdout.strip()

    return add
