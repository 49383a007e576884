"""Checks a post against the platforms' documented rules before anything is written.

These are the only rules, checked at both doors:

* `validate_post` turns a raw :class:`PostInput` (CLI flags or one row of a bulk file) into a
  :class:`ValidPost` ready for the database, or raises ``BadInput`` naming the flag or column.
* `check_stored_post` checks a row as the engine claimed it, whoever wrote it (the web app
  inserts rows straight into the table), before any platform call; the engine fails a row
  that breaks a rule with reason ``invalid`` and the message naming the column.

The platform clients do not check the rules again: what reaches them passed these.

Decisions:
- Media: an http(s) URL on a public host, or a file inside the media root (stored as its
  resolved absolute path; Instagram, Facebook video and TikTok photos take URLs only); see
  media_policy.py for what is refused and the two settings that allow more. The kind
  comes from the extension (of the URL's path, ignoring the query); ``image:`` or
  ``video:`` in front of an item says it outright (for URLs without an extension). An
  unknown extension without that prefix is refused rather than guessed: a wrong guess
  would fail only at publish time.
- TYPE when left out: no media -> ``text`` on Facebook (refused elsewhere); one image ->
  ``image``; one video -> ``reel`` on Instagram, ``video`` on Facebook and TikTok; several ->
  ``carousel`` (on TikTok: a photo post, so images only).
- TikTok ``privacy_level`` is required, with no default: PUBLIC_TO_EVERYONE could publish
  something meant to be private, and SELF_ONLY could silently hide a post meant to be public.
- Facebook multi-photo posts: 2 to 10 photos. The reference documents no maximum; 10 is what
  Mixpost allows and keeps a publish to a bounded number of non-idempotent uploads.
- A scheduled time more than a minute in the past is refused (timeparse.PAST_TOLERANCE).
- Drafts pass every content rule too, so scheduling a draft later needs only a time.
"""

from __future__ import annotations

import os
import posixpath
import re
import uuid
from collections.abc import Mapping
from dataclasses import astuple, dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from studio_publish.errors import BadInput
from studio_publish.media_policy import MediaPolicy, MediaRefused
from studio_publish.timeparse import parse_schedule_time, parse_zone

__all__ = [
    "PLATFORMS",
    "POST_TYPES",
    "OptionValue",
    "PostInput",
    "StoredPost",
    "ValidPost",
    "check_stored_post",
    "check_text",
    "max_media_bytes",
    "parse_bool",
    "parse_option_strings",
    "split_kind_prefix",
    "validate_post",
    "validate_uuid",
]

PLATFORMS = ("instagram", "facebook", "tiktok")
POST_TYPES = ("image", "video", "reel", "story", "carousel", "text")
_NAMES = {"instagram": "Instagram", "facebook": "Facebook", "tiktok": "TikTok"}

OptionValue = str | int | bool

_TYPES_BY_PLATFORM: dict[str, frozenset[str]] = {
    # Instagram: standalone VIDEO stopped working in 2023; videos are reels (1.2).
    "instagram": frozenset({"image", "reel", "story", "carousel"}),
    # Facebook stories need their own flow, which the client does not implement; a reel is
    # published as a Page video.
    "facebook": frozenset({"text", "image", "video", "carousel", "reel"}),
    # TikTok: a video, or a photo post of 1 (image) to 35 (carousel) images (4.3).
    "tiktok": frozenset({"image", "video", "carousel"}),
}
_TYPE_HINTS = {
    ("instagram", "video"): "Instagram publishes videos as reels: use reel",
    ("tiktok", "reel"): "TikTok posts are videos: use video",
}
_CAROUSEL_MAX = {"instagram": 10, "facebook": 10, "tiktok": 35}
# The most items any post of a platform holds: a row with more is refused before its items
# are read (a 10,000-item row must not cost 10,000 checks, let alone uploads).
_MEDIA_MAX = _CAROUSEL_MAX

# Bytes this tool reads for one item it uploads itself (the platform fetches URLs for the
# rest). TikTok: 4 GB per video (https://developers.tiktok.com/doc/content-posting-api-media-
# transfer-guide). Facebook photos: Meta recommends under 4 MB
# (https://developers.facebook.com/docs/graph-api/reference/page/photos/); 10 MB is our
# bound, beyond which an upload is refused rather than attempted.
_MEDIA_MAX_BYTES: dict[tuple[str, str], int] = {
    ("tiktok", "video"): 4 * 1024**3,
    ("facebook", "image"): 10 * 1024**2,
}
_DEFAULT_MAX_BYTES = 100 * 1024**2


