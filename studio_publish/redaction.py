"""Taking secrets out of text, in whatever form a platform or library echoes them.

A platform that quotes back what it was sent rarely quotes it verbatim: a token comes back
URL-encoded (``fb%5FPAGE%5FTOKEN``: every character or only some, hex in either case, even
twice as ``%255F``), with ``+`` for a space, JSON- or Python-escaped (``\\u005f``,
``\\x5f``, ``\\/``), HTML-escaped (``&#95;``, ``&#x5F;``, ``&amp;``), or as the standard or
URL-safe base64 of the whole secret.

Each character of a secret may come in any of those forms, independently of the others. So
the text is read as a lattice: at every position, each way to read one character there
(itself, or the character an escape starting there stands for) and where that reading ends.
A secret is found wherever some path through the lattice spells it. This costs a few
microseconds per character of text and nothing per secret: a regex with those alternatives
for every character of a 250-character token takes about 0.3 s to compile, which would stall
the engine's event loop once per account.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterable
from functools import lru_cache

REDACTED = "[redacted]"

# Shorter strings are not redacted: they would take ordinary words out of every message.
MIN_SECRET_LENGTH = 4

# Used instead of the replacement when the replacement itself, next to the text around it,
# would spell a secret again (say the secret is "ted]x"). Their characters differ, so one of
# them works.
_FALLBACKS = ("***", "#")

# Characters that start an escape; text without any is searched with str.find alone.
_ESCAPE_STARTS = frozenset("%\\&+")
_HEX = frozenset("0123456789abcdefABCDEF")
_DECIMAL = frozenset("0123456789")
_NAMED_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": "\xa0"}
_BACKSLASH_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v"}

Reading = tuple[str, int]  # a character, and where its form in the text ends
ByteReader = Callable[[str, int], list[tuple[int, int]]]


def redact(text: str, secrets: Iterable[str | None], *, replacement: str = REDACTED) -> str:
    """``text`` with every secret of at least MIN_SECRET_LENGTH characters, in any of the
    forms above, replaced by ``replacement``."""
    unique = sorted({secret for secret in secrets if secret and len(secret) >= MIN_SECRET_LENGTH})
    if not unique or not text:
        return text
    needles = [needle for secret in unique for needle in _needles(secret)]
    spans = _find(text, needles)
    if not spans:
        return text
    for candidate in (replacement, *_FALLBACKS):
        result = _replace(text, spans, candidate)
        if not _find(result, needles):
            return result
    return "***"  # not reached: no secret of 4 or more characters fits in "***" or "#"


@lru_cache(maxsize=1024)
def _needles(secret: str) -> tuple[tuple[str, bool], ...]:
    """What to look for: the secret, and its base64 forms (unpadded; True: padding may follow)."""
    raw = secret.encode("utf-8", "surrogatepass")
    encoded = {
        base64.b64encode(raw).decode("ascii").rstrip("="),
        base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
    }
    return ((secret, False), *((form, True) for form in sorted(encoded) if form != secret))


def _find(text: str, needles: list[tuple[str, bool]]) -> list[tuple[int, int]]:
    """The spans of ``text`` holding a needle in some form, merged where they overlap."""
    spans: list[tuple[int, int]] = []
    if _ESCAPE_STARTS.isdisjoint(text):
        for needle, padded in needles:
            start = text.find(needle)
            while start != -1:
                end = start + len(needle)
                if padded:
                    end += len(text[end : end + 2]) - len(text[end : end + 2].lstrip("="))
                spans.append((start, end))
                start = text.find(needle, start + 1)
    else:
        lattice = _Lattice(text)
        wanted = {needle[0] for needle, _ in needles}
        for start, char in enumerate(text):
            if char in _ESCAPE_STARTS:
                firsts = {reading for reading, _ in lattice.readings(start)}
            elif char in wanted:
                firsts = {char}
            else:
                continue
            for needle, padded in needles:
                if needle[0] in firsts:
                    end = lattice.match(needle, start)
                    if end != -1:
                        spans.append((start, lattice.padding(end) if padded else end))
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _replace(text: str, spans: list[tuple[int, int]], replacement: str) -> str:
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], replacement]
        last = end
    parts.append(text[last:])
    return "".join(parts)


class _Lattice:
    """Every way to read one character at each position of a text (computed once each)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._readings: dict[int, list[Reading]] = {}

    def readings(self, i: int) -> list[Reading]:
        if i >= len(self.text):
            return []
        found = self._readings.get(i)
        if found is None:
            found = self._readings[i] = _readings(self.text, i)
        return found

    def match(self, needle: str, start: int) -> int:
        """Where a reading of ``needle`` from ``start`` ends, or -1."""
        stack, seen = [(0, start)], set()
        while stack:
            k, pos = stack.pop()
            if k == len(needle):
                return pos
            if (k, pos) in seen:
                continue
            seen.add((k, pos))
            stack += [(k + 1, end) for char, end in self.readings(pos) if char == needle[k]]
        return -1

    def padding(self, pos: int) -> int:
        """Past up to two base64 padding characters ("=", "%3D", ...) from ``pos``."""
        for _ in range(2):
            ends = [end for char, end in self.readings(pos) if char == "="]
            if not ends:
                break
            pos = max(ends)
        return pos


