"""Post and account ids are UUIDs; a malformed one is bad input naming the field."""

from __future__ import annotations

import uuid

from studio_publish.errors import BadInput


def parse_uuid(text: str | None, field: str) -> str:
    try:
        return str(uuid.UUID(str(text)))
    except ValueError:
        raise BadInput(field, f"{text!r} is not a UUID") from None
