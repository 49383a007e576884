"""The ledger: every post that went live on the sandbox, so tests can count duplicates.

Comments (an account's comment under its post, a Threads reply) are kept apart, as
:class:`CommentEntry`: ``comments``, ``comment_count`` and ``comment_duplicates`` count them,
so that a first comment is never taken for a post, nor two comments for one.

A TikTok inbox delivery is an entry too, with ``destination="inbox"``: not a public post (the
creator finishes it in the app, or never does), but a second delivery of one post is as much
a duplicate to the creator. ``count`` and ``entries`` take every destination unless told one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

PROFILE, INBOX = "profile", "inbox"


@dataclass(frozen=True)
class LedgerEntry:
    platform: str  # instagram, facebook, tiktok
    account: str  # IG user id, Page id, or TikTok open_id
    platform_post_id: str  # IG media id, "{page}_{post}", FB video id, TikTok post id
    kind: str  # image, reel, story, carousel, text, link, photo, photos, video
    caption: str
    created_at: dt.datetime
    source_ids: tuple[str, ...] = ()  # container id(s), photo ids, publish_id
    destination: str = PROFILE  # PROFILE (live, public) or INBOX (a TikTok inbox draft)
    # For a post without a caption of its own (a TikTok inbox video): what it carried (its
    # URL, or its size), so that two different ones are not taken for duplicates.
    media: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["source_ids"] = list(self.source_ids)
        return data


@dataclass(frozen=True)
class CommentEntry:
    platform: str
    account: str  # who commented: the IG user id, the Page id, the Threads user id
    parent: str  # the post (media, Page post, thread) it is under
    comment_id: str
    text: str
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


@dataclass(frozen=True)
class Duplicate:
    platform: str
    account: str
    caption: str
    count: int
    platform_post_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["platform_post_ids"] = list(self.platform_post_ids)
        return data


@dataclass
class Ledger:
    _entries: list[LedgerEntry] = field(default_factory=list)
    _comments: list[CommentEntry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, entry: LedgerEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def record_comment(self, entry: CommentEntry) -> None:
        with self._lock:
            self._comments.append(entry)

    def comments(
        self, platform: str | None = None, parent: str | None = None
    ) -> list[CommentEntry]:
        with self._lock:
            found = list(self._comments)
        return [
            c
            for c in found
            if (platform is None or c.platform == platform)
            and (parent is None or c.parent == parent)
        ]

    def comment_count(self, platform: str | None = None, parent: str | None = None) -> int:
        return len(self.comments(platform, parent))

    def comment_duplicates(self) -> int:
        """How many extra copies of a comment went up (the same text twice under one post by
        one account counts 1)."""
        groups: dict[tuple[str, str, str, str], int] = defaultdict(int)
        for c in self.comments():
            groups[(c.platform, c.account, c.parent, c.text)] += 1
        return sum(n - 1 for n in groups.values())

    def entries(
        self,
        platform: str | None = None,
        account: str | None = None,
        destination: str | None = None,
    ) -> list[LedgerEntry]:
        with self._lock:
            entries = list(self._entries)
        return [
            e
            for e in entries
            if (platform is None or e.platform == platform)
            and (account is None or e.account == account)
            and (destination is None or e.destination == destination)
        ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def count(
        self,
        platform: str | None = None,
        account: str | None = None,
        destination: str | None = None,
    ) -> int:
        return len(self.entries(platform, account, destination))

    def duplicates(self) -> list[Duplicate]:
        """Captions that went live (or to one inbox) more than once on the same account."""
        groups: dict[tuple[str, str, str, str, str], list[str]] = defaultdict(list)
        for e in self.entries():
            key = (e.platform, e.account, e.destination, e.caption, e.media)
            groups[key].append(e.platform_post_id)
        return [
            Duplicate(platform, account, caption, len(ids), tuple(ids))
            for (platform, account, _, caption, _), ids in groups.items()
            if len(ids) > 1
        ]

    def duplicate_count(self) -> int:
        """How many extra copies went live (a caption live 3 times counts 2)."""
        return sum(d.count - 1 for d in self.duplicates())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._comments.clear()

    def to_dict(self) -> dict[str, Any]:
        entries = self.entries()
        return {
            "count": len(entries),
            "entries": [e.to_dict() for e in entries],
            "duplicates": [d.to_dict() for d in self.duplicates()],
            "duplicate_count": self.duplicate_count(),
            "comments": [c.to_dict() for c in self.comments()],
            "comment_duplicates": self.comment_duplicates(),
        }