def max_media_bytes(platform: str, kind: str) -> int:
    """The most bytes the tool reads for one item of this kind it uploads to ``platform``."""
    return _MEDIA_MAX_BYTES.get((platform, kind), _DEFAULT_MAX_BYTES)


IMAGE_EXTENSIONS = frozenset(
    {"jpg", "jpeg", "png", "webp", "gif", "heic", "heif", "bmp", "tif", "tiff", "avif"}
)
VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "webm", "m4v", "avi", "mkv", "mpeg", "mpg", "3gp"})
# Formats each platform documents; an item whose extension is unknown (a kind prefix) passes.
_PLATFORM_FORMATS: dict[tuple[str, str], frozenset[str]] = {
    ("instagram", "image"): frozenset({"jpg", "jpeg"}),  # JPEG only (1.2)
    ("instagram", "video"): frozenset({"mp4", "mov"}),  # MOV/MP4 (1.2)
    ("facebook", "image"): frozenset({"jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff"}),  # 2
    ("facebook", "video"): VIDEO_EXTENSIONS,
    ("tiktok", "image"): frozenset({"jpg", "jpeg", "webp"}),  # WebP or JPEG (4.3)
    ("tiktok", "video"): frozenset({"mp4", "webm", "mov"}),  # MP4/WebM/MOV (4.4)
}

INSTAGRAM_CAPTION_MAX = 2200
INSTAGRAM_HASHTAGS_MAX = 30
INSTAGRAM_MENTIONS_MAX = 20
FACEBOOK_CAPTION_MAX = 63206
TIKTOK_VIDEO_TITLE_MAX = 2200  # UTF-16 units (4.3; an older copy said 150)
TIKTOK_PHOTO_TITLE_MAX = 90
TIKTOK_PHOTO_DESCRIPTION_MAX = 4000
TIKTOK_PRIVACY_LEVELS = (
    "PUBLIC_TO_EVERYONE",
    "MUTUAL_FOLLOW_FRIENDS",
    "FOLLOWER_OF_CREATOR",
    "SELF_ONLY",
)

# Every occurrence counts (Instagram's limit is on tags in the caption, repeats included).
_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w@.])@[\w.]+")  # not the @ of an e-mail address
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KIND_PREFIX = re.compile(r"(image|video):(?!//)(.+)", re.DOTALL)

_PHOTO_TYPES = frozenset({"image", "carousel"})


@dataclass(frozen=True)
class _Option:
    kind: Literal["bool", "int", "str", "url", "privacy"]
    types: frozenset[str]  # the post types it applies to
    minimum: int = 0
    maximum: int | None = None


def _opt(kind: Literal["bool", "int", "str", "url", "privacy"], *types: str, **kw: int) -> _Option:
    return _Option(kind, frozenset(types), **kw)


_ALL_TIKTOK = ("image", "carousel", "video")
_OPTIONS: dict[str, dict[str, _Option]] = {
    "instagram": {  # 1.2: share_to_feed and cover_url are for reels; thumb_offset too here
        "share_to_feed": _opt("bool", "reel"),
        "cover_url": _opt("url", "reel"),
        "thumb_offset": _opt("int", "reel"),
        "alt_text": _opt("str", "image", "carousel"),
    },
    "facebook": {
        "link": _opt("url", "text"),  # /feed link post (2); photos go through attached_media
    },
    "tiktok": {  # 4.3
        "privacy_level": _opt("privacy", *_ALL_TIKTOK),
        "disable_comment": _opt("bool", *_ALL_TIKTOK),
        "disable_duet": _opt("bool", "video"),
        "disable_stitch": _opt("bool", "video"),
        "video_cover_timestamp_ms": _opt("int", "video"),
        "brand_content_toggle": _opt("bool", *_ALL_TIKTOK),
        "brand_organic_toggle": _opt("bool", *_ALL_TIKTOK),
        "is_aigc": _opt("bool", *_ALL_TIKTOK),
        "auto_add_music": _opt("bool", "image", "carousel"),
        "photo_cover_index": _opt("int", "image", "carousel"),
        # The video's length, checked against 10 min via the API (4.4).
        "duration_sec": _opt("int", "video", minimum=1, maximum=600),
        # Photo posts only: a video's title is its caption.
        "title": _opt("str", "image", "carousel"),
    },
}


