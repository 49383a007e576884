"""Printing: one JSON document with --json, rich tables on a terminal, times in local time.

Values come from rows the web app wrote and from platforms: they are printed as text, never
as rich markup, with control characters escaped (studio_publish.terminal_text).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from studio_publish.formatting import human, to_json
from studio_publish.terminal_text import printable


def print_json(document: Any) -> None:
    sys.stdout.write(to_json(document) + "\n")


def emit(document: Any, as_json: bool, text: str | Callable[[Any], object]) -> None:
    """A command's result: ``document`` as one JSON document with --json; else ``text``, a
    line of ours (see `print_line`) or a function that shows ``document`` to a person."""
    if as_json:
        print_json(document)
    elif isinstance(text, str):
        print_line(text)
    else:
        text(document)


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
