"""Checks a post against the platforms' documented rules before anything is written.

These are the only rules, checked at both doors:

* `validate_post` turns a raw :class:`PostInput` (CLI flags or one row of a bulk file) into a
  :class:`ValidPost` ready for the database, or raises ``BadInput`` naming the field (the
  CLI shows it as its flag) or the file's line and column.
* `check_stored_post` checks a row as the engine claimed it, whoever wrote it (the web app
  inserts rows straight into the table), before any platform call; the engine fails a row
  that breaks a rule with reason ``invalid`` and the message naming the column.

The rules themselves are data, declared once per platform in its package's spec
(``studio_publish/platforms/<name>/__init__.py``, see platforms/spec.py): post types and
their item counts, media kinds and formats, where media may come from, caption limits and
how they are counted, options and their values. This module applies them and names no
platform. The platform clients do not check the rules again: what reaches them passed these.

Decisions:
- Media: an http(s) URL on a public host, or a file inside the media root (stored as its
  resolved absolute path) where the platform's MediaRule allows local files; see
  media_policy.py for what is refused and the two settings that allow more. The kind
  comes from the extension (of the URL's path, ignoring the query); ``image:`` or
  ``video:`` in front of an item says it outright (for URLs without an extension). An
  unknown extension without that prefix is refused rather than guessed: a wrong guess
  would fail only at publish time.
- TYPE when left out: the spec's ``default_types`` by what the post holds (no media, one
  image, one video, several).
- An option a spec marks ``required`` has no default: the user chooses.
- A limit the platform announced but its API does not document (Instagram's 5 hashtags, a
  TextRule's ``advised_hashtags``) is a warning on the post (``warnings``), never a refusal:
  the documented limit is what a post is refused at.
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
from typing import Any
from urllib.parse import urlsplit

from studio_publish.errors import BadInput
from studio_publish.ids import platform_id_problem
from studio_publish.media_policy import MediaPolicy, MediaRefused
from studio_publish.platforms import registry, spec
from studio_publish.platforms.registry import spec_for
from studio_publish.platforms.spec import OptionRule, PlatformSpec, TextRule
from studio_publish.scheduling.timeparse import parse_schedule_time, parse_zone

__all__ = [
    "POST_TYPES",
    "OptionValue",
    "PostInput",
    "StoredPost",
    "ValidPost",
    "caption_warnings",
    "check_stored_post",
    "check_text",
    "parse_bool",
    "parse_option_strings",
    "split_kind_prefix",
    "validate_post",
    "validate_uuid",
]

OptionValue = spec.OptionValue
POST_TYPES = spec.POST_TYPES


# Every occurrence counts (Instagram's limit is on tags in the caption, repeats included).
_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w@.])@[\w.]+")  # not the @ of an e-mail address
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# The option a first comment is stored as (rows written by SQL give it there too).
FIRST_COMMENT = "first_comment"
_KIND_PREFIX = re.compile(r"(image|video):(?!//)(.+)", re.DOTALL)


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
    # A comment the account posts under the post once it is live; stored as
    # options.first_comment (the key a row written by SQL gives it too).
    first_comment: str | None = None
    # Where a bulk row came from, e.g. "file line 3". When set, errors name the file's
    # line and column ("file line 3: caption") instead of the bare field ("caption").
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
    # What passed but may not go as planned, each "field: why" (see caption_warnings).
    warnings: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return "draft" if self.scheduled_for is None else "scheduled"


@dataclass(frozen=True)
class _Fields:
    """The name each input goes by in error messages: a field, or a file's column."""

    account: str
    at: str
    draft: str
    caption: str
    media: str
    type: str
    options: str
    tz: str
    first_comment: str


# The fields of a post, also the columns of a bulk file.
_NAMES = _Fields(
    "account", "at", "draft", "caption", "media", "type", "options", "tz", FIRST_COMMENT
)


def _fields(raw: PostInput, field_prefix: str) -> _Fields:
    prefix = field_prefix or (f"{raw.origin}: " if raw.origin else "")
    return _Fields(*(prefix + name for name in astuple(_NAMES)))


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


def parse_option_strings(items: list[str], field: str = "options") -> dict[str, str]:
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
    if ext in spec.IMAGE_EXTENSIONS:
        return "image"
    if ext in spec.VIDEO_EXTENSIONS:
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


