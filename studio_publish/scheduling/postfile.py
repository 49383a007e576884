"""Reading a bulk post file (``schedule --file``) into raw :class:`PostInput` rows.

This only reads and shapes the rows; `validation.validate_post` checks each one against its
account's platform. Every error names the line (``file line 3: caption``, which the CLI shows
as ``--file line 3: caption``) so a person can fix the file; the CLI writes all rows or none.

Formats, chosen by extension: ``.csv``, or ``.jsonl``/``.ndjson`` (JSON Lines). UTF-8, with
or without a byte-order mark.

CSV: a header row, then one post per row (a quoted cell may span lines; the line named is
where the row starts). Columns, any order, names case-insensitive:
  ``account`` (or ``account_id``, required), ``at``, ``caption``, ``media``, ``type``,
  ``draft`` (true/false, blank = false), ``tz``, ``first_comment``, ``options`` (a JSON
  object) and
  ``option.KEY`` columns (one per option; a blank cell = not given, so rows for different
  platforms can share a file). A blank cell is "not given".
  ``media`` holds several items separated by ``|`` (spaces may appear in file names; a ``|``
  inside a URL must be written ``%7C``).
JSON Lines: one object per line, blank lines skipped; keys ``account`` (or ``account_id``),
``at``, ``caption``, ``media`` (a list of strings or ``{"url", "kind"}`` objects, or one
string), ``type``, ``options`` (an object of strings, numbers or booleans), ``draft``
(boolean), ``tz``, ``first_comment`` (text). ``null`` = not given.

Relative local media paths are read relative to the file's folder, so a file and its media
can move together. Unknown columns or keys are refused, so a typo never drops a value silently.

Whatever the file holds, the only error is BadInput naming the line (and the column or key
where known): bytes that are not UTF-8, a file over ``MAX_FILE_BYTES`` or a JSON line over
``MAX_LINE_CHARS``, JSON nested deeper than ``MAX_JSON_DEPTH``, numbers no post needs
(``NaN``, ``Infinity``, ``1e999999``, integers over ``MAX_INT_DIGITS`` digits) and text the
database cannot store (a ``\\ud800`` escape without its pair) are all refused here.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path
from typing import Any

from studio_publish.errors import BadInput
from studio_publish.scheduling.validation import (
    PostInput,
    parse_bool,
    split_kind_prefix,
    validate_uuid,
)

__all__ = ["read_post_file"]

FIELD = "file"  # the field errors are named by; the CLI shows it as --file
# The same names in both formats (CSV adds option.KEY columns).
_KEYS = (
    "account",
    "account_id",
    "at",
    "caption",
    "media",
    "type",
    "options",
    "draft",
    "tz",
    "first_comment",
)
_OPTION_COLUMN = "option."

MAX_FILE_BYTES = 64 * 1024 * 1024
# A JSON line this long holds far more than any post can: Facebook's longest caption with
# every character written as a \uXXXX pair is under 800,000.
MAX_LINE_CHARS = 1024 * 1024
# A post is at most 3 deep (the line's object, its media list, a {url, kind} item).
MAX_JSON_DEPTH = 20
MAX_INT_DIGITS = 50


def read_post_file(path: str | os.PathLike[str]) -> list[PostInput]:
    """Every post in the file, in order; BadInput on the first problem found."""
    file = Path(path)
    readers: dict[str, Callable[[str, Path], list[PostInput]]] = {
        ".csv": _read_csv,
        ".jsonl": _read_jsonl,
        ".ndjson": _read_jsonl,
    }
    reader = readers.get(file.suffix.lower())
    if reader is None:
        raise BadInput(
            FIELD, f"{file.name}: unknown format; use a .csv, .jsonl or .ndjson file name"
        )
    posts = reader(_read_text(file), file.parent.resolve())
    if not posts:
        raise BadInput(FIELD, f"{file}: no posts in the file")
    return posts


def _read_text(file: Path) -> str:
    try:
        with file.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)  # a FIFO or a device need not end
    except FileNotFoundError:
        raise BadInput(FIELD, f"{file}: no such file") from None
    except IsADirectoryError:
        raise BadInput(FIELD, f"{file}: is a folder, not a file") from None
    except OSError as exc:
        raise BadInput(FIELD, f"{file}: cannot be read ({exc.strerror})") from None
    except ValueError:  # a NUL byte in the name
        raise BadInput(FIELD, "the file name contains a NUL byte") from None
    if len(data) > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // (1024 * 1024)
        raise BadInput(FIELD, f"{file}: over {limit} MiB; split it into smaller files")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadInput(_origin(1), "the file is UTF-16 (or UTF-32) text; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")  # -sig: drops the BOM spreadsheets like to write
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        raise BadInput(
            _origin(line),
            f"not UTF-8 text (byte 0x{byte:02x} at byte {exc.start - line_start + 1} of the line)",
        ) from None


def _origin(line: int) -> str:
    return f"{FIELD} line {line}"


def _resolve_media(item: str, base: Path) -> str:
    """A relative local path is taken from the file's folder; URLs are left alone."""
    kind, text = split_kind_prefix(item)
    if not text or "://" in text or text.startswith("~") or os.path.isabs(text):
        return item
    resolved = str(base / text)
    return f"{kind}:{resolved}" if kind else resolved


