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
import datetime as dt
import re
import time
from collections import deque
from dataclasses import dataclass

from studio_publish.sandbox.ledger import LedgerEntry
from studio_publish.sandbox.standins.graph_common import (
    ERROR,
    EXPIRED,
    FINISHED,
    IN_PROGRESS,
    OBJECT,
    PUBLISHED,
    Edges,
    GraphStandIn,
    answer,
    container_status,
    expire,
    fields,
    graph_error,
    graph_time,
    not_found,
    object_id,
    paginate,
    pick,
    publishes_within,
)
from studio_publish.sandbox.wire import Request, Response, Route, as_bool, as_int, as_list, as_str

PLATFORM = "instagram"
CAPTION_MAX = 2200
HASHTAGS_MAX = 30
MENTIONS_MAX = 20
CAROUSEL_MIN, CAROUSEL_MAX = 2, 10

_STATUS_TEXT = {
    IN_PROGRESS: "In Progress: Media is still being processed.",
    FINISHED: "Finished: Media has been uploaded and it is ready to be published.",
    PUBLISHED: "Published: Media has been successfully published.",
    ERROR: "Error: 2207053: An unknown error occurred during the video upload.",
    EXPIRED: "Expired: The media container was not published within 24 hours.",
}


@dataclass
class Container:
    id: str
    account: str
    media_type: str | None  # None for a single image
    is_carousel_item: bool
    caption: str
    children: tuple[str, ...]
    polls_left: int
    created: float
    fails: bool
    status: str = IN_PROGRESS
    media_id: str | None = None
    expired: bool = False


@dataclass
class Media:
    id: str
    account: str
    caption: str
    media_type: str  # IMAGE, VIDEO, CAROUSEL_ALBUM
    media_product_type: str  # FEED, REELS, STORY
    permalink: str
    timestamp: str
    created: float
    container_id: str


