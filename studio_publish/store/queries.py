"""Named SQL queries, kept in ``studio_publish/store/sql/*.sql``.

Each query starts with a ``-- name: <query_name>`` line; the lines after it, up to the
next name, are the query. Parameters use psycopg's ``%(name)s`` style. State changes are
guarded in the SQL itself (``WHERE status = 'scheduled' ...``), so an illegal transition
changes zero rows instead of corrupting data.
"""

from __future__ import annotations

import functools
from importlib import resources

_NAME_PREFIX = "-- name:"


def parse_queries(text: str, source: str = "<sql>") -> dict[str, str]:
    queries: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []

    def flush() -> None:
        if name is not None:
            body = "\n".join(lines).strip()
            if not body:
                raise ValueError(f"{source}: query {name} is empty")
            queries[name] = body

    for line in text.splitlines():
        if line.startswith(_NAME_PREFIX):
            flush()
            name = line[len(_NAME_PREFIX) :].strip()
            if name in queries:
                raise ValueError(f"{source}: query {name} is defined twice")
            lines = []
        elif name is not None:
            lines.append(line)
    flush()
    return queries


@functools.cache
def _all_queries() -> dict[str, str]:
    found: dict[str, str] = {}
    folder = resources.files("studio_publish") / "store" / "sql"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            parsed = parse_queries(entry.read_text(encoding="utf-8"), entry.name)
            clash = found.keys() & parsed.keys()
            if clash:
                raise ValueError(f"{entry.name}: queries defined twice: {sorted(clash)}")
            found.update(parsed)
    return found


def query(name: str) -> str:
    """The SQL of the named query; a KeyError names it if it does not exist."""
    try:
        return _all_queries()[name]
    except KeyError:
        raise KeyError(f"no SQL query named {name!r}") from None
