"""Instagram publishing: containers, then media_publish, on the account's login's host.

An account connected with Facebook Login publishes on STUDIO_PUBLISH_GRAPH_API_BASE
(graph.facebook.com), one connected with Instagram Login on STUDIO_PUBLISH_INSTAGRAM_API_BASE
(graph.instagram.com): "the same endpoints" on both hosts, /{ig-user-id}/media,
/media_publish, the container status and content_publishing_limit
(https://developers.facebook.com/docs/instagram-platform/content-publishing/), and only
Instagram Login's long-lived tokens refresh (``refresh_token``).

The flow and its saved ids (``ig_container_id``, ``ig_children``, ``ig_publish_sent_at``,
``ig_media_id``) are Meta's container publishing (graph/containers.py); this module says
what an Instagram container holds
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media/).
"""

from __future__ import annotations

from pathlib import Path

import httpx

from studio_publish.domain import Account, Post, Published, TokenGrant
from studio_publish.platforms.base import CommentContext, Decision, PlatformError, PublishContext
from studio_publish.platforms.graph import comments
from studio_publish.platforms.graph.client import GraphClient
from studio_publish.platforms.graph.containers import ContainerApi, ContainerPlatform
from studio_publish.platforms.graph.rupload import resume_offset, upload_file
from studio_publish.platforms.instagram import SPEC
from studio_publish.platforms.media import local_path

RESUMABLE_DOC = (
    "https://developers.facebook.com/docs/instagram-platform/content-publishing/resumable-uploads"
)

API = ContainerApi(
    name="Instagram",
    key_prefix="ig",
    create="media",
    publish="media_publish",
    quota="content_publishing_limit",
    quota_code="9/2207042",
    listing="media",
    # status_code is the state; status carries the error subcode of an ERROR.
    status_fields=("status_code", "status"),
    text_field="caption",
)


def _with_caption(params: dict[str, str], caption: str) -> dict[str, str]:
    return {**params, "caption": caption} if caption else params


def _with_alt_text(params: dict[str, str], post: Post) -> dict[str, str]:
    """``alt_text`` goes on image containers only: "On March 24, 2025, we introduced the new
    alt_text field for image posts on the /<IG_ID>/media endpoint"
    (https://developers.facebook.com/docs/instagram-platform/content-publishing/); reels and
    stories do not take it. A carousel's images are image containers on the same endpoint,
    so each carries the post's one alt_text; its video items and the parent do not.
    """
    alt_text = post.options.get("alt_text")
    return {**params, "alt_text": str(alt_text)} if alt_text not in (None, "") else params


def _uploads(post: Post) -> bool:
    """A reel or story whose video is a local file: sent with the resumable upload."""
    return (
        post.post_type in ("reel", "story")
        and post.media[0].kind == "video"
        and post.media[0].is_local
    )


