"""Platform ids and tokens: the engine puts ids into API paths and tokens into headers, so
each is checked first."""

from __future__ import annotations

import re

# A platform id goes into API paths (``/{container_id}``): only the characters ids and the
# engine's ISO times are made of, so no ``/``, ``?`` or ``..`` can steer a call elsewhere.
_PLATFORM_ID = re.compile(r"[A-Za-z0-9_.:+~-]{1,256}")
# A token goes into a header (``Authorization: Bearer ...``, TikTok's form fields): visible
# ASCII only, so no line break can add a header of its own (OAuth tokens are made of these
# characters; RFC 6750 section 2.1).
_TOKEN = re.compile(r"[\x21-\x7e]+")
SAVED_LIST_MAX = 64  # the longest id list saved is a carousel's children (35)


def platform_id_problem(value: object) -> str | None:
    """Why a saved platform id (a string, a number, a list of them, None) is unsafe, else None."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if len(values) > SAVED_LIST_MAX:
        return f"a list of {len(values)} ids"
    for item in values:
        if not isinstance(item, str | int | float):  # bool is an int: a marker is fine
            return f"{type(item).__name__} where an id belongs"
        if isinstance(item, str) and (item == ".." or not _PLATFORM_ID.fullmatch(item)):
            return f"{item[:40]!r} is not an id"
    return None


def usable_id(value: object) -> str | None:
    """An id a platform answered, as text; None when missing or not shaped like an id (an
    answer is never trusted to be one)."""
    if value in (None, "", False) or isinstance(value, list):
        return None
    return None if platform_id_problem(value) is not None else str(value)


def token_problem(value: str | None) -> str | None:
    """Why a token (access or refresh) cannot be sent as it is, else None (None: no token)."""
    if value is None or _TOKEN.fullmatch(value):
        return None
    if not value:
        return "is empty"
    return "holds a space, a line break or a character outside visible ASCII"
