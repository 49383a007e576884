"""Facebook Page publishing: text/link posts, one or several photos, video by URL.

Saved ids (``ctx.save``), each before the next call:
  ``fb_photo_ids``        unpublished photo ids of a multi-photo post, grown one at a time
                          (unpublished photos are invisible, so they are reused, not redone)
  ``fb_publish_sent_at``  ISO time, saved just before the call that makes the post visible
                          (/feed, /photos or /videos), cleared again on a clear refusal
  ``fb_post_id``          the published post id (a video's id for video posts)

After an unclear answer to the visible call, the Page's recent posts (or videos) are
searched for the caption before anything else. Not finding it is *not* taken as proof it
was never posted: the edge is eventually consistent, so the outcome is UNKNOWN.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

from studio_publish.domain import Media, Post, Published
from studio_publish.platforms.base import (
    Decision,
    PlatformError,
    PublishContext,
    ReconcileStatus,
    Reconciliation,
)
from studio_publish.platforms.clock import iso, parse_time
from studio_publish.platforms.facebook import SPEC
from studio_publish.platforms.graph.client import GraphClient, GraphPlatform
from studio_publish.platforms.media import file_name, image_content_type, local_path
from studio_publish.platforms.transport import OutcomeUnclear

FACEBOOK = "https://www.facebook.com"
SEARCH_TRIES = 3  # right after an unclear answer, give the posts edge a moment to catch up
SEARCH_SLACK = dt.timedelta(minutes=1)  # clock skew between our database and Meta


def _fail(message: str) -> PlatformError:
    return PlatformError(Decision.FAIL, message)


def is_video_post(post: Post) -> bool:
    return post.post_type in ("video", "reel")


def _absolute(link: str | None) -> str | None:
    # Video permalink_url is relative ("/page/videos/123/"); post permalinks are absolute.
    if link and link.startswith("/"):
        return FACEBOOK + link
    return link or None


class FacebookPlatform(GraphPlatform):
    name = "facebook"

    async def prepare(self, ctx: PublishContext) -> None:
        """Nothing to read first: the post passed validation.check_stored_post already."""

    def _local_photo(self, item: Media) -> Path:
        """A photo file, checked again as it is read (media root, size cap)."""
        policy = self.settings.media_policy()
        return local_path(item, policy, max_bytes=SPEC.media["image"].max_bytes)

    async def publish(self, ctx: PublishContext) -> Published:
        graph = self.client(ctx.http, ctx.account)
        if ctx.saved_ids.get("fb_post_id"):
            return await self._with_permalink(graph, str(ctx.saved_ids["fb_post_id"]))
        if ctx.saved_ids.get("fb_publish_sent_at"):
            # An earlier attempt may have posted: look before doing anything else.
            found = await self._find(ctx, graph, tries=1)
            if found:
                return found
            raise PlatformError(
                Decision.UNKNOWN,
                "an earlier attempt may have published this post and it is not found on the Page",
            )
        post, page = ctx.post, ctx.account.platform_account_id
        if post.post_type == "text":
            data = {"message": post.caption}
            if post.options.get("link"):
                data["link"] = str(post.options["link"])
            return await self._go_live(ctx, graph, f"{page}/feed", data)
        if is_video_post(post):
            data = {"file_url": post.media[0].url, "description": post.caption}
            if post.options.get("title"):
                data["title"] = str(post.options["title"])
            return await self._go_live(ctx, graph, f"{page}/videos", data)
        if len(post.media) == 1:
            return await self._single_photo(ctx, graph)
        photo_ids = await self._unpublished_photos(ctx, graph)
        data = {"message": post.caption}
        for index, photo_id in enumerate(photo_ids):  # the documented form encoding
            data[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
        return await self._go_live(ctx, graph, f"{page}/feed", data)

    async def reconcile(self, ctx: PublishContext) -> Reconciliation:
        graph = self.client(ctx.http, ctx.account)
        if ctx.saved_ids.get("fb_post_id"):
            published = await self._with_permalink(graph, str(ctx.saved_ids["fb_post_id"]))
            return Reconciliation(ReconcileStatus.LIVE, published, reason="post id saved")
        if not ctx.saved_ids.get("fb_publish_sent_at"):
            return Reconciliation(ReconcileStatus.NOT_LIVE, reason="the post was never sent")
        found = await self._find(ctx, graph, tries=1)
        if found:
            return Reconciliation(ReconcileStatus.LIVE, found, reason="found on the Page")
        return Reconciliation(
            ReconcileStatus.UNKNOWN, reason="sent with an unclear answer; not found on the Page"
        )

    # -- calls ------------------------------------------------------------------------------

    async def _single_photo(self, ctx: PublishContext, graph: GraphClient) -> Published:
        item, path = ctx.post.media[0], f"{ctx.account.platform_account_id}/photos"
        data = {"caption": ctx.post.caption}  # FB-photo's field; "message" is UNCONFIRMED
        if not item.is_local:
            return await self._go_live(ctx, graph, path, {**data, "url": item.url})
        file = self._local_photo(item)
        with file.open("rb") as handle:  # httpx streams the multipart body from the handle
            files = {"source": (file.name, handle, image_content_type(file.name))}
            return await self._go_live(ctx, graph, path, data, files=files)

    async def _unpublished_photos(self, ctx: PublishContext, graph: GraphClient) -> list[str]:
        photo_ids = list(ctx.saved_ids.get("fb_photo_ids") or [])
        path = f"{ctx.account.platform_account_id}/photos"
        for item in ctx.post.media[len(photo_ids) :]:
            data = {"published": "false"}
            if item.is_local:
                file = self._local_photo(item)
                with file.open("rb") as handle:
                    files = {"source": (file_name(item.url), handle, image_content_type(item.url))}
                    body = await graph.post(path, data, files=files)
            else:
                body = await graph.post(path, {**data, "url": item.url})
            photo_ids.append(str(body["id"]))
            await ctx.save(fb_photo_ids=list(photo_ids))
        return photo_ids

    async def _go_live(
        self,
        ctx: PublishContext,
        graph: GraphClient,
        path: str,
        data: dict[str, str],
        *,
        files: dict[str, Any] | None = None,
    ) -> Published:
        """The one call that makes the post visible: never repeated blindly."""
        await ctx.save(fb_publish_sent_at=iso(self.clock()))
        try:
            body = await graph.post(path, data, files=files, irreversible=True)
        except OutcomeUnclear as unclear:
            found = await self._find(ctx, graph, tries=SEARCH_TRIES)
            if found:
                return found
            raise PlatformError(
                Decision.UNKNOWN,
                f"{unclear.message}; the post is not (yet) found on the Page",
                code=unclear.code,
                http_status=unclear.http_status,
            ) from unclear
        except PlatformError:
            await ctx.save(fb_publish_sent_at=None)  # a clear answer: nothing was posted
            raise
        # /photos answers {id: photo, post_id: page post}: the post is what was published.
        post_id = str(body.get("post_id") or body["id"])
        await ctx.save(fb_post_id=post_id)
        return await self._with_permalink(graph, post_id)

    async def _with_permalink(self, graph: GraphClient, post_id: str) -> Published:
        try:  # the post is live whatever happens here: a failed read only loses the link
            body = await graph.get(post_id, fields="permalink_url")
        except PlatformError:
            return Published(post_id)
        return Published(post_id, _absolute(body.get("permalink_url")))

    # -- finding a post after an unclear answer ----------------------------------------------

    async def _find(
        self, ctx: PublishContext, graph: GraphClient, *, tries: int
    ) -> Published | None:
        for attempt in range(tries):
            if attempt:
                await asyncio.sleep(self.settings.poll_interval_seconds)
            try:
                found = await self._search(ctx, graph)
            except PlatformError:
                found = None  # a failed search proves nothing either way
            if found:
                await ctx.save(fb_post_id=found.platform_post_id)
                return found
        return None

    async def _search(self, ctx: PublishContext, graph: GraphClient) -> Published | None:
        post = ctx.post
        if not post.caption.strip():
            return None  # nothing to match on: an empty-caption post cannot be told apart
        # The earlier of the two: reconcile may run in a later attempt than the one that sent.
        moments = [post.attempt_started_at, parse_time(ctx.saved_ids.get("fb_publish_sent_at"))]
        since = min((m for m in moments if m is not None), default=None)
        params: dict[str, str | int] = {}
        if since is not None:
            params["since"] = int((since - SEARCH_SLACK).timestamp())
        page = ctx.account.platform_account_id
        if is_video_post(post):
            fields, text_field = "id,description,created_time,permalink_url", "description"
            body = await graph.get(f"{page}/videos", fields=fields, **params)
        else:
            fields, text_field = "id,message,created_time,permalink_url", "message"
            body = await graph.get(f"{page}/posts", fields=fields, **params)
        for item in body.get("data") or []:
            if (item.get(text_field) or "").strip() == post.caption.strip():
                return Published(str(item["id"]), _absolute(item.get("permalink_url")))
        return None
