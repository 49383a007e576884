"""Every rule a platform declares, held at both doors, for every platform in the registry.

The cases are generated from each spec, so a new platform's rules are tested the day it is
added. Each case is checked twice: at `schedule`'s door (``validate_post``, BadInput naming
the flag) and at the engine's (``check_stored_post``, BadInput naming the column, which the
engine records as ``invalid``). The two must agree, case by case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from studio_publish.errors import BadInput
from studio_publish.media_policy import MediaPolicy
from studio_publish.platforms import registry
from studio_publish.platforms.spec import POST_TYPES, OptionRule, PlatformSpec, PostTypeRule
from studio_publish.scheduling.validation import PostInput, check_stored_post, validate_post

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CDN = "https://cdn.example.com/media"
# Which field (schedule) and which column (a stored row) each kind of field is named by.
FIELD = {"media": "media", "caption": "caption", "options": "options", "type": "type"}
COLUMN = {"media": "media", "caption": "caption", "options": "options", "type": "post_type"}


@dataclass
class Case:
    """One post: valid unless ``field`` says which field must be named in the refusal."""

    platform: str
    post_type: str
    media: list[str]
    caption: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    field: str | None = None  # "media", "caption", "options" or "type"; None: valid

    def id(self, what: str) -> str:
        return f"{self.platform}-{self.post_type}-{what}"


def url(kind: str, rule: PlatformSpec, n: int = 0) -> str:
    ext = sorted(rule.media[kind].formats)[0]
    return f"{CDN}/{kind}{n}.{ext}"


def valid_media(spec: PlatformSpec, rule: PostTypeRule, count: int | None = None) -> list[str]:
    kind = sorted(rule.kinds)[0] if rule.kinds else "image"
    return [url(kind, spec, n) for n in range(rule.items[0] if count is None else count)]


def required_options(spec: PlatformSpec, post_type: str) -> dict[str, Any]:
    return {
        key: option.choices[0] if option.choices else "x"
        for key, option in spec.options.items()
        if option.required and post_type in option.types
    }


def valid(spec: PlatformSpec, post_type: str) -> Case:
    rule = spec.post_types[post_type]
    caption = "Hello" if rule.caption is not None else ""
    return Case(
        spec.name, post_type, valid_media(spec, rule), caption, required_options(spec, post_type)
    )


def a_valid_value(option: OptionRule) -> Any:
    return {
        "bool": True,
        "int": option.minimum,
        "str": "text",
        "url": "https://example.com/x",
        "choice": option.choices[0] if option.choices else "x",
    }[option.kind]


def other_values(option: OptionRule, wanted: Any) -> list[Any]:
    """The values of ``option`` other than ``wanted``: the other modes."""
    values = list(option.choices) if option.kind == "choice" else [True, False]
    return [v for v in values if v != wanted]


def in_mode(spec: PlatformSpec, options: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """``options`` with ``key=value``, less every option that mode does not take."""
    mode = {**options, key: value}
    return {k: v for k, v in mode.items() if spec.options[k].applies(mode, spec.options)}


def cases() -> list[tuple[str, Case]]:
    found: list[tuple[str, Case]] = []
    for spec in registry.PLATFORMS.values():
        for post_type, rule in spec.post_types.items():
            base = valid(spec, post_type)
            found.append((base.id("valid"), base))
            fewest, most = rule.items

            def variant(
                what: str, field_name: str | None, base: Case = base, **changes: Any
            ) -> None:
                case = Case(**{**base.__dict__, **changes, "field": field_name})
                found.append((case.id(what), case))

            # Item counts, at both ends.
            variant("most-items", None, media=valid_media(spec, rule, most))
            if most < spec.max_items or most == 0:
                variant("too-many-items", "media", media=valid_media(spec, rule, most + 1))
            if fewest > 0:
                variant("too-few-items", "media", media=valid_media(spec, rule, fewest - 1))
            # Kinds the type does not take, and formats the platform does not take.
            for kind in sorted(set(spec.media) - rule.kinds):
                if most > 0:
                    variant(f"no-{kind}", "media", media=[url(kind, spec)] * max(fewest, 1))
            for kind in sorted(rule.kinds):
                media = spec.media[kind]
                wrong = sorted({"webm", "gif", "png", "mkv", "bmp"} - media.formats)
                items = [f"{kind}:{CDN}/x.{wrong[0]}"] * max(fewest, 1)
                variant(f"{kind}-format", "media", media=items)
                if media.https_only:
                    plain = [u.replace("https://", "http://") for u in valid_media(spec, rule)]
                    variant(f"{kind}-not-https", "media", media=plain)
            # The caption: its length, hashtags and mentions, or none at all.
            text = rule.caption
            if text is None:
                variant("caption-refused", "caption", caption="A caption")
            else:
                variant("caption-longest", None, caption="a" * text.max_length)
                variant("caption-too-long", "caption", caption="a" * (text.max_length + 1))
                wide = "😀" * (text.max_length // 2 + 1)  # 2 UTF-16 units, 4 UTF-8 bytes each
                if text.length(wide) > text.max_length:
                    variant("caption-counted-as-platform-counts", "caption", caption=wide)
                if text.max_hashtags is not None:
                    tags = " ".join(f"#t{n}" for n in range(text.max_hashtags + 1))
                    variant("too-many-hashtags", "caption", caption=tags)
                if text.max_mentions is not None:
                    names = " ".join(f"@u{n}" for n in range(text.max_mentions + 1))
                    variant("too-many-mentions", "caption", caption=names)
            if rule.needs_caption:
                variant("needs-caption", "caption", caption="")
            # Options: each one's type, its post types, its values.
            modes: dict[str, dict[str, Any]] = {}  # a valid post in each other mode
            for key, option in spec.options.items():
                opts = base.options
                if post_type not in option.types:
                    variant(f"{key}-not-for-type", "options", options={**opts, key: "1"})
                    continue
                if option.required:
                    rest = {k: v for k, v in opts.items() if k != key}
                    variant(f"{key}-required", "options", options=rest)
                if option.kind not in ("str", "url"):
                    variant(f"{key}-wrong-value", "options", options={**opts, key: "nonsense"})
                if option.kind == "url":
                    variant(f"{key}-not-a-url", "options", options={**opts, key: "file:///x"})
                if option.maximum is not None:
                    over = {**opts, key: option.maximum + 1}
                    variant(f"{key}-above-maximum", "options", options=over)
                if option.text is not None:
                    long = "a" * (option.text.max_length + 1)
                    variant(f"{key}-too-long", "options", options={**opts, key: long})
                if option.media_index:
                    past = {**opts, key: len(base.media)}
                    variant(f"{key}-past-the-media", "options", options=past)
                if not option.media_index and option.kind != "choice":
                    value = a_valid_value(option)
                    variant(f"{key}-valid", None, options={**opts, key: value})
                if option.only_with is not None:
                    # In another mode the option is refused, and no longer required.
                    other, wanted = option.only_with
                    for value in other_values(spec.options[other], wanted):
                        mode = in_mode(spec, opts, other, value)
                        given = {**mode, key: a_valid_value(option)}
                        variant(f"{key}-refused-with-{other}={value}", "options", options=given)
                        modes[f"valid-with-{other}={value}"] = mode
            for what, mode in modes.items():
                variant(what, None, options=mode)
            variant("unknown-option", "options", options={**base.options, "no_such_option": "1"})
        # The vocabulary's other types are refused, naming the type.
        for post_type in sorted(set(POST_TYPES) - set(spec.post_types)):
            case = Case(spec.name, post_type, [url("image", spec)], field="type")
            found.append((case.id("type-refused"), case))
    return found


CASES = cases()


def at_schedule(case: Case, policy: MediaPolicy) -> BadInput | None:
    raw = PostInput(
        at="+1h",
        caption=case.caption,
        media=list(case.media),
        post_type=case.post_type,
        options={
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in case.options.items()
        },
    )
    try:
        validate_post(raw, platform=case.platform, now=NOW, media=policy)
    except BadInput as exc:
        return exc
    return None


def at_the_engine(case: Case, policy: MediaPolicy) -> BadInput | None:
    media = []
    for item in case.media:
        kind, _, location = (
            item.partition(":") if item.startswith(("image:", "video:")) else ("", "", item)
        )
        media.append({"url": location or item, **({"kind": kind} if kind else {})})
    row = {
        "post_type": case.post_type,
        "caption": case.caption,
        "media": media,
        "options": case.options,
    }
    try:
        check_stored_post(row, platform=case.platform, media=policy)
    except BadInput as exc:
        return exc
    return None


@pytest.fixture
def policy(tmp_path: Path) -> MediaPolicy:
    return MediaPolicy(root=tmp_path.resolve())


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_rule_at_both_doors(case: Case, policy: MediaPolicy) -> None:
    scheduled, claimed = at_schedule(case, policy), at_the_engine(case, policy)
    if case.field is None:
        assert scheduled is None, str(scheduled)
        assert claimed is None, str(claimed)
        return
    assert scheduled is not None and claimed is not None, "a door let a broken rule through"
    assert scheduled.field == FIELD[case.field], str(scheduled)
    assert claimed.field.split("[")[0] == COLUMN[case.field], str(claimed)
    # The same rule speaks at both doors: the same problem, named for each door.
    assert scheduled.problem == claimed.problem


@pytest.mark.parametrize("name", registry.names())
def test_local_files_only_where_the_platform_uploads_them(name: str, tmp_path: Path) -> None:
    spec, policy = registry.spec_for(name), MediaPolicy(root=tmp_path.resolve())
    for kind, media in spec.media.items():
        post_type = next(
            (t for t, r in spec.post_types.items() if r.kinds == {kind} and r.items[0] == 1), None
        )
        if post_type is None:
            continue
        local = tmp_path / f"file.{sorted(media.formats)[0]}"
        local.write_bytes(b"\0" * 16)
        case = Case(name, post_type, [str(local)], options=required_options(spec, post_type))
        case.caption = "Hello" if spec.post_types[post_type].caption else ""
        refused = at_schedule(case, policy), at_the_engine(case, policy)
        if media.local_files and not media.https_only:
            assert refused == (None, None), refused
        else:
            assert all(r is not None and "URL" in r.problem for r in refused), refused
