"""Numbered migrations from ``sql/``, applied in order, each once, each in a transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import psycopg

from studio_publish.errors import DatabaseUnavailable, NotMigrated
from studio_publish.store.db import Connection, first_line

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any fixed number: two `db migrate` at once must not both apply the same file.
_MIGRATION_LOCK = 0x5354_5544_494F
_HISTORY_TABLE = """
CREATE TABLE IF NOT EXISTS studio_publish_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    source: Traversable

    def sql(self) -> str:
        return self.source.read_text(encoding="utf-8")


def migrations_folder() -> Traversable:
    """In a wheel the files ship as ``studio_publish/migrations``; in a checkout, ``sql/``."""
    packaged = resources.files("studio_publish") / "migrations"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "sql"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("the sql/ migrations folder is missing from this installation")


def available_migrations() -> list[Migration]:
    found = []
    for entry in migrations_folder().iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a number: {versions}")
    return found


def applied_versions(conn: Connection) -> set[int]:
    exists = conn.execute("SELECT to_regclass('studio_publish_migrations') IS NOT NULL AS e")
    row = exists.fetchone()
    if not row or not row["e"]:
        return set()
    return {r["version"] for r in conn.execute("SELECT version FROM studio_publish_migrations")}


def pending_migrations(conn: Connection) -> list[Migration]:
    done = applied_versions(conn)
    return [m for m in available_migrations() if m.version not in done]


def migrate(conn: Connection) -> list[Migration]:
    """Apply what is pending; returns what was applied (empty when already up to date)."""
    applied = []
    conn.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK])
    try:
        conn.execute(_HISTORY_TABLE)
        for migration in pending_migrations(conn):
            with conn.transaction():
                conn.execute(migration.sql())
                conn.execute(
                    "INSERT INTO studio_publish_migrations (version, name) VALUES (%s, %s)",
                    [migration.version, migration.name],
                )
            applied.append(migration)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK])
    return applied


def require_migrated(conn: Connection) -> None:
    """Raise NotMigrated unless every migration shipped with this version is applied."""
    try:
        pending = pending_migrations(conn)
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"cannot read the schema: {first_line(exc)}") from None
    if pending:
        names = ", ".join(m.name for m in pending)
        raise NotMigrated(
            f"the database is not migrated (pending: {names}): run `studio-publish db migrate`"
        )
