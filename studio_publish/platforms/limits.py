"""Every platform's limits as tables an operator can read, made from the platform specs.

The limits are declared once, in each platform package's spec (``platforms/<name>/``,
see spec.py): post types and their media counts, caption lengths, hashtags and mentions,
formats, sizes and durations, option limits, token lifetimes and quotas. This module only
renders them; the README's "Platform limits" tables are its output, and a unit test
(tests/unit/test_readme_limits.py) fails when they differ. To refresh the README after
changing a spec::

    python -m studio_publish.platforms.limits
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from studio_publish.platforms.registry import PLATFORMS
from studio_publish.platforms.spec import (
    Login,
    MediaLimit,
    PlatformSpec,
    PostTypeRule,
    TextRule,
)

KB, MB, GB = 1024, 1024**2, 1024**3
NONE = "–"


def markdown() -> str:
    """The tables, as the README holds them between its limits markers."""
    tables = (_posts_table(), _options_table(), _comments_table(), _accounts_table())
    return "\n\n".join(tables) + "\n"


# --- the tables ---------------------------------------------------------------------------


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _posts_table() -> str:
    header = (
        "platform",
        "type",
        "media items",
        "caption",
        "hashtags",
        "@mentions",
        "images",
        "videos",
    )
    rows = []
    for spec in PLATFORMS.values():
        for post_type, rule in spec.post_types.items():
            text = rule.caption
            rows.append(
                (
                    spec.display_name,
                    post_type,
                    _items(rule),
                    _caption(rule),
                    _hashtags(text),
                    str(text.max_mentions) if text and text.max_mentions is not None else NONE,
                    _media(spec, post_type, "image"),
                    _media(spec, post_type, "video"),
                )
            )
    return _table(header, rows)


def _options_table() -> str:
    rows = []
    for spec in PLATFORMS.values():
        for key, option in spec.options.items():
            if option.text is not None:
                limit = f"at most {_count(option.text.max_length)} {option.text.unit}"
            elif option.kind == "int" and option.maximum is not None:
                limit = f"{option.minimum} to {_count(option.maximum)}"
            else:
                continue
            types = ", ".join(t for t in spec.post_types if t in option.types)
            rows.append((spec.display_name, f"`{key}`", types, limit))
    return _table(("platform", "option", "types", "limit"), rows)


def _comments_table() -> str:
    """First comments (``--first-comment``): where they are taken, and their text's rules."""
    rows = []
    for spec in PLATFORMS.values():
        rule = spec.first_comment
        if rule is None:
            rows.append((spec.display_name, "none (refused)", NONE, NONE, NONE))
            continue
        text = rule.text
        rows.append(
            (
                spec.display_name,
                ", ".join(t for t in spec.post_types if t in rule.types),
                f"{_count(text.max_length)} {text.unit}",
                _hashtags(text),
                str(text.max_mentions) if text.max_mentions is not None else NONE,
            )
        )
    return _table(("platform", "first comment on", "text", "hashtags", "@mentions"), rows)


def _accounts_table() -> str:
    rows = []
    for spec in PLATFORMS.values():
        # A platform with several logins has a row for each (Instagram: Facebook Login's,
        # Instagram Login's); one with a single login, its own.
        for login in spec.logins or (spec.login(),):
            name = (
                f"{spec.display_name} ({login.display_name})" if spec.logins else spec.display_name
            )
            rows.append((name, *_token_cells(login), spec.quota or NONE))
    header = ("platform", "access token", "refresh token", "publishing quota")
    return _table(header, rows)


def _token_cells(login: Login) -> tuple[str, str]:
    """How long a login's access token lasts, and how it is renewed."""
    tokens = login.token_lifetimes
    if tokens is None:
        return NONE, NONE
    access = "no expiry" if tokens.access is None else _duration(tokens.access)
    if tokens.refresh is not None:
        return access, _duration(tokens.refresh) + (", rotated" if tokens.rotated else "")
    if login.refreshes_tokens:
        return access, "none: `run-due` refreshes the access token itself"
    return access, "none: a person connects the account again"


# --- cells ----------------------------------------------------------------------------------


def _items(rule: PostTypeRule) -> str:
    fewest, most = rule.items
    if most == 0:
        return "none"
    count = str(most) if fewest == most else f"{fewest} to {most}"
    kinds = " or ".join(f"{kind}s" for kind in sorted(rule.kinds))
    return f"{count} ({kinds})"


def _caption(rule: PostTypeRule) -> str:
    text = rule.caption
    if text is None:
        return "none (refused)"
    cell = f"{_count(text.max_length)} {text.unit}"
    if rule.needs_caption:
        cell += ", needed" + (f" (or `{rule.or_option}`)" if rule.or_option else "")
    return cell


def _hashtags(text: TextRule | None) -> str:
    if text is None or text.max_hashtags is None:
        return NONE
    cell = str(text.max_hashtags)
    if text.advised_hashtags is not None:
        cell += f" (a warning above {text.advised_hashtags})"
    return cell


def _media(spec: PlatformSpec, post_type: str, kind: str) -> str:
    rule = spec.post_types[post_type]
    if kind not in rule.kinds:
        return NONE
    media = spec.media[kind]
    parts = ["/".join(sorted(media.formats))]
    limit = rule.limits.get(kind, MediaLimit())
    if media.local_files:
        # The tool reads these files itself, so it checks their size before any upload.
        most = spec.upload_cap(post_type, kind)
        logins = [login.display_name for login in spec.logins if login.name in media.local_logins]
        only = f", {' and '.join(logins)} accounts only" if logins else ""
        if kind in rule.urls_only:
            parts.append("a public URL")
        else:
            parts.append(f"{_size(most)} (checked when studio-publish uploads it{only})")
    elif limit.max_bytes is not None:
        parts.append(_size(limit.max_bytes))
    if limit.max_seconds is not None:
        low = f"{_seconds(limit.min_seconds)} to " if limit.min_seconds else "up to "
        parts.append(low + _seconds(limit.max_seconds))
    if not media.local_files:
        parts.append("a public https URL" if media.https_only else "a public URL")
    elif media.local_logins and kind not in rule.urls_only:
        parts.append("else a public URL")
    return ", ".join(parts)


def _count(number: int) -> str:
    return f"{number:,}"


def _size(size: int) -> str:
    for unit, name in ((GB, "GB"), (MB, "MB"), (KB, "KB")):
        if size % unit == 0:
            return f"{size // unit} {name}"
    return f"{_count(size)} bytes"


def _seconds(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"


def _duration(span: dt.timedelta) -> str:
    hours = int(span.total_seconds()) // 3600
    return f"{hours // 24} days" if hours >= 48 and hours % 24 == 0 else f"{hours} hours"


if __name__ == "__main__":
    print(markdown(), end="")