@dataclass
class PostInput:
    """One post as given, before any checking: CLI flags or one bulk-file row."""

    account_id: str | None = None
    at: str | None = None
    draft: bool = False
    caption: str = ""
    media: list[str] = field(default_factory=list)  # URLs or paths, optionally "video:..."
    post_type: str | None = None
    options: dict[str, str] | list[str] = field(default_factory=dict)  # or "KEY=VALUE" strings
    tz: str | None = None
    # Where a bulk row came from, e.g. "--file line 3". When set, errors name the file's
    # columns ("--file line 3: caption") instead of the CLI flags ("--caption").
    origin: str | None = None


@dataclass(frozen=True)
class ValidPost:
    """A post that passed every check: the values to write, as the database stores them."""

    platform: str
    post_type: str
    caption: str
    media: list[dict[str, str]]  # [{"url": ..., "kind": "image"|"video"}]
    options: dict[str, OptionValue]
    scheduled_for: datetime | None  # None for a draft
    account_id: str | None = None

    @property
    def status(self) -> str:
        return "draft" if self.scheduled_for is None else "scheduled"


@dataclass(frozen=True)
class _Fields:
    """The name each input goes by in error messages."""

    account: str
    at: str
    draft: str
    caption: str
    media: str
    type: str
    options: str
    tz: str


_FILE_NAMES = _Fields("account", "at", "draft", "caption", "media", "type", "options", "tz")
_FLAG_NAMES = _Fields(
    "--account", "--at", "--draft", "--caption", "--media", "--type", "--option", "--tz"
)


def _fields(raw: PostInput, field_prefix: str) -> _Fields:
    prefix = field_prefix or (f"{raw.origin}: " if raw.origin else "")
    names = _FILE_NAMES if raw.origin else _FLAG_NAMES
    return _Fields(*(prefix + name for name in astuple(names)))


def validate_uuid(text: str, field: str) -> str:
    """The canonical (lower-case, hyphenated) form of a UUID, or BadInput naming ``field``."""
    value = text.strip()
    if not _UUID.fullmatch(value):
        raise BadInput(field, f"{value!r} is not an id (a UUID such as 3f2b...-...)")
    return str(uuid.UUID(value))


def parse_bool(text: str, field: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise BadInput(field, f"{text!r} is not true or false")


def parse_option_strings(items: list[str], field: str = "--option") -> dict[str, str]:
    """``["KEY=VALUE", ...]`` -> dict; a missing ``=``, empty key or repeated key is refused."""
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInput(field, f"{item!r} is not KEY=VALUE")
        if key in options:
            raise BadInput(field, f"{key} is given twice")
        options[key] = value
    return options


def _a(platform: str) -> str:
    """ "an Instagram", "a TikTok": the platform's name with its article."""
    name = _NAMES[platform]
    return f"an {name}" if name[0] in "AEIOU" else f"a {name}"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_text(value: str | None, field: str) -> None:
    """BadInput naming ``field`` for text no column or terminal takes.

    PostgreSQL text cannot hold NUL, nor a lone surrogate: Python decodes argv with
    surrogateescape, so a raw ``\xff`` byte in an argument arrives as ``\udcff``. Refusing
    here beats a database error mid-write.
    """
    if value is None:
        return
    if "\x00" in value:
        raise BadInput(field, "contains a NUL byte")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = ord(value[exc.start])
        what = f"byte 0x{char - 0xDC00:02x}" if 0xDC80 <= char <= 0xDCFF else "a surrogate"
        raise BadInput(
            field, f"is not valid UTF-8 text ({what} at character {exc.start + 1})"
        ) from None


# --- media -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    url: str
    kind: str
    ext: str | None
    remote: bool


def _extension(path: str) -> str | None:
    ext = posixpath.splitext(path)[1].lower().lstrip(".")
    return ext or None


def _kind_of(ext: str | None) -> str | None:
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return None


def split_kind_prefix(item: str) -> tuple[str | None, str]:
    """``"video:https://x/clip"`` -> ``("video", "https://x/clip")``; no prefix -> ``None``."""
    match = _KIND_PREFIX.fullmatch(item.strip())
    if match:
        return match.group(1), match.group(2).strip()
    return None, item.strip()


def _read_item(given: str, field: str, media: MediaPolicy) -> _Item:
    """One media item as given on the command line or in a bulk file."""
    check_text(given, field)
    hint, text = split_kind_prefix(given)
    if not text:
        raise BadInput(field, "empty media item")
    location = text if "://" in text else os.path.abspath(os.path.expanduser(text))
    return _item(location, hint, field, media, shown=text)


def _item(location: str, hint: str | None, field: str, media: MediaPolicy, *, shown: str) -> _Item:
    """The checks every media item passes, from the CLI or from a stored row."""
    if "://" in location:
        parts = urlsplit(location)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise BadInput(field, f"{shown!r}: only http(s) URLs or local file paths are accepted")
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in location):
            raise BadInput(field, f"{shown!r}: a URL cannot contain spaces (write %20)")
        try:
            media.check_url(location)
        except MediaRefused as exc:
            raise BadInput(field, f"{shown!r}: {exc}") from None
        url, ext, remote = location, _extension(parts.path), True
    else:
        try:
            path = media.local_file(location)
        except MediaRefused as exc:
            raise BadInput(field, str(exc)) from None
        url, ext, remote = str(path), _extension(str(path)), False
    detected = _kind_of(ext)
    if hint and detected and hint != detected:
        raise BadInput(field, f"{shown!r} is marked {hint} but .{ext} is a {detected} extension")
    kind = hint or detected
    if kind is None:
        what = f"extension .{ext}" if ext else "no extension"
        raise BadInput(
            field,
            f"{shown!r} has {what}, so its kind is unknown; write image:{shown} or video:{shown}",
        )
    return _Item(url=url, kind=kind, ext=ext, remote=remote)


