"""First comments on the Graph API: a comment as the account under its own live post.

Instagram and Facebook Pages take the same two calls on the post's object, in their own
field names:

- Send: ``POST /{object-id}/comments`` with ``message`` -> ``{"id": "<comment id>"}``
  (Instagram: https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments;
  Facebook, as the Page with its Page token:
  https://developers.facebook.com/docs/graph-api/reference/object/comments).
- Look: ``GET /{object-id}/comments`` -> ``{"data": [...]}``: Instagram's comments carry
  ``id``, ``text``, ``timestamp``, ``username`` and ``from`` (``id``, ``username``),
  Facebook's ``id``, ``message``, ``created_time`` and ``from`` (``id``, ``name``).

The send is not idempotent. It is marked sent just before it goes out, and an unclear
answer (no answer, a 5xx) leaves the mark: the comment is then looked for in the listing
(our text, from our account when the answer names the author, since the mark) before it
is ever sent again (engine/comments.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from studio_publish.ids import usable_id
from studio_publish.platforms.base import CommentContext, Decision, PlatformError
from studio_publish.platforms.clock import parse_time
from studio_publish.platforms.graph.client import GraphClient, GraphPlatform

# How far before the send's mark a comment's time may be (clock skew) and still be ours.
MATCH_SLACK = dt.timedelta(minutes=2)
LISTED = 50  # comments a page when looking for ours
LISTED_PAGES = 4  # pages, at most: a post just live rarely has 200 comments already


@dataclass(frozen=True)
class CommentApi:
    """Where a Graph platform's comments go and how its listing names their fields."""

    text_field: str  # Instagram: text; Facebook: message
    time_field: str  # Instagram: timestamp; Facebook: created_time
    # Whether ``from.id`` is the account's own id (a Page's comments are from the Page id;
    # Instagram's ``from.id`` is a scoped id, so its comments are matched on text and time).
    author_is_account: bool
    list_params: tuple[tuple[str, str], ...] = ()  # e.g. Facebook's newest-first order


INSTAGRAM = CommentApi("text", "timestamp", author_is_account=False)
FACEBOOK = CommentApi(
    "message",
    "created_time",
    author_is_account=True,
    list_params=(("order", "reverse_chronological"),),
)


def is_ours(
    *,
    text: str,
    created: dt.datetime | None,
    message: str,
    since: dt.datetime | None,
    author: str | None,
    account_id: str,
) -> bool:
    """Whether a listed comment (or reply) is the one we sent: our text, since the send, and
    from our account when the listing names the author."""
    if text.strip() != message.strip():
        return False
    if since is not None and (created is None or created < since - MATCH_SLACK):
        return False
    return author is None or author == account_id


class GraphComments(GraphPlatform):
    """The Commenting calls of a Graph platform whose comments are its objects' edge."""

    comment_api: CommentApi

    def comment_target(self, ctx: CommentContext) -> str:
        """The id the comment goes under: the live post's, as recorded."""
        return ctx.platform_post_id

    async def send_comment(self, ctx: CommentContext) -> str:
        graph = self.client(ctx.http, ctx.account)
        target = self.comment_target(ctx)
        await ctx.mark_sent()
        body = await graph.post(f"{target}/comments", {"message": ctx.message}, irreversible=True)
        comment_id = usable_id(body.get("id"))
        if comment_id is None:
            raise PlatformError(Decision.UNKNOWN, "the comment's answer holds no id")
        return comment_id

    async def find_comment(self, ctx: CommentContext) -> str | None:
        api = self.comment_api

        def ours(item: dict[str, Any]) -> bool:
            author = item.get("from") if api.author_is_account else None
            return is_ours(
                text=str(item.get(api.text_field) or ""),
                created=parse_time(item.get(api.time_field)),
                message=ctx.message,
                since=ctx.sent_since,
                author=str(author["id"]) if isinstance(author, dict) and "id" in author else None,
                account_id=ctx.account.platform_account_id,
            )

        return await find_listed(
            self.client(ctx.http, ctx.account),
            f"{self.comment_target(ctx)}/comments",
            {"fields": f"id,{api.text_field},{api.time_field},from", **dict(api.list_params)},
            ours,
        )


async def find_listed(
    graph: GraphClient,
    path: str,
    params: dict[str, str],
    ours: Callable[[dict[str, Any]], bool],
) -> str | None:
    """The id of the first listed item that is ``ours``, reading up to LISTED_PAGES pages of
    the listing (Graph's cursor paging: ``paging.cursors.after`` while ``paging.next`` is
    given); None when none is. A busy post may have many comments since ours."""
    after: str | None = None
    for _ in range(LISTED_PAGES):
        page = await graph.get(path, **params, limit=LISTED, **({"after": after} if after else {}))
        for item in page.get("data") or []:
            if isinstance(item, dict) and "id" in item and ours(item):
                return str(item["id"])
        paging = _object(page.get("paging"))
        after = _object(paging.get("cursors")).get("after") if paging.get("next") else None
        if not isinstance(after, str) or not after:
            return None
    return None


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
