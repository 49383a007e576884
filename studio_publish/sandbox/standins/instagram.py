"""The Instagram stand-in: the Content Publishing subset of the Instagram Graph API.

Shapes follow https://developers.facebook.com/docs/instagram-platform/content-publishing/
and the IG User and IG Container references under
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/
(ig-user/media, ig-user/media_publish, ig-user/content_publishing_limit, ig-container).
Where the sandbox is deliberately stricter or looser than Meta it says so in a comment.

URLs (``url`` is ``http://HOST:PORT``), on the Graph host it shares with Facebook (see
``graph_common``), -> STUDIO_PUBLISH_GRAPH_API_BASE = {url}/graph/v25.0::

    POST {url}/graph/v25.0/{ig-user-id}/media                     graph.media
    POST {url}/graph/v25.0/{ig-user-id}/media_publish             graph.media_publish
    GET  {url}/graph/v25.0/{ig-user-id}/content_publishing_limit  graph.content_publishing_limit
    GET  {url}/graph/v25.0/{ig-user-id}/media                     graph.media_list
    GET  {url}/graph/v25.0/{container-id}                         graph.container_status
    GET  {url}/graph/v25.0/{media-id}                             graph.object
"""

from __future__ import annotations

import base64
import re
from typing import Any

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
from studio_publish.sandbox.standins.graph_common import PREFIX, Node, Refusal, graph_error
from studio_publish.sandbox.wire import as_bool, as_int, as_str

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
_NOT_READY = Refusal(9007, "The media is not ready for publishing, please wait.", 2207027)


class InstagramStandIn(ContainerStandIn):
    platforms = (PLATFORM,)
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
    endpoints = flow.endpoints
    actions = frozenset({flow.publish})
    state_field = "status_code"
    container_node = Node("IGContainer", {"id", "status_code", "status"})
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

    # ---- containers -------------------------------------------------------------------

    def draft(self, p: dict[str, Any]) -> Draft:
        media_type = (as_str(p.get("media_type")) or "").upper() or None
        is_item = as_bool(p.get("is_carousel_item"), False)
        caption = as_str(p.get("caption")) or ""
        image_url = as_str(p.get("image_url"))
        video_url = as_str(p.get("video_url"))
        if as_str(p.get("upload_type")) == "resumable":
            raise graph_error(100, "(#100) upload_type=resumable is not supported by the sandbox")
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
        if media_type in ("REELS", "VIDEO"):
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
        image = media_type is None or (media_type == "STORIES" and not video_url)
        return Draft(media_type, caption, is_item, instant=image)

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
        return {
            "status_code": status,
            "status": _STATUS_TEXT[status].format(subcode=c.error_subcode),
        }

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
