"""Running the CLI in-process as a user would, and reading what it printed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from studio_publish.cli.app import app


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    args: tuple[str, ...] = ()

    def json(self) -> Any:
        import json

        return json.loads(self.stdout)

    def assert_error_stdout(self) -> None:
        """A failure prints nothing on stdout, or with --json the spec's error document."""
        if "--json" not in self.args:
            assert self.stdout == "", self.stdout
            return
        error = self.json()["error"]
        assert error["code"] == self.exit_code, error
        assert set(error) == {"code", "message", "field"}, error
        from studio_publish.terminal_text import printable

        # The same message as the one line on stderr.
        assert self.error_message() in (error["message"], printable(error["message"])), error

    def error_message(self) -> str:
        """The message of the failure line, the last on stderr: a JSON log line's ``error``
        under JSON logs (as the tests run, like cron), else the text after ``error: ``."""
        import json

        lines = self.stderr.strip().splitlines()
        assert lines, "nothing on stderr"
        if lines[-1].startswith("{"):
            line = json.loads(lines[-1])
            assert line["event"] == "command_failed" and line["level"] == "error", line
            assert line["exit_code"] == self.exit_code, line
            return str(line["error"])
        assert lines[-1].startswith("error: "), lines[-1]
        return lines[-1].removeprefix("error: ")


Cli = Callable[..., CliResult]


def make_runner() -> Cli:
    runner = CliRunner()

    def invoke(
        *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> CliResult:
        result = runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr, tuple(args))

    return invoke