def _check_item_for_platform(item: _Item, platform: str, field: str) -> None:
    allowed = _PLATFORM_FORMATS[(platform, item.kind)]
    if item.ext is not None and item.ext not in allowed:
        listed = ", ".join(sorted(allowed))
        raise BadInput(
            field,
            f"{item.url}: {_NAMES[platform]} does not take .{item.ext} {item.kind}s ({listed})",
        )
    if platform == "instagram" and not item.remote:
        # Meta fetches media from a public URL itself (1.2); images have no upload at all, and
        # the resumable video upload (1.5) is not implemented by platforms/instagram.py.
        raise BadInput(field, f"{item.url}: Instagram takes media only as public http(s) URLs")
    if platform == "facebook" and item.kind == "video" and not item.remote:
        # Local video needs the resumable upload, which platforms/facebook.py does not do.
        raise BadInput(field, f"{item.url}: Facebook takes video only as public http(s) URLs")
    if platform == "tiktok" and item.kind == "image" and not item.url.startswith("https://"):
        # Photo posts are PULL_FROM_URL only, and TikTok pulls only over HTTPS (4.3, 4.4).
        raise BadInput(field, f"{item.url}: TikTok takes photos only as https:// URLs")


def _infer_type(platform: str, items: list[_Item], field: str) -> str:
    if not items:
        if platform == "facebook":
            return "text"
        raise BadInput(field, f"{_a(platform)} post needs at least one media item")
    if len(items) > 1:
        return "carousel"
    if items[0].kind == "image":
        return "image"
    return "reel" if platform == "instagram" else "video"


def _check_media_for_type(
    platform: str, post_type: str, items: list[_Item], fields: _Fields
) -> None:
    count = len(items)
    kinds = {item.kind for item in items}
    where = f"{_a(platform)} {post_type} post"
    if post_type == "text":
        if items:
            raise BadInput(fields.media, f"{where} takes no media (use image, video or carousel)")
    elif post_type in ("image", "video", "reel"):
        needed = "image" if post_type == "image" else "video"
        if count != 1 or kinds != {needed}:
            raise BadInput(fields.media, f"{where} needs exactly one {needed} (got {count} items)")
    elif post_type == "story":
        if count != 1:
            raise BadInput(fields.media, f"{where} needs exactly one item (got {count})")
    elif post_type == "carousel":
        most = _CAROUSEL_MAX[platform]
        if not 2 <= count <= most:
            raise BadInput(fields.media, f"{where} needs 2 to {most} items (got {count})")
        if platform in ("facebook", "tiktok") and kinds != {"image"}:
            # Facebook attaches uploaded photos; TikTok photo posts are photos (2, 4.3).
            raise BadInput(fields.media, f"{where} takes images only")


# --- caption and options ------------------------------------------------------------------


