"""`studio-publish schedule` from the user's end: what it writes, what it refuses (exit 2,
the field named, nothing written), rescheduling, --dry-run, --json and bulk --file."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from support.cli import Cli, make_runner
from support.database import throwaway_database

Conn = psycopg.Connection[dict[str, Any]]
IMAGE = "https://cdn.example.com/photo.jpg"
IMAGE2 = "https://cdn.example.com/photo2.jpg"
VIDEO = "https://cdn.example.com/clip.mp4"
LATER = "2031-03-01T09:00:00+01:00"
LATER_UTC = dt.datetime(2031, 3, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def accounts(add_account: Callable[..., str]) -> dict[str, str]:
    return {
        "instagram": add_account("instagram", "17841400000000001"),
        "facebook": add_account("facebook", "1029384756"),
        "tiktok": add_account("tiktok", "open-id-1"),
    }


# --- a database shared by the tests that must write nothing -----------------------------------


@pytest.fixture(scope="module")
def shared_db(pg_server_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """One migrated database with an account per platform, for the many refusal tests: each
    checks that the posts table is the same after as before. (A database each is slower.)"""
    with throwaway_database(pg_server_url) as url:
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            ids = {}
            for platform in ("instagram", "facebook", "tiktok"):
                row = conn.execute(
                    """INSERT INTO studio_social_accounts (platform, platform_account_id,
                           access_token) VALUES (%s, %s, 'token') RETURNING id""",
                    [platform, f"{platform}-1"],
                ).fetchone()
                assert row is not None
                ids[platform] = str(row["id"])
        yield url, ids


@pytest.fixture
def shared(
    shared_db: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> Iterator[tuple[Cli, Conn, dict[str, str]]]:
    """(cli, conn, accounts) on the shared database; fails the test if it wrote a post."""
    url, ids = shared_db
    monkeypatch.setenv("DATABASE_URL", url)
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        before = posts(conn)
        yield make_runner(), conn, ids
        assert posts(conn) == before, "a refused command wrote to the database"


def posts(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute("SELECT * FROM studio_social_posts ORDER BY created_at, id").fetchall()


def one_line_error(result: Any, field: str, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert field in lines[0], lines[0]
    result.assert_error_stdout()
    return lines[0]


# --- creating -----------------------------------------------------------------------------------


def test_schedule_writes_a_scheduled_post_and_prints_its_id(
    cli: Cli, conn: Conn, accounts: dict[str, str]
) -> None:
    result = cli(
        "schedule",
        "--account",
        accounts["instagram"],
        "--at",
        LATER,
        "--caption",
        "Launch day #new @friend",
        "--media",
        IMAGE,
    )

    assert result.exit_code == 0, result.stderr
    [post] = posts(conn)
    assert result.stdout.strip() == str(post["id"])
    assert post["status"] == "scheduled"
    assert post["scheduled_for"] == LATER_UTC
    assert post["platform"] == "instagram"
    assert post["post_type"] == "image"  # chosen from the media
    assert str(post["social_account_id"]) == accounts["instagram"]
    assert post["caption"] == "Launch day #new @friend"
    assert post["media"] == [{"url": IMAGE, "kind": "image"}]
    assert post["origin"] == "scheduler"
    assert post["attempt_count"] == 0


def test_schedule_relative_time(cli: Cli, conn: Conn, accounts: dict[str, str]) -> None:
    before = dt.datetime.now(dt.UTC)
    result = cli("schedule", "--account", accounts["instagram"], "--at", "+2h", "--media", IMAGE)

    assert result.exit_code == 0, result.stderr
    [post] = posts(conn)
    delta = post["scheduled_for"] - before
    assert (
        dt.timedelta(hours=2) - dt.timedelta(minutes=1) < delta < dt.timedelta(hours=2, minutes=1)
    )


def test_schedule_a_draft(cli: Cli, conn: Conn, accounts: dict[str, str]) -> None:
    result = cli(
        "schedule", "--account", accounts["facebook"], "--draft", "--caption", "Page update"
    )

    assert result.exit_code == 0, result.stderr
    [post] = posts(conn)
    assert result.stdout.strip() == str(post["id"])
    assert post["status"] == "draft"
    assert post["scheduled_for"] is None
    assert post["post_type"] == "text"


def test_schedule_a_local_file(
    cli: Cli, conn: Conn, accounts: dict[str, str], tmp_path: Path
) -> None:
    # cwd is tmp_path, which the tests' STUDIO_PUBLISH_MEDIA_ROOT names
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")

    result = cli(
        "schedule", "--account", accounts["facebook"], "--at", LATER, "--media", "photo.jpg"
    )

    assert result.exit_code == 0, result.stderr
    [post] = posts(conn)
    assert post["post_type"] == "image"
    assert post["media"] == [{"url": str(tmp_path / "photo.jpg"), "kind": "image"}]
    # A local Facebook video is uploaded with the resumable upload.
    video = cli("schedule", "--account", accounts["facebook"], "--at", LATER, "--media", "clip.mp4")
    assert video.exit_code == 0, video.stderr
    # An Instagram carousel's video is fetched by Meta from a URL: refused now, not at
    # publish time.
    media = ["--media", "https://cdn.example.com/a.jpg", "--media", "clip.mp4"]
    carousel = cli("schedule", "--account", accounts["instagram"], "--at", LATER, *media)
    assert carousel.exit_code == 2
    assert "--media" in carousel.stderr and "public http(s) URLs" in carousel.stderr


def test_schedule_json_prints_one_document(cli: Cli, conn: Conn, accounts: dict[str, str]) -> None:
    result = cli(
        "schedule",
        "--account",
        accounts["tiktok"],
        "--at",
        LATER,
        "--media",
        VIDEO,
        "--option",
        "privacy_level=SELF_ONLY",
        "--json",
    )

    assert result.exit_code == 0, result.stderr
    document = result.json()
    [post] = posts(conn)
    assert document["id"] == str(post["id"])
    assert document["status"] == "scheduled"
    assert dt.datetime.fromisoformat(document["scheduled_for"]) == LATER_UTC
    assert post["options"] == {"privacy_level": "SELF_ONLY"}


def test_a_time_without_zone_is_accepted_with_tz(
    cli: Cli, conn: Conn, accounts: dict[str, str]
) -> None:
    result = cli(
        "schedule",
        "--account",
        accounts["instagram"],
        "--at",
        "2031-07-01T09:00:00",
        "--tz",
        "Europe/Berlin",
        "--media",
        IMAGE,
    )

    assert result.exit_code == 0, result.stderr
    [post] = posts(conn)
    assert post["scheduled_for"] == dt.datetime(2031, 7, 1, 7, 0, tzinfo=dt.UTC)  # CEST


def test_dry_run_writes_nothing_and_shows_the_post(
    cli: Cli, conn: Conn, accounts: dict[str, str]
) -> None:
    args = ["schedule", "--account", accounts["instagram"], "--at", LATER]
    args += ["--caption", "Dry run caption", "--media", IMAGE, "--media", IMAGE2, "--dry-run"]

    human = cli(*args, env={"COLUMNS": "200"})
    as_json = cli(*args, "--json")

    assert human.exit_code == 0, human.stderr
    for text in ("instagram", "carousel", "scheduled", "Dry run caption"):
        assert text in human.stdout
    assert as_json.exit_code == 0, as_json.stderr
    document = as_json.json()
    assert document["dry_run"] is True
    [planned] = document["posts"]
    assert planned["platform"] == "instagram"
    assert planned["post_type"] == "carousel"
    assert planned["status"] == "scheduled"
    assert dt.datetime.fromisoformat(planned["scheduled_for"]) == LATER_UTC
    assert planned["media"] == [{"url": IMAGE, "kind": "image"}, {"url": IMAGE2, "kind": "image"}]
    assert posts(conn) == []


# --- refusing -----------------------------------------------------------------------------------

HASHTAGS_31 = " ".join(f"#tag{n}" for n in range(31))
MENTIONS_21 = " ".join(f"@user{n}" for n in range(21))
BAD_POSTS = [
    # (platform, extra arguments, field named)
    ("instagram", ["--caption", "x" * 2201, "--media", IMAGE], "--caption"),
    ("instagram", ["--caption", HASHTAGS_31, "--media", IMAGE], "--caption"),
    ("instagram", ["--caption", MENTIONS_21, "--media", IMAGE], "--caption"),
    ("instagram", ["--type", "carousel", "--media", IMAGE], "--media"),
    (
        "instagram",
        ["--type", "carousel", *[a for n in range(11) for a in ("--media", f"{IMAGE}?n={n}")]],
        "--media",
    ),
    ("instagram", ["--type", "reel", "--media", IMAGE], "--media"),
    ("instagram", ["--type", "reel"], "--media"),
    ("instagram", ["--type", "story", "--media", IMAGE, "--media", IMAGE2], "--media"),
    ("instagram", ["--type", "text", "--caption", "just words"], "--type"),
    ("instagram", ["--caption", "no media at all"], "--media"),
    ("tiktok", ["--media", VIDEO, "--option", "privacy_level=EVERYONE"], "--option"),
    ("tiktok", ["--media", VIDEO], "--option"),  # privacy_level is required
    ("instagram", ["--media", "./no-such-photo.jpg"], "--media"),
    ("instagram", ["--media", "ftp://cdn.example.com/photo.jpg"], "--media"),
    ("instagram", ["--media", "photo"], "--media"),
    ("instagram", ["--caption", "nul\x00byte", "--media", IMAGE], "--caption"),
    ("facebook", ["--type", "sticker", "--caption", "x"], "--type"),
    ("facebook", ["--caption", "x", "--option", "nonsense=1"], "--option"),
]


@pytest.mark.parametrize(
    ("platform", "extra", "field"),
    BAD_POSTS,
    ids=[
        "caption-2201",
        "hashtags-31",
        "mentions-21",
        "carousel-1",
        "carousel-11",
        "reel-image",
        "reel-no-media",
        "story-2",
        "text-on-instagram",
        "instagram-no-media",
        "tiktok-privacy",
        "tiktok-no-privacy",
        "media-missing-file",
        "media-ftp",
        "media-no-kind",
        "nul-caption",
        "unknown-type",
        "unknown-option",
    ],
)
@pytest.mark.parametrize("mode", [[], ["--dry-run"], ["--json"]], ids=["write", "dry", "json"])
def test_bad_content_gives_exit_2_naming_the_field_and_writes_nothing(
    shared: tuple[Cli, Conn, dict[str, str]],
    platform: str,
    extra: list[str],
    field: str,
    mode: list[str],
) -> None:
    cli, _, accounts = shared
    result = cli("schedule", "--account", accounts[platform], "--at", LATER, *extra, *mode)

    one_line_error(result, field)


def test_the_limits_themselves_are_accepted(cli: Cli, conn: Conn, accounts: dict[str, str]) -> None:
    """The refusals above are at the limits, not below them."""
    ig = ["schedule", "--account", accounts["instagram"], "--at", LATER]
    ten = [a for n in range(10) for a in ("--media", f"{IMAGE}?n={n}")]
    for extra in (
        ["--caption", "x" * 2200, "--media", IMAGE],
        ["--caption", " ".join(f"#tag{n}" for n in range(30)), "--media", IMAGE],
        ["--caption", " ".join(f"@user{n}" for n in range(20)), "--media", IMAGE],
        ["--type", "carousel", "--media", IMAGE, "--media", IMAGE2],
        ["--type", "carousel", *ten],
        ["--type", "reel", "--media", VIDEO],
        ["--type", "story", "--media", IMAGE],
    ):
        result = cli(*ig, *extra)
        assert result.exit_code == 0, (extra[:3], result.stderr)
    assert len(posts(conn)) == 7


def test_more_hashtags_than_instagram_announced_is_scheduled_with_a_warning(
    cli: Cli, conn: Conn, accounts: dict[str, str]
) -> None:
    """Instagram's API documents 30 hashtags; it announced 5 a post in December 2025. Six to
    30 are written, with the warning in the document and on standard error."""
    tags = " ".join(f"#tag{n}" for n in range(7))
    args = ["schedule", "--account", accounts["instagram"], "--at", LATER, "--caption", tags]
    dry = cli(*args, "--media", IMAGE, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    [planned] = dry.json()["posts"]
    assert planned["warnings"][0].startswith("caption: 7 hashtags, more than 5")

    result = cli(*args, "--media", IMAGE, "--json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    [post] = posts(conn)
    assert document["id"] == str(post["id"]) and post["caption"] == tags
    assert "Instagram announced a limit of 5 hashtags" in document["warnings"][0]
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [warning] = [line for line in logged if line["event"] == "post_warning"]
    assert warning["level"] == "warning" and warning["post_id"] == str(post["id"])
    assert warning["warning"] == document["warnings"][0]

    five = cli(*args[:-1], "#a #b #c #d #e", "--media", IMAGE, "--json")
    assert five.exit_code == 0 and "warnings" not in five.json()
    assert "post_warning" not in five.stderr


BAD_TIMES = [
    (["--at", "2031-03-01T09:00:00"], "--at"),  # no zone
    (["--at", "2031-03-01T09:00:00", "--tz", "Mars/Olympus"], "--tz"),
    (["--at", "2020-01-01T09:00:00Z"], "--at"),  # in the past
    (["--at", "tomorrow"], "--at"),
    ([], "--at"),  # neither --at nor --draft
    (["--at", LATER, "--draft"], "--at"),
]


@pytest.mark.parametrize(
    ("times", "field"),
    BAD_TIMES,
    ids=["no-zone", "bad-tz", "past", "words", "no-time", "draft-and-time"],
)
def test_bad_times_give_exit_2(
    shared: tuple[Cli, Conn, dict[str, str]],
    times: list[str],
    field: str,
) -> None:
    cli, _, accounts = shared
    result = cli("schedule", "--account", accounts["instagram"], *times, "--media", IMAGE)

    one_line_error(result, field)


@pytest.mark.parametrize(
    "account", ["not-a-uuid", str(uuid.uuid4()), ""], ids=["not-uuid", "unknown", "empty"]
)
def test_bad_account_gives_exit_2(
    shared: tuple[Cli, Conn, dict[str, str]],
    account: str,
) -> None:
    cli, _, _ = shared
    result = cli("schedule", "--account", account, "--at", LATER, "--media", IMAGE)

    one_line_error(result, "--account")


def test_no_account_gives_exit_2(
    shared: tuple[Cli, Conn, dict[str, str]],
) -> None:
    cli, _, _ = shared
    one_line_error(cli("schedule", "--at", LATER, "--media", IMAGE), "--account")


# --- rescheduling -------------------------------------------------------------------------------


def insert_post(conn: Conn, account: str, status: str, **values: Any) -> str:
    row: dict[str, Any] = {
        "social_account_id": account,
        "platform": "instagram",
        "post_type": "image",
        "caption": "c",
        "media": Jsonb([{"url": IMAGE, "kind": "image"}]),
        "status": status,
        "scheduled_for": dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
        **values,
    }
    if status == "publishing":
        row.update(claim_token=uuid.uuid4(), lease_expires_at=dt.datetime.now(dt.UTC))
    if status == "posted":
        row.update(platform_post_id=f"ig-{uuid.uuid4().hex}")
    if status == "draft":
        row["scheduled_for"] = None
    names = ", ".join(row)
    marks = ", ".join(f"%({n})s" for n in row)
    inserted = conn.execute(
        f"INSERT INTO studio_social_posts ({names}) VALUES ({marks}) RETURNING id", row
    ).fetchone()
    assert inserted is not None
    return str(inserted["id"])


def read(conn: Conn, post_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM studio_social_posts WHERE id = %s", [post_id]).fetchone()
    assert row is not None
    return row


def test_reschedule_a_draft_made_by_the_cli(cli: Cli, conn: Conn, accounts: dict[str, str]) -> None:
    created = cli("schedule", "--account", accounts["instagram"], "--draft", "--media", IMAGE)
    post_id = created.stdout.strip()

    result = cli("schedule", post_id, "--at", LATER)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == post_id
    post = read(conn, post_id)
    assert post["status"] == "scheduled"
    assert post["scheduled_for"] == LATER_UTC


@pytest.mark.parametrize("status", ["scheduled", "failed"])
def test_reschedule_a_scheduled_or_failed_post(
    cli: Cli, conn: Conn, accounts: dict[str, str], status: str
) -> None:
    post_id = insert_post(
        conn,
        accounts["instagram"],
        status,
        attempt_count=3,
        failure_reason="max_attempts" if status == "failed" else None,
        next_attempt_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
    )

    result = cli("schedule", post_id, "--at", "2031-07-01T09:00:00", "--tz", "UTC", "--json")

    assert result.exit_code == 0, result.stderr
    assert result.json()["status"] == "scheduled"
    post = read(conn, post_id)
    assert post["status"] == "scheduled"
    assert post["scheduled_for"] == dt.datetime(2031, 7, 1, 9, 0, tzinfo=dt.UTC)
    assert post["attempt_count"] == 0
    assert post["next_attempt_at"] is None
    assert post["failure_reason"] is None


@pytest.mark.parametrize("status", ["posted", "publishing", "cancelled", "needs_review"])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["write", "dry"])
def test_reschedule_is_refused_for_other_states(
    cli: Cli, conn: Conn, accounts: dict[str, str], status: str, dry_run: list[str]
) -> None:
    post_id = insert_post(conn, accounts["instagram"], status)
    before = read(conn, post_id)

    result = cli("schedule", post_id, "--at", LATER, *dry_run)

    line = one_line_error(result, post_id, code=1)
    assert status in line
    assert read(conn, post_id) == before


def test_reschedule_dry_run_writes_nothing(cli: Cli, conn: Conn, accounts: dict[str, str]) -> None:
    post_id = insert_post(conn, accounts["instagram"], "draft")
    before = read(conn, post_id)

    result = cli("schedule", post_id, "--at", LATER, "--dry-run", "--json")

    assert result.exit_code == 0, result.stderr
    [planned] = result.json()["posts"]
    assert planned["id"] == post_id
    assert planned["status"] == "scheduled"
    assert dt.datetime.fromisoformat(planned["scheduled_for"]) == LATER_UTC
    assert read(conn, post_id) == before


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ([str(uuid.uuid4()), "--at", LATER], "POST_ID"),
        (["not-a-post", "--at", LATER], "POST_ID"),
        (["{post}"], "--at"),
        (["{post}", "--at", "2031-03-01T09:00:00"], "--at"),
        (["{post}", "--at", "2020-01-01T00:00:00Z"], "--at"),
        (["{post}", "--at", LATER, "--caption", "new words"], "POST_ID"),
    ],
    ids=["unknown", "malformed", "no-at", "no-zone", "past", "other-options"],
)
def test_reschedule_bad_input(
    cli: Cli, conn: Conn, accounts: dict[str, str], args: list[str], field: str
) -> None:
    post_id = insert_post(conn, accounts["instagram"], "draft")
    before = read(conn, post_id)

    result = cli("schedule", *[a.replace("{post}", post_id) for a in args])

    one_line_error(result, field)
    assert read(conn, post_id) == before


# --- bulk ----------------------------------------------------------------------------------------


def csv_file(tmp_path: Path, accounts: dict[str, str], last: str | None = None) -> Path:
    lines = [
        "account,at,caption,media,type,option.privacy_level",
        f"{accounts['instagram']},{LATER},Photo one #a,{IMAGE},,",
        f'{accounts["facebook"]},{LATER},"Text, with a comma",,text,',
        f"{accounts['tiktok']},+1d,Clip,{VIDEO},,PUBLIC_TO_EVERYONE",
    ]
    if last is not None:
        lines.append(last)
    path = tmp_path / "posts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def jsonl_file(tmp_path: Path, accounts: dict[str, str], last: dict[str, Any] | None) -> Path:
    rows: list[dict[str, Any]] = [
        {"account": accounts["instagram"], "at": LATER, "caption": "One", "media": [IMAGE]},
        {"account": accounts["facebook"], "draft": True, "caption": "A draft"},
    ]
    if last is not None:
        rows.append(last)
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_bulk_csv_writes_every_row(
    cli: Cli, conn: Conn, accounts: dict[str, str], tmp_path: Path
) -> None:
    result = cli("schedule", "--file", str(csv_file(tmp_path, accounts)))

    assert result.exit_code == 0, result.stderr
    written = posts(conn)
    assert len(written) == 3
    assert sorted(result.stdout.split()) == sorted(str(p["id"]) for p in written)
    by_platform = {p["platform"]: p for p in written}
    assert by_platform["instagram"]["scheduled_for"] == LATER_UTC
    assert by_platform["facebook"]["caption"] == "Text, with a comma"
    assert by_platform["facebook"]["post_type"] == "text"
    assert by_platform["tiktok"]["options"] == {"privacy_level": "PUBLIC_TO_EVERYONE"}
    assert {p["status"] for p in written} == {"scheduled"}


def test_bulk_jsonl_writes_every_row(
    cli: Cli, conn: Conn, accounts: dict[str, str], tmp_path: Path
) -> None:
    result = cli("schedule", "--file", str(jsonl_file(tmp_path, accounts, None)), "--json")

    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert document["dry_run"] is False
    assert len(document["posts"]) == 2
    written = posts(conn)
    assert sorted(p["id"] for p in document["posts"]) == sorted(str(p["id"]) for p in written)
    assert sorted(p["status"] for p in written) == ["draft", "scheduled"]


@pytest.mark.parametrize(
    ("last", "field"),
    [
        ("{ig},{later},{hashtags},{image},,", "caption"),
        ("{ig},2031-03-01T09:00:00,x,{image},,", "at"),
        ("{tt},{later},Clip,{video},,EVERYONE", "option"),
        ("not-an-account,{later},x,{image},,", "account"),
        ("{unknown},{later},x,{image},,", "account"),
        ("{ig},{later},x,./missing.jpg,,", "media"),
        ("{ig},{later},x,{image},carousel,", "media"),
    ],
    ids=["caption", "no-zone", "privacy", "bad-account", "unknown-account", "media", "carousel"],
)
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["write", "dry"])
def test_bulk_csv_with_a_bad_last_row_writes_nothing(
    shared: tuple[Cli, Conn, dict[str, str]],
    tmp_path: Path,
    last: str,
    field: str,
    dry_run: list[str],
) -> None:
    cli, _, accounts = shared
    row = last.format(
        ig=accounts["instagram"],
        tt=accounts["tiktok"],
        unknown=uuid.uuid4(),
        later=LATER,
        image=IMAGE,
        video=VIDEO,
        hashtags=HASHTAGS_31,
    )
    path = csv_file(tmp_path, accounts, last=row)

    result = cli("schedule", "--file", str(path), *dry_run)

    line = one_line_error(result, field)
    assert "line 5" in line  # the header is line 1, the bad row the fifth


@pytest.mark.parametrize(
    ("last", "field"),
    [
        ({"account": "{ig}", "at": LATER, "caption": "x" * 2201, "media": [IMAGE]}, "caption"),
        ({"account": "{ig}", "at": LATER, "type": "story", "media": [IMAGE, IMAGE2]}, "media"),
        ({"account": "{ig}", "at": LATER, "caption": "nul\x00", "media": [IMAGE]}, "caption"),
        ({"account": "{ig}", "at": "2031-03-01T09:00", "media": [IMAGE]}, "at"),
    ],
    ids=["caption", "story", "nul", "no-zone"],
)
def test_bulk_jsonl_with_a_bad_last_row_writes_nothing(
    shared: tuple[Cli, Conn, dict[str, str]],
    tmp_path: Path,
    last: dict[str, Any],
    field: str,
) -> None:
    cli, _, accounts = shared
    last = {
        k: v.replace("{ig}", accounts["instagram"]) if k == "account" else v
        for k, v in last.items()
    }
    path = jsonl_file(tmp_path, accounts, last)

    result = cli("schedule", "--file", str(path))

    line = one_line_error(result, field)
    assert "line 3" in line


def test_bulk_dry_run_validates_and_writes_nothing(
    shared: tuple[Cli, Conn, dict[str, str]],
    tmp_path: Path,
) -> None:
    cli, _, accounts = shared
    path = csv_file(tmp_path, accounts)

    result = cli("schedule", "--file", str(path), "--dry-run", "--json")
    human = cli("schedule", "--file", str(path), "--dry-run", env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert document["dry_run"] is True
    assert [p["platform"] for p in document["posts"]] == ["instagram", "facebook", "tiktok"]
    assert human.exit_code == 0, human.stderr
    assert "3 post(s)" in human.stdout


@pytest.mark.parametrize(
    "extra",
    [["--account", "{ig}"], ["--caption", "x"], ["--draft"], ["--at", LATER]],
    ids=["account", "caption", "draft", "at"],
)
def test_file_cannot_be_combined_with_single_post_options(
    shared: tuple[Cli, Conn, dict[str, str]],
    tmp_path: Path,
    extra: list[str],
) -> None:
    cli, _, accounts = shared
    path = csv_file(tmp_path, accounts)
    extra = [a.replace("{ig}", accounts["instagram"]) for a in extra]

    one_line_error(cli("schedule", "--file", str(path), *extra), "--file")


def test_a_missing_file(
    shared: tuple[Cli, Conn, dict[str, str]],
    tmp_path: Path,
) -> None:
    cli, _, _ = shared
    one_line_error(cli("schedule", "--file", str(tmp_path / "nope.csv")), "--file")
