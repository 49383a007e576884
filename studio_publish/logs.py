"""Log lines: JSON lines when not on a terminal (cron), readable lines on one.

Logs go to standard error so that `--json` output on standard output stays one document.
Every line about a post is bound with its post_id, platform and attempt by the engine.
Values often carry a platform's message or a caption: on a terminal their control characters
are shown escaped (terminal_text.printable); JSON lines escape everything outside ASCII.

A logger of our own, not a logging library's: the engine logs a line or two a post, and
structlog, which did this before, cost more start-up than any other import a run does not
need (it imports rich for its console renderer) and about 3 % of the engine's CPU a post
(README.md, Performance). What it did for us is here: bound values, levels, the two
formats, exceptions and the secret-named keys dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
from dataclasses import dataclass
from typing import Any

from studio_publish.terminal_text import printable

_SECRET_KEYS = ("token", "secret", "password", "authorization")
# Text of ours that spans lines on purpose (a traceback): newlines stay, on a terminal.
_MULTILINE_KEYS = ("exception", "stack")
# A console value with any of these is shown through repr(), so it reads as one value.
_QUOTED = frozenset(" \t=\r\n\"'")
_LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


@dataclass(frozen=True)
class _Format:
    json: bool
    level: int
    colors: bool


_format = _Format(json=True, level=logging.INFO, colors=False)  # until configure_logging


def json_lines(log_format: str) -> bool:
    """Whether logs are JSON lines: ``json``, or ``auto`` when stderr is not a terminal (cron)."""
    return log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())


def configure_logging(log_format: str = "auto", *, level: int = logging.INFO) -> None:
    """Where every logger's lines go from now on: their format and the lowest level shown."""
    global _format
    use_json = json_lines(log_format)
    _format = _Format(json=use_json, level=level, colors=not use_json and sys.stderr.isatty())


def report_failure(message: str, *, exit_code: int, field: str | None) -> None:
    """A command that fails says why on stderr, among its logs and in their format: under cron
    (JSON logs) one JSON line, ``{"error": "...", "exit_code": 3, "field": null, "event":
    "command_failed", "level": "error", "timestamp": ...}``; on a terminal ``error: ...``.

    The format is read from STUDIO_PUBLISH_LOG_FORMAT alone, as the rest of the settings may
    be what failed."""
    from studio_publish.settings import log_format_alone

    log_format = log_format_alone()
    if not json_lines(log_format):
        sys.stderr.write(f"error: {printable(message)}\n")
        return
    configure_logging(log_format)
    get_logger().error("command_failed", error=message, exit_code=exit_code, field=field)


class Logger:
    """Lines about one thing: the values it was bound with, then each line's own."""

    __slots__ = ("_bound",)

    def __init__(self, bound: dict[str, Any]) -> None:
        self._bound = bound

    def bind(self, **values: Any) -> Logger:
        return Logger({**self._bound, **values})

    def debug(self, event: str, **values: Any) -> None:
        self._line(logging.DEBUG, event, values)

    def info(self, event: str, **values: Any) -> None:
        self._line(logging.INFO, event, values)

    def warning(self, event: str, **values: Any) -> None:
        self._line(logging.WARNING, event, values)

    def error(self, event: str, **values: Any) -> None:
        self._line(logging.ERROR, event, values)

    def exception(self, event: str, **values: Any) -> None:
        """An error line with the exception being handled, as its ``exception`` value."""
        self._line(logging.ERROR, event, {**values, "exception": traceback.format_exc().rstrip()})

    def _line(self, level: int, event: str, values: dict[str, Any]) -> None:
        shown = _format
        if level < shown.level:
            return
        entry = {**self._bound, **values}
        for key in entry:
            if any(word in key.lower() for word in _SECRET_KEYS):
                entry[key] = "[redacted]"  # belt and braces: whoever passed it, never logged
        entry["event"] = event
        entry["level"] = _LEVEL_NAMES[level]
        entry["timestamp"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        line = _json(entry) if shown.json else _console(entry, colors=shown.colors)
        sys.stderr.write(line + "\n")  # whatever sys.stderr is now: tests and runners swap it
        sys.stderr.flush()


def _json(entry: dict[str, Any]) -> str:
    # ensure_ascii: DEL, C1 and bidi controls are written as \u escapes, never raw.
    return json.dumps(entry, ensure_ascii=True, default=repr)


_COLORS = {"debug": "\x1b[34m", "info": "\x1b[32m", "warning": "\x1b[33m", "error": "\x1b[31m"}


def _console(entry: dict[str, Any], *, colors: bool) -> str:
    """``timestamp [level    ] event   key=value ...``, every value escaped for a terminal; a
    traceback last, on lines of its own."""
    timestamp, level, event = entry.pop("timestamp"), entry.pop("level"), entry.pop("event")
    tail = [entry.pop(key) for key in _MULTILINE_KEYS if key in entry]
    shown_level = f"[{level:<9}]"
    if colors:
        shown_level = f"{_COLORS.get(level, '')}{shown_level}\x1b[0m"
    parts = [timestamp, shown_level, f"{printable(event):<30}"]
    parts.extend(
        f"{printable(key)}={_console_value(value)}" for key, value in sorted(entry.items())
    )
    lines = [" ".join(parts).rstrip()]
    lines.extend(printable(str(text), keep_newlines=True) for text in tail)
    return "\n".join(lines)


def _console_value(value: Any) -> str:
    if isinstance(value, str) and not _QUOTED.intersection(value):
        return printable(value)
    return printable(repr(value))


def get_logger(**bound: Any) -> Logger:
    return Logger(bound)