class InstagramPlatform(comments.GraphComments, ContainerPlatform):
    name = "instagram"
    api = API
    comment_api = comments.INSTAGRAM  # first comments (graph/comments.py)

    def comment_target(self, ctx: CommentContext) -> str:
        return self.published_media_id(ctx)

    async def publish(self, ctx: PublishContext) -> Published:
        login = self.login(ctx.account)
        if _uploads(ctx.post) and login.name not in SPEC.media["video"].local_logins:
            raise PlatformError(
                Decision.INVALID,
                f"media: an account connected with {login.display_name} takes videos only as "
                f"public URLs: Instagram's resumable upload of a local file is for Facebook "
                f"Login only ({RESUMABLE_DOC}); nothing was sent",
            )
        if _uploads(ctx.post) and not self._saved(ctx, "container_id"):
            self._video_file(ctx.post)  # refused (root, size) before a container is made
        return await super().publish(ctx)

    def _video_file(self, post: Post) -> Path:
        """The local video, checked again as it is read (media root, the type's size)."""
        cap = SPEC.upload_cap(post.post_type, "video")
        return local_path(post.media[0], self.settings.media_policy(), max_bytes=cap)

    async def upload(self, ctx: PublishContext, graph: GraphClient, container: str) -> None:
        """The resumable upload's step 2 (module docstring of graph/rupload.py): the file
        streamed to ``{rupload}/ig-api-upload/{version}/{container}``, from the offset the
        container's ``video_status.uploading_phase.bytes_transferred`` reports (the guide's
        "resume your upload in Step 2 with offset=..."), 0 for a new container."""
        if not _uploads(ctx.post) or self._saved(ctx, "uploaded"):
            return
        post = ctx.post
        path = self._video_file(post)
        body = await graph.get(container, fields="video_status")
        offset = resume_offset(body.get("video_status"), path.stat().st_size)
        if offset is not None:
            await upload_file(
                ctx.http,
                self.rupload_url("ig-api-upload", container),
                ctx.account.access_token,
                path,
                offset=offset,
                what=f"POST ig-api-upload ({post.post_type})",
                timeout=self.settings.http_timeout_seconds,
            )
        await self._save(ctx, uploaded=True)

    def child_params(self, post: Post, kind: str, url: str) -> dict[str, str]:
        # Carousel children take no caption; video children are VIDEO (REELS cannot be children).
        if kind == "video":
            return {"media_type": "VIDEO", "video_url": url, "is_carousel_item": "true"}
        return _with_alt_text({"image_url": url, "is_carousel_item": "true"}, post)

    def container_params(self, post: Post, children: list[str]) -> dict[str, str]:
        """The parameters of the container that media_publish will publish."""
        media = post.media[0]
        if post.post_type == "carousel":
            params = {"media_type": "CAROUSEL", "children": ",".join(children)}
            return _with_caption(params, post.caption)
        # A local video's container is made for the resumable upload: no URL, the file follows.
        source = {"upload_type": "resumable"} if _uploads(post) else {"video_url": media.url}
        if post.post_type == "story":
            if media.kind == "video":
                return {"media_type": "STORIES", **source}
            return {"media_type": "STORIES", "image_url": media.url}
        if post.post_type == "image":
            return _with_alt_text(_with_caption({"image_url": media.url}, post.caption), post)
        # Standalone VIDEO stopped working in 2023: a video post is a reel.
        share = post.options.get("share_to_feed", True)
        params = {"media_type": "REELS", **source}
        params["share_to_feed"] = "true" if share not in (False, "false", "0", 0) else "false"
        for key in ("cover_url", "thumb_offset"):
            if post.options.get(key) not in (None, ""):
                params[key] = str(post.options[key])
        return _with_caption(params, post.caption)

    def listing(self, post: Post) -> str:
        return "stories" if post.post_type == "story" else "media"

    def ready_at_once(self, post: Post) -> bool:
        # An image container is FINISHED at once, or the publish answers 9007 and the status is
        # read then: https://developers.facebook.com/docs/instagram-platform/content-publishing/
        # ("publish when its status is FINISHED", error 9007 / 2207027). Videos take minutes.
        return post.post_type in ("image", "story") and post.media[0].kind == "image"

    async def refresh_token(self, account: Account, http: httpx.AsyncClient) -> TokenGrant:
        """An Instagram Login token refreshes itself: ``GET /refresh_access_token
        ?grant_type=ig_refresh_token&access_token=...`` on graph.instagram.com answers
        ``{access_token, token_type, expires_in}``, valid 60 days from then
        (https://developers.facebook.com/docs/instagram-platform/reference/refresh_access_token).
        Meta documents it as a GET only ("Creating: This operation is not supported"), so
        the token goes in its query. A Facebook Login token has no refresh grant."""
        if not self.login(account).refreshes_tokens:
            return await super().refresh_token(account, http)
        return await self.refresh_itself(
            account,
            http,
            grant_type="ig_refresh_token",
            what="Instagram token refresh",
            in_query=True,
        )
