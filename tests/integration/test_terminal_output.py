"""Text from rows and platforms is printed as text: no markup, no escape sequence, no bidi.

Captions, account names and platform errors are written by web-app users or sent by
platforms. Whatever they hold, an operator sees it literally, escaped where it would drive
the terminal, and `--json` still gives back exactly what is stored.
"""

from __future__ import annotations

import codecs
import json
import logging
import unicodedata
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.cli import Cli
from test_status import WIDE, ago, ahead, insert_post

from studio_publish import logs
from studio_publish.cli.output import print_line, print_table
from studio_publish.errors import BadInput
from studio_publish.formatting import to_json
from studio_publish.logs import configure_logging, get_logger
from studio_publish.terminal_text import json_safe, printable

Conn = psycopg.Connection[dict[str, Any]]

MARKUP = ["[/bold]", "[link=http://evil.example]click[/link]", "[bold red]loud[/]"]
ESCAPES = ["\x1b]0;pwned\x07", "\x1b[2J", "\x9b31m", "\u202eevil", "\x7fdel"]
# Nothing of these may reach the operator's terminal raw.
RAW = ["\x1b", "\x07", "\x9b", "\x7f", "\u202e"]
# What the tests call dangerous, independently of the implementation's own list.
BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
SEPARATORS = {"\u2028", "\u2029"}


def dangerous(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs") or char in BIDI | SEPARATORS


def assert_nothing_raw(text: str) -> None:
    for char in RAW:
        assert char not in text, f"raw {char!r} in output"
    assert not [c for c in text if dangerous(c) and c != "\n"], text


@pytest.fixture(autouse=True)
def _no_forced_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich's own styling must not be mistaken for an escape that came from a row."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


# --- printable -----------------------------------------------------------------------------

texts = st.text(
    st.one_of(
        st.characters(exclude_categories=()),
        st.integers(0xD800, 0xDFFF).map(chr),  # lone surrogates
        st.sampled_from(sorted(BIDI | SEPARATORS | {"\x1b", "\x9b", "\x7f", "\n", "\\"})),
    )
)


@given(texts)
def test_printable_leaves_no_control_character(text: str) -> None:
    shown = printable(text)

    assert not [c for c in shown if dangerous(c)]


@given(texts)
def test_printable_keeps_every_visible_character_in_place(text: str) -> None:
    shown = printable(text)

    # Character by character: a visible one is itself, any other its escape.
    assert shown == "".join(printable(c) for c in text)
    visible = iter(shown)
    for char in text:
        if not dangerous(char):
            assert printable(char) == char
            assert char in visible  # a subsequence: consumes up to its next occurrence


@given(
    st.one_of(
        st.characters(exclude_categories=()),
        st.integers(0xD800, 0xDFFF).map(chr),
        st.sampled_from(sorted(BIDI | SEPARATORS)),
    )
)
def test_each_escape_reads_back_as_its_character(char: str) -> None:
    shown = printable(char)

    if dangerous(char):
        assert shown.startswith("\\") and shown.isascii() and shown.isprintable()
        assert codecs.decode(shown, "unicode_escape") == char
    else:
        assert shown == char


@given(texts)
def test_printable_keeping_newlines(text: str) -> None:
    shown = printable(text, keep_newlines=True)

    assert shown.count("\n") == text.count("\n")
    assert not [c for c in shown if dangerous(c) and c != "\n"]
    assert "\n" not in printable(text)


def test_printable_examples() -> None:
    assert printable("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07"
    assert printable("\x1b[2J") == "\\x1b[2J"
    assert printable("\x9b2J") == "\\x9b2J"
    assert printable("a\u202eb\u2066c") == "a\\u202eb\\u2066c"
    assert printable("one\ntwo\tthree\r") == "one\\ntwo\\tthree\\r"
    assert printable("[/bold] café 🎉 \\ ok") == "[/bold] café 🎉 \\ ok"


# Without surrogates: two lone halves in a row would read back as one character. (A value
# read from PostgreSQL or decoded from a platform's JSON never holds such a pair.)
json_texts = st.text(
    st.one_of(
        st.characters(exclude_categories=("Cs",)),
        st.sampled_from(sorted(BIDI | SEPARATORS | {"\x1b", "\x9b", "\x7f", "\n", "\\"})),
    )
)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | json_texts,
        lambda inner: st.lists(inner) | st.dictionaries(json_texts, inner),
        max_leaves=10,
    )
)
def test_json_stays_exact_data_without_raw_controls(document: Any) -> None:
    text = to_json(document)

    assert json.loads(text) == document
    assert not [c for c in text if dangerous(c)]


