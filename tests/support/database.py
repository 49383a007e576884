"""Throwaway databases on the test server: each test gets one of its own, dropped after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row


def database_url(server_url: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(server_url, dbname=dbname)


@contextmanager
def throwaway_database(server_url: str, *, migrated: bool = True) -> Iterator[str]:
    """A new database (with every migration applied, unless told not to), dropped after."""
    name = f"studio_publish_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url(server_url, name)
    try:
        if migrated:
            from studio_publish.store.migrations import migrate

            with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
                migrate(conn)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