class InstagramStandIn(GraphStandIn):
    platforms = (PLATFORM,)
    endpoints = (
        "graph.media",
        "graph.media_publish",
        "graph.container_status",
        "graph.content_publishing_limit",
        "graph.media_list",
        OBJECT,
    )
    actions = frozenset({"graph.media_publish"})
    usage_type = "instagram"

    def reset(self) -> None:
        with self._lock:
            self._containers: dict[str, Container] = {}
            self._media: dict[str, Media] = {}
            self._publishes: dict[str, deque[float]] = {}  # account -> publish times

    def edges(self) -> Edges:
        return {
            ("POST", "media"): ("graph.media", self.create_container),
            ("POST", "media_publish"): ("graph.media_publish", self.media_publish),
            ("GET", "content_publishing_limit"): (
                "graph.content_publishing_limit",
                self.publishing_limit,
            ),
            ("GET", "media"): ("graph.media_list", self.media_list),
        }

    def node(self, object_id: str) -> Route | None:
        with self._lock:
            if (c := self._containers.get(object_id)) is not None:
                return Route("graph.container_status", self.read_container, account=c.account)
            if (m := self._media.get(object_id)) is not None:
                return Route(OBJECT, self.read_media, account=m.account)
        return None

    # ---- containers -------------------------------------------------------------------

    def create_container(self, req: Request, account: str) -> Response:
        p = req.params
        media_type = (as_str(p.get("media_type")) or "").upper() or None
        is_item = as_bool(p.get("is_carousel_item"), False)
        caption = as_str(p.get("caption")) or ""
        image_url = as_str(p.get("image_url"))
        video_url = as_str(p.get("video_url"))
        if as_str(p.get("upload_type")) == "resumable":
            raise graph_error(100, "(#100) upload_type=resumable is not supported by the sandbox")
        if media_type not in (None, "CAROUSEL", "REELS", "STORIES", "VIDEO"):
            raise graph_error(100, "The media type is unknown.", subcode=2207023)
        if media_type == "VIDEO" and not is_item:
            # Standalone VIDEO stopped working in 2023; VIDEO survives for carousel children.
            raise graph_error(
                100,
                "The VIDEO media_type is no longer supported; use REELS.",
                subcode=2207023,
            )
        if is_item and media_type in ("CAROUSEL", "REELS", "STORIES"):
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

        children: tuple[str, ...] = ()
        if media_type == "CAROUSEL":
            children = tuple(str(c) for c in as_list(p.get("children")))
            if not CAROUSEL_MIN <= len(children) <= CAROUSEL_MAX:
                raise graph_error(
                    100,
                    "The carousel must contain between 2 and 10 items.",
                    subcode=2207028,
                )
        elif media_type in ("REELS", "VIDEO"):
            if not video_url:
                raise graph_error(100, "(#100) The parameter video_url is required")
        elif media_type == "STORIES":
            if not (image_url or video_url):
                raise graph_error(100, "(#100) The parameter image_url or video_url is required")
        else:
            if video_url and not image_url:
                raise graph_error(
                    100, "(#100) video_url requires media_type REELS or STORIES", subcode=2207023
                )
            if not image_url:
                raise graph_error(100, "(#100) The parameter image_url is required")

        with self._lock:
            for child_id in children:
                child = self._containers.get(child_id)
                if child is None or child.account != account or not child.is_carousel_item:
                    raise graph_error(24, "The media with this id does not exist.", subcode=2207006)
                if self._status(child, consume_poll=False) != FINISHED:
                    raise graph_error(
                        9007, "The media is not ready for publishing, please wait.", subcode=2207027
                    )
            fails = self.knobs.container_failures > 0
            if fails:
                self.knobs.container_failures -= 1
            container = Container(
                id=self.ids.next("17"),
                account=account,
                media_type=media_type,
                is_carousel_item=is_item,
                caption=caption,
                children=children,
                polls_left=self.knobs.container_polls,
                created=time.time(),
                fails=fails,
            )
            self._containers[container.id] = container
        return Response(200, {"id": container.id})

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

    def _status(self, c: Container, *, consume_poll: bool) -> str:
        return container_status(c, self.knobs, consume_poll=consume_poll)

    def expire_container(self, container_id: str) -> bool:
        with self._lock:
            return expire(self._containers, container_id)

    def _quota_used(self, account: str, now: float) -> int:
        return publishes_within(
            self._publishes.setdefault(account, deque()), now, self.knobs.quota_duration
        )

    def media_publish(self, req: Request, account: str) -> Response:
        creation_id = as_str(req.params.get("creation_id"))
        if not creation_id:
            raise graph_error(100, "(#100) The parameter creation_id is required")
        now = time.time()
        with self._lock:
            c = self._containers.get(creation_id)
            if c is None or c.account != account:
                raise graph_error(24, "The media with this id does not exist.", subcode=2207006)
            if c.is_carousel_item:
                raise graph_error(100, "(#100) A carousel item cannot be published on its own.")
            status = self._status(c, consume_poll=False)
            if status == PUBLISHED:
                # Meta refuses a second publish of the same container; the sandbox does too,
                # so a client that retries blindly gets an error, not a duplicate.
                raise graph_error(
                    100, "(#100) The media has already been published.", type_="OAuthException"
                )
            if status == EXPIRED:
                raise graph_error(-2, "The media container has expired.", subcode=2207020)
            if status == ERROR:
                raise graph_error(-1, "The media container failed to process.", subcode=2207032)
            if status != FINISHED:
                raise graph_error(
                    9007, "The media is not ready for publishing, please wait.", subcode=2207027
                )
            if self._quota_used(account, now) >= self.knobs.quota_total:
                raise graph_error(
                    9,
                    "Application request limit reached: the publishing limit is used up.",
                    subcode=2207042,
                )
            self._publishes[account].append(now)
            media = self._make_media(c, now)
            c.status = PUBLISHED
            c.media_id = media.id
            for child_id in c.children:
                child = self._containers.get(child_id)
                if child is not None:
                    child.status = PUBLISHED
            self._media[media.id] = media
            kind = {"CAROUSEL": "carousel", "REELS": "reel", "STORIES": "story"}.get(
                c.media_type or "", "image"
            )
            self.ledger.record(
                LedgerEntry(
                    platform=PLATFORM,
                    account=account,
                    platform_post_id=media.id,
                    kind=kind,
                    caption=c.caption,
                    created_at=dt.datetime.fromtimestamp(now, dt.UTC),
                    source_ids=(c.id, *c.children),
                )
            )
        return Response(200, {"id": media.id})

    def _make_media(self, c: Container, now: float) -> Media:
        media_id = self.ids.next("18")
        code = base64.urlsafe_b64encode(int(media_id).to_bytes(8, "big")).decode().rstrip("=")
        if c.media_type == "CAROUSEL":
            media_type, product, path = "CAROUSEL_ALBUM", "FEED", "p"
        elif c.media_type == "REELS":
            media_type, product, path = "VIDEO", "REELS", "reel"
        elif c.media_type == "STORIES":
            media_type, product, path = "IMAGE", "STORY", "stories/sandbox"
        else:
            media_type, product, path = "IMAGE", "FEED", "p"
        return Media(
            id=media_id,
            account=c.account,
            caption=c.caption,
            media_type=media_type,
            media_product_type=product,
            permalink=f"https://www.instagram.com/{path}/{code}/",
            timestamp=graph_time(now),
            created=now,
            container_id=c.id,
        )

    def publishing_limit(self, req: Request, account: str) -> Response:
        fields(req, {"quota_usage", "config", "rate_limit_settings"}, "IGUser", ())
        with self._lock:
            used = self._quota_used(account, time.time())
        return Response(
            200,
            {
                "data": [
                    {
                        "quota_usage": used,
                        "config": {
                            "quota_total": self.knobs.quota_total,
                            "quota_duration": self.knobs.quota_duration,
                        },
                    }
                ]
            },
        )

    def media_list(self, req: Request, account: str) -> Response:
        names = fields(
            req,
            {"id", "permalink", "timestamp", "caption", "media_type", "media_product_type"},
            "IGMedia",
            ("id", "permalink", "timestamp", "caption"),
        )
        with self._lock:
            items = [m for m in self._media.values() if m.account == account]
        items.sort(key=lambda m: m.created, reverse=True)
        records = [pick(vars(m), names) for m in items]
        return Response(200, paginate(req, records))

    # ---- nodes ------------------------------------------------------------------------

    def read_container(self, req: Request, who: str) -> Response:
        container_id = object_id(req)
        names = fields(req, {"id", "status_code", "status"}, "IGContainer", ())
        with self._lock:
            c = self._containers.get(container_id)
            if c is None:
                raise not_found(container_id)
            status = self._status(c, consume_poll=True)
        record = {"id": c.id, "status_code": status, "status": _STATUS_TEXT[status]}
        return Response(200, pick(record, names))

    def read_media(self, req: Request, who: str) -> Response:
        media_id = object_id(req)
        with self._lock:
            m = self._media.get(media_id)
        if m is None:
            raise not_found(media_id)
        allowed = {
            "id", "permalink", "timestamp", "caption", "media_type", "media_product_type",
            "shortcode",
        }  # fmt: skip
        record = dict(vars(m), shortcode=m.permalink.rstrip("/").rsplit("/", 1)[-1])
        return answer(req, record, allowed, "IGMedia")


STANDIN = InstagramStandIn