def _check_caption(platform: str, post_type: str, caption: str, field: str) -> None:
    if platform == "instagram":
        if post_type == "story" and caption.strip():
            # Stories have no caption (platforms/instagram.py sends none): refuse, not drop.
            raise BadInput(field, "Instagram stories take no caption")
        if len(caption) > INSTAGRAM_CAPTION_MAX:
            raise BadInput(
                field, f"{len(caption)} characters; Instagram allows {INSTAGRAM_CAPTION_MAX}"
            )
        tags = len(_HASHTAG.findall(caption))
        if tags > INSTAGRAM_HASHTAGS_MAX:
            raise BadInput(field, f"{tags} hashtags; Instagram allows {INSTAGRAM_HASHTAGS_MAX}")
        mentions = len(_MENTION.findall(caption))
        if mentions > INSTAGRAM_MENTIONS_MAX:
            raise BadInput(
                field, f"{mentions} @mentions; Instagram allows {INSTAGRAM_MENTIONS_MAX}"
            )
    elif platform == "facebook":
        if len(caption) > FACEBOOK_CAPTION_MAX:
            raise BadInput(
                field, f"{len(caption)} characters; Facebook allows {FACEBOOK_CAPTION_MAX}"
            )
    else:
        # The caption is a video's title, or a photo post's description (4.3).
        limit = (
            TIKTOK_PHOTO_DESCRIPTION_MAX if post_type in _PHOTO_TYPES else (TIKTOK_VIDEO_TITLE_MAX)
        )
        units = _utf16_len(caption)
        if units > limit:
            raise BadInput(
                field, f"{units} UTF-16 units; TikTok allows {limit} for a {post_type} post"
            )


def _convert_option(key: str, value: object, spec: _Option, field: str) -> OptionValue:
    """An option's value, from the text of a flag or file, or as JSON in a stored row."""
    if isinstance(value, bool):  # JSON true/false (bool before int: True is an int)
        if spec.kind != "bool":
            raise BadInput(field, f"{key}: must be {_KIND_WORDS[spec.kind]}, not true/false")
        return value
    if isinstance(value, int):
        if spec.kind != "int":
            raise BadInput(field, f"{key}: must be {_KIND_WORDS[spec.kind]}, not a number")
        value = str(value)
    if not isinstance(value, str):
        raise BadInput(field, f"{key}: must be {_KIND_WORDS[spec.kind]}")
    check_text(value, field)
    if spec.kind == "bool":
        return parse_bool(value, field)
    if spec.kind == "int":
        text = value.strip()
        if not re.fullmatch(r"\d{1,12}", text):
            raise BadInput(field, f"{key}={value!r}: must be a whole number")
        number = int(text)
        if number < spec.minimum or (spec.maximum is not None and number > spec.maximum):
            top = "" if spec.maximum is None else f" to {spec.maximum}"
            raise BadInput(field, f"{key}={number}: must be {spec.minimum}{top}")
        return number
    if spec.kind == "privacy":
        text = value.strip()
        if text not in TIKTOK_PRIVACY_LEVELS:
            raise BadInput(field, f"{key}={value!r}: one of {', '.join(TIKTOK_PRIVACY_LEVELS)}")
        return text
    if spec.kind == "url":
        text = value.strip()
        parts = urlsplit(text)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise BadInput(field, f"{key}={value!r}: must be an http(s) URL")
        return text
    if not value.strip():
        raise BadInput(field, f"{key} needs a value")
    return value


_KIND_WORDS = {
    "bool": "true or false",
    "int": "a whole number",
    "str": "text",
    "url": "an http(s) URL",
    "privacy": "a privacy level",
}