def test_json_keeps_readable_text_and_escapes_c1() -> None:
    text = to_json({"caption": "café 🎉 [/bold] \x9b\x7f\u202e\x1b"})

    assert text == '{"caption": "café 🎉 [/bold] \\u009b\\u007f\\u202e\\u001b"}'
    assert json_safe('"\u2028"') == '"\\u2028"'
    assert to_json("\ud800") == '"\\ud800"'  # a lone surrogate could not even be written
    assert json.loads(to_json("\ud800")) == "\ud800"


# --- tables and lines ----------------------------------------------------------------------


def test_a_table_prints_markup_and_escapes_literally(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"id": "1", "caption": text} for text in [*MARKUP, *ESCAPES, "two\nlines"]]

    print_table("Posts [bold]x[/bold]", ["id", "caption"], rows)
    print_table("Nothing [/bold]", ["id"], [], empty="none [/i]")
    out = capsys.readouterr().out

    for text in [*MARKUP, "Posts [bold]x[/bold]", "Nothing [/bold]: none [/i]"]:
        assert text in out, text
    for text in ESCAPES:
        assert printable(text) in out
    assert "two\\nlines" in out
    assert_nothing_raw(out)


def test_a_line_keeps_its_own_newlines_but_no_control(capsys: pytest.CaptureFixture[str]) -> None:
    print_line("first\nsecond \x1b[2J")

    assert capsys.readouterr().out == "first\nsecond \\x1b[2J\n"


# --- through the CLI -----------------------------------------------------------------------


@pytest.fixture
def hostile(conn: Conn) -> dict[str, Any]:
    """Posts and an account as a careless or hostile web-app user could write them."""
    texts = [*MARKUP, *ESCAPES]
    scheduled = [
        insert_post(conn, "instagram", "scheduled", caption=text, scheduled_for=ahead(hours=n + 1))
        for n, text in enumerate(texts)
    ]
    failed = [
        insert_post(
            conn,
            "facebook",
            "failed",
            caption=text,
            failure_reason="max_attempts",
            last_publish_error=f"(#100) {text} from Graph",
            scheduled_for=ago(hours=1),
        )
        for text in texts
    ]
    review = insert_post(
        conn,
        "instagram",
        "needs_review",
        caption="[/bold]",
        failure_reason="publish_timeout",
        last_publish_error="timed out\n\x1b[2J\x9b\u202e[link=http://evil.example]x[/link]",
    )
    conn.execute(
        """INSERT INTO studio_social_accounts (platform, platform_account_id, name, state,
               state_reason, access_token)
           VALUES ('instagram', '1784', '[/bold]Brand \x1b[2J', 'needs_reauth',
                   E'revoked\\x1b]0;pwned\\x07 [link=http://evil.example]x[/link]', 't')"""
    )
    return {"texts": texts, "scheduled": scheduled, "failed": failed, "review": review}


def test_the_overview_shows_hostile_text_literally(cli: Cli, hostile: dict[str, Any]) -> None:
    result = cli("status", env=WIDE)

    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert_nothing_raw(out)
    for text in hostile["texts"]:
        assert printable(text) in out, text  # the caption, in Next due
        assert f"(#100) {printable(text)} from Graph" in out, text  # the error, in failures
    assert "[link=http://evil.example]click[/link]" in out
    assert "timed out\\n\\x1b[2J\\x9b\\u202e[link=http://evil.example]x[/link]" in out
    assert "[/bold]Brand \\x1b[2J" in out
    assert "revoked\\x1b]0;pwned\\x07 [link=http://evil.example]x[/link]" in out
    for post_id in [*hostile["scheduled"], *hostile["failed"], hostile["review"]]:
        assert post_id in out


