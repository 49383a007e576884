"""The Instagram stand-in: the Content Publishing subset of the Instagram Graph API.

Shapes follow https://developers.facebook.com/docs/instagram-platform/content-publishing/
and the IG User and IG Container references under
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/
(ig-user/media, ig-user/media_publish, ig-user/content_publishing_limit, ig-container).
Where the sandbox is deliberately stricter or looser than Meta it says so in a comment.

URLs (``url`` is ``http://HOST:PORT``), on the Graph host it shares with Facebook (see
``graph_common``), -> STUDIO_PUBLISH_GRAPH_API_BASE = {url}/graph/v25.0, and the same under
{url}/instagram/v25.0, graph.instagram.com's stand-in for accounts connected with Instagram
Login -> STUDIO_PUBLISH_INSTAGRAM_API_BASE ("the same endpoints" on both hosts,
https://developers.facebook.com/docs/instagram-platform/content-publishing/)::

    POST {url}/graph/v25.0/{ig-user-id}/media                     graph.media
    POST {url}/graph/v25.0/{ig-user-id}/media_publish             graph.media_publish
    GET  {url}/graph/v25.0/{ig-user-id}/content_publishing_limit  graph.content_publishing_limit
    GET  {url}/graph/v25.0/{ig-user-id}/media                     graph.media_list
    GET  {url}/graph/v25.0/{container-id}                         graph.container_status
    GET  {url}/graph/v25.0/{media-id}                             graph.object
    GET  {url}/instagram/refresh_access_token                     instagram.refresh
    POST {url}/rupload/ig-api-upload/v25.0/{container-id}         rupload.ig_api_upload
         -> STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE = {url}/rupload (shared with Facebook)
    POST {url}/graph/v25.0/{media-id}/comments?message=...        graph.comments
    GET  {url}/graph/v25.0/{media-id}/comments                    graph.comments_list

A container made with ``upload_type=resumable`` (a local reel's or story's video) stays
IN_PROGRESS until its file has all arrived on rupload (``offset``, ``file_size``, the bytes;
graph_common.receive), its status showing ``video_status.uploading_phase.bytes_transferred``
(https://developers.facebook.com/docs/instagram-platform/content-publishing/resumable-uploads);
then it is processed as any video container.

Comments follow https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments:
``{"id": ...}`` for a new one; the listing's comments carry id, text, timestamp, username,
from (an id scoped to the app, not the IG user id, and the username), like_count, hidden.

The refresh is Instagram Login's: ``?grant_type=ig_refresh_token&access_token=...`` (the one
call documented with the token in the query) answers ``{access_token, token_type,
expires_in}``, for a token "at least 24 hours old but has not expired"
(https://developers.facebook.com/docs/instagram-platform/reference/refresh_access_token).
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from typing import Any, ClassVar

from studio_publish.sandbox.standins.comments import Comment, CommentBox, comments_route
from studio_publish.sandbox.standins.containers import (
    CAROUSEL,
    ERROR,
    EXPIRED,
    FINISHED,
    IN_PROGRESS,
    PUBLISHED,
    Container,
    ContainerStandIn,
    Draft,
    Flow,
    Refusals,
)
from studio_publish.sandbox.standins.graph_common import (
    FACEBOOK_LOGIN_TOKEN,
    GRAPH_VERSION,
    INSTAGRAM_LOGIN_PREFIX,
    PREFIX,
    UPLOAD_PREFIX,
    Node,
    Refusal,
    cannot_parse,
    graph_error,
    graph_time,
    receive,
    rupload_error,
)
from studio_publish.sandbox.wire import (
    Grant,
    Request,
    Response,
    Route,
    as_bool,
    as_int,
    as_str,
    token_digest,
)

PLATFORM = "instagram"
CAPTION_MAX = 2200
HASHTAGS_MAX = 30
MENTIONS_MAX = 20

_STATUS_TEXT = {
    IN_PROGRESS: "In Progress: Media is still being processed.",
    FINISHED: "Finished: Media has been uploaded and it is ready to be published.",
    PUBLISHED: "Published: Media has been successfully published.",
    ERROR: "Error: Media upload has failed with error code {subcode}",
    EXPIRED: "Expired: The media container was not published within 24 hours.",
}
_MEDIA_FIELDS = {"id", "permalink", "timestamp", "caption", "media_type", "media_product_type"}
# A published container's media_type, media_product_type, permalink path and ledger kind,
# by the container's media_type (None: a single image).
_PUBLISHED_AS = {
    None: ("IMAGE", "FEED", "p", "image"),
    CAROUSEL: ("CAROUSEL_ALBUM", "FEED", "p", "carousel"),
    "REELS": ("VIDEO", "REELS", "reel", "reel"),
    "STORIES": ("IMAGE", "STORY", "stories/sandbox", "story"),
}
_NOT_FOUND = Refusal(24, "The media with this id does not exist.", 2207006)
REFRESH = f"{INSTAGRAM_LOGIN_PREFIX}.refresh"
IG_UPLOAD = "rupload.ig_api_upload"
TOKEN_LIFETIME = 60 * 86400  # a refreshed long-lived token: 60 days from the refresh
REFRESHABLE_AGE = 86400.0  # "at least 24 hours old"
_NOT_READY = Refusal(9007, "The media is not ready for publishing, please wait.", 2207027)


class InstagramStandIn(ContainerStandIn):
    platforms = (PLATFORM,)
    # graph.facebook.com's prefix, shared with Facebook, and graph.instagram.com's, its own.
    # And rupload's, shared with Facebook: ig-api-upload is Instagram's.
    prefixes: ClassVar[tuple[str, ...]] = (PREFIX, INSTAGRAM_LOGIN_PREFIX, UPLOAD_PREFIX)
    usage_type = "instagram"
    # Its endpoints are named after its edges, not after the calls.
    flow = Flow(
        PREFIX,
        "media",
        "media_publish",
        "content_publishing_limit",
        create="graph.media",
        listing="graph.media_list",
        publish="graph.media_publish",
        limit="graph.content_publishing_limit",
    )
    endpoints = (*flow.endpoints, REFRESH, IG_UPLOAD, "graph.comments", "graph.comments_list")
    actions = frozenset({flow.publish, "graph.comments"})  # an upload makes nothing visible
    state_field = "status_code"
    comment_node = Node(
        "IGComment",
        {"id", "text", "timestamp", "username", "from", "like_count", "hidden"},
        ("id", "text", "timestamp"),
    )
    container_node = Node("IGContainer", {"id", "status_code", "status", "video_status"})
    media_node = Node("IGMedia", {*_MEDIA_FIELDS, "shortcode"})
    listed_node = Node("IGMedia", _MEDIA_FIELDS, ("id", "permalink", "timestamp", "caption"))
    user_node = Node("IGUser", {"quota_usage", "config", "rate_limit_settings"})
    refusals = Refusals(
        carousel_size=Refusal(100, "The carousel must contain between 2 and 10 items.", 2207028),
        unknown_child=_NOT_FOUND,
        child_not_ready=_NOT_READY,
        unknown=_NOT_FOUND,
        carousel_item=Refusal(100, "(#100) A carousel item cannot be published on its own."),
        not_ready={
            IN_PROGRESS: _NOT_READY,
            EXPIRED: Refusal(-2, "The media container has expired.", 2207020),
            ERROR: Refusal(-1, "The media container failed to process.", 2207032),
        },
        used_up=Refusal(
            9, "Application request limit reached: the publishing limit is used up.", 2207042
        ),
    )
    carousel_children = (2, 10)
    container_ids, media_ids = "17", "18"

    def quota(self) -> tuple[int, int]:
        return self.knobs.quota_total, self.knobs.quota_duration

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._issued: dict[str, float] = {}  # refreshed token digest -> when it was issued
            self._comments = CommentBox(PLATFORM, self.ledger)

    # ---- comments ---------------------------------------------------------------------

    def comments_route(self, req: Request, object_id: str) -> Route | None:
        with self._lock:
            media = self._media.get(object_id)
        if media is None:
            return None
        return comments_route(
            req,
            self._comments,
            object_id,
            media.account,
            max_length=CAPTION_MAX,
            new_id=lambda: self.ids.next("179"),
            node=self.comment_node,
            record=self._comment_record,
        )

    def _comment_record(self, c: Comment) -> dict[str, Any]:
        return {
            "id": c.id,
            "text": c.text,
            "timestamp": graph_time(c.created),
            "username": "sandbox",
            "from": {"id": f"9{c.account}", "username": "sandbox"},  # an app-scoped id
            "like_count": 0,
            "hidden": False,
        }

    def route(self, req: Request, parts: list[str]) -> Route | None:
        # The token endpoint carries no version, and its token comes in the query.
        if parts == [INSTAGRAM_LOGIN_PREFIX, "refresh_access_token"] and req.method == "GET":
            return Route(REFRESH, self.refresh, account=None, needs_auth=False, token_in_query=True)
        if parts[0] == UPLOAD_PREFIX:
            # rupload/ig-api-upload/{version}/{container}, the token as "OAuth <token>".
            if len(parts) != 4 or parts[1] != "ig-api-upload" or req.method != "POST":
                return None
            with self._lock:
                c = self._containers.get(parts[3])
            local = req.header("file_url") is None
            account = c.account if c is not None else None
            return Route(IG_UPLOAD, self.ig_upload, account=account, stream=local)
        return super().route(req, parts)

    def bases(self, url: str) -> dict[str, str]:
        instagram_login = f"{url}/{INSTAGRAM_LOGIN_PREFIX}/{GRAPH_VERSION}"
        return {**super().bases(url), INSTAGRAM_LOGIN_PREFIX: instagram_login}

    # ---- tokens -----------------------------------------------------------------------

    def refresh(self, req: Request, who: str) -> Response:
        """ig_refresh_token: a long-lived Instagram Login token for a new one, 60 days.

        A token the sandbox issued less than 24 hours ago is refused (Meta documents the
        rule, not its answer: the sandbox says 190, so a second refresh shows). The old token
        can be refreshed only once (Meta does not say; the sandbox is strict)."""
        if as_str(req.params.get("grant_type")) != "ig_refresh_token":
            raise graph_error(100, "(#100) grant_type must be ig_refresh_token")
        token = as_str(req.params.get("access_token")) or ""
        if not token:
            raise self.token_error("missing")
        if token.startswith(FACEBOOK_LOGIN_TOKEN) and self.knobs.instagram_login_tokens_refused:
            raise cannot_parse()
        check = self.accounts.check(token, self.realm)
        if check.problem is not None:
            raise self.token_error(check.problem)
        now = time.time()
        with self._lock:
            issued = self._issued.get(token_digest(token))
        if issued is not None and now - issued < REFRESHABLE_AGE:
            raise graph_error(
                190, "(sandbox) The access token is less than 24 hours old: it cannot be refreshed"
            )
        new = "IGAA" + secrets.token_urlsafe(24)
        grant = Grant(new, new, TOKEN_LIFETIME, TOKEN_LIFETIME)
        owner = check.account_id or "sandbox-instagram-user"
        if self.accounts.rotate_refresh(token, grant, realm=self.realm, anonymous=owner) is None:
            raise self.token_error("expired")  # already exchanged: like an expired one
        with self._lock:
            self._issued[token_digest(new)] = now
        return Response(
            200, {"access_token": new, "token_type": "bearer", "expires_in": TOKEN_LIFETIME}
        )

    # ---- containers -------------------------------------------------------------------

    def draft(self, p: dict[str, Any]) -> Draft:
        media_type = (as_str(p.get("media_type")) or "").upper() or None
        is_item = as_bool(p.get("is_carousel_item"), False)
        caption = as_str(p.get("caption")) or ""
        image_url = as_str(p.get("image_url"))
        video_url = as_str(p.get("video_url"))
        # The resumable upload (https://developers.facebook.com/docs/instagram-platform/
        # content-publishing/resumable-uploads): no URL, the video follows on rupload.
        resumable = as_str(p.get("upload_type")) == "resumable"
        if resumable and (media_type not in ("REELS", "STORIES", "VIDEO") or video_url):
            raise graph_error(
                100, "(#100) upload_type=resumable takes a REELS, STORIES or VIDEO container"
            )
        if media_type not in (None, CAROUSEL, "REELS", "STORIES", "VIDEO"):
            raise graph_error(100, "The media type is unknown.", subcode=2207023)
        if media_type == "VIDEO" and not is_item:
            # Standalone VIDEO stopped working in 2023; VIDEO survives for carousel children.
            raise graph_error(
                100,
                "The VIDEO media_type is no longer supported; use REELS.",
                subcode=2207023,
            )
        if is_item and media_type in (CAROUSEL, "REELS", "STORIES"):
            raise graph_error(
                100, f"A {media_type} container cannot be a carousel item.", subcode=2207023
            )
        if is_item and caption:
            raise graph_error(
                100, "(#100) Carousel items cannot have a caption; caption the parent."
            )
        self._check_caption(caption)
        for name in ("image_url", "video_url", "cover_url"):
            url = as_str(p.get(name))
            if url is not None and not url.startswith(("http://", "https://")):
                raise graph_error(9004, "Media could not be fetched from the URI.", subcode=2207052)
        thumb = p.get("thumb_offset")
        if thumb not in (None, "") and (as_int(thumb) is None or (as_int(thumb) or 0) < 0):
            raise graph_error(
                1, "The thumb_offset is out of range.", subcode=2207057, http_status=400
            )
        # A carousel's children are the flow's to check.
        if resumable:
            pass
        elif media_type in ("REELS", "VIDEO"):
            if not video_url:
                raise graph_error(100, "(#100) The parameter video_url is required")
        elif media_type == "STORIES":
            if not (image_url or video_url):
                raise graph_error(100, "(#100) The parameter image_url or video_url is required")
        elif media_type is None:
            if video_url and not image_url:
                raise graph_error(
                    100, "(#100) video_url requires media_type REELS or STORIES", subcode=2207023
                )
            if not image_url:
                raise graph_error(100, "(#100) The parameter image_url is required")
        # Image containers are FINISHED at once, as Meta's usually are; videos take time.
        image = media_type is None or (media_type == "STORIES" and not video_url and not resumable)
        return Draft(media_type, caption, is_item, instant=image, resumable=resumable)

    @staticmethod
    def _check_caption(caption: str) -> None:
        if len(caption) > CAPTION_MAX:
            raise graph_error(
                36004, "The caption is too long (at most 2200 characters).", subcode=2207010
            )
        if len(re.findall(r"#\w", caption)) > HASHTAGS_MAX:
            raise graph_error(100, "The caption has more than 30 hashtags.", subcode=2207040)
        if len(re.findall(r"@\w", caption)) > MENTIONS_MAX:
            raise graph_error(100, "The caption tags more than 20 accounts.", subcode=2207040)

    def status_fields(self, c: Container, status: str) -> dict[str, Any]:
        # An ERROR's status names its subcode (IG Container reference), in the words Meta uses.
        fields: dict[str, Any] = {
            "status_code": status,
            "status": _STATUS_TEXT[status].format(subcode=c.error_subcode),
        }
        if c.upload is not None:  # the resumable upload guide's "Get Media Status"
            processing = "complete" if status in (FINISHED, PUBLISHED) else "not_started"
            fields["video_status"] = {
                "uploading_phase": c.upload.phase(),
                "processing_phase": {"status": processing},
            }
        return fields

    def ig_upload(self, req: Request, who: str) -> Response:
        """rupload's ig-api-upload: a resumable container's video, "Upload a local file"
        (``offset``, ``file_size``, the bytes; graph_common.receive) or a hosted one
        (``file_url``, taken as the upload). Once all of it arrived its processing starts."""
        container_id = req.path.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            c = self._containers.get(container_id)
            if c is None or c.upload is None:
                message = f"container {container_id} takes no upload"
                return rupload_error(400, "NotFoundError", message)
            upload = c.upload
            if upload.complete:
                return Response(200, {"success": True, "message": "Upload successful."})
            fail_after, self.knobs.rupload_fail_after_bytes = self.knobs.rupload_fail_after_bytes, 0
        if req.header("file_url") is None:
            refused = receive(req, upload, fail_after)
            if refused is not None:
                return refused
        else:
            upload.size = upload.received = 1
        with self._lock:
            c.ready_at = time.time() + self.knobs.processing_seconds
        return Response(200, {"success": True, "message": "Upload successful."})

    # ---- published media --------------------------------------------------------------

    def media_fields(self, c: Container, media_id: str) -> dict[str, Any]:
        code = base64.urlsafe_b64encode(int(media_id).to_bytes(8, "big")).decode().rstrip("=")
        media_type, product, path, _ = _published_as(c)
        return {
            "caption": c.caption,
            "media_type": media_type,
            "media_product_type": product,
            "permalink": f"https://www.instagram.com/{path}/{code}/",
            "shortcode": code,
        }

    def kind(self, c: Container) -> str:
        return _published_as(c)[3]


def _published_as(c: Container) -> tuple[str, str, str, str]:
    return _PUBLISHED_AS.get(c.media_type, _PUBLISHED_AS[None])


STANDIN = InstagramStandIn