def _validate_options(
    platform: str,
    post_type: str,
    raw: Mapping[str, object],
    media_count: int,
    field: str,
) -> dict[str, OptionValue]:
    known = _OPTIONS[platform]
    options: dict[str, OptionValue] = {}
    for key, value in raw.items():
        check_text(key, field)
        spec = known.get(key)
        if spec is None:
            names = ", ".join(sorted(known))
            raise BadInput(field, f"unknown option {key} for {_NAMES[platform]} (known: {names})")
        if post_type not in spec.types:
            kinds = ", ".join(sorted(spec.types))
            raise BadInput(field, f"{key} is for {_NAMES[platform]} {kinds} posts, not {post_type}")
        options[key] = _convert_option(key, value, spec, field)

    if platform == "tiktok":
        privacy = options.get("privacy_level")
        if privacy is None:
            levels = ", ".join(TIKTOK_PRIVACY_LEVELS)
            raise BadInput(field, f"privacy_level is required for TikTok: one of {levels}")
        # TikTok's content-sharing guidelines: branded content cannot be private (TT-guide).
        if options.get("brand_content_toggle") is True and privacy == "SELF_ONLY":
            raise BadInput(field, "brand_content_toggle=true cannot be used with SELF_ONLY")
        cover = options.get("photo_cover_index")
        if isinstance(cover, int) and cover >= media_count:
            raise BadInput(field, f"photo_cover_index={cover}: the post has {media_count} photos")
        title = options.get("title")
        if isinstance(title, str) and _utf16_len(title) > TIKTOK_PHOTO_TITLE_MAX:
            raise BadInput(
                field,
                f"title is {_utf16_len(title)} UTF-16 units; TikTok allows "
                f"{TIKTOK_PHOTO_TITLE_MAX} for a photo post",
            )
    return options


# --- the whole post -----------------------------------------------------------------------


def validate_post(
    raw: PostInput,
    *,
    platform: str,
    now: datetime,
    media: MediaPolicy,
    field_prefix: str = "",
) -> ValidPost:
    """Check one post for ``platform`` (its account's) and return the values to store.

    ``now`` is the database's clock; ``media`` says where media may come from.
    ``field_prefix`` (e.g. ``"row 3: "``) goes in front of every field name; without it, a
    row from a file is named by its ``origin``.
    """
    fields = _fields(raw, field_prefix)
    if platform not in PLATFORMS:
        raise BadInput(fields.account, f"unsupported platform {platform!r}")

    account_id = validate_uuid(raw.account_id, fields.account) if raw.account_id else None

    scheduled_for: datetime | None = None
    draft_name = _FILE_NAMES.draft if raw.origin else _FLAG_NAMES.draft
    if raw.draft:
        if raw.at is not None:
            raise BadInput(fields.at, f"cannot be given with {draft_name}: a draft has no time")
        if raw.tz is not None:
            parse_zone(raw.tz, field=fields.tz)  # unused for a draft, but a typo is a typo
    else:
        if raw.at is None:
            raise BadInput(fields.at, f"required unless {draft_name}")
        scheduled_for = parse_schedule_time(
            raw.at, now=now, tz=raw.tz, field=fields.at, tz_field=fields.tz
        )

    _check_media_count(platform, len(raw.media), fields.media)
    items = [_read_item(given, fields.media, media) for given in raw.media]
    given_options = (
        parse_option_strings(raw.options, fields.options)
        if isinstance(raw.options, list)
        else raw.options
    )
    post_type, options = _check_content(
        platform, raw.post_type, items, raw.caption, given_options, fields
    )
    return ValidPost(
        platform=platform,
        post_type=post_type,
        caption=raw.caption,
        media=[{"url": item.url, "kind": item.kind} for item in items],
        options=options,
        scheduled_for=scheduled_for,
        account_id=account_id,
    )


def _check_media_count(platform: str, count: int, field: str) -> None:
    most = _MEDIA_MAX[platform]
    if count > most:
        raise BadInput(
            field,
            f"{_a(platform)} post takes at most {most} media items "
            f"(2 to {most} in a carousel; got {count})",
        )


def _check_content(
    platform: str,
    given_type: str | None,
    items: list[_Item],
    caption: str,
    given_options: Mapping[str, object],
    fields: _Fields,
) -> tuple[str, dict[str, OptionValue]]:
    """The platform's rules for the type, media, caption and options: both doors run these."""
    for item in items:
        _check_item_for_platform(item, platform, fields.media)
    if not given_type:
        post_type = _infer_type(platform, items, fields.media)
    else:
        check_text(given_type, fields.type)
        post_type = given_type.strip().lower()
        if post_type not in POST_TYPES:
            raise BadInput(
                fields.type, f"unknown type {given_type!r} (one of {', '.join(POST_TYPES)})"
            )
        if post_type not in _TYPES_BY_PLATFORM[platform]:
            hint = _TYPE_HINTS.get((platform, post_type))
            allowed = ", ".join(sorted(_TYPES_BY_PLATFORM[platform]))
            raise BadInput(
                fields.type,
                f"{_NAMES[platform]} has no {post_type} posts ({hint or 'one of ' + allowed})",
            )
    _check_media_for_type(platform, post_type, items, fields)

    check_text(caption, fields.caption)
    _check_caption(platform, post_type, caption, fields.caption)
    options = _validate_options(platform, post_type, given_options, len(items), fields.options)
    if post_type == "text" and not caption.strip() and "link" not in options:
        raise BadInput(fields.caption, "a text post needs a caption or a link option")
    return post_type, options


