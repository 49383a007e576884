"""Post validation against the platforms' rules (studio_publish.scheduling.validation)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from studio_publish.errors import EXIT_BAD_INPUT, BadInput
from studio_publish.media_policy import MediaPolicy
from studio_publish.scheduling.validation import (
    PostInput,
    ValidPost,
    check_stored_post,
    parse_option_strings,
    validate_post,
    validate_uuid,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "3F2B8C1E-0000-4000-8000-00000000ABCD"
JPG = "https://cdn.example.com/a.jpg"
JPG2 = "https://cdn.example.com/b.jpeg"
PNG = "https://cdn.example.com/a.png"
MP4 = "https://cdn.example.com/clip.mp4"
TT = {"privacy_level": "SELF_ONLY"}
# Local files in these tests live in pytest's temporary folders.
MEDIA = MediaPolicy(root=Path(tempfile.gettempdir()).resolve())


def post(**kw: Any) -> PostInput:
    kw.setdefault("at", "+1h")
    return PostInput(**kw)


def ok(platform: str, **kw: Any) -> ValidPost:
    return validate_post(post(**kw), platform=platform, now=NOW, media=MEDIA)


def bad(platform: str, field: str, *, prefix: str = "", **kw: Any) -> str:
    """Expect BadInput naming ``field``; return its problem text."""
    with pytest.raises(BadInput) as info:
        validate_post(post(**kw), platform=platform, now=NOW, media=MEDIA, field_prefix=prefix)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert info.value.exit_code == EXIT_BAD_INPUT
    return info.value.problem


# --- time and drafts ----------------------------------------------------------------------


def test_scheduled_post() -> None:
    got = ok("instagram", account_id=ACCOUNT, media=[JPG], caption="hi")
    assert got.scheduled_for == NOW + timedelta(hours=1)
    assert got.status == "scheduled"
    assert got.account_id == ACCOUNT.lower()
    assert got.platform == "instagram"
    assert got.media == [{"url": JPG, "kind": "image"}]


def test_draft_has_no_time() -> None:
    got = ok("instagram", at=None, draft=True, media=[JPG])
    assert got.scheduled_for is None and got.status == "draft"


def test_draft_and_at_are_exclusive() -> None:
    assert "draft" in bad("instagram", "at", draft=True, media=[JPG])


def test_at_required_unless_draft() -> None:
    assert bad("instagram", "at", at=None, media=[JPG]) == "required unless draft"


def test_at_in_the_past_is_refused() -> None:
    assert "past" in bad("instagram", "at", at="2026-06-01T11:58:00Z", media=[JPG])


def test_at_slightly_past_is_accepted() -> None:
    got = ok("instagram", at="2026-06-01T11:59:30Z", media=[JPG])
    assert got.scheduled_for == NOW - timedelta(seconds=30)


def test_at_without_offset_needs_tz() -> None:
    bad("instagram", "at", at="2026-12-01T09:00", media=[JPG])
    got = ok("instagram", at="2026-12-01T09:00", tz="Europe/Berlin", media=[JPG])
    assert got.scheduled_for == datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_unknown_tz_names_tz_even_for_drafts() -> None:
    bad("instagram", "tz", at="2026-12-01T09:00", tz="Nowhere/City", media=[JPG])
    bad("instagram", "tz", at=None, draft=True, tz="Nowhere/City", media=[JPG])


def test_bad_account_id() -> None:
    bad("instagram", "account", account_id="not-a-uuid", media=[JPG])


def test_unknown_platform() -> None:
    bad("myspace", "account", media=[JPG])


# --- field names and prefixes -------------------------------------------------------------


def test_field_prefix() -> None:
    bad("instagram", "row 3: caption", prefix="row 3: ", media=[JPG], caption="#a " * 31)


def test_origin_names_file_columns() -> None:
    problem = bad("instagram", "file line 7: at", at=None, media=[JPG], origin="file line 7")
    assert problem == "required unless draft"
    bad("instagram", "file line 7: media", media=["nope.jpg"], origin="file line 7")


# --- NUL bytes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("caption", {"caption": "a\x00b", "media": [JPG]}),
        ("media", {"media": ["https://x.com/a\x00.jpg"]}),
        ("options", {"media": [JPG], "options": {"alt_text": "a\x00"}}),
        ("options", {"media": [JPG], "options": ["alt_te\x00xt=a"]}),
        ("type", {"media": [JPG], "post_type": "image\x00"}),
        ("at", {"media": [JPG], "at": "now\x00"}),
        ("tz", {"media": [JPG], "tz": "UTC\x00"}),
    ],
)
def test_nul_bytes_name_the_field(field: str, kw: dict[str, Any]) -> None:
    assert "NUL" in bad("instagram", field, **kw)


# --- media --------------------------------------------------------------------------------


def test_local_file_is_stored_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    got = ok("tiktok", media=["clip.mp4"], options=TT)
    assert got.media == [{"url": str(tmp_path / "clip.mp4"), "kind": "video"}]


def test_missing_file() -> None:
    assert "no such file" in bad("facebook", "media", media=["/no/such/photo.jpg"])


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "x.jpg"
    folder.mkdir()
    assert "not a regular file" in bad("facebook", "media", media=[str(folder)])


@pytest.mark.parametrize("item", ["ftp://x.com/a.jpg", "https:///a.jpg", "https://x.com/a b.jpg"])
def test_bad_urls(item: str) -> None:
    bad("facebook", "media", media=[item])


def test_kind_from_extension_ignores_query() -> None:
    got = ok("facebook", media=["https://x.com/v/CLIP.MOV?sig=1.jpg"])
    assert got.media[0]["kind"] == "video" and got.post_type == "video"


def test_unknown_extension_needs_a_kind_prefix() -> None:
    problem = bad("facebook", "media", media=["https://picsum.photos/200"])
    assert "image:" in problem
    got = ok("facebook", media=["image:https://picsum.photos/200"])
    assert got.media == [{"url": "https://picsum.photos/200", "kind": "image"}]


def test_kind_prefix_contradicting_extension() -> None:
    bad("facebook", "media", media=["video:https://x.com/a.jpg"])


def test_empty_media_item() -> None:
    bad("facebook", "media", media=["  "])


def test_instagram_images_are_jpeg_only() -> None:
    assert "jpg" in bad("instagram", "media", media=[PNG])


def test_instagram_local_images_refused(tmp_path: Path) -> None:
    local = tmp_path / "a.jpg"
    local.write_bytes(b"x")
    assert "URL" in bad("instagram", "media", media=[str(local)])


@pytest.mark.parametrize("post_type", ["reel", "story"])
def test_instagram_local_videos_are_taken_for_reels_and_stories(
    tmp_path: Path, post_type: str
) -> None:
    """The resumable upload sends them (Facebook Login accounts; the client refuses the
    others before any call)."""
    local = tmp_path / "clip.mp4"
    local.write_bytes(b"x")
    kw: dict[str, Any] = {"caption": ""} if post_type == "story" else {}
    raw = post(media=[str(local)], post_type=post_type, **kw)
    valid = validate_post(raw, platform="instagram", now=NOW, media=MEDIA)
    assert valid.media == [{"url": str(local.resolve()), "kind": "video"}]


def test_instagram_carousel_videos_stay_urls(tmp_path: Path) -> None:
    local = tmp_path / "clip.mp4"
    local.write_bytes(b"x")
    media = ["https://cdn.test/a.jpg", str(local)]
    assert "public http(s) URLs" in bad("instagram", "media", media=media)


def test_tiktok_photos_need_https(tmp_path: Path) -> None:
    bad("tiktok", "media", media=["http://x.com/a.jpg"], options=TT)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    assert "https" in bad("tiktok", "media", media=[str(photo)], options=TT)


def test_tiktok_photo_formats() -> None:
    bad("tiktok", "media", media=["https://x.com/a.png"], options=TT)
    assert ok("tiktok", media=["https://x.com/a.webp"], options=TT).post_type == "image"


# --- type inference and media per type ----------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "media", "expected"),
    [
        ("instagram", [JPG], "image"),
        ("instagram", [MP4], "reel"),
        ("instagram", [JPG, MP4], "carousel"),
        ("facebook", [], "text"),
        ("facebook", [PNG], "image"),
        ("facebook", [MP4], "video"),
        ("facebook", [PNG, JPG], "carousel"),
        ("tiktok", [MP4], "video"),
        ("tiktok", [JPG], "image"),
        ("tiktok", [JPG, JPG2], "carousel"),
    ],
)
def test_type_inferred(platform: str, media: list[str], expected: str) -> None:
    options = TT if platform == "tiktok" else {}
    got = ok(platform, media=media, caption="hello", options=options)
    assert got.post_type == expected


@pytest.mark.parametrize("platform", ["instagram", "tiktok"])
def test_no_media_outside_facebook(platform: str) -> None:
    bad(platform, "media", caption="hi", options=TT if platform == "tiktok" else {})


def test_unknown_type() -> None:
    assert "one of" in bad("facebook", "type", post_type="poll", caption="hi")


@pytest.mark.parametrize(
    ("platform", "post_type"),
    [("instagram", "text"), ("tiktok", "text"), ("instagram", "video"), ("tiktok", "story")],
)
def test_type_not_on_platform(platform: str, post_type: str) -> None:
    options = TT if platform == "tiktok" else {}
    bad(platform, "type", post_type=post_type, media=[MP4], caption="x", options=options)


def test_instagram_video_hint() -> None:
    assert "reel" in bad("instagram", "type", post_type="video", media=[MP4])


def test_type_is_case_insensitive() -> None:
    assert ok("instagram", post_type="Reel", media=[MP4]).post_type == "reel"


def test_instagram_carousel_limits() -> None:
    assert ok("instagram", media=[JPG, MP4]).post_type == "carousel"
    assert ok("instagram", media=[JPG] * 10).post_type == "carousel"
    assert "2 to 10" in bad("instagram", "media", media=[JPG] * 11)
    assert "2 to 10" in bad("instagram", "media", post_type="carousel", media=[JPG])


def test_facebook_multi_photo_limits() -> None:
    assert ok("facebook", media=[PNG] * 10).post_type == "carousel"
    bad("facebook", "media", media=[PNG] * 11)
    assert "images only" in bad("facebook", "media", media=[PNG, MP4])


def test_tiktok_photo_post_limits() -> None:
    assert ok("tiktok", media=[JPG] * 35, options=TT).post_type == "carousel"
    assert "2 to 35" in bad("tiktok", "media", media=[JPG] * 36, options=TT)
    bad("tiktok", "media", media=[JPG, MP4], options=TT)


@pytest.mark.parametrize(
    ("platform", "post_type", "media"),
    [
        ("instagram", "reel", [JPG]),
        ("instagram", "reel", [MP4, MP4]),
        ("tiktok", "video", [JPG]),
        ("facebook", "video", [PNG]),
        ("instagram", "image", [MP4]),
        ("instagram", "image", [JPG, JPG]),
        ("facebook", "image", []),
        ("instagram", "story", [JPG, JPG]),
        ("instagram", "story", []),
        ("facebook", "story", [JPG, MP4]),
        ("facebook", "story", []),
        ("facebook", "text", [PNG]),
    ],
)
def test_media_count_and_kind_per_type(platform: str, post_type: str, media: list[str]) -> None:
    options = TT if platform == "tiktok" else {}
    bad(platform, "media", post_type=post_type, media=media, caption="x", options=options)


@pytest.mark.parametrize("platform", ["instagram", "facebook"])
def test_story_takes_one_image_or_video(platform: str) -> None:
    assert ok(platform, post_type="story", media=[JPG]).post_type == "story"
    assert ok(platform, post_type="story", media=[MP4]).post_type == "story"


@pytest.mark.parametrize("platform", ["instagram", "facebook"])
def test_a_story_takes_no_caption(platform: str) -> None:
    bad(platform, "caption", post_type="story", media=[JPG], caption="hello")


# --- captions -----------------------------------------------------------------------------


def test_instagram_caption_length() -> None:
    ok("instagram", media=[JPG], caption="x" * 2200)
    assert "2201" in bad("instagram", "caption", media=[JPG], caption="x" * 2201)


def test_instagram_hashtags() -> None:
    ok("instagram", media=[JPG], caption=" ".join(f"#t{i}" for i in range(30)))
    problem = bad("instagram", "caption", media=[JPG], caption="#a" + " #b" * 30)
    assert "31 hashtags" in problem


def test_instagram_warns_above_the_five_hashtags_it_announced() -> None:
    # The API documents 30 (refused above, test_instagram_hashtags); Instagram announced 5 a
    # post in December 2025: 6 to 30 pass with a warning naming the caption.
    assert ok("instagram", media=[JPG], caption="#a #b #c #d #e").warnings == ()
    six = ok("instagram", media=[JPG], caption="#a #b #c #d #e #f")
    (warning,) = six.warnings
    assert warning.startswith("caption: 6 hashtags, more than 5: Instagram announced")
    assert "documented limit is 30" in warning
    in_file = validate_post(
        post(caption="#a " * 30, media=[JPG], origin="file line 3"),
        platform="instagram",
        now=NOW,
        media=MEDIA,
    )
    assert in_file.warnings[0].startswith("file line 3: caption: 30 hashtags")
    # Other platforms announced no such limit.
    assert ok("facebook", caption="#a " * 40).warnings == ()


def test_instagram_mentions() -> None:
    ok("instagram", media=[JPG], caption=" ".join(f"@u{i}" for i in range(20)) + " me@mail.com")
    problem = bad("instagram", "caption", media=[JPG], caption="@a " * 21)
    assert "21 @mentions" in problem


def test_facebook_caption_length() -> None:
    ok("facebook", caption="x" * 63206)
    bad("facebook", "caption", caption="x" * 63207)


def test_facebook_text_needs_caption_or_link() -> None:
    assert "link" in bad("facebook", "caption", caption="  ")
    got = ok("facebook", options={"link": "https://example.com/x"})
    assert got.post_type == "text" and got.options == {"link": "https://example.com/x"}


def test_tiktok_video_title_counts_utf16_units() -> None:
    emoji = "\U0001f600"  # two UTF-16 units
    ok("tiktok", media=[MP4], options=TT, caption=emoji * 1100)
    problem = bad("tiktok", "caption", media=[MP4], options=TT, caption=emoji * 1100 + "x")
    assert "2201 UTF-16" in problem


def test_tiktok_photo_description_limit() -> None:
    ok("tiktok", media=[JPG], options=TT, caption="x" * 4000)
    bad("tiktok", "caption", media=[JPG], options=TT, caption="x" * 4001)


def test_tiktok_photo_title_limit() -> None:
    ok("tiktok", media=[JPG], options={**TT, "title": "t" * 90})
    assert "90" in bad("tiktok", "options", media=[JPG], options={**TT, "title": "t" * 91})
    bad("tiktok", "options", media=[MP4], options={**TT, "title": "t"})  # video: the caption


# --- options ------------------------------------------------------------------------------


def test_options_from_key_value_strings_are_typed() -> None:
    got = ok(
        "tiktok",
        media=[MP4],
        options=[
            "privacy_level=PUBLIC_TO_EVERYONE",
            "disable_duet=true",
            "disable_comment=No",
            "video_cover_timestamp_ms=1000",
        ],
    )
    assert got.options == {
        "privacy_level": "PUBLIC_TO_EVERYONE",
        "disable_duet": True,
        "disable_comment": False,
        "video_cover_timestamp_ms": 1000,
    }


def test_instagram_reel_options() -> None:
    got = ok(
        "instagram",
        media=[MP4],
        options={"share_to_feed": "false", "thumb_offset": "500", "cover_url": JPG},
    )
    assert got.options == {"share_to_feed": False, "thumb_offset": 500, "cover_url": JPG}


def test_option_value_keeps_equals_signs() -> None:
    got = ok("instagram", media=[JPG], options=["alt_text=a=b"])
    assert got.options == {"alt_text": "a=b"}


@pytest.mark.parametrize("item", ["privacy_level", "=x", " =x"])
def test_option_without_equals(item: str) -> None:
    assert "KEY=VALUE" in bad("tiktok", "options", media=[MP4], options=[item])


def test_option_given_twice() -> None:
    with pytest.raises(BadInput, match=r"^options: alt_text is given twice"):
        parse_option_strings(["alt_text=a", "alt_text=b"])


def test_unknown_option() -> None:
    problem = bad("instagram", "options", media=[JPG], options={"colour": "red"})
    assert problem.startswith("unknown option colour for Instagram")
    bad("facebook", "options", caption="x", options={"privacy_level": "SELF_ONLY"})


def test_option_for_another_type() -> None:
    assert "reel" in bad("instagram", "options", media=[JPG], options={"share_to_feed": "true"})
    bad("facebook", "options", media=[PNG], options={"link": "https://x.com"})
    bad("tiktok", "options", media=[JPG], options={**TT, "disable_duet": "true"})


@pytest.mark.parametrize(
    "options",
    [
        {"disable_comment": "maybe"},
        {"video_cover_timestamp_ms": "-1"},
        {"video_cover_timestamp_ms": "1.5"},
        {"duration_sec": "0"},
        {"duration_sec": "601"},
    ],
)
def test_bad_option_values(options: dict[str, str]) -> None:
    bad("tiktok", "options", media=[MP4], options={**TT, **options})


def test_bad_url_option() -> None:
    bad("facebook", "options", caption="x", options={"link": "example.com"})


def test_empty_string_option() -> None:
    bad("instagram", "options", media=[JPG], options={"alt_text": " "})


def test_tiktok_privacy_level_required() -> None:
    problem = bad("tiktok", "options", media=[MP4])
    assert "privacy_level is required" in problem and "SELF_ONLY" in problem


def test_tiktok_privacy_level_must_be_known() -> None:
    bad("tiktok", "options", media=[MP4], options={"privacy_level": "FRIENDS"})


def test_tiktok_branded_content_cannot_be_private() -> None:
    bad("tiktok", "options", media=[MP4], options={**TT, "brand_content_toggle": "true"})
    got = ok(
        "tiktok",
        media=[MP4],
        options={"privacy_level": "PUBLIC_TO_EVERYONE", "brand_content_toggle": "true"},
    )
    assert got.options["brand_content_toggle"] is True


def test_tiktok_photo_cover_index() -> None:
    ok("tiktok", media=[JPG, JPG2], options={**TT, "photo_cover_index": "1"})
    bad("tiktok", "options", media=[JPG, JPG2], options={**TT, "photo_cover_index": "2"})


# --- ids ----------------------------------------------------------------------------------


def test_validate_uuid() -> None:
    assert validate_uuid(f" {ACCOUNT} ", "account") == ACCOUNT.lower()
    for text in ["", "123", ACCOUNT.replace("-", ""), "{" + ACCOUNT + "}", ACCOUNT + "0"]:
        with pytest.raises(BadInput, match=r"^POST_ID: "):
            validate_uuid(text, "POST_ID")


# --- the engine's door: the same rules for a stored row ----------------------------------


@pytest.mark.parametrize(
    ("platform", "row", "field"),
    [
        ("tiktok", {"post_type": "text"}, "post_type"),
        ("tiktok", {"post_type": "story", "media": [{"url": MP4}]}, "post_type"),
        (
            "tiktok",
            {"post_type": "carousel", "media": [{"url": "http://c.example/a.jpg"}] * 2},
            "media",
        ),
        ("tiktok", {"post_type": "video", "media": [{"url": JPG}]}, "media"),
        ("tiktok", {"post_type": "video", "media": [{"url": MP4}], "options": {}}, "options"),
        ("instagram", {"post_type": "carousel", "media": [{"url": JPG}]}, "media"),
        ("instagram", {"post_type": "carousel", "media": [{"url": JPG}] * 11}, "media"),
        ("instagram", {"post_type": "image", "media": [{"url": MP4}]}, "media"),
        ("instagram", {"post_type": "reel", "media": [{"url": JPG}]}, "media"),
        ("instagram", {"post_type": "video", "media": [{"url": MP4}]}, "post_type"),
        ("instagram", {"post_type": "text"}, "post_type"),
        ("instagram", {"post_type": "story", "media": [{"url": JPG}], "caption": "x"}, "caption"),
        (
            "instagram",
            {"post_type": "image", "media": [{"url": JPG}], "caption": "é" * 2201},
            "caption",
        ),
        # A story takes no caption: the row's "hi" is refused, never dropped.
        ("facebook", {"post_type": "story", "media": [{"url": JPG}]}, "caption"),
        ("facebook", {"post_type": "text", "media": [{"url": JPG}]}, "media"),
        ("facebook", {"post_type": "image", "media": [{"url": MP4}]}, "media"),
        ("facebook", {"post_type": "text", "caption": ""}, "caption"),
        (
            "facebook",
            {"post_type": "image", "media": [{"url": JPG, "kind": "video"}]},
            "media[0].url",
        ),
    ],
)
def test_a_stored_row_that_breaks_a_platform_rule_is_refused(
    platform: str, row: dict[str, Any], field: str
) -> None:
    """What `schedule` refuses, the engine refuses in a row the web app wrote."""
    with pytest.raises(BadInput) as info:
        check_stored_post({"caption": "hi", **row}, platform=platform, media=MEDIA)
    assert info.value.field == field, info.value


@pytest.mark.parametrize("post_type", ["video", "reel"])
def test_a_local_video_for_facebook_is_taken_from_the_media_root(
    tmp_path: Path, post_type: str
) -> None:
    """Facebook videos and reels are uploaded from the media root (the resumable uploads)."""
    (tmp_path / "clip.mp4").write_bytes(b"x")
    row = {"post_type": post_type, "media": [{"url": str(tmp_path / "clip.mp4")}], "caption": ""}
    media = MediaPolicy.parse(str(tmp_path), None)
    stored = check_stored_post(row, platform="facebook", media=media)
    assert stored.media == ((str((tmp_path / "clip.mp4").resolve()), "video"),)


def test_a_good_stored_row_comes_back_checked() -> None:
    stored = check_stored_post(
        {
            "post_type": None,
            "caption": None,
            "media": [{"url": MP4}],
            "options": {"privacy_level": "SELF_ONLY", "is_aigc": "true"},
        },
        platform="tiktok",
        media=MEDIA,
    )
    assert stored.post_type == "video" and stored.caption == ""
    assert stored.media == ((MP4, "video"),)
    assert stored.options == {"privacy_level": "SELF_ONLY", "is_aigc": True}


# --- first comments ----------------------------------------------------------------------


def test_a_first_comment_is_stored_as_an_option() -> None:
    valid = ok("instagram", media=[JPG], first_comment="#more #tags")
    assert valid.options == {"first_comment": "#more #tags"}
    assert ok("facebook", caption="hi", first_comment="Below").options["first_comment"] == "Below"
    assert ok("threads", caption="hi", options={"first_comment": "A reply"}).options == {
        "first_comment": "A reply"
    }


@pytest.mark.parametrize(
    ("platform", "kw", "problem"),
    [
        ("tiktok", {"media": [MP4], "options": TT}, "TikTok posts take no first comment"),
        ("instagram", {"media": [JPG], "post_type": "story"}, "story posts take no comments"),
        ("instagram", {"media": [JPG], "comment": "x" * 2201}, "Instagram comment allows 2200"),
        ("instagram", {"media": [JPG], "comment": "#a " * 31}, "31 hashtags"),
        ("facebook", {"caption": "hi", "comment": "x" * 8001}, "Facebook comment allows 8000"),
        ("threads", {"caption": "hi", "comment": "😀" * 126}, "Threads comment allows 500"),
        ("facebook", {"caption": "hi", "comment": "   "}, "is empty"),
        ("facebook", {"caption": "hi", "comment": "a\x00b"}, "NUL"),
    ],
)
def test_a_first_comment_breaking_its_platforms_rule_is_refused(
    platform: str, kw: dict[str, Any], problem: str
) -> None:
    comment = kw.pop("comment", "A comment")
    assert problem in bad(platform, "first_comment", first_comment=comment, **kw)


def test_a_first_comment_given_twice_is_refused() -> None:
    problem = bad(
        "facebook", "first_comment", caption="hi", first_comment="a", options={"first_comment": "b"}
    )
    assert "twice" in problem


@pytest.mark.parametrize("value", [5, True, ["a"], {"a": 1}, ""])
def test_a_stored_rows_first_comment_must_be_text(value: object) -> None:
    row = {"caption": "hi", "post_type": "text", "options": {"first_comment": value}}
    with pytest.raises(BadInput) as info:
        check_stored_post(row, platform="facebook", media=MEDIA)
    assert info.value.field == "options.first_comment"


def test_a_stored_tiktok_row_with_a_first_comment_is_refused() -> None:
    row = {
        "caption": "hi",
        "media": [{"url": MP4, "kind": "video"}],
        "options": {**TT, "first_comment": "no"},
    }
    with pytest.raises(BadInput, match="take no first comment") as info:
        check_stored_post(row, platform="tiktok", media=MEDIA)
    assert info.value.field == "options.first_comment"


def test_a_stored_rows_null_first_comment_is_none() -> None:
    row = {"caption": "hi", "post_type": "text", "options": {"first_comment": None}}
    assert check_stored_post(row, platform="facebook", media=MEDIA).options == {}
