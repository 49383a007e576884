"""The command line's own manners: --version, -h, usage lines as the README has them, and
errors as one JSON document with --json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest
from support.cli import Cli, make_runner

COMMANDS = [
    [],
    ["schedule"],
    ["cancel"],
    ["run-due"],
    ["publish"],
    ["retry-failed"],
    ["status"],
    ["confirm-live"],
    ["demo"],
    ["sandbox"],
    ["db"],
    ["db", "migrate"],
    ["db", "prune"],
    ["accounts"],
    ["accounts", "add"],
    ["accounts", "list"],
    ["accounts", "reauth"],
]


def test_version_prints_the_installed_version() -> None:
    result = make_runner()("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"studio-publish {version('studio-publish')}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_h_is_help_for_every_command(command: list[str]) -> None:
    short = make_runner()(*command, "-h")
    long = make_runner()(*command, "--help")
    assert short.exit_code == long.exit_code == 0, short.stderr
    assert short.stdout == long.stdout
    assert "Usage: " in short.stdout


@pytest.mark.parametrize(
    ("command", "argument"),
    [
        (["schedule"], "[POST_ID]"),
        (["cancel"], "POST_ID"),
        (["publish"], "POST_ID"),
        (["status"], "[POST_ID]"),
        (["confirm-live"], "POST_ID"),
        (["accounts", "reauth"], "ACCOUNT_ID"),
    ],
)
def test_usage_names_arguments_as_the_readme_does(command: list[str], argument: str) -> None:
    result = make_runner()(*command, "--help")
    (usage,) = [line for line in result.stdout.splitlines() if "Usage:" in line]
    # A required argument is bare, an optional one [bracketed]; never typer's {POST_ID}.
    assert usage.split()[2:] == [*command, "[OPTIONS]", argument]  # after "Usage: PROG"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_an_option_shows_what_it_takes_not_a_python_type(command: list[str]) -> None:
    help_text = make_runner()(*command, "--help", env={"COLUMNS": "200"}).stdout
    options = [line for line in help_text.splitlines() if line.strip().startswith("-")]
    assert options and all(
        "<str>" not in o and "<list" not in o and "<int>" not in o for o in options
    ), options


def test_schedules_options_name_their_values() -> None:
    help_text = make_runner()("schedule", "--help", env={"COLUMNS": "200"}).stdout
    for option, value in [("--at", "WHEN"), ("--media", "URL_OR_FILE"), ("--option", "KEY=VALUE")]:
        (line,) = [line for line in help_text.splitlines() if line.strip().startswith(option)]
        assert value in line, line


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_no_flag_shows_a_value(command: list[str]) -> None:
    help_text = make_runner()(*command, "--help", env={"COLUMNS": "200"}).stdout
    assert "<bool>" not in help_text
    assert "{" not in help_text.split("Usage:")[1].splitlines()[0]
    flags = [line for line in help_text.splitlines() if "--help" in line or "--json" in line]
    assert flags and all("<" not in line for line in flags), flags


@pytest.mark.parametrize("flags", [["--draft", "true"], ["--draft", "false"], ["--dry-run", "1"]])
def test_a_flag_given_a_value_is_refused_not_taken_as_a_post_id(
    cli: Cli, add_account: Callable[..., str], flags: list[str]
) -> None:
    account = add_account("facebook", "1234567890")
    result = cli("schedule", "--account", account, *flags, "--caption", "Hi", "--json")
    assert result.exit_code == 2
    error = result.json()["error"]
    assert error["field"] == flags[0]
    assert (
        error["message"] == f"{flags[0]}: takes no value: write {flags[0]} alone, not {flags[1]!r}"
    )
    assert cli("status", "--json").json()["counts"] == {}  # nothing was written


@pytest.mark.parametrize("command", [["sandbox"], ["demo"]])
def test_help_text_does_not_break_mid_sentence(command: list[str]) -> None:
    result = make_runner()(*command, "--help")
    description = result.stdout.split("\nOptions:")[0].split("\n\n")[1:]  # after the usage
    # Lines wrap to the terminal, but every paragraph ends a sentence: none is cut short.
    assert len(description) >= 2
    for paragraph in description:
        text = " ".join(paragraph.split())
        assert re.search(r"[.:]$", text), text


def test_a_failure_with_json_is_one_error_document_on_stdout(
    cli: Cli, add_account: Callable[..., str]
) -> None:
    account = add_account("facebook", "1234567890")
    result = cli("schedule", "--account", account, "--at", "yesterday", "--json")
    assert result.exit_code == 2
    error = result.json()["error"]
    assert error["code"] == 2 and error["field"] == "--at"
    assert error["message"].startswith("--at: ")
    assert result.error_message().startswith("--at: ")  # the line on stderr stays


def test_an_unreachable_database_with_json_is_an_error_document(clean_env: None) -> None:
    result = make_runner()(
        "status", "--json", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}
    )
    assert result.exit_code == 3
    assert result.json()["error"]["code"] == 3 and result.json()["error"]["field"] is None


def test_without_json_a_failure_prints_nothing_on_stdout(
    cli: Cli, add_account: Callable[..., str]
) -> None:
    account = add_account("facebook", "1234567890")
    result = cli("schedule", "--account", account, "--at", "yesterday")
    assert result.exit_code == 2 and result.stdout == ""


# --- a fatal error under cron: a JSON log line, as the README says -------------------------

FATAL = [
    pytest.param({"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}, 3, id="database-down"),
    pytest.param({"DATABASE_URL": "postgresql://postgres@[::1/x"}, 2, id="bad-database-url"),
    pytest.param({"STUDIO_PUBLISH_CONCURRENCY": "many"}, 2, id="bad-setting"),
]


@pytest.mark.parametrize(("env", "code"), FATAL)
@pytest.mark.parametrize("log_format", ["json", "auto"])  # auto: stderr is no terminal here
def test_a_fatal_error_with_json_logs_is_one_json_line(
    clean_env: None, env: dict[str, str], code: int, log_format: str
) -> None:
    result = make_runner()("run-due", env={**env, "STUDIO_PUBLISH_LOG_FORMAT": log_format})
    assert result.exit_code == code
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    logged = json.loads(line)
    assert logged["event"] == "command_failed" and logged["level"] == "error"
    assert logged["exit_code"] == code and logged["field"] is None
    assert logged["error"] and "timestamp" in logged


@pytest.mark.parametrize(("env", "code"), FATAL)
def test_a_fatal_error_with_json_is_the_error_document_and_the_log_line(
    clean_env: None, env: dict[str, str], code: int
) -> None:
    result = make_runner()("run-due", "--json", env=env)
    assert result.exit_code == code
    assert result.json() == {
        "error": {"code": code, "message": result.error_message(), "field": None}
    }


@pytest.mark.parametrize(("env", "code"), FATAL)
def test_a_fatal_error_with_console_logs_is_an_error_line(
    clean_env: None, env: dict[str, str], code: int
) -> None:
    result = make_runner()("run-due", env={**env, "STUDIO_PUBLISH_LOG_FORMAT": "console"})
    assert result.exit_code == code
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")


def test_under_cron_a_fatal_error_is_a_json_line(clean_env: None, tmp_path: Path) -> None:
    """As cron runs it: a real process, stdout and stderr piped, nothing configured but a
    database that is down (and the log format left at auto)."""
    env = {k: v for k, v in os.environ.items() if k != "STUDIO_PUBLISH_LOG_FORMAT"}
    env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/x"
    done = subprocess.run(
        [sys.executable, "-m", "studio_publish", "run-due"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 3 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    logged = json.loads(line)
    assert logged["event"] == "command_failed" and logged["exit_code"] == 3
    assert logged["error"].startswith("cannot reach database x on 127.0.0.1:1")


def test_a_bad_log_format_is_reported_in_the_default_format(clean_env: None) -> None:
    # STUDIO_PUBLISH_LOG_FORMAT itself is wrong: the failure is reported as under auto.
    result = make_runner()("status", env={"STUDIO_PUBLISH_LOG_FORMAT": "xml"})
    assert result.exit_code == 2
    assert result.error_message().startswith("STUDIO_PUBLISH_LOG_FORMAT: ")
    assert result.stderr.startswith("{")  # stderr is no terminal here