# --- the engine's door: a row as it was claimed ------------------------------------------

# How a stored row's columns are named in the messages the engine records.
_COLUMN_NAMES = _Fields(
    "social_account_id",
    "scheduled_for",
    "status",
    "caption",
    "media",
    "post_type",
    "options",
    "tz",
)


@dataclass(frozen=True)
class StoredPost:
    """A claimed row's content after the same checks as `schedule`: safe to hand a client."""

    post_type: str
    caption: str
    media: tuple[tuple[str, str], ...]  # (url or resolved path, kind)
    options: dict[str, OptionValue]


def check_stored_post(row: Mapping[str, Any], *, platform: str, media: MediaPolicy) -> StoredPost:
    """Check a row written by anyone (the web app inserts posts by SQL) before any call.

    Raises BadInput naming the column (``media[2].url``, ``options``) when the row breaks a
    rule or holds a value of the wrong shape; the engine then fails the post as ``invalid``.
    """
    fields = _COLUMN_NAMES
    if platform not in PLATFORMS:
        raise BadInput("platform", f"unsupported platform {platform!r}")
    caption = row.get("caption")
    if caption is None:
        caption = ""
    if not isinstance(caption, str):
        raise BadInput(fields.caption, "must be text")
    given_type = row.get("post_type")
    if given_type is not None and not isinstance(given_type, str):
        raise BadInput(fields.type, "must be text")
    stored_media = row.get("media")
    if stored_media is None:
        stored_media = []
    if not isinstance(stored_media, list):
        raise BadInput(fields.media, 'must be a JSON list of {"url": ..., "kind": ...} objects')
    _check_media_count(platform, len(stored_media), fields.media)
    items = [_stored_item(value, i, media) for i, value in enumerate(stored_media)]
    options = row.get("options")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise BadInput(fields.options, "must be a JSON object of option names and values")
    post_type, checked = _check_content(platform, given_type, items, caption, options, fields)
    return StoredPost(
        post_type=post_type,
        caption=caption,
        media=tuple((item.url, item.kind) for item in items),
        options=checked,
    )


def _stored_item(value: object, index: int, media: MediaPolicy) -> _Item:
    field = f"media[{index}]"
    if not isinstance(value, dict):
        raise BadInput(field, 'must be an object {"url": ..., "kind": "image"|"video"}')
    url, kind = value.get("url"), value.get("kind")
    if not isinstance(url, str) or not url.strip():
        raise BadInput(f"{field}.url", "must be a URL or a path (text)")
    if kind is not None and kind not in ("image", "video"):
        raise BadInput(f"{field}.kind", "must be image or video")
    return _item(url.strip(), kind, f"{field}.url", media, shown=url.strip())


# --- platform ids: saved by the engine, read back on the next attempt --------------------

# A platform id goes into API paths (``/{container_id}``): only the characters ids and the
# engine's ISO times are made of, so no ``/``, ``?`` or ``..`` can steer a call elsewhere.
_PLATFORM_ID = re.compile(r"[A-Za-z0-9_.:+~-]{1,256}")
_SAVED_LIST_MAX = 64  # the longest id list saved is a carousel's children (35)


def platform_id_problem(value: object) -> str | None:
    """Why a saved platform id (a string, a number, a list of them, None) is unsafe, else None."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if len(values) > _SAVED_LIST_MAX:
        return f"a list of {len(values)} ids"
    for item in values:
        if not isinstance(item, str | int | float):  # bool is an int: a marker is fine
            return f"{type(item).__name__} where an id belongs"
        if isinstance(item, str) and (item == ".." or not _PLATFORM_ID.fullmatch(item)):
            return f"{item[:40]!r} is not an id"
    return None


def check_saved_ids(value: object) -> dict[str, Any]:
    """A row's ``platform_state`` as the engine saved it, or BadInput naming the key."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput("platform_state", "must be a JSON object of platform ids")
    for key, item in value.items():
        if (problem := platform_id_problem(item)) is not None:
            raise BadInput(f"platform_state.{key[:40]}", problem)
    return dict(value)
