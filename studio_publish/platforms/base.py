"""The small interface between the publishing engine and the platform clients.

The engine knows nothing of Instagram, Facebook or TikTok. It hands a client a
:class:`PublishContext` (the post, its account, the platform ids saved by earlier
attempts, and a way to save new ones) and gets back either a :class:`Published`
result or a :class:`PlatformError` whose :class:`Decision` says what to do next.

The ids a post's attempts saved are its *saved ids* (``ctx.saved_ids``; the post's
``platform_state`` column). Every platform id a client receives must be passed to
``ctx.save(...)`` *before* the client makes its next call: a process can die at any line,
and the next run can only settle the post from what was saved. A read that needs none of
the new ids' saving (a permalink) may go side by side with the save
(``ctx.save_while``): it changes nothing on the platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import httpx

from studio_publish.domain import Account, Post, Published, Quota, TokenGrant
from studio_publish.platforms.polling import ProcessingWait

T = TypeVar("T")


class Decision(enum.StrEnum):
    """What the engine does with an outcome. Every documented platform error maps to one."""

    RETRY = "retry"  # transient: try again after backoff (or Retry-After)
    WAIT = "wait"  # quota or rate-limit window: try again later, without using an attempt
    REFRESH_TOKEN = "refresh_token"  # refresh the access token, then retry once
    REAUTH = "reauth"  # the account must be re-authorised by a person
    FAIL = "fail"  # failed for good, with the platform's message
    INVALID = "invalid"  # the post breaks a rule (media refused, malformed): failed, nothing sent
    UNKNOWN = "unknown"  # the platform may or may not have the post: a person decides


class PlatformError(Exception):
    """A classified failure. ``message`` must never contain a token."""

    def __init__(
        self,
        decision: Decision,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.decision = decision
        self.message = message
        self.code = code
        self.http_status = http_status
        self.retry_after = retry_after

    def __str__(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        return f"{self.message}{code}"


class ProcessingTimeout(PlatformError):
    """The platform was still processing the media past the time it documents keeping it
    (an Instagram container lives 24 h): FAIL when nothing can have gone live, UNKNOWN when
    a publish was sent. Recorded with the reason ``processing_timeout``."""


class ReconcileStatus(enum.StrEnum):
    LIVE = "live"  # the post is on the platform: record it as posted
    NOT_LIVE = "not_live"  # certainly not published: safe to publish (resuming saved ids)
    PENDING = "pending"  # the platform is still processing: look again later
    FAILED = "failed"  # the platform says it failed; ``error`` says what next
    UNKNOWN = "unknown"  # nothing can tell: a person decides (needs_review)


@dataclass(frozen=True)
class Reconciliation:
    status: ReconcileStatus
    published: Published | None = None
    error: PlatformError | None = None
    reason: str = ""


class SavedIdsStore(Protocol):
    """Where a claimed post's saved ids are kept: the engine's store, fenced by the claim."""

    async def save_ids(self, ids: dict[str, Any]) -> None:
        """Persist ``ids`` on the post; raises LeaseLost if this run's claim is gone."""
        ...


@dataclass
class PublishContext:
    post: Post
    account: Account
    http: httpx.AsyncClient
    # Platform ids saved by this and earlier attempts (container ids, publish_id, ...).
    saved_ids: dict[str, Any]
    ids_store: SavedIdsStore
    # The account's publishing limit as this attempt leaves it (read by prepare(), counting
    # the run's publishes): the engine saves each account's last one at the end of the run,
    # for `status` to show (one write an account, not one a post).
    quota: Quota | None = None
    # Facts about the account a client learns, e.g. TikTok's creator info or a Graph
    # publishing quota: the engine shares one dict between all of a run's attempts for the
    # account, so each is read once per account per run (issue: every call spent is
    # headroom lost on a per-token and per-app rate limit), and none outlives the run.
    account_facts: dict[str, Any] = field(default_factory=dict)
    # How the client waits between looks at media the platform is still processing: the
    # engine's gives the post's slot back meanwhile and says stop when the run's budget ends
    # (see platforms/polling.py); None: wait up to POLL_TIMEOUT_SECONDS.
    processing_wait: ProcessingWait | None = None
    # What this attempt's reconcile() read about a job (a container's status), that nothing
    # since can have changed: publish() takes it instead of reading the same thing again.
    looked_up: dict[str, Any] = field(default_factory=dict)

    async def save(self, **ids: Any) -> None:
        """Save platform ids durably, then remember them locally. ``None`` clears a key.

        An id is used in later API paths, so one that is not shaped like an id (a platform
        answered something else) is never saved or used: a person looks at the post.
        """
        await _save_checked(self.ids_store, self.saved_ids, ids)

    async def save_while(self, read: Awaitable[T], **ids: Any) -> T:
        """Save ``ids`` and make ``read`` side by side; its result once both are done.

        One round trip less a post: the save's commit and the read overlap. Only for a
        read (a permalink), which changes nothing on the platform: the ids are saved before
        this returns, so before any call that could.
        """
        reading = asyncio.ensure_future(read)
        try:
            await self.save(**ids)
        except BaseException:
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading
            raise
        return await reading


