"""Values as text and as JSON, for every face (the CLI, the hook, health's messages).

Times are shown in the operator's zone (TZ); JSON is exact data with no raw control
characters (terminal_text.json_safe). Below every face, so a library module may use it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any

from studio_publish.terminal_text import json_safe


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def to_json(document: Any) -> str:
    """Exact data, readable non-ASCII text; no DEL, C1 or bidi control left raw (json_safe)."""
    return json_safe(json.dumps(document, default=_json_default, ensure_ascii=False))


def local_time(value: dt.datetime | None) -> str:
    """A timestamp in the operator's zone (TZ), to the second."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def human(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return local_time(value)
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
    if isinstance(value, dict | list):
        return to_json(value)
    return str(value)
