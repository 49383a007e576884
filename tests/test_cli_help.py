"""The command line's own manners: --version, -h, usage lines that read as the README does."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
from conftest import make_runner

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
        (["schedule"], "POST_ID"),
        (["cancel"], "POST_ID"),
        (["publish"], "POST_ID"),
        (["status"], "POST_ID"),
        (["confirm-live"], "POST_ID"),
        (["accounts", "reauth"], "ACCOUNT_ID"),
    ],
)
def test_usage_names_arguments_as_the_readme_does(command: list[str], argument: str) -> None:
    result = make_runner()(*command, "--help")
    (usage,) = [line for line in result.stdout.splitlines() if "Usage:" in line]
    # typer marks an argument [optional] or {required}; the name is the README's.
    assert re.search(rf" {' '.join(command)} \[OPTIONS\] [\[{{]{argument}[\]}}]", usage), usage


@pytest.mark.parametrize("command", [["sandbox"], ["demo"]])
def test_help_text_does_not_break_mid_sentence(command: list[str]) -> None:
    result = make_runner()(*command, "--help", env={"COLUMNS": "200"})
    description = result.stdout.split("╭")[0]
    # On a wide terminal every sentence fits one line: a line may not end inside one.
    for line in description.splitlines():
        text = line.strip()
        assert not text or re.search(r"[.:]$", text) or text.startswith("Usage:"), text