def _check_item_for_platform(item: _Item, platform: PlatformSpec, field: str) -> None:
    rule = platform.media.get(item.kind)
    name = platform.display_name
    if rule is None:
        raise BadInput(field, f"{item.url}: {name} takes no {item.kind}s")
    if item.ext is not None and item.ext not in rule.formats:
        listed = ", ".join(sorted(rule.formats))
        raise BadInput(
            field, f"{item.url}: {name} does not take .{item.ext} {item.kind}s ({listed})"
        )
    if not item.remote and not rule.local_files:
        # The platform fetches these from a public URL itself: there is no upload to make.
        raise BadInput(field, f"{item.url}: {name} takes {item.kind}s only as public http(s) URLs")
    if rule.https_only and not item.url.startswith("https://"):
        raise BadInput(field, f"{item.url}: {name} takes {item.kind}s only as https:// URLs")


def _infer_type(platform: PlatformSpec, items: list[_Item], field: str) -> str:
    if not items:
        shape = "text"
    elif len(items) > 1:
        shape = "carousel"
    else:
        shape = items[0].kind
    inferred = platform.default_types.get(shape)
    if inferred is None:
        if not items:
            raise BadInput(field, f"{platform.with_article()} post needs at least one media item")
        raise BadInput(field, f"{platform.display_name} has no post of {len(items)} {shape}s")
    return inferred


def _check_media_for_type(
    platform: PlatformSpec, post_type: str, items: list[_Item], fields: _Fields
) -> None:
    rule = platform.post_types[post_type]
    count, (fewest, most) = len(items), rule.items
    where = f"{platform.with_article()} {post_type} post"
    if most == 0:
        if items:
            raise BadInput(fields.media, f"{where} takes no media (use image, video or carousel)")
        return
    for item in items:
        if not item.remote and item.kind in rule.urls_only:
            raise BadInput(
                fields.media,
                f"{item.url}: {where} takes {item.kind}s only as public http(s) URLs",
            )
    if fewest == most == 1:
        needed = next(iter(rule.kinds)) if len(rule.kinds) == 1 else "item"
        if count != 1 or (items[0].kind not in rule.kinds):
            raise BadInput(fields.media, f"{where} needs exactly one {needed} (got {count} items)")
        return
    if not fewest <= count <= most:
        raise BadInput(fields.media, f"{where} needs {fewest} to {most} items (got {count})")
    if any(item.kind not in rule.kinds for item in items):
        only = " and ".join(f"{kind}s" for kind in sorted(rule.kinds))
        raise BadInput(fields.media, f"{where} takes {only} only")


# --- caption and options ------------------------------------------------------------------


def _check_length(rule: TextRule, text: str, name: str, field: str, what: str = "") -> None:
    """``text`` against ``rule``, counted as the platform counts (``what``: "title is ")."""
    length = rule.length(text)
    if length > rule.max_length:
        raise BadInput(field, f"{what}{length} {rule.unit}; {name} allows {rule.max_length}")
    for pattern, most, word in (
        (_HASHTAG, rule.max_hashtags, "hashtags"),
        (_MENTION, rule.max_mentions, "@mentions"),
    ):
        if most is not None and (found := len(pattern.findall(text))) > most:
            raise BadInput(field, f"{found} {word}; {name} allows {most}")


def caption_warnings(
    platform: PlatformSpec,
    post_type: str,
    caption: str,
    options: Mapping[str, OptionValue],
    field: str,
) -> tuple[str, ...]:
    """What a valid caption exceeds that the platform announced but does not document, and
    what the platform's ``post_warnings`` say the post will not carry as written."""
    found: list[str] = []
    rule = platform.post_types[post_type].caption
    tags = len(_HASHTAG.findall(caption))
    if rule is not None and rule.advised_hashtags is not None and tags > rule.advised_hashtags:
        found.append(
            f"{field}: {tags} hashtags, more than {rule.advised_hashtags}: {rule.advice}; "
            f"it is scheduled (the documented limit is {rule.max_hashtags})"
        )
    for check in platform.post_warnings:
        if (warning := check(post_type, caption, options)) is not None:
            found.append(f"{field}: {warning}")
    return tuple(found)


