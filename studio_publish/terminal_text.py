"""Text from a row or a platform, made safe to print on an operator's terminal.

Captions, account names, platform ids and error messages are written by web-app users or
sent by platforms. Printed raw, an escape sequence in one (``\\x1b]0;title\\x07``, ``\\x1b[2J``,
a C1 ``\\x9b``) would drive the operator's terminal, a bidi override (U+202E) would reorder
what they read, and a newline would fake a line of our own output. Every printing path runs
such text through `printable` (tables, status, error messages, console logs), and `--json`
output through `json_safe`.

`printable` escapes, Python style, every character that is not meant to be seen:
C0 controls (including newline and tab), DEL, C1 controls, surrogates, the bidi embedding,
override and isolate controls (U+202A-U+202E, U+2066-U+2069) and the line and paragraph
separators (U+2028, U+2029). Everything else, backslashes included, is left as it is: the
output is the input with each such character replaced by its escape, in place.
"""

from __future__ import annotations

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
_SEPARATORS = (0x2028, 0x2029)
_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}

UNSAFE = frozenset(
    (*range(0x20), 0x7F, *range(0x80, 0xA0), *_BIDI, *_SEPARATORS, *range(0xD800, 0xE000))
)
"""The code points `printable` escapes."""


def _escape(code: int) -> str:
    if code in _NAMED:
        return _NAMED[code]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


_TABLE = {code: _escape(code) for code in UNSAFE}
_KEEP_NEWLINES = {code: text for code, text in _TABLE.items() if code != 0x0A}
_JSON_TABLE = {code: f"\\u{code:04x}" for code in UNSAFE if code >= 0x7F}


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control, bidi-override and separator character shown escaped.

    With keep_newlines, a newline stays a line break (for text that is ours and spans lines,
    such as a traceback); nothing else that could drive a terminal gets through.
    """
    return text.translate(_KEEP_NEWLINES if keep_newlines else _TABLE)


def json_safe(document: str) -> str:
    """A JSON text with DEL, C1, bidi and separator characters written as \\uXXXX escapes.

    The JSON encoder already escapes C0 controls; these are the rest. They can only occur
    inside strings, where the escape means the same character: the data is unchanged.
    """
    return document.translate(_JSON_TABLE)
