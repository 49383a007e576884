"""Hostile input to `schedule`: bulk files and raw argument bytes.

Whatever a file or an argument holds, the answer is exit 2 with one line naming the line (and
the key or column) or the flag, and nothing written: never a traceback, never exit 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row
from support.cli import Cli, CliResult, make_runner
from support.database import throwaway_database

from studio_publish.errors import BadInput
from studio_publish.scheduling.postfile import MAX_LINE_CHARS, read_post_file
from studio_publish.scheduling.validation import PostInput

A1 = "11111111-1111-4111-8111-111111111111"


def refused(path: Path) -> BadInput:
    with pytest.raises(BadInput) as info:
        read_post_file(path)
    return info.value


def line(**fields: Any) -> str:
    return json.dumps({"account": A1, "draft": True, "caption": "ok", **fields})


# --- read_post_file ---------------------------------------------------------------------------

DEEP = 200_000
HOSTILE_JSONL: list[tuple[str, bytes, str]] = [
    # (id, line 2 of the file, the field named)
    ("deep-array", b"[" * DEEP + b"]" * DEEP, "file line 2"),
    ("deep-object", b'{"a":' * DEEP + b"1" + b"}" * DEEP, "file line 2"),
    ("deep-array-short", b"[" * 100_000 + b"]" * 100_000, "file line 2"),
    ("deep-object-short", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "file line 2"),
    (
        "deep-options",
        f'{{"account": "{A1}", "options": {{"a": {"[" * 5000}{"]" * 5000}}}}}'.encode(),
        "file line 2",
    ),
    ("deep-unclosed", b"[" * DEEP, "file line 2"),
    ("huge-exponent", line(options={"n": 1}).replace("1}", "1e999999}").encode(), "options"),
    ("minus-huge-exponent", line().replace('"ok"', "-1e999999").encode(), "caption"),
    ("huge-int", line(options={"n": 1}).replace("1}", "9" * 5000 + "}").encode(), "options"),
    ("huge-int-caption", line().replace('"ok"', "9" * 100_000).encode(), "caption"),
    ("nan", line(options={"n": 1}).replace("1}", "NaN}").encode(), "options"),
    ("infinity", line(options={"n": 1}).replace("1}", "-Infinity}").encode(), "options"),
    ("surrogate-caption", line(caption="\ud800").encode(), "caption"),
    ("surrogate-low", line(caption="a\udcffb").encode(), "caption"),
    ("surrogate-at", line(draft=False, at="\ud800").encode(), "at"),
    ("surrogate-tz", line(tz="Europe/\udfff").encode(), "tz"),
    ("surrogate-type", line(type="te\ud83dxt").encode(), "type"),
    ("surrogate-media", line(media=["https://x.com/\ud800.jpg"]).encode(), "media"),
    ("surrogate-media-url", line(media=[{"url": "\ud800", "kind": "image"}]).encode(), "media"),
    ("surrogate-option-key", line(options={"\ud800": "x"}).encode(), "options"),
    ("surrogate-option-value", line(options={"title": "\ud800"}).encode(), "options"),
    ("surrogate-account", line(account="\ud800").encode(), "account"),
    ("surrogate-key", line().replace('"draft"', '"\\ud800"').encode(), "file line 2"),
    ("surrogate-unknown-key-value", line(colour="\ud800").encode(), "file line 2"),
    ("raw-nul", line().replace("ok", "o\x00k").encode(), "file line 2"),
    ("raw-control", line().replace("ok", "o\x1bk").encode(), "file line 2"),
    ("bom-mid-file", b"\xef\xbb\xbf" + line().encode(), "file line 2"),
    ("invalid-utf8", line().encode().replace(b"ok", b"o\xffk"), "file line 2"),
    ("encoded-surrogate", line().encode().replace(b"ok", b"\xed\xa0\x80"), "file line 2"),
    ("overlong-utf8", line().encode().replace(b"ok", b"\xc0\xaf"), "file line 2"),
    ("truncated-utf8", line().encode().replace(b"ok", b"\xe2\x82"), "file line 2"),
    ("long-line", line(caption="x" * MAX_LINE_CHARS).encode(), "file line 2"),
    ("long-account", line(account="1" * 100_000).encode(), "account"),
]


@pytest.mark.parametrize(
    ("second", "field"),
    [(second, field) for _, second, field in HOSTILE_JSONL],
    ids=[name for name, _, _ in HOSTILE_JSONL],
)
def test_hostile_jsonl_is_bad_input_naming_the_line(
    tmp_path: Path, second: bytes, field: str
) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_bytes(line().encode() + b"\n" + second + b"\n" + line().encode() + b"\n")

    error = refused(path)

    expected = field if field.startswith("file") else f"file line 2: {field}"
    assert error.field == expected, str(error)
    assert len(str(error)) < 400, str(error)[:400]  # one readable line, not the input back
    str(error).encode("utf-8")  # printable as it is


HOSTILE_CSV: list[tuple[str, bytes, str]] = [
    ("invalid-utf8", f"{A1},caf\xe9".encode("latin-1"), "file line 2"),
    ("encoded-surrogate", f"{A1},".encode() + b"\xed\xa0\x80", "file line 2"),
    ("options-deep", f'{A1},x,"{"[" * 100_000}"'.encode(), "file line 2: options"),
    ("options-huge-int", f'{A1},x,"{{""n"": {"9" * 5000}}}"'.encode(), "file line 2: options"),
    ("options-huge-float", f'{A1},x,"{{""n"": 1e999999}}"'.encode(), "file line 2: options"),
    ("options-nan", f'{A1},x,"{{""n"": NaN}}"'.encode(), "file line 2: options"),
    ("options-surrogate", f'{A1},x,"{{""t"": ""\\ud800""}}"'.encode(), "file line 2: options"),
    ("options-twice", f'{A1},x,"{{""t"": 1, ""t"": 2}}"'.encode(), "file line 2: options"),
    ("long-cell", f"{A1},{'x' * 200_000}".encode(), "file line 2"),
    ("long-account", f"{'1' * 100_000},x".encode(), "file line 2: account"),
]


@pytest.mark.parametrize(
    ("row", "field"),
    [(row, field) for _, row, field in HOSTILE_CSV],
    ids=[name for name, _, _ in HOSTILE_CSV],
)
def test_hostile_csv_is_bad_input_naming_the_line(tmp_path: Path, row: bytes, field: str) -> None:
    path = tmp_path / "posts.csv"
    path.write_bytes(b"account,caption,options\n" + row + b"\n" + f"{A1},fine,\n".encode())

    error = refused(path)

    assert error.field == field, str(error)
    assert len(str(error)) < 400, str(error)[:400]


@pytest.mark.parametrize("name", ["posts.csv", "posts.jsonl"])
def test_a_utf16_file_is_refused_with_a_hint(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("account,caption\n" if name.endswith(".csv") else line(), encoding="utf-16")

    error = refused(path)

    assert error.field == "file line 1"
    assert "UTF-8" in error.problem


def test_one_bom_is_fine_and_a_second_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + line().encode() + b"\n")
    assert [p.caption for p in read_post_file(path)] == ["ok"]

    path.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbf" + line().encode() + b"\n")
    assert "byte-order mark" in refused(path).problem


def test_a_nul_in_a_csv_cell_is_read_for_validation_to_refuse(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_bytes(f"account,caption\n{A1},a\x00b\n".encode())
    [raw] = read_post_file(path)  # validate_post refuses it, naming line 2: caption (below)
    assert raw.caption == "a\x00b"


def test_a_pair_of_surrogate_escapes_is_one_character(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(f'{{"account": "{A1}", "caption": "\\ud83d\\ude00"}}\n')
    [raw] = read_post_file(path)
    assert raw.caption == "\U0001f600"


def test_numbers_a_post_may_hold_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(line(options={"a": 12345678901234567890, "b": 1.5e3, "c": -0}) + "\n")
    [raw] = read_post_file(path)
    assert raw.options == {"a": "12345678901234567890", "b": "1500.0", "c": "0"}


def test_brackets_inside_strings_are_not_nesting(tmp_path: Path) -> None:
    caption = "[{" * 5000 + '\\"[' * 100
    path = tmp_path / "posts.jsonl"
    path.write_text(line(caption=caption, options={"title": "]]]{{{"}) + "\n")
    [raw] = read_post_file(path)
    assert raw.caption == caption


# --- property: nothing but PostInputs or BadInput -------------------------------------------

# Every code point, lone surrogates included (Hypothesis leaves those out by default).
ANY_CHAR = st.characters(codec=None, categories=None, exclude_categories=())
TEXT = st.text(ANY_CHAR, max_size=12) | st.sampled_from(["\ud800", "\udcff", "a\x00", "\ufeff"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
KEYS = ["account", "account_id", "at", "caption", "media", "type", "options", "draft", "tz"]
POST_LIKE = st.dictionaries(
    st.sampled_from(KEYS) | TEXT,
    JSON_VALUES | st.just(A1) | st.just("+1h") | st.just(["https://x.com/a.jpg"]),
    max_size=6,
)
FRAGMENTS = st.sampled_from(
    [
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b'"',
        b'"account"',
        f'"{A1}"'.encode(),
        b'"options"',
        b'"media"',
        b'"\\ud800"',
        b"\\u",
        b"1e999999",
        b"9" * 5000,
        b"NaN",
        b"-Infinity",
        b"\xef\xbb\xbf",
        b"\x00",
        b"\xff",
        b"\xed\xa0\x80",
        b"\r",
        b"\n",
        b"[" * 3000,
    ]
)
HOSTILE_LINE = st.lists(FRAGMENTS | st.binary(max_size=8), max_size=12).map(b"".join)
HOSTILE_BYTES = st.binary(max_size=300) | st.lists(HOSTILE_LINE, min_size=1, max_size=4).map(
    b"\n".join
)


@st.composite
def json_lines(draw: st.DrawFn) -> bytes:
    lines = []
    for value in draw(st.lists(POST_LIKE | JSON_VALUES, min_size=1, max_size=4)):
        text = json.dumps(value, ensure_ascii=draw(st.booleans()))
        # Unescaped, a lone surrogate can only be written as invalid UTF-8 (ED A0 80 ...).
        lines.append(text.encode("utf-8", "surrogatepass"))
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def read_or_refuse(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        posts = read_post_file(path)
    except BadInput as exc:
        assert exc.field.startswith("file"), exc.field
        str(exc).encode("utf-8")  # an error message never carries a lone surrogate
        return
    assert posts and all(isinstance(post, PostInput) for post in posts)
    for post in posts:  # everything returned can be stored: no lone surrogates
        for text in (post.account_id, post.at, post.caption, post.post_type, post.tz):
            (text or "").encode("utf-8")
        for item in [*post.media, *dict(post.options).keys(), *dict(post.options).values()]:
            item.encode("utf-8")


HYPOTHESIS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(content=json_lines())
def test_any_json_lines_give_posts_or_bad_input(scratch: Path, content: bytes) -> None:
    read_or_refuse(scratch / "values.jsonl", content)


@HYPOTHESIS
@given(content=HOSTILE_BYTES, suffix=st.sampled_from([".jsonl", ".ndjson", ".csv"]))
def test_any_bytes_give_posts_or_bad_input(scratch: Path, content: bytes, suffix: str) -> None:
    read_or_refuse(scratch / f"bytes{suffix}", content)


@HYPOTHESIS
@given(
    header=st.lists(st.sampled_from([*KEYS, "option.title", "option.n"]), min_size=1),
    cells=st.lists(st.lists(TEXT, max_size=8)),  # a surrogate makes invalid UTF-8 here
)
def test_any_csv_cells_give_posts_or_bad_input(
    scratch: Path, header: list[str], cells: list[list[str]]
) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(cells)
    read_or_refuse(scratch / "cells.csv", out.getvalue().encode("utf-8", "surrogatepass"))


# --- through the CLI: exit 2, one line, nothing written ---------------------------------------


@pytest.fixture(scope="module")
def hostile_db(pg_server_url: str) -> Iterator[tuple[str, str]]:
    """A migrated database with one Facebook account: (url, account id)."""
    with throwaway_database(pg_server_url) as url:
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            row = conn.execute(
                """INSERT INTO studio_social_accounts (platform, platform_account_id,
                       access_token) VALUES ('facebook', 'page-1', 'token') RETURNING id"""
            ).fetchone()
            assert row is not None
        yield url, str(row["id"])


def post_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM studio_social_posts").fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
def hostile(
    hostile_db: tuple[str, str], monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> Iterator[tuple[Cli, str]]:
    """(cli, account id); fails the test if it wrote a post."""
    url, account = hostile_db
    monkeypatch.setenv("DATABASE_URL", url)
    before = post_count(url)
    yield make_runner(), account
    assert post_count(url) == before, "a refused command wrote to the database"


def one_line_error(result: CliResult, *parts: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    for part in parts:
        assert part in lines[0], lines[0]
    assert result.stdout == ""
    return lines[0]


def good(account: str, **fields: Any) -> bytes:
    return json.dumps({"account": account, "at": "+1h", "caption": "fine", **fields}).encode()


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (b"[" * DEEP + b"]" * DEEP, "--file line 2"),
        (b'{"a":' * DEEP + b"1" + b"}" * DEEP, "--file line 2"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "--file line 2"),
        (b'{"account": "{acc}", "at": "+1h", "caption": "\\ud800"}', "--file line 2: caption"),
        (b'{"account": "{acc}", "at": "\\udcff"}', "--file line 2: at"),
        (b'{"account": "{acc}", "at": "+1h", "tz": "\\ud800"}', "--file line 2: tz"),
        (b'{"account": "{acc}", "draft": true, "caption": "a\\u0000"}', "--file line 2: caption"),
        (b'{"account": "{acc}", "at": "+1h\\u0000", "caption": "x"}', "--file line 2: at"),
        (b'{"account": "{acc}", "at": "+1h", "caption": 1e999999}', "--file line 2: caption"),
        (b'{"account": "{acc}", "at": "+1h", "caption": ' + b"9" * 5000 + b"}", "caption"),
        (b'{"account": "{acc}", "at": "+1h", "caption": "caf\xe9"}', "--file line 2"),
        (b"\xef\xbb\xbf" + b'{"account": "{acc}", "at": "+1h"}', "--file line 2"),
        (b'{"account": "{acc}", "at": "+1h", "caption": "' + b"x" * 2_000_000 + b'"}', "line 2"),
    ],
    ids=[
        "deep-array",
        "deep-object",
        "deep-object-short",
        "surrogate-caption",
        "surrogate-at",
        "surrogate-tz",
        "nul-caption",
        "nul-at",
        "huge-float",
        "huge-int",
        "latin-1",
        "bom",
        "long-line",
    ],
)
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["write", "dry"])
def test_a_hostile_line_is_exit_2_naming_it_and_writes_nothing(
    hostile: tuple[Cli, str], tmp_path: Path, bad: bytes, field: str, dry_run: list[str]
) -> None:
    cli, account = hostile
    path = tmp_path / "posts.jsonl"
    lines = [good(account), bad.replace(b"{acc}", account.encode()), good(account)]
    path.write_bytes(b"\n".join(lines) + b"\n")

    one_line_error(cli("schedule", "--file", str(path), *dry_run), field)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (b"{acc},+1h,caf\xe9,", "--file line 3"),
        (b"{acc},+1h,a\x00b,", "--file line 3: caption"),
        (b"{acc},+1h\x00,x,", "--file line 3: at"),
        (b'{acc},+1h,x,"' + b"[" * 100_000 + b'"', "--file line 3: options"),
        (b'{acc},+1h,x,"{""title"": ""\\ud800""}"', "--file line 3: options"),
    ],
    ids=["latin-1", "nul", "nul-at", "deep-options", "surrogate-options"],
)
def test_a_hostile_csv_row_is_exit_2_naming_it_and_writes_nothing(
    hostile: tuple[Cli, str], tmp_path: Path, row: bytes, field: str
) -> None:
    cli, account = hostile
    path = tmp_path / "posts.csv"
    rows = [b"account,at,caption,options", f"{account},+1h,fine,".encode()]
    rows.append(row.replace(b"{acc}", account.encode()))
    path.write_bytes(b"\n".join(rows) + b"\n")

    one_line_error(cli("schedule", "--file", str(path)), field)


# --- raw bytes in arguments: the real CLI in a subprocess ---------------------------------------


def run_cli(url: str, cwd: Path, *args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("STUDIO_PUBLISH_") and name != "DATABASE_URL"
    }
    env.update(DATABASE_URL=url, STUDIO_PUBLISH_LOG_FORMAT="json")
    command = [sys.executable, "-m", "studio_publish", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, timeout=120)


BASE = [b"--at", b"+1h", b"--caption", b"words"]
RAW_ARGUMENTS = [
    ("--caption", [b"--at", b"+1h", b"--caption", b"caf\xff"]),
    ("--caption", [b"--at", b"+1h", b"--caption", b"\xed\xa0\x80", b"--dry-run"]),
    ("--media", [*BASE, b"--media", b"https://cdn.example.com/\xff.jpg"]),
    ("--option", [*BASE, b"--option", b"link=https://example.com/\xff"]),
    ("--option", [*BASE, b"--option", b"li\xffnk=https://example.com/"]),
    ("--type", [*BASE, b"--type", b"te\xffxt"]),
    ("--at", [b"--at", b"+1h\xff", b"--caption", b"words"]),
    ("--tz", [b"--at", b"2031-03-01T09:00", b"--tz", b"Europe/\xff", b"--caption", b"x"]),
    ("--tz", [b"--draft", b"--tz", b"\xff", b"--caption", b"x"]),
]


@pytest.mark.parametrize(
    ("flag", "args"),
    [(flag, args) for flag, args in RAW_ARGUMENTS],
    ids=[
        "caption",
        "caption-encoded-surrogate",
        "media",
        "option-value",
        "option-key",
        "type",
        "at",
        "tz",
        "tz-draft",
    ],
)
def test_a_raw_byte_in_an_argument_is_exit_2_naming_the_flag(
    hostile_db: tuple[str, str], tmp_path: Path, flag: str, args: list[bytes]
) -> None:
    url, account = hostile_db
    before = post_count(url)

    result = run_cli(url, tmp_path, "schedule", "--account", account, *args)

    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    logged = json.loads(lines[0])  # the failure line, a JSON log line (JSON logs, as cron)
    assert logged["event"] == "command_failed" and logged["field"] == flag, logged
    assert logged["error"].startswith(f"{flag}: ") and "UTF-8" in logged["error"], logged
    assert result.stdout == b""
    assert post_count(url) == before


def failure_message(stderr: bytes) -> str:
    """The message of the one failure line: a JSON log line, as these runs log JSON."""
    logged = json.loads(stderr.strip().splitlines()[-1])
    assert logged["event"] == "command_failed", logged
    return str(logged["error"])


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("--account", [b"schedule", b"--account", b"\xff", *BASE]),
        ("POST_ID", [b"schedule", b"\xff" + b"1" * 35, b"--at", b"+1h"]),
    ],
    ids=["account", "post-id"],
)
def test_a_raw_byte_in_an_id_is_exit_2_naming_it(
    hostile_db: tuple[str, str], tmp_path: Path, field: str, args: list[bytes]
) -> None:
    url, _ = hostile_db

    result = run_cli(url, tmp_path, *args)

    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert failure_message(result.stderr).startswith(f"{field}: "), result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_name_that_is_not_utf8_is_still_a_file_name(
    hostile_db: tuple[str, str], tmp_path: Path
) -> None:
    url, account = hostile_db
    name = os.fsencode(tmp_path) + b"/posts-\xff.jsonl"
    with open(name, "wb") as out:
        out.write(good(account, caption="from a file with an odd name") + b"\n")

    result = run_cli(url, tmp_path, "schedule", "--file", name, "--dry-run", "--json")
    missing = run_cli(url, tmp_path, "schedule", "--file", b"no-such-\xff.csv")

    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["posts"][0]["caption"] == "from a file with an odd name"
    assert missing.returncode == 2
    assert failure_message(missing.stderr).startswith("--file: "), missing.stderr[-2000:]
    assert len(missing.stderr.strip().splitlines()) == 1


def test_valid_utf8_arguments_still_work(hostile_db: tuple[str, str], tmp_path: Path) -> None:
    url, account = hostile_db
    before = post_count(url)

    caption = "café \U0001f600".encode()
    args = ["--account", account, "--at", "+1h", "--caption", caption, "--dry-run", "--json"]
    result = run_cli(url, tmp_path, "schedule", *args)

    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["posts"][0]["caption"] == "café \U0001f600"
    assert post_count(url) == before