def _check_caption(platform: PlatformSpec, post_type: str, caption: str, field: str) -> None:
    rule = platform.post_types[post_type].caption
    if rule is None:
        if caption.strip():
            raise BadInput(field, f"{platform.display_name} {post_type} posts take no caption")
        return
    _check_length(rule, caption, f"{platform.display_name} ({post_type})", field)


def _convert_option(key: str, value: object, rule: OptionRule, field: str) -> OptionValue:
    """An option's value, from the text of a flag or file, or as JSON in a stored row."""
    if isinstance(value, bool):  # JSON true/false (bool before int: True is an int)
        if rule.kind != "bool":
            raise BadInput(field, f"{key}: must be {_KIND_WORDS[rule.kind]}, not true/false")
        return value
    if isinstance(value, int):
        if rule.kind != "int":
            raise BadInput(field, f"{key}: must be {_KIND_WORDS[rule.kind]}, not a number")
        value = str(value)
    if not isinstance(value, str):
        raise BadInput(field, f"{key}: must be {_KIND_WORDS[rule.kind]}")
    check_text(value, field)
    if rule.kind == "bool":
        return parse_bool(value, field)
    if rule.kind == "int":
        text = value.strip()
        if not re.fullmatch(r"\d{1,12}", text):
            raise BadInput(field, f"{key}={value!r}: must be a whole number")
        number = int(text)
        if number < rule.minimum or (rule.maximum is not None and number > rule.maximum):
            top = "" if rule.maximum is None else f" to {rule.maximum}"
            raise BadInput(field, f"{key}={number}: must be {rule.minimum}{top}")
        return number
    if rule.kind == "choice":
        text = value.strip()
        if text not in rule.choices:
            raise BadInput(field, f"{key}={value!r}: one of {', '.join(rule.choices)}")
        return text
    if rule.kind == "url":
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
    "choice": "one of the listed values",
}


def _validate_options(
    platform: PlatformSpec,
    post_type: str,
    raw: Mapping[str, object],
    media_count: int,
    field: str,
) -> dict[str, OptionValue]:
    known, name = platform.options, platform.display_name
    options: dict[str, OptionValue] = {}
    for key, value in raw.items():
        check_text(key, field)
        rule = known.get(key)
        if rule is None:
            names = ", ".join(sorted(known)) or "none"
            raise BadInput(field, f"unknown option {key} for {name} (known: {names})")
        if post_type not in rule.types:
            kinds = ", ".join(sorted(rule.types))
            raise BadInput(field, f"{key} is for {name} {kinds} posts, not {post_type}")
        options[key] = converted = _convert_option(key, value, rule, field)
        if rule.text is not None and isinstance(converted, str):
            _check_length(rule.text, converted, f"{name} ({post_type})", field, f"{key} is ")
        if rule.media_index and isinstance(converted, int) and converted >= media_count:
            raise BadInput(field, f"{key}={converted}: the post has {media_count} media items")
    for key in options:
        rule = known[key]
        if not rule.applies(options, known):
            other, wanted = rule.only_with or ("", "")
            actual = options.get(other, known[other].default)
            raise BadInput(
                field, f"{key} is only for {name} posts with {other}={wanted}, not {other}={actual}"
            )
    for key, rule in known.items():
        if (
            rule.required
            and post_type in rule.types
            and key not in options
            and rule.applies(options, known)
        ):
            choices = f": one of {', '.join(rule.choices)}" if rule.choices else ""
            raise BadInput(field, f"{key} is required for {name}{choices}")
    for check in platform.option_checks:
        if (problem := check(options, media_count)) is not None:
            raise BadInput(field, problem)
    return options


