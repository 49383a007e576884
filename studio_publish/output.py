"""Printing: one JSON document with --json, rich tables on a terminal, times in local time.

Values come from rows the web app wrote and from platforms: they are printed as text, never
as rich markup, with control characters escaped (studio_publish.terminal_text).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import sys
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from studio_publish.terminal_text import json_safe, printable


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def to_json(document: Any) -> str:
    """Exact data, readable non-ASCII text; no DEL, C1 or bidi control left raw (json_safe)."""
    return json_safe(json.dumps(document, default=_json_default, ensure_ascii=False))


def print_json(document: Any) -> None:
    sys.stdout.write(to_json(document) + "\n")


def local_time(value: dt.datetime | None) -> str:
    """A timestamp in the operator's zone (TZ), to the second."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def human(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return local_time(value)
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
    if isinstance(value, dict | list):
        return to_json(value)
    return str(value)


def print_table(
    title: str, columns: Sequence[str], rows: Iterable[dict[str, Any]], *, empty: str = ""
) -> None:
    """A table of rows; every title, header and cell is plain text, one line, escaped."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    rows = list(rows)
    # Piped or logged output is not cut to 80 columns: ids and errors must stay whole.
    wide = sys.stdout.isatty() or "COLUMNS" in os.environ
    console = Console() if wide else Console(width=200)
    if not rows:
        if empty:
            console.print(Text.assemble((printable(title), "bold"), ": ", printable(empty)))
        return
    table = Table(title=Text(printable(title)), title_justify="left", title_style="bold")
    for column in columns:
        # ids are copied into the next command: never cut them (fold on a narrow terminal)
        is_id = column == "id" or column.endswith("_id")
        table.add_column(
            Text(printable(column.replace("_", " "))), overflow="fold" if is_id else "ellipsis"
        )
    for row in rows:
        table.add_row(*(Text(printable(human(row.get(column)))) for column in columns))
    console.print(table)


def print_line(text: str) -> None:
    """One line of ours (it may span lines); no control character in it reaches the terminal.

    Interpolate row or platform text into it through `printable`, which escapes newlines too.
    """
    sys.stdout.write(printable(text, keep_newlines=True) + "\n")
