"""Errors the CLI turns into exit codes (see the spec's table)."""

from __future__ import annotations

from collections.abc import Callable

EXIT_OK = 0
EXIT_FAILED = 1  # the work ran but a post failed or was refused
EXIT_BAD_INPUT = 2  # bad input or configuration: nothing was written
EXIT_DATABASE = 3  # the database is unreachable or not migrated


class StudioPublishError(Exception):
    exit_code = EXIT_FAILED


class BadInput(StudioPublishError):
    """Bad input, named by its field in the library's own terms. Nothing was written.

    ``field`` is a domain name (``at``, ``platform_account_id``, ``post_id``), optionally
    followed by where in it the problem is (``file line 3: caption``); never a CLI flag:
    the CLI shows each name as the flag or argument the user typed (cli.FLAGS).

    ``problem`` may refer to other fields as ``{name}`` for each name in ``refers_to``
    (``"required unless {draft}"``): ``problem`` reads them as their names, and
    `problem_naming` lets a caller spell them its own way.
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(self, field: str, problem: str, *, refers_to: tuple[str, ...] = ()) -> None:
        self.field = field
        self.template = problem
        self.refers_to = refers_to
        self.problem = self.problem_naming(lambda name: name)
        super().__init__(f"{field}: {self.problem}")

    def problem_naming(self, name: Callable[[str], str]) -> str:
        """The problem, with each mentioned field written as ``name(field)``."""
        text = self.template
        for other in self.refers_to:
            text = text.replace(f"{{{other}}}", name(other))
        return text


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
