"""What start-up loads, and the two tricks that make it fast (bench/startup.py times them).

Each check runs a fresh interpreter: what a module imports only shows in a process that has
not imported it yet.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from support.cli import make_runner

from studio_publish.cli import app as cli_app


def fresh(code: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100", **(env or {})},
        check=False,
    )


def loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    done = fresh(f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))")
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


HELP = """
import sys
from studio_publish.cli.app import main
sys.argv = ["studio-publish", "--help"]
try:
    main()
except SystemExit:
    pass
"""


@pytest.mark.parametrize("command", [[], ["schedule"], ["accounts", "add"]])
def test_help_loads_neither_the_database_nor_http_nor_settings(command: list[str]) -> None:
    # pydantic included: typer would convert an -h/--help not given through a type adapter.
    modules = loaded_by(HELP.replace('"--help"', ", ".join(f'"{a}"' for a in [*command, "--help"])))
    for heavy in ("psycopg", "httpx", "pydantic", "structlog", "studio_publish.settings"):
        assert heavy not in modules


def test_help_renders_without_rich() -> None:
    modules = loaded_by(HELP)
    assert "typer.rich_utils" not in modules and "rich.console" not in modules


def test_help_is_click_plain_layout_for_every_level() -> None:
    for command in ([], ["run-due"], ["accounts", "add"]):
        code = HELP.replace('"--help"', ", ".join(f'"{a}"' for a in [*command, "--help"]))
        shown = fresh(code)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith("Usage: studio-publish")
        assert "╭" not in shown.stdout and "Options:\n" in shown.stdout


def test_only_the_command_used_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """typer would make every command's click parameters at each start; the groups make a
    command only to run it or show its own help, and list the others from their docstrings."""
    made: list[str] = []
    make = cli_app.get_command_from_info

    def recording(info: Any, **kwargs: Any) -> Any:
        made.append(info.callback.__name__)
        return make(info, **kwargs)

    monkeypatch.setattr(cli_app, "get_command_from_info", recording)
    for command in ([], ["db"], ["accounts"]):
        assert make_runner()(*command, "--help").exit_code == 0
    assert made == []
    assert make_runner()("accounts", "add", "--help").exit_code == 0
    assert make_runner()("statu").exit_code == 2  # "Did you mean 'status'?" makes nothing
    assert made == ["accounts_add"]


def test_the_command_list_says_what_each_command_says_of_itself() -> None:
    """Each summary in a group's list, read from a docstring, is the one the command made
    from it gives: its whole first sentence."""
    root = typer.main.get_command(cli_app.app)
    for group in (root, root.commands["db"], root.commands["accounts"]):
        ctx = group.make_context(group.name, ["--help"], resilient_parsing=True)
        names = group.list_commands(ctx)
        listed = [group.commands.summary(name) for name in names]
        made = [group.get_command(ctx, name).get_short_help_str() for name in names]
        assert listed == made and all(s.endswith(".") for s in listed), listed


def test_status_loads_no_scheduling_engine_or_platform_client() -> None:
    modules = loaded_by(
        "import studio_publish.reporting.status, studio_publish.reporting.health, "
        "studio_publish.cli.status_view, studio_publish.cli.render, studio_publish.store.db"
    )
    unwanted = [
        m
        for m in modules
        if m.startswith(("studio_publish.scheduling", "studio_publish.engine", "httpx"))
        or m in ("studio_publish.platforms.base", "studio_publish.domain")
    ]
    assert unwanted == []


def test_run_due_loads_no_post_file_reader() -> None:
    modules = loaded_by("import studio_publish.operations, studio_publish.cli.render")
    assert "studio_publish.scheduling.posts" not in modules
    assert "studio_publish.scheduling.postfile" not in modules
    # The engine's HTTP pool loads when a post needs a client.
    assert "studio_publish.engine.http_pool" not in modules and "httpcore" not in modules


def test_the_lean_pool_loads_no_httpcore() -> None:
    """httpcore is for httpx's own request path; a run's plain calls go the short one, so
    the first post of a busy run (which every post of the first round waits on) does not
    import it."""
    modules = loaded_by(
        "import studio_publish.operations, studio_publish.engine.http_pool, "
        "studio_publish.engine.http_clients"
    )
    assert "httpcore" not in modules


@pytest.fixture
def starting() -> Iterator[None]:
    """As main() leaves the process: collector off until started()."""
    was_enabled = gc.isenabled()
    gc.disable()
    cli_app._starting = True
    try:
        yield
    finally:
        cli_app._starting = False
        gc.unfreeze()
        if was_enabled:
            gc.enable()


@pytest.mark.usefixtures("starting")
def test_started_freezes_what_start_up_made_and_turns_the_collector_on() -> None:
    cli_app.started()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    gc.disable()
    cli_app.started()  # once only: a second call changes nothing
    assert not gc.isenabled()


def test_started_without_main_changes_nothing() -> None:
    """In-process callers (the tests' CliRunner, the hook) never had the collector off."""
    enabled = gc.isenabled()
    frozen = gc.get_freeze_count()
    cli_app.started()
    assert gc.isenabled() == enabled
    assert gc.get_freeze_count() == frozen


@pytest.mark.parametrize("collecting", [True, False])
def test_importing_the_cli_leaves_the_collector_as_it_was(collecting: bool) -> None:
    """The module loads with the collector off (typer's import is most of `--help`), then
    gives an in-process importer its collector back as it had it."""
    before = "" if collecting else "gc.disable()"
    code = f"import gc\n{before}\nimport studio_publish.cli.app\nprint(gc.isenabled())"
    done = fresh(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(collecting)


def test_help_ends_with_start_up_frozen() -> None:
    """No work began, so the interpreter's exit need not walk start-up's objects again."""
    done = fresh(f"{HELP}\nimport gc\nprint(gc.get_freeze_count() > 0, gc.isenabled())")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "True False"


def test_every_command_that_works_ends_start_up() -> None:
    """A command that works long with the collector off would grow without bound: each one
    calls settings() (which calls started()) or started() itself."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(cli_app))
    helpers = {"settings", "database", "started", "status_check"}
    missing = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not any(
            isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command"
            for d in node.decorator_list
        ):
            continue
        called = {
            c.func.id
            for c in ast.walk(node)
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
        }
        if not called & helpers:
            missing.append(node.name)
    assert missing == []
