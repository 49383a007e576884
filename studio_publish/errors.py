"""Errors the CLI turns into exit codes (see the spec's table)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the work ran but a post failed or was refused
EXIT_BAD_INPUT = 2  # bad input or configuration: nothing was written
EXIT_DATABASE = 3  # the database is unreachable or not migrated


class StudioPublishError(Exception):
    exit_code = EXIT_FAILED


class BadInput(StudioPublishError):
    """Bad input: the message names the field. Nothing was written."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class ConfigError(StudioPublishError):
    exit_code = EXIT_BAD_INPUT


class DatabaseUnavailable(StudioPublishError):
    exit_code = EXIT_DATABASE


class NotMigrated(StudioPublishError):
    exit_code = EXIT_DATABASE


class Refused(StudioPublishError):
    """The request was understood but the post's state does not allow it."""

    exit_code = EXIT_FAILED


class UnknownPlatform(BadInput):
    """A platform name the registry does not hold."""

    def __init__(self, name: object, known: tuple[str, ...], field: str = "platform") -> None:
        shown = str(name)[:40] if isinstance(name, str) else type(name).__name__
        super().__init__(field, f"unsupported platform {shown!r} (one of {', '.join(known)})")