def test_one_post_shows_hostile_text_literally(cli: Cli, conn: Conn) -> None:
    for text in [*MARKUP, *ESCAPES]:
        post_id = insert_post(
            conn,
            "facebook",
            "failed",
            caption=f"{text}\nsecond line",
            failure_reason="max_attempts",
            last_publish_error=f"{text} \x1b[31m",
        )
        conn.execute(
            """INSERT INTO studio_publish_attempts (post_id, attempt_number, started_at,
                   finished_at, outcome, error_class, error_message)
               VALUES (%s, 1, now(), now(), 'failed', 'PermanentError', %s)""",
            [post_id, f"attempt: {text}"],
        )

        result = cli("status", post_id, env=WIDE)

        assert result.exit_code == 0, result.stderr
        out = result.stdout
        assert_nothing_raw(out)
        assert f"{printable(text)}\\nsecond line" in out, text
        assert f"{printable(text)} \\x1b[31m" in out, text
        assert f"attempt: {printable(text)}" in out, text


def test_json_gives_back_exactly_what_is_stored(cli: Cli, conn: Conn) -> None:
    caption = "[/bold] \x1b]0;pwned\x07 \x1b[2J \x9b2J \u202e \x7f café\nend"
    post_id = insert_post(conn, "tiktok", "failed", caption=caption, last_publish_error=caption)

    one = cli("status", post_id, "--json")
    overview = cli("status", "--json")

    for result in (one, overview):
        assert result.exit_code == 0, result.stderr
        assert_nothing_raw(result.stdout)
        assert "café" in result.stdout  # non-ASCII text stays readable
    assert one.json()["post"]["caption"] == caption
    assert one.json()["post"]["last_publish_error"] == caption
    assert overview.json()["recent_failures"][0]["last_publish_error"] == caption


def test_an_error_message_is_one_escaped_line(
    cli: Cli, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio_publish.reporting import status

    def refuse(*_: Any) -> Any:
        raise BadInput("POST_ID", "caption [/bold] \x1b[2J\x9b\u202e\nerror: forged line")

    monkeypatch.setattr(status, "post_detail", refuse)
    monkeypatch.setenv("STUDIO_PUBLISH_LOG_FORMAT", "console")  # the text line, as on a terminal

    result = cli("status", str(uuid.uuid4()))

    assert result.exit_code == 2
    assert_nothing_raw(result.stderr)
    assert result.stderr == (
        "error: POST_ID: caption [/bold] \\x1b[2J\\x9b\\u202e\\nerror: forged line\n"
    )

    monkeypatch.setenv("STUDIO_PUBLISH_LOG_FORMAT", "json")  # under cron: one JSON line
    result = cli("status", str(uuid.uuid4()))
    assert_nothing_raw(result.stderr)
    assert len(result.stderr.splitlines()) == 1
    assert (
        result.error_message() == "POST_ID: caption [/bold] \x1b[2J\x9b\u202e\nerror: forged line"
    )


def test_a_problem_line_is_one_escaped_line(cli: Cli, conn: Conn) -> None:
    conn.execute(
        """INSERT INTO studio_publish_runs (started_at, finished_at, outcome, error)
           VALUES (now(), now(), 'error', %s)""",
        ["boom \x1b[2J\x9b\u202e\nPROBLEM forged"],
    )

    result = cli("status", "--check")

    assert result.exit_code == 1
    assert_nothing_raw(result.stdout)
    assert result.stdout.splitlines() == [
        "PROBLEM last run ended in error: boom \\x1b[2J\\x9b\\u202e\\nPROBLEM forged"
    ]


# --- log lines -----------------------------------------------------------------------------


@pytest.fixture
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(logs, "_format", logs._format)  # put back when the test ends
    yield


def test_a_console_log_line_shows_escapes_escaped(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("console", level=logging.INFO)

    get_logger(post_id="p1").warning(
        "platform said \x1b]0;pwned\x07",
        message="\x1b[2J\x9b\u202e [/bold]\nforged line",
        platform_id="\x1b[2J\x9b",  # no space: written as is, not through repr()
        nested={"error": "\x1b[2J"},
    )
    err = capsys.readouterr().err

    assert_nothing_raw(err)
    assert err.count("\n") == 1
    assert "platform said \\x1b]0;pwned\\x07" in err
    assert "\\x1b[2J\\x9b\\u202e [/bold]\\nforged line" in err
    assert "platform_id=\\x1b[2J\\x9b " in err
    assert "\\x1b[2J" in err.split("nested=")[1]


def test_a_json_log_line_is_exact_and_escaped(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", level=logging.INFO)
    message = "\x1b[2J\x9b\x7f\u202e café\nend"

    get_logger(post_id="p1").warning("publish failed", message=message)
    err = capsys.readouterr().err

    assert_nothing_raw(err)
    assert err.count("\n") == 1
    assert json.loads(err)["message"] == message