def _readings(text: str, i: int) -> list[Reading]:
    char = text[i]
    found = [(char, i + 1)]
    if char == "+":
        found.append((" ", i + 1))  # application/x-www-form-urlencoded
    elif char == "%":
        found += _utf8(text, i, _percent_bytes)
        code = _hex_at(text, i + 2, 4) if text.startswith("%u", i) else None
        if code is not None:  # JavaScript's old escape()
            found.append((chr(code), i + 6))
    elif char == "\\":
        found += _backslash(text, i)
    elif char == "&":
        found += _entity(text, i)
    return found


def _backslash(text: str, i: int) -> list[Reading]:
    """JSON and Python escapes: \\xHH (a byte of UTF-8, or a Latin-1 character), \\uHHHH
    (with surrogate pairs), \\UHHHHHHHH, \\n and friends, and \\ before punctuation."""
    kind = text[i + 1 : i + 2]
    found: list[Reading] = []
    if kind == "x":
        found += _utf8(text, i, _escaped_bytes)
    elif kind == "u":
        code = _hex_at(text, i + 2, 4)
        if code is not None:
            found.append((chr(code), i + 6))
            low = _hex_at(text, i + 8, 4) if text.startswith("\\u", i + 6) else None
            if 0xD800 <= code <= 0xDBFF and low is not None and 0xDC00 <= low <= 0xDFFF:
                found.append((chr(0x10000 + ((code - 0xD800) << 10) + low - 0xDC00), i + 12))
    elif kind == "U":
        code = _hex_at(text, i + 2, 8)
        if code is not None and code <= 0x10FFFF:
            found.append((chr(code), i + 10))
    if kind in _BACKSLASH_ESCAPES:
        found.append((_BACKSLASH_ESCAPES[kind], i + 2))
    elif kind.isascii() and kind and not kind.isalnum():
        found.append((kind, i + 2))  # JSON's \/ \" \\, a shell's or a regex's \.
    return found


def _entity(text: str, i: int) -> list[Reading]:
    """HTML character references: &#95; &#x5F; (the ";" may be missing) and named ones."""
    if not text.startswith("&#", i):
        for name, char in _NAMED_ENTITIES.items():
            if text.startswith(name + ";", i + 1):
                return [(char, i + len(name) + 2)]
        return []
    start, digits, base = i + 2, _DECIMAL, 10
    if text[start : start + 1] in ("x", "X"):
        start, digits, base = start + 1, _HEX, 16
    end = start
    while end < len(text) and text[end] in digits and end - start < 12:
        end += 1
    if end == start or int(text[start:end], base) > 0x10FFFF:
        return []
    char = chr(int(text[start:end], base))
    return [(char, end + 1), (char, end)] if text.startswith(";", end) else [(char, end)]


def _percent_bytes(text: str, i: int) -> list[tuple[int, int]]:
    """The byte a %HH at ``i`` stands for, and for %25HH (encoded twice) also byte HH."""
    if not text.startswith("%", i):
        return []
    found = []
    byte = _hex_at(text, i + 1, 2)
    if byte is not None:
        found.append((byte, i + 3))
        twice = _hex_at(text, i + 3, 2) if byte == 0x25 else None
        if twice is not None:
            found.append((twice, i + 5))
    return found


def _escaped_bytes(text: str, i: int) -> list[tuple[int, int]]:
    byte = _hex_at(text, i + 2, 2) if text.startswith("\\x", i) else None
    return [] if byte is None else [(byte, i + 4)]


def _utf8(text: str, i: int, read: ByteReader) -> list[Reading]:
    """Characters spelled by a run of encoded bytes from ``i``: UTF-8, or one Latin-1 byte."""
    found: list[Reading] = []
    for lead, after_lead in read(text, i):
        found.append((chr(lead), after_lead))  # ASCII, or Latin-1
        size = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else 4
        if lead < 0xC2 or lead > 0xF4:
            continue
        partial = [(bytes([lead]), after_lead)]
        for _ in range(size - 1):
            partial = [
                (data + bytes([byte]), end)
                for data, pos in partial
                for byte, end in read(text, pos)
                if 0x80 <= byte <= 0xBF
            ]
        for data, end in partial:
            with contextlib.suppress(UnicodeDecodeError):  # an overlong form, say
                found.append((data.decode("utf-8", "surrogatepass"), end))
    return found


def _hex_at(text: str, i: int, width: int) -> int | None:
    digits = text[i : i + width]
    if len(digits) != width or not _HEX.issuperset(digits):
        return None
    return int(digits, 16)
