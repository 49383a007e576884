"""Bulk post files, CSV and JSON Lines (studio_publish.scheduling.postfile)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from studio_publish.errors import BadInput
from studio_publish.media_policy import MediaPolicy
from studio_publish.scheduling.postfile import read_post_file
from studio_publish.scheduling.validation import PostInput, validate_post

A1 = "11111111-1111-4111-8111-111111111111"
A2 = "22222222-2222-4222-8222-222222222222"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding, newline="")
    return path


def bad(path: Path, field: str) -> str:
    """Expect BadInput naming ``field``; return its problem text."""
    with pytest.raises(BadInput) as info:
        read_post_file(path)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    return info.value.problem


# --- format -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["posts.txt", "posts.json", "posts"])
def test_unknown_format(tmp_path: Path, name: str) -> None:
    assert "unknown format" in bad(write(tmp_path, name, "{}"), "file")


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in bad(tmp_path / "nope.csv", "file")


def test_folder(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    bad(tmp_path / "dir.csv", "file")


@pytest.mark.parametrize(
    ("name", "text"),
    [("a.csv", ""), ("a.csv", "account,at\n\n"), ("a.jsonl", "\n  \n"), ("a.ndjson", "")],
)
def test_empty_file(tmp_path: Path, name: str, text: str) -> None:
    assert "no posts" in bad(write(tmp_path, name, text), "file")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"account,caption\n" + A1.encode() + b",caf\xe9\n")
    assert "UTF-8" in bad(path, "file line 2")


# --- CSV ----------------------------------------------------------------------------------


def test_csv_rows(tmp_path: Path) -> None:
    text = (
        "\ufeffAccount,at,caption,media,type,draft,tz,option.privacy_level\r\n"
        f"{A1},+1h,hello,https://x.com/a.jpg | https://x.com/b.jpg,,,,\r\n"
        f'{A2},,"two\nlines",,text,true,,\r\n'
        f"{A1},2026-12-01T09:00,,https://x.com/v.mp4,,false,Europe/Berlin,SELF_ONLY\r\n"
    )
    posts = read_post_file(write(tmp_path, "p.csv", text))
    assert posts == [
        PostInput(
            account_id=A1,
            at="+1h",
            caption="hello",
            media=["https://x.com/a.jpg", "https://x.com/b.jpg"],
            origin="file line 2",
        ),
        PostInput(
            account_id=A2,
            draft=True,
            caption="two\nlines",
            post_type="text",
            origin="file line 3",
        ),
        PostInput(
            account_id=A1,
            at="2026-12-01T09:00",
            media=["https://x.com/v.mp4"],
            tz="Europe/Berlin",
            options={"privacy_level": "SELF_ONLY"},
            origin="file line 5",  # the quoted caption above spans two lines
        ),
    ]


def test_csv_rows_validate(tmp_path: Path) -> None:
    text = f"account,at,media,option.privacy_level\n{A1},+1h,https://x.com/v.mp4,SELF_ONLY\n"
    (raw,) = read_post_file(write(tmp_path, "p.csv", text))
    valid = validate_post(raw, platform="tiktok", now=NOW, media=MediaPolicy())
    assert valid.post_type == "video" and valid.options == {"privacy_level": "SELF_ONLY"}


def test_csv_row_error_names_the_line_and_column(tmp_path: Path) -> None:
    text = f"account,at,caption\n{A1},+1h,hi\n\n{A1},,hi\n"
    (_, raw) = read_post_file(write(tmp_path, "p.csv", text))
    with pytest.raises(BadInput) as info:
        validate_post(raw, platform="facebook", now=NOW, media=MediaPolicy())
    assert info.value.field == "file line 4: at"


def test_csv_options_column_json(tmp_path: Path) -> None:
    text = (
        "account,at,media,options\n"
        f'{A1},+1h,https://x.com/v.mp4,"{{""privacy_level"": ""SELF_ONLY"", ""is_aigc"": true}}"\n'
    )
    (raw,) = read_post_file(write(tmp_path, "p.csv", text))
    assert raw.options == {"privacy_level": "SELF_ONLY", "is_aigc": "true"}


def test_csv_options_column_bad_json(tmp_path: Path) -> None:
    text = f"account,options\n{A1},{{nope\n"
    assert "JSON" in bad(write(tmp_path, "p.csv", text), "file line 2: options")


def test_csv_option_in_both_places(tmp_path: Path) -> None:
    text = f'account,options,option.title\n{A1},"{{""title"": ""a""}}",b\n'
    bad(write(tmp_path, "p.csv", text), "file line 2: option.title")


def test_csv_unknown_column(tmp_path: Path) -> None:
    problem = bad(write(tmp_path, "p.csv", f"account,when\n{A1},now\n"), "file line 1")
    assert "'when'" in problem


@pytest.mark.parametrize(
    "header",
    ["account,at,at", "account,account_id", "at,caption", "account,,at", "account,option."],
)
def test_csv_bad_header(tmp_path: Path, header: str) -> None:
    bad(write(tmp_path, "p.csv", f"{header}\n{A1},x,y\n"), "file line 1")


def test_csv_missing_account(tmp_path: Path) -> None:
    text = f"account,caption\n{A1},a\n,b\n"
    assert "required" in bad(write(tmp_path, "p.csv", text), "file line 3: account")


def test_csv_bad_account(tmp_path: Path) -> None:
    bad(write(tmp_path, "p.csv", "account,caption\nabc,b\n"), "file line 2: account")


def test_csv_bad_draft(tmp_path: Path) -> None:
    bad(write(tmp_path, "p.csv", f"account,draft\n{A1},maybe\n"), "file line 2: draft")


def test_csv_too_many_cells(tmp_path: Path) -> None:
    bad(write(tmp_path, "p.csv", f"account,caption\n{A1},a,b\n"), "file line 2")


def test_csv_blank_trailing_cells_and_short_rows(tmp_path: Path) -> None:
    text = f"account,caption,at\n{A1},a,now,,\n{A2}\n,,\n"
    posts = read_post_file(write(tmp_path, "p.csv", text))
    assert [(p.account_id, p.caption, p.at) for p in posts] == [(A1, "a", "now"), (A2, "", None)]


def test_csv_unterminated_quote(tmp_path: Path) -> None:
    bad(write(tmp_path, "p.csv", f'account,caption\n{A1},"open\n'), "file line 2")


def test_csv_relative_media_from_the_files_folder(tmp_path: Path) -> None:
    text = f"account,media\n{A1},pics/a.jpg|video:clip|https://x.com/b.jpg|/abs/c.jpg\n"
    (raw,) = read_post_file(write(tmp_path, "p.csv", text))
    folder = tmp_path.resolve()
    assert raw.media == [
        str(folder / "pics/a.jpg"),
        f"video:{folder / 'clip'}",
        "https://x.com/b.jpg",
        "/abs/c.jpg",
    ]


# --- JSON Lines ---------------------------------------------------------------------------


def jsonl(*rows: object) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def test_jsonl_rows(tmp_path: Path) -> None:
    text = "\ufeff\n" + jsonl(
        {"account": A1, "at": "+1h", "caption": "hi", "media": "https://x.com/a.jpg"},
        {
            "account_id": A2,
            "media": [{"url": "https://x.com/v", "kind": "video"}, "https://x.com/b.jpg"],
            "type": "carousel",
            "options": {"privacy_level": "SELF_ONLY", "disable_comment": True, "n": 3},
            "draft": True,
            "tz": None,
        },
    )
    posts = read_post_file(write(tmp_path, "p.jsonl", text))
    assert posts == [
        PostInput(
            account_id=A1,
            at="+1h",
            caption="hi",
            media=["https://x.com/a.jpg"],
            origin="file line 2",
        ),
        PostInput(
            account_id=A2,
            media=["video:https://x.com/v", "https://x.com/b.jpg"],
            post_type="carousel",
            options={"privacy_level": "SELF_ONLY", "disable_comment": "true", "n": "3"},
            draft=True,
            origin="file line 3",
        ),
    ]


def test_jsonl_line_separator_inside_a_string(tmp_path: Path) -> None:
    text = f'{{"account": "{A1}", "caption": "a\u2028b"}}\n'
    (raw,) = read_post_file(write(tmp_path, "p.ndjson", text))
    assert raw.caption == "a\u2028b"


def test_jsonl_error_names_the_line(tmp_path: Path) -> None:
    text = (
        jsonl({"account": A1, "at": "now", "caption": "ok"})
        + "\n"
        + jsonl({"account": A1, "at": "+1h", "caption": "x" * 63207})
    )
    posts = read_post_file(write(tmp_path, "p.jsonl", text))
    with pytest.raises(BadInput) as info:
        validate_post(posts[1], platform="facebook", now=NOW, media=MediaPolicy())
    assert info.value.field == "file line 3: caption"


def with_account(**fields: object) -> str:
    return json.dumps({"account": A1, **fields})


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("{nope", "file line 2"),
        ("[1, 2]", "file line 2"),
        (with_account(colour="red"), "file line 2"),
        (f'{{"account": "{A1}", "account": "{A2}"}}', "file line 2"),
        (with_account(account_id=A2), "file line 2"),
        ('{"caption": "no account"}', "file line 2: account"),
        ('{"account": "x"}', "file line 2: account"),
        (with_account(at=1767225600), "file line 2: at"),
        (with_account(caption=5), "file line 2: caption"),
        (with_account(draft="yes"), "file line 2: draft"),
        (with_account(media=5), "file line 2: media"),
        (with_account(media=[5]), "file line 2: media"),
        (with_account(media=[{"url": "u", "kind": "gif"}]), "file line 2: media"),
        (with_account(options=[]), "file line 2: options"),
        (with_account(options={"a": [1]}), "file line 2: options"),
    ],
)
def test_jsonl_bad_lines(tmp_path: Path, line: str, field: str) -> None:
    text = jsonl({"account": A1, "at": "now"}) + line + "\n"
    bad(write(tmp_path, "p.jsonl", text), field)


def test_jsonl_nul_in_caption_is_refused_by_validation(tmp_path: Path) -> None:
    (raw,) = read_post_file(
        write(tmp_path, "p.jsonl", jsonl({"account": A1, "draft": True, "caption": "a\0"}))
    )
    with pytest.raises(BadInput, match=r"^file line 1: caption: contains a NUL byte"):
        validate_post(raw, platform="facebook", now=NOW, media=MediaPolicy())


def test_a_first_comment_column_and_key(tmp_path: Path) -> None:
    csv_rows = read_post_file(
        write(tmp_path, "p.csv", f"account,caption,first_comment\n{A1},hi,Below\n{A2},hi,\n")
    )
    assert [r.first_comment for r in csv_rows] == ["Below", None]
    lines = f'{{"account": "{A1}", "first_comment": "Below"}}\n{{"account": "{A2}"}}\n'
    assert [r.first_comment for r in read_post_file(write(tmp_path, "p.jsonl", lines))] == [
        "Below",
        None,
    ]
    bad_line = f'{{"account": "{A1}", "first_comment": 5}}\n'
    assert "must be a string" in bad(
        write(tmp_path, "b.jsonl", bad_line), "file line 1: first_comment"
    )
