"""Facebook Page publishing: text/link posts, one or several photos, video by URL.

Every call is made with the account's token, which must be a Page access token: the Video
API's publishing guide asks for "A Page access token requested by a person who can perform
the CREATE_CONTENT task on the Page" (https://developers.facebook.com/docs/video-api/guides/publishing),
and the Pages API the same for posts (https://developers.facebook.com/docs/pages-api/posts).
A user token is refused (#200, #210); the refusal says so (`_page_token_hint`).

The id stored for every post is the Page post's, ``{page-id}_{post-id}``: /feed answers it
as ``id``, /photos as ``post_id`` (its ``id`` is the photo's). /videos answers only
``{"id": "<VIDEO_ID>"}`` (the publishing guide above), so the video is read for its
``post_id`` and ``permalink_url`` (the Video node,
https://developers.facebook.com/docs/graph-api/reference/video/); where Meta gives no
post_id the video id stands in.

A video's caption is ``description`` (the guide's parameter; /videos has no ``message``), a
photo's ``caption`` (the Page Photos reference says ``message`` is "Deprecated. Please use
the caption param instead", https://developers.facebook.com/docs/graph-api/reference/page/photos/),
and a feed post's ``message``.

Saved ids (``ctx.save``), each before the next call:
  ``fb_photo_ids``        unpublished photo ids of a multi-photo post, grown one at a time
                          (unpublished photos are invisible, so they are reused, not redone)
  ``fb_publish_sent_at``  ISO time, saved just before the call that makes the post visible
                          (/feed, /photos or /videos), cleared again on a clear refusal
  ``fb_video_id``         the video id /videos answered, before its post id is read
  ``fb_post_id``          the published Page post id (a video's id where Meta gives no other)

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
from studio_publish.ids import platform_id_problem
from studio_publish.platforms.base import (
    Decision,
    PlatformError,
    PublishContext,
    ReconcileStatus,
    Reconciliation,
)
from studio_publish.platforms.clock import iso, parse_time
from studio_publish.platforms.facebook import SPEC
from studio_publish.platforms.graph.client import GraphClient, GraphPlatform, not_found
from studio_publish.platforms.graph.errors import GraphError
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


def page_post_id(page: str, post_id: object) -> str | None:
    """A Page post id as ``{page-id}_{post-id}``, the form /feed and /photos answer, from a
    Video's ``post_id`` (given either way); None when it is missing or not id-shaped."""
    if post_id in (None, "") or platform_id_problem(post_id) is not None:
        return None
    text = str(post_id)
    return text if "_" in text else f"{page}_{text}"


# Graph's "a Page token is needed" refusals of a user token: #210 "A page access token is
# required to request this resource", #200 (the pages_* permissions "as an admin"), and
# #190 "This method must be called with a Page Access Token".
_PAGE_TOKEN_CODES = (200, 210)
PAGE_TOKEN_HINT = (
    "; Facebook Pages publish with a Page access token: get it from GET /me/accounts (the "
    "Page's access_token) with the user token of a person who can do CREATE_CONTENT on the "
    "Page, then `studio-publish accounts reauth`"
)


def _page_token_hint(error: PlatformError) -> None:
    """Add how to get a Page token to ``error`` when it refuses a token that is not one."""
    if not isinstance(error, GraphError) or error.decision is not Decision.REAUTH:
        return
    asks_page_token = error.graph_code in _PAGE_TOKEN_CODES or (
        error.graph_code == 190 and "page access token" in error.message.lower()
    )
    if asks_page_token and PAGE_TOKEN_HINT not in error.message:
        error.message += PAGE_TOKEN_HINT
        error.args = (error.message,)


class FacebookPlatform(GraphPlatform):
    name = "facebook"

    async def prepare(self, ctx: PublishContext) -> None:
        """Nothing to read first: the post passed validation.check_stored_post already."""

    def _local_photo(self, item: Media) -> Path:
        """A photo file, checked again as it is read (media root, size cap)."""
        policy = self.settings.media_policy()
        return local_path(item, policy, max_bytes=SPEC.media["image"].max_bytes)

    async def publish(self, ctx: PublishContext) -> Published:
        try:
            return await self._publish(ctx)
        except PlatformError as exc:
            _page_token_hint(exc)
            raise

    async def _publish(self, ctx: PublishContext) -> Published:
        graph = self.client(ctx.http, ctx.account)
        if ctx.saved_ids.get("fb_post_id"):
            return await self._with_permalink(graph, str(ctx.saved_ids["fb_post_id"]))
        if ctx.saved_ids.get("fb_video_id"):  # live: only its post id was not read yet
            return await self._saved_video(ctx, graph, str(ctx.saved_ids["fb_video_id"]))
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
            # A video's text is its description: the publishing guide's parameter.
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
        try:
            return await self._reconcile(ctx)
        except PlatformError as exc:
            _page_token_hint(exc)
            raise

    async def _reconcile(self, ctx: PublishContext) -> Reconciliation:
        graph = self.client(ctx.http, ctx.account)
        if ctx.saved_ids.get("fb_post_id"):
            published = await self._with_permalink(graph, str(ctx.saved_ids["fb_post_id"]))
            return Reconciliation(ReconcileStatus.LIVE, published, reason="post id saved")
        if ctx.saved_ids.get("fb_video_id"):
            published = await self._saved_video(ctx, graph, str(ctx.saved_ids["fb_video_id"]))
            return Reconciliation(ReconcileStatus.LIVE, published, reason="video id saved")
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
        data = {"caption": ctx.post.caption}  # "message" is deprecated on /photos
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
        if is_video_post(ctx.post):
            # /videos answers {id: video} only: the Page post id is the video's to tell.
            video_id = str(body["id"])
            await ctx.save(fb_video_id=video_id)
            return await self._saved_video(ctx, graph, video_id)
        # /photos answers {id: photo, post_id: page post}: the post is what was published.
        post_id = str(body.get("post_id") or body["id"])
        await ctx.save(fb_post_id=post_id)
        return await self._with_permalink(graph, post_id)

    async def _saved_video(
        self, ctx: PublishContext, graph: GraphClient, video_id: str
    ) -> Published:
        published = await self._video_post(graph, ctx.account.platform_account_id, video_id)
        await ctx.save(fb_post_id=published.platform_post_id)
        return published

    async def _video_post(self, graph: GraphClient, page: str, video_id: str) -> Published:
        """A live video as its Page post: the post id and permalink the Video node gives."""
        try:  # the video is live whatever happens here: a failed read only loses detail
            body = await graph.get(video_id, fields="permalink_url,post_id")
        except PlatformError as exc:
            if not_found(exc):  # a Graph version without post_id on Video: the link alone
                return await self._with_permalink(graph, video_id)
            return Published(video_id)
        post_id = page_post_id(page, body.get("post_id")) or video_id
        return Published(post_id, _absolute(body.get("permalink_url")))

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
                if is_video_post(post):  # a video id: its Page post is what is stored
                    return await self._video_post(graph, page, str(item["id"]))
                return Published(str(item["id"]), _absolute(item.get("permalink_url")))
        return None