async def _save_checked(store: SavedIdsStore, saved: dict[str, Any], ids: dict[str, Any]) -> None:
    from studio_publish.ids import platform_id_problem

    for key, value in ids.items():
        if (problem := platform_id_problem(value)) is not None:
            raise PlatformError(
                Decision.UNKNOWN, f"the platform answered a {key} that is unusable: {problem}"
            )
    await store.save_ids(ids)
    saved.update(ids)
    for key in [k for k, v in ids.items() if v is None]:
        del saved[key]


class CommentStore(SavedIdsStore, Protocol):
    """Where a claimed first comment's state is kept, fenced by the comment's claim."""

    async def mark_sent(self) -> None:
        """Record that the comment is about to be sent (it may be live from now on)."""
        ...


@dataclass
class CommentContext:
    """A first comment to post under a live post (engine/comments.py).

    ``post_ids`` are the post's saved ids (its ``platform_state``), ``platform_post_id`` what
    the post was recorded as. ``sent_since`` is when an earlier try sent the comment and
    lost the answer: the client looks for it on the platform before sending it again.
    """

    account: Account
    http: httpx.AsyncClient
    platform_post_id: str
    post_ids: dict[str, Any]
    message: str
    saved_ids: dict[str, Any]  # the comment's own (a Threads reply's container)
    store: CommentStore
    sent_since: dt.datetime | None = None
    sent: bool = False  # this try marked the comment sent: an unclear answer may be live

    async def save(self, **ids: Any) -> None:
        await _save_checked(self.store, self.saved_ids, ids)

    async def mark_sent(self) -> None:
        """Call just before the call that makes the comment live: from then on the comment
        is looked for on the platform before it is ever sent again."""
        await self.store.mark_sent()
        self.sent = True


@runtime_checkable
class Commenting(Protocol):
    """A client whose platform takes first comments (its spec's ``first_comment``)."""

    async def send_comment(self, ctx: CommentContext) -> str:
        """Post the comment as the account under its post; return the comment's id.

        Calls ``ctx.mark_sent()`` just before the irreversible call; an unclear answer to it
        raises OutcomeUnclear (transport.py).
        """
        ...

    async def find_comment(self, ctx: CommentContext) -> str | None:
        """The id of the account's comment holding ``ctx.message`` under the post, made
        since ``ctx.sent_since``; None when the platform clearly has none. Never posts."""
        ...


class Platform(Protocol):
    """One per platform. Implementations live in ``studio_publish.platforms.<name>``."""

    name: str

    async def prepare(self, ctx: PublishContext) -> None:
        """Read-only checks before anything irreversible: quota, creator info, media rules.

        Raises PlatformError (e.g. Decision.WAIT when the publishing quota is used up).
        """
        ...

    async def publish(self, ctx: PublishContext) -> Published:
        """Publish the post, resuming from ``ctx.saved_ids`` where an earlier attempt stopped.

        Saves each platform id with ``ctx.save`` the moment it arrives. After an unclear
        answer to an irreversible call it must find out what happened before doing
        anything else, and raise Decision.UNKNOWN when it cannot tell.
        """
        ...

    async def reconcile(self, ctx: PublishContext) -> Reconciliation:
        """Find out what became of an earlier attempt from ``ctx.saved_ids``. Never publishes."""
        ...

    async def refresh_token(self, account: Account, http: httpx.AsyncClient) -> TokenGrant:
        """Exchange the refresh token for new tokens; Decision.REAUTH when it cannot."""
        ...

    @property
    def can_refresh_tokens(self) -> bool: ...
