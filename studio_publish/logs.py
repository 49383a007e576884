"""structlog setup: JSON lines when not on a terminal (cron), readable lines on one.

Logs go to standard error so that `--json` output on standard output stays one document.
Every line about a post is bound with its post_id, platform and attempt by the engine.
Values often carry a platform's message or a caption: on a terminal their control characters
are shown escaped (`_escape_controls`); JSON lines escape everything outside ASCII.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from studio_publish.terminal_text import printable

_SECRET_KEYS = ("token", "secret", "password", "authorization")


def _drop_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Belt and braces: a key that names a secret is never logged, whoever passed it."""
    for key in list(event):
        if any(word in key.lower() for word in _SECRET_KEYS):
            event[key] = "[redacted]"
    return event


# Text of ours that spans lines on purpose (the renderer writes it as is): newlines stay.
_MULTILINE_KEYS = ("exception", "stack")


class _Escaped(str):
    """A log value shown escaped, whether the renderer writes it as is or through repr()."""

    def __new__(cls, shown: str, shown_repr: str) -> _Escaped:
        value = super().__new__(cls, shown)
        value._repr = shown_repr
        return value

    _repr: str

    def __repr__(self) -> str:
        return self._repr


def _escape_controls(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """For the console: no escape sequence or bidi override in a value reaches the terminal.

    The console renderer writes a plain string as is and one with spaces or quotes through
    repr(), other values through repr(); each way, what it writes is escaped.
    """
    for key, value in event.items():
        if key in _MULTILINE_KEYS and isinstance(value, str):
            event[key] = printable(value, keep_newlines=True)
        elif isinstance(value, str):
            event[key] = _Escaped(printable(value), printable(repr(value)))
        elif key != "exc_info" and printable(shown := repr(value)) != shown:
            event[key] = _Escaped(printable(shown), printable(shown))
    return event


class _StderrLogger:
    """Writes each line to whatever sys.stderr is *now* (tests and runners swap it)."""

    def msg(self, message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*_: Any) -> _StderrLogger:
    return _StderrLogger()


def json_lines(log_format: str) -> bool:
    """Whether logs are JSON lines: ``json``, or ``auto`` when stderr is not a terminal (cron)."""
    return log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())


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


def configure_logging(log_format: str = "auto", *, level: int = logging.INFO) -> None:
    use_json = json_lines(log_format)
    renderer: Any
    escaping: list[Any] = []
    if use_json:
        # ensure_ascii: DEL, C1 and bidi controls are written as \u escapes, never raw.
        renderer = structlog.processors.JSONRenderer(ensure_ascii=True)
    else:
        escaping = [_escape_controls]
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_secrets,
            structlog.processors.format_exc_info,
            *escaping,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("studio_publish").bind(**bound)
