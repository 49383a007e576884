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
        assert self.stderr.strip().endswith(f"error: {printable(error['message'])}"), error


Cli = Callable[..., CliResult]


def make_runner() -> Cli:
    runner = CliRunner()

    def invoke(
        *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> CliResult:
        result = runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr, tuple(args))

    return invoke