def _check_first_comment(platform: PlatformSpec, post_type: str, value: object, field: str) -> str:
    """A first comment against the platform's declared rule (spec.FirstCommentRule)."""
    rule = platform.first_comment
    if rule is None:
        takers = ", ".join(
            s.display_name for s in registry.PLATFORMS.values() if s.first_comment is not None
        )
        raise BadInput(
            field, f"{platform.display_name} posts take no first comment (only {takers} posts do)"
        )
    if post_type not in rule.types:
        kinds = ", ".join(sorted(rule.types))
        raise BadInput(
            field, f"{platform.display_name} {post_type} posts take no comments (only {kinds})"
        )
    if not isinstance(value, str):
        raise BadInput(field, "must be text")
    check_text(value, field)
    if not value.strip():
        raise BadInput(field, "is empty: leave it out for no comment")
    _check_length(rule.text, value, f"a {platform.display_name} comment", field)
    return value


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
    rules = spec_for(platform, fields.account)

    account_id = validate_uuid(raw.account_id, fields.account) if raw.account_id else None

    scheduled_for: datetime | None = None
    # A file row names its draft column; a single post refers to the draft field, which a
    # caller names its own way (the CLI: --draft).
    draft, refers = (_NAMES.draft, ()) if raw.origin else ("{draft}", ("draft",))
    if raw.draft:
        if raw.at is not None:
            raise BadInput(
                fields.at, f"cannot be given with {draft}: a draft has no time", refers_to=refers
            )
        if raw.tz is not None:
            parse_zone(raw.tz, field=fields.tz)  # unused for a draft, but a typo is a typo
    else:
        if raw.at is None:
            raise BadInput(fields.at, f"required unless {draft}", refers_to=refers)
        scheduled_for = parse_schedule_time(
            raw.at, now=now, tz=raw.tz, field=fields.at, tz_field=fields.tz
        )

    _check_media_count(rules, len(raw.media), fields.media)
    items = [_read_item(given, fields.media, media) for given in raw.media]
    given_options = (
        parse_option_strings(raw.options, fields.options)
        if isinstance(raw.options, list)
        else raw.options
    )
    if raw.first_comment is not None:
        if FIRST_COMMENT in given_options:
            raise BadInput(fields.first_comment, "is given twice (also as an option)")
        given_options = {**given_options, FIRST_COMMENT: raw.first_comment}
    post_type, options = _check_content(
        rules, raw.post_type, items, raw.caption, given_options, fields
    )
    return ValidPost(
        platform=platform,
        post_type=post_type,
        caption=raw.caption,
        media=[{"url": item.url, "kind": item.kind} for item in items],
        options=options,
        scheduled_for=scheduled_for,
        account_id=account_id,
        warnings=caption_warnings(rules, post_type, raw.caption, options, fields.caption),
    )


def _check_media_count(platform: PlatformSpec, count: int, field: str) -> None:
    most = platform.max_items
    if count > most:
        widest = next(t for t, rule in platform.post_types.items() if rule.items[1] == most)
        fewest = platform.post_types[widest].items[0]
        raise BadInput(
            field,
            f"{platform.with_article()} post takes at most {most} media items "
            f"({fewest} to {most} in a {widest} post; got {count})",
        )


def _check_content(
    platform: PlatformSpec,
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
        if post_type not in platform.post_types:
            hint = platform.type_hints.get(post_type)
            allowed = ", ".join(sorted(platform.post_types))
            raise BadInput(
                fields.type,
                f"{platform.display_name} has no {post_type} posts ({hint or 'one of ' + allowed})",
            )
    _check_media_for_type(platform, post_type, items, fields)

    check_text(caption, fields.caption)
    _check_caption(platform, post_type, caption, fields.caption)
    comment = given_options.get(FIRST_COMMENT)
    if FIRST_COMMENT in given_options:
        given_options = {k: v for k, v in given_options.items() if k != FIRST_COMMENT}
    options = _validate_options(platform, post_type, given_options, len(items), fields.options)
    if comment is not None:
        options[FIRST_COMMENT] = _check_first_comment(
            platform, post_type, comment, fields.first_comment
        )
    rule = platform.post_types[post_type]
    if rule.needs_caption and not caption.strip() and rule.or_option not in options:
        extra = f" or a {rule.or_option} option" if rule.or_option else ""
        raise BadInput(fields.caption, f"a {post_type} post needs a caption{extra}")
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
    f"options.{FIRST_COMMENT}",
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
    rules = spec_for(platform)  # UnknownPlatform (a BadInput naming "platform")
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
    _check_media_count(rules, len(stored_media), fields.media)
    items = [_stored_item(value, i, media) for i, value in enumerate(stored_media)]
    options = row.get("options")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise BadInput(fields.options, "must be a JSON object of option names and values")
    post_type, checked = _check_content(rules, given_type, items, caption, options, fields)
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
