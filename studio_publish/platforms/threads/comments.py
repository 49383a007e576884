"""First comments on Threads: the account's own reply under its thread.

A reply is a post of its own (https://developers.facebook.com/docs/threads/reply-management,
https://developers.facebook.com/documentation/threads/retrieve-and-manage-replies/create-replies):

- ``POST /{user-id}/threads`` with ``media_type=TEXT``, ``text`` and ``reply_to_id={thread
  id}`` -> ``{"id": "<container id>"}``, saved at once (``reply_container_id``);
- ``POST /{user-id}/threads_publish`` with ``creation_id`` -> ``{"id": "<reply id>"}``;
- looking: ``GET /{thread-id}/replies?fields=id,text,timestamp,username,is_reply_owned_by_me``.

The publish is not idempotent, but the container says whether it went out: a saved container
is read before it is published again, and one that is PUBLISHED is never published twice (the
reply is looked for in the listing instead). A container that is spoilt (ERROR, EXPIRED) is
dropped and a new one made.
"""

from __future__ import annotations

from typing import Any

from studio_publish.ids import usable_id
from studio_publish.platforms.base import CommentContext, Decision, PlatformError
from studio_publish.platforms.clock import parse_time
from studio_publish.platforms.graph.client import GraphClient
from studio_publish.platforms.graph.comments import find_listed, is_ours
from studio_publish.platforms.graph.containers import (
    FINISHED,
    NOT_SETTLED,
    PUBLISHED,
    ContainerPlatform,
)
from studio_publish.platforms.transport import OutcomeUnclear

CONTAINER = "reply_container_id"
REPLY_FIELDS = "id,text,timestamp,username,is_reply_owned_by_me"


class ThreadsReplies(ContainerPlatform):
    """The Commenting calls of ThreadsPlatform."""

    def comment_target(self, ctx: CommentContext) -> str:
        return self.published_media_id(ctx)

    async def send_comment(self, ctx: CommentContext) -> str:
        graph = self.client(ctx.http, ctx.account)
        user = ctx.account.platform_account_id
        container = await self._usable_container(ctx, graph)
        if container is None:
            params = {
                "media_type": "TEXT",
                "text": ctx.message,
                "reply_to_id": self.comment_target(ctx),
            }
            body = await graph.post(f"{user}/{self.api.create}", params)
            container = usable_id(body.get("id"))
            if container is None:  # nothing is published yet: try again
                raise PlatformError(Decision.RETRY, "the reply container's answer holds no id")
            await ctx.save(**{CONTAINER: container})
        await ctx.mark_sent()
        body = await graph.post(
            f"{user}/{self.api.publish}", {"creation_id": container}, irreversible=True
        )
        reply_id = usable_id(body.get("id"))
        if reply_id is None:
            raise PlatformError(Decision.UNKNOWN, "the reply's answer holds no id")
        return reply_id

    async def _usable_container(self, ctx: CommentContext, graph: GraphClient) -> str | None:
        """The saved reply container when it can still be published; None: make a new one."""
        container = ctx.saved_ids.get(CONTAINER)
        if not container:
            return None
        state = await self._status(graph, str(container))
        if state.code == PUBLISHED:
            # Published by an earlier try whose answer was lost: never publish it twice.
            raise OutcomeUnclear(
                f"the reply's container {container} is PUBLISHED and the reply is not listed "
                "yet: looked for again later"
            )
        if state.code in NOT_SETTLED:
            raise PlatformError(
                Decision.RETRY, f"the reply's container {container} is {state.code}"
            )
        if state.code == FINISHED:
            return str(container)
        await ctx.save(**{CONTAINER: None})  # ERROR or EXPIRED: a new container
        return None

    async def find_comment(self, ctx: CommentContext) -> str | None:
        return await find_listed(
            self.client(ctx.http, ctx.account),
            f"{self.comment_target(ctx)}/replies",
            {"fields": REPLY_FIELDS},
            lambda item: _ours(item, ctx),
        )


def _ours(item: dict[str, Any], ctx: CommentContext) -> bool:
    if item.get("is_reply_owned_by_me") is False:
        return False
    return is_ours(
        text=str(item.get("text") or ""),
        created=parse_time(item.get("timestamp")),
        message=ctx.message,
        since=ctx.sent_since,
        author=None,
        account_id=ctx.account.platform_account_id,
    )
