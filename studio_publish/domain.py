"""The domain types every layer shares: a post, its media, its account, what publishing gave.

The store builds them from rows and the platform clients take them, so they live below
both: this module imports nothing from the package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Media:
    url: str  # an http(s) URL or a local file path
    kind: str  # "image" or "video"

    @property
    def is_local(self) -> bool:
        return not self.url.startswith(("http://", "https://"))


@dataclass(frozen=True)
class Account:
    id: str
    platform: str
    platform_account_id: str
    access_token: str
    refresh_token: str | None = None
    token_expires_at: dt.datetime | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # never show tokens, even in a traceback
        return f"Account(id={self.id!r}, platform={self.platform!r})"


@dataclass(frozen=True)
class Post:
    id: str
    platform: str
    post_type: str  # image, video, reel, story, carousel, text
    caption: str
    media: tuple[Media, ...]
    options: Mapping[str, Any]
    attempt: int
    # When this attempt began, by the database clock: Facebook reconciliation looks for
    # page posts created since then.
    attempt_started_at: dt.datetime | None = None


@dataclass(frozen=True)
class Published:
    platform_post_id: str
    permalink: str | None = None


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_at: dt.datetime | None
    refresh_expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class Quota:
    """A publishing limit the platform reports for an account (e.g. 3 of 50 in 24 hours)."""

    used: int
    total: int