def _account(value: str | None, origin: str) -> str:
    if value is None or not value.strip():
        raise BadInput(f"{origin}: account", "required: the id of the account to post to")
    if len(value.strip()) > 64:  # not echoed back: it may be a whole caption pasted
        raise BadInput(f"{origin}: account", f"{len(value)} characters: not an id (a UUID)")
    return validate_uuid(value, f"{origin}: account")


def _option_text(key: str, value: Any, field: str) -> str:
    # bool before int: True is an int in Python.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise BadInput(field, f"{key}: must be a string, a number or true/false")


def _options_object(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise BadInput(field, "must be a JSON object of option names and values")
    return {str(key): _option_text(str(key), item, field) for key, item in value.items()}


# --- CSV ----------------------------------------------------------------------------------


def _read_csv(text: str, base: Path) -> list[PostInput]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    posts: list[PostInput] = []
    end = 0  # the last physical line the reader has consumed
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise BadInput(_origin(start), f"not valid CSV: {exc}") from None
        end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines and rows of empty cells
        if header is None:
            header = _csv_header(row, start)
            continue
        posts.append(_csv_row(header, row, start, base))
    return posts


def _csv_header(row: list[str], line: int) -> list[str]:
    names = [cell.strip().lower() for cell in row]
    origin = _origin(line)
    for name in names:
        if not name:
            raise BadInput(origin, "the header has an empty column name")
        if name not in _KEYS and not (
            name.startswith(_OPTION_COLUMN) and len(name) > len(_OPTION_COLUMN)
        ):
            known = ", ".join((*_KEYS, "option.KEY"))
            raise BadInput(origin, f"unknown column {name!r} (known: {known})")
        if names.count(name) > 1:
            raise BadInput(origin, f"column {name!r} appears twice")
    if "account" in names and "account_id" in names:
        raise BadInput(origin, "give account or account_id, not both")
    if "account" not in names and "account_id" not in names:
        raise BadInput(origin, "no account column: each row needs the id of its account")
    return names


def _csv_row(header: list[str], row: list[str], line: int, base: Path) -> PostInput:
    origin = _origin(line)
    if any(cell.strip() for cell in row[len(header) :]):
        raise BadInput(origin, f"{len(row)} cells but the header has {len(header)} columns")
    # Missing trailing cells count as blank; a blank cell is "not given".
    cells = {name: row[i] if i < len(row) else "" for i, name in enumerate(header)}
    given = {name: value for name, value in cells.items() if value.strip()}

    options: dict[str, str] = {}
    if "options" in given:
        field = f"{origin}: options"
        parsed = _load_json(given["options"], field)
        _check_values(parsed, field)
        options = _options_object(parsed, field)
    for name, value in given.items():
        if name.startswith(_OPTION_COLUMN):
            key = name[len(_OPTION_COLUMN) :]
            if key in options:
                raise BadInput(f"{origin}: {name}", f"{key} is also in the options column")
            options[key] = value

    media_cell = given.get("media", "")
    media = [item.strip() for item in media_cell.split("|") if item.strip()]
    draft = given.get("draft")
    return PostInput(
        account_id=_account(given.get("account", given.get("account_id")), origin),
        at=given.get("at"),
        draft=parse_bool(draft, f"{origin}: draft") if draft is not None else False,
        caption=cells.get("caption", ""),
        media=[_resolve_media(item, base) for item in media],
        post_type=given.get("type"),
        options=options,
        tz=given.get("tz"),
        first_comment=given.get("first_comment"),
        origin=origin,
    )


# --- JSON Lines ---------------------------------------------------------------------------


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; a file that says two things is refused.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _Unusable:
    """Stands in for a JSON number no post can use; refused, naming its key, by _check_values."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:20]}..."


def _parse_int(text: str) -> int | _Unusable:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:  # int() itself refuses over 4300 digits, with a ValueError
        return _Unusable(f"the number {_short(text)} has {digits} digits; too many")
    return int(text)


def _parse_float(text: str) -> float | _Unusable:
    value = float(text)
    if not math.isfinite(value):
        return _Unusable(f"the number {_short(text)} is too large")
    return value


def _parse_constant(name: str) -> _Unusable:
    return _Unusable(f"{name} is not a number JSON allows")


# A JSON string (possibly unterminated), to skip when counting brackets.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest, found without recursion."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0  # cannot be too deep: the common case, without a scan
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _load_json(text: str, field: str) -> Any:
    """json.loads, with every way it can fail on hostile text turned into BadInput."""
    if _depth(text) > MAX_JSON_DEPTH:
        raise BadInput(field, f"nested more than {MAX_JSON_DEPTH} levels deep; a post needs 3")
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except json.JSONDecodeError as exc:
        if exc.msg.startswith("Unexpected UTF-8 BOM"):
            raise BadInput(field, "starts with a byte-order mark (U+FEFF); remove it") from None
        problem = exc.msg.removesuffix(" at")  # "Invalid control character at"
        raise BadInput(field, f"not valid JSON: {problem} (column {exc.colno})") from None
    except _DuplicateKey as exc:
        raise BadInput(field, f"key {exc.args[0]!r} appears twice") from None
    except RecursionError:  # the depth check above should make this unreachable
        raise BadInput(field, "nested too deeply") from None


def _check_text(text: str, field: str) -> None:
    surrogate = _SURROGATE.search(text)
    if surrogate:
        code = ord(surrogate.group())
        raise BadInput(
            field,
            f"\\u{code:04x} is half of a UTF-16 surrogate pair, not a character "
            "(write the character itself, or both halves of its pair)",
        )


def _check_values(value: Any, field: str) -> None:
    """BadInput naming ``field`` for any key or value within ``value`` that no post can hold:
    an unusable number, or text the database cannot store. (Iterative: any depth is safe.)"""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            _check_text(item, field)
        elif isinstance(item, _Unusable):
            raise BadInput(field, item.problem)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key, field)
                pending.append(inner)
        elif isinstance(item, list):
            pending.extend(item)


def _read_jsonl(text: str, base: Path) -> list[PostInput]:
    posts: list[PostInput] = []
    # Split on "\n" only: str.splitlines would also break on U+2028, valid inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        origin = _origin(number)
        if len(line) > MAX_LINE_CHARS:
            raise BadInput(origin, f"{len(line)} characters long; a line may have {MAX_LINE_CHARS}")
        obj = _load_json(line, origin)
        if not isinstance(obj, dict):
            raise BadInput(origin, "each line must be one JSON object")
        posts.append(_json_post(obj, origin, base))
    return posts


def _json_text(obj: dict[str, Any], key: str, origin: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInput(f"{origin}: {key}", "must be a string")
    return value


def _json_media(value: Any, origin: str, base: Path) -> list[str]:
    field = f"{origin}: media"
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise BadInput(field, "must be a list of URLs or paths, or one string")
    media: list[str] = []
    for item in items:
        if isinstance(item, dict):
            unknown = set(item) - {"url", "kind"}
            url, kind = item.get("url"), item.get("kind")
            if unknown or not isinstance(url, str) or kind not in (None, "image", "video"):
                raise BadInput(field, 'an object item is {"url": ..., "kind": "image"|"video"}')
            item = f"{kind}:{url}" if kind else url
        elif not isinstance(item, str):
            raise BadInput(field, "each item must be a string or a {url, kind} object")
        media.append(_resolve_media(item, base))
    return media


def _json_post(obj: dict[str, Any], origin: str, base: Path) -> PostInput:
    for key in obj:
        _check_text(key, origin)
    unknown = sorted(set(obj) - set(_KEYS))
    if unknown:
        known = ", ".join(_KEYS)
        names = ", ".join(repr(_short(key)) for key in unknown)
        raise BadInput(origin, f"unknown key(s) {names} (known: {known})")
    for key, value in obj.items():
        _check_values(value, f"{origin}: {key}")
    if obj.get("account") is not None and obj.get("account_id") is not None:
        raise BadInput(origin, "give account or account_id, not both")
    account = _json_text(obj, "account", origin) or _json_text(obj, "account_id", origin)

    draft = obj.get("draft")
    if draft is not None and not isinstance(draft, bool):
        raise BadInput(f"{origin}: draft", "must be true or false")
    options = obj.get("options")
    return PostInput(
        account_id=_account(account, origin),
        at=_json_text(obj, "at", origin),
        draft=bool(draft),
        caption=_json_text(obj, "caption", origin) or "",
        media=_json_media(obj.get("media"), origin, base),
        post_type=_json_text(obj, "type", origin),
        options=_options_object(options, f"{origin}: options") if options is not None else {},
        tz=_json_text(obj, "tz", origin),
        first_comment=_json_text(obj, "first_comment", origin),
        origin=origin,
    )
