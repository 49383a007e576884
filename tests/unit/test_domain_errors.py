"""The library names bad input by its fields; only the CLI knows them as flags.

A library function is called by the CLI, the hook, the demo and other programs alike, so its
errors say ``at`` or ``post_id``; the CLI shows each as the flag or argument the user typed
(``--at``, ``POST_ID``) through one table, `cli.app.FLAGS`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from studio_publish.cli.app import FLAGS, error_text, shown
from studio_publish.errors import BadInput, Refused

PACKAGE = Path(__file__).resolve().parents[2] / "studio_publish"
# The calls whose string arguments name a field.
FIELD_TAKERS = {
    "BadInput",
    "UnknownPlatform",
    "validate_uuid",
    "check_text",
    "parse_bool",
    "parse_age",
    "parse_zone",
    "parse_when",
    "parse_schedule_time",
    "parse_option_strings",
    "spec_for",
    "get_post_or_raise",
}
FLAG_LIKE = re.compile(r"--[a-z]|\b[A-Z]+_ID\b")


def library_modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "cli" not in p.relative_to(PACKAGE).parts]


def texts_in(node: ast.AST) -> list[str]:
    """The literal text of every string (and f-string part) inside ``node``."""
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def field_calls(tree: ast.AST) -> list[tuple[int, str, list[str]]]:
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in FIELD_TAKERS:
            args = [*node.args, *(k.value for k in node.keywords)]
            calls.append((node.lineno, name, [t for a in args for t in texts_in(a)]))
    return calls


def test_no_library_module_names_a_flag_in_bad_input() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} {name}: {text!r}"
        for path in library_modules()
        for line, name, texts in field_calls(ast.parse(path.read_text(encoding="utf-8")))
        for text in texts
        if FLAG_LIKE.search(text)
    ]
    assert offenders == []


def test_the_check_finds_a_flag_where_there_is_one() -> None:
    tree = ast.parse('raise BadInput("--at", "bad")\nvalidate_uuid(x, field=f"POST_ID {n}")')
    found = [t for _, _, texts in field_calls(tree) for t in texts if FLAG_LIKE.search(t)]
    assert found == ["--at", "POST_ID "]


def test_every_field_the_library_names_has_its_flag() -> None:
    """Each plain field name given to a field-taking call is in the CLI's table, so the
    user never sees a bare library name where a flag belongs."""
    names = {
        text
        for path in library_modules()
        if "sandbox" not in path.relative_to(PACKAGE).parts
        for _, name, texts in field_calls(ast.parse(path.read_text(encoding="utf-8")))
        for text in texts[:1]
        if re.fullmatch(r"[a-z_]+", text) and name != "check_text"
    }
    assert names, "the scan found no field names at all"
    # Columns of a stored row (the engine's checks) and of a bulk file are not flags.
    columns = {"post_type", "platform_state", "kind", "url"}
    assert sorted(names - set(FLAGS) - columns) == []


@pytest.mark.parametrize(
    ("field", "flag"),
    [
        ("at", "--at"),
        ("post_id", "POST_ID"),
        ("options", "--option"),
        ("file line 3: caption", "--file line 3: caption"),
        ("media[2].url", "media[2].url"),  # a column of a stored row stays a column
    ],
)
def test_fields_are_shown_as_the_flags_typed(field: str, flag: str) -> None:
    assert shown(field) == flag


def test_an_error_names_its_flag_and_the_fields_it_refers_to() -> None:
    error = BadInput("confirm_not_live", "needs the posts named with {id}", refers_to=("id",))
    assert str(error) == "confirm_not_live: needs the posts named with id"
    assert error_text(error) == (
        "--confirm-not-live: needs the posts named with --id",
        "--confirm-not-live",
    )


def test_a_cli_only_hint_is_added_by_the_cli() -> None:
    message, field = error_text(BadInput("access_token", "is empty"))
    assert message == "access token: is empty (give it on standard input or --access-token-env)"
    assert field == "access token"


def test_other_errors_pass_through_unchanged() -> None:
    assert error_text(Refused("post x cannot be cancelled: it is posted")) == (
        "post x cannot be cancelled: it is posted",
        None,
    )
