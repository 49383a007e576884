"""The Graph API subset the Instagram and Facebook Page clients use.

Shapes follow /work/shared/reference/platform-api.md sections 1-3. Where the sandbox is
deliberately stricter or looser than Meta it says so in a comment.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from studio_publish.sandbox.knobs import Knobs
from studio_publish.sandbox.ledger import Ledger, LedgerEntry
from studio_publish.sandbox.state import Ids
from studio_publish.sandbox.wire import (
    ApiError,
    Request,
    Response,
    Route,
    UploadedFile,
    as_bool,
    as_int,
    as_list,
    as_str,
    graph_error,
)

VERSION_RE = re.compile(r"^v\d+\.\d+$")
CAPTION_MAX = 2200
HASHTAGS_MAX = 30
MENTIONS_MAX = 20
CAROUSEL_MIN, CAROUSEL_MAX = 2, 10
FB_MESSAGE_MAX = 63206

IN_PROGRESS, FINISHED, PUBLISHED, ERROR, EXPIRED = (
    "IN_PROGRESS",
    "FINISHED",
    "PUBLISHED",
    "ERROR",
    "EXPIRED",
)
_STATUS_TEXT = {
    IN_PROGRESS: "In Progress: Media is still being processed.",
    FINISHED: "Finished: Media has been uploaded and it is ready to be published.",
    PUBLISHED: "Published: Media has been successfully published.",
    ERROR: "Error: 2207053: An unknown error occurred during the video upload.",
    EXPIRED: "Expired: The media container was not published within 24 hours.",
}


def graph_time(moment: dt.datetime) -> str:
    """Graph's timestamp format: 2026-01-01T12:00:00+0000."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parse_time(value: Any) -> float | None:
    """A unix timestamp or an ISO 8601 string (Graph's `since`/`until` take both)."""
    text = as_str(value)
    if not text:
        return None
    number = as_int(text)
    if number is not None:
        return float(number)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise graph_error(100, f"(#100) Invalid time value for since/until: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _fields(req: Request, allowed: set[str], node: str, default: tuple[str, ...]) -> list[str]:
    """The `fields` parameter; unknown fields are refused like Graph does."""
    raw = as_str(req.params.get("fields"))
    if not raw:
        return list(default)
    names = [f.strip() for f in raw.split(",") if f.strip()]
    for name in names:
        base = name.split("{", 1)[0].split(".", 1)[0]
        if base not in allowed:
            raise graph_error(
                100, f"(#100) Tried accessing nonexisting field ({base}) on node type ({node})"
            )
    return [n.split("{", 1)[0].split(".", 1)[0] for n in names]


def _pick(record: dict[str, Any], names: list[str]) -> dict[str, Any]:
    out = {"id": record["id"]}
    for name in names:
        if name in record:
            out[name] = record[name]
    return out


def _not_found(object_id: str) -> ApiError:
    return graph_error(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        subcode=33,
        type_="GraphMethodException",
    )


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


@dataclass
class PagePost:
    id: str
    page: str
    message: str
    created_time: str
    created: float
    permalink_url: str
    published: bool
    kind: str


@dataclass
class Photo:
    id: str
    page: str
    caption: str
    published: bool
    created_time: str
    post_id: str | None = None


@dataclass
class Video:
    id: str
    page: str
    title: str
    description: str
    created_time: str
    published: bool
    post_id: str | None = None


@dataclass
class GraphState:
    containers: dict[str, Container] = field(default_factory=dict)
    media: dict[str, Media] = field(default_factory=dict)
    posts: dict[str, PagePost] = field(default_factory=dict)
    photos: dict[str, Photo] = field(default_factory=dict)
    videos: dict[str, Video] = field(default_factory=dict)
    publishes: dict[str, deque[float]] = field(default_factory=dict)  # IG account -> times


class GraphApi:
    def __init__(self, knobs: Knobs, ledger: Ledger, ids: Ids) -> None:
        self.knobs = knobs
        self.ledger = ledger
        self.ids = ids
        self.state = GraphState()
        # One lock for all Graph state: every operation under it is a few dict lookups,
        # and latency is applied outside it, so it never serialises slow calls.
        self._lock = threading.RLock()

    def reset(self) -> None:
        with self._lock:
            self.state = GraphState()

    # ---- routing ----------------------------------------------------------------------

    def route(self, req: Request, parts: list[str]) -> Route:
        if parts and VERSION_RE.match(parts[0]):
            parts = parts[1:]
        method = req.method
        if len(parts) == 2:
            node, edge = parts
            table: dict[tuple[str, str], tuple[str, Callable[[Request, str], Response]]] = {
                ("POST", "media"): ("graph.media", self.create_container),
                ("POST", "media_publish"): ("graph.media_publish", self.media_publish),
                ("GET", "content_publishing_limit"): (
                    "graph.content_publishing_limit",
                    self.publishing_limit,
                ),
                ("GET", "media"): ("graph.media_list", self.media_list),
                ("POST", "feed"): ("graph.feed", self.page_feed),
                ("POST", "photos"): ("graph.photos", self.page_photo),
                ("POST", "videos"): ("graph.videos", self.page_video),
                ("GET", "posts"): ("graph.posts", self.page_posts),
                ("GET", "feed"): ("graph.posts", self.page_posts),
                ("GET", "published_posts"): ("graph.posts", self.page_posts),
            }
            found = table.get((method, edge))
            if found:
                return Route(found[0], found[1], account=node)
        if len(parts) == 1 and method == "GET":
            owner, is_container = self._owner(parts[0])
            endpoint = "graph.container_status" if is_container else "graph.object"
            return Route(endpoint, self.read_object, account=owner)
        return Route("graph.unknown", self._unsupported, account=None)

    def _unsupported(self, req: Request, who: str) -> Response:
        raise graph_error(
            100,
            f"Unsupported {req.method.lower()} request. The sandbox does not serve {req.path}.",
            subcode=33,
            type_="GraphMethodException",
        )

    def _owner(self, object_id: str) -> tuple[str | None, bool]:
        with self._lock:
            s = self.state
            if object_id in s.containers:
                return s.containers[object_id].account, True
            if object_id in s.media:
                return s.media[object_id].account, False
            if object_id in s.posts:
                return s.posts[object_id].page, False
            if object_id in s.photos:
                return s.photos[object_id].page, False
            if object_id in s.videos:
                return s.videos[object_id].page, False
        return None, False

    # ---- Instagram ----------------------------------------------------------------------

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
                child = self.state.containers.get(child_id)
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
            self.state.containers[container.id] = container
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
        """A container's status now; a status read counts as one poll."""
        if c.status in (PUBLISHED, ERROR, EXPIRED):
            return c.status
        if c.expired or time.time() - c.created >= self.knobs.container_ttl_seconds:
            c.status = EXPIRED
            return c.status
        if c.polls_left > 0:
            if consume_poll:
                c.polls_left -= 1
            return IN_PROGRESS
        c.status = ERROR if c.fails else FINISHED
        return c.status

    def expire_container(self, container_id: str) -> bool:
        with self._lock:
            container = self.state.containers.get(container_id)
            if container is None or container.status == PUBLISHED:
                return False
            container.expired = True
            return True

    def _quota_used(self, account: str, now: float) -> int:
        times = self.state.publishes.setdefault(account, deque())
        while times and now - times[0] >= self.knobs.quota_duration:
            times.popleft()
        return len(times)

    def media_publish(self, req: Request, account: str) -> Response:
        creation_id = as_str(req.params.get("creation_id"))
        if not creation_id:
            raise graph_error(100, "(#100) The parameter creation_id is required")
        now = time.time()
        with self._lock:
            c = self.state.containers.get(creation_id)
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
            self.state.publishes[account].append(now)
            media = self._make_media(c, now)
            c.status = PUBLISHED
            c.media_id = media.id
            for child_id in c.children:
                child = self.state.containers.get(child_id)
                if child is not None:
                    child.status = PUBLISHED
            self.state.media[media.id] = media
            kind = {"CAROUSEL": "carousel", "REELS": "reel", "STORIES": "story"}.get(
                c.media_type or "", "image"
            )
            self.ledger.record(
                LedgerEntry(
                    platform="instagram",
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
            timestamp=graph_time(dt.datetime.fromtimestamp(now, dt.UTC)),
            created=now,
            container_id=c.id,
        )

    def publishing_limit(self, req: Request, account: str) -> Response:
        _fields(req, {"quota_usage", "config", "rate_limit_settings"}, "IGUser", ())
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
        names = _fields(
            req,
            {"id", "permalink", "timestamp", "caption", "media_type", "media_product_type"},
            "IGMedia",
            ("id", "permalink", "timestamp", "caption"),
        )
        with self._lock:
            items = [m for m in self.state.media.values() if m.account == account]
        items.sort(key=lambda m: m.created, reverse=True)
        records = [_pick(vars(m), names) for m in items]
        return Response(200, _paginate(req, records))

    # ---- Facebook Pages -------------------------------------------------------------

    def page_feed(self, req: Request, page: str) -> Response:
        p = req.params
        message = as_str(p.get("message")) or ""
        link = as_str(p.get("link")) or ""
        attached = self._attached_media(p)
        if not (message or link or attached):
            raise graph_error(100, "(#100) Missing message or attachment")
        if len(message) > FB_MESSAGE_MAX:
            raise graph_error(100, "(#100) The message is too long")
        published = as_bool(p.get("published"), True)
        scheduled = p.get("scheduled_publish_time")
        now = time.time()
        if scheduled not in (None, ""):
            if published:
                raise graph_error(
                    100,
                    "(#100) scheduled_publish_time requires published=false",
                )
            when = _parse_time(scheduled) or 0.0
            if not now + 600 <= when <= now + 30 * 86400:
                raise graph_error(
                    100,
                    "(#100) The specified scheduled publish time is invalid: it must be between "
                    "10 minutes and 30 days from now.",
                )
        with self._lock:
            photos = []
            for fbid in attached:
                photo = self.state.photos.get(fbid)
                if photo is None or photo.page != page:
                    raise graph_error(
                        100, f"(#100) attached_media: photo {fbid} does not exist on this Page"
                    )
                if photo.published:
                    raise graph_error(
                        100, f"(#100) attached_media: photo {fbid} is already published"
                    )
                photos.append(photo)
            kind = "photos" if photos else ("link" if link else "text")
            post = self._make_post(page, message, kind, published, now)
            for photo in photos:
                photo.published = published
                photo.post_id = post.id
            if published:
                self._record_fb(post, tuple(ph.id for ph in photos))
        body: dict[str, Any] = {"id": post.id}
        # Postiz asks for fields on the POST itself; answering them costs nothing.
        if "permalink_url" in (as_str(p.get("fields")) or ""):
            body["permalink_url"] = post.permalink_url
        return Response(200, body)

    @staticmethod
    def _attached_media(p: dict[str, Any]) -> list[str]:
        """attached_media as a JSON list (or JSON string), or form attached_media[i] keys."""
        items: list[Any] = list(as_list(p.get("attached_media")))
        indexed = sorted(
            (int(m.group(1)), value)
            for key, value in p.items()
            if (m := re.fullmatch(r"attached_media\[(\d+)\]", key))
        )
        items.extend(value for _, value in indexed)
        ids: list[str] = []
        for item in items:
            if isinstance(item, str):
                try:
                    item = json.loads(item)
                except ValueError:
                    raise graph_error(100, "(#100) attached_media items must be JSON") from None
            fbid = item.get("media_fbid") if isinstance(item, dict) else None
            if not fbid:
                raise graph_error(100, '(#100) attached_media items need a "media_fbid"')
            ids.append(str(fbid))
        return ids

    def _make_post(
        self, page: str, message: str, kind: str, published: bool, now: float
    ) -> PagePost:
        number = self.ids.next("1")
        post = PagePost(
            id=f"{page}_{number}",
            page=page,
            message=message,
            created_time=graph_time(dt.datetime.fromtimestamp(now, dt.UTC)),
            created=now,
            permalink_url=f"https://www.facebook.com/{page}/posts/{number}",
            published=published,
            kind=kind,
        )
        self.state.posts[post.id] = post
        return post

    def _record_fb(self, post: PagePost, source_ids: tuple[str, ...], post_id: str = "") -> None:
        self.ledger.record(
            LedgerEntry(
                platform="facebook",
                account=post.page,
                platform_post_id=post_id or post.id,
                kind=post.kind,
                caption=post.message,
                created_at=dt.datetime.fromtimestamp(post.created, dt.UTC),
                source_ids=source_ids,
            )
        )

    def page_photo(self, req: Request, page: str) -> Response:
        p = req.params
        url = as_str(p.get("url"))
        source = p.get("source")
        if not url and not isinstance(source, UploadedFile):
            raise graph_error(324, "(#324) Requires upload file: give url or a multipart source")
        if url and not url.startswith(("http://", "https://")):
            raise graph_error(100, "(#100) url should represent a valid URL")
        # The documented parameter is caption; message appears in third-party code.
        caption = as_str(p.get("caption")) or as_str(p.get("message")) or ""
        published = as_bool(p.get("published"), True)
        now = time.time()
        with self._lock:
            photo = Photo(
                id=self.ids.next("1"),
                page=page,
                caption=caption,
                published=published,
                created_time=graph_time(dt.datetime.fromtimestamp(now, dt.UTC)),
            )
            self.state.photos[photo.id] = photo
            if not published:
                # An unpublished photo is only material for a later /feed attached_media.
                return Response(200, {"id": photo.id})
            post = self._make_post(page, caption, "photo", True, now)
            photo.post_id = post.id
            self._record_fb(post, (photo.id,))
        return Response(200, {"id": photo.id, "post_id": post.id})

    def page_video(self, req: Request, page: str) -> Response:
        p = req.params
        file_url = as_str(p.get("file_url"))
        if not file_url and not isinstance(p.get("source"), UploadedFile):
            raise graph_error(100, "(#100) file_url or a multipart source is required")
        if file_url and not file_url.startswith(("http://", "https://")):
            raise graph_error(100, "(#100) file_url should represent a valid URL")
        description = as_str(p.get("description")) or ""
        published = as_bool(p.get("published"), True)
        now = time.time()
        with self._lock:
            video = Video(
                id=self.ids.next("1"),
                page=page,
                title=as_str(p.get("title")) or "",
                description=description,
                created_time=graph_time(dt.datetime.fromtimestamp(now, dt.UTC)),
                published=published,
            )
            self.state.videos[video.id] = video
            if published:
                # The video also shows as a Page post, so /posts reconciliation finds it;
                # the client only ever gets (and the ledger keeps) the video id.
                post = self._make_post(page, description, "video", True, now)
                post.permalink_url = f"https://www.facebook.com/{page}/videos/{video.id}/"
                video.post_id = post.id
                self._record_fb(post, (post.id,), post_id=video.id)
        return Response(200, {"id": video.id})

    def page_posts(self, req: Request, page: str) -> Response:
        names = _fields(
            req,
            {"id", "message", "created_time", "permalink_url", "is_published", "status_type"},
            "Post",
            ("id", "message", "created_time", "permalink_url"),
        )
        since = _parse_time(req.params.get("since"))
        until = _parse_time(req.params.get("until"))
        with self._lock:
            posts = [
                post
                for post in self.state.posts.values()
                if post.page == page
                and post.published
                and (since is None or post.created >= since)
                and (until is None or post.created <= until)
            ]
        posts.sort(key=lambda post: post.created, reverse=True)
        records = [self._post_record(post) for post in posts]
        return Response(200, _paginate(req, [_pick(r, names) for r in records]))

    @staticmethod
    def _post_record(post: PagePost) -> dict[str, Any]:
        return {
            "id": post.id,
            "message": post.message,
            "created_time": post.created_time,
            "permalink_url": post.permalink_url,
            "is_published": post.published,
            "status_type": {"photo": "added_photos", "photos": "added_photos"}.get(
                post.kind, "added_video" if post.kind == "video" else "mobile_status_update"
            ),
        }

    # ---- any node -------------------------------------------------------------------

    def read_object(self, req: Request, who: str) -> Response:
        object_id = req.path.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            s = self.state
            if (c := s.containers.get(object_id)) is not None:
                names = _fields(req, {"id", "status_code", "status"}, "IGContainer", ())
                status = self._status(c, consume_poll=True)
                record = {"id": c.id, "status_code": status, "status": _STATUS_TEXT[status]}
                return Response(200, _pick(record, names))
            if (m := s.media.get(object_id)) is not None:
                allowed = {
                    "id", "permalink", "timestamp", "caption", "media_type",
                    "media_product_type", "shortcode",
                }  # fmt: skip
                names = _fields(req, allowed, "IGMedia", ())
                record = dict(vars(m), shortcode=m.permalink.rstrip("/").rsplit("/", 1)[-1])
                return Response(200, _pick(record, names))
            if (post := s.posts.get(object_id)) is not None:
                allowed = {"id", "message", "created_time", "permalink_url", "is_published",
                           "status_type"}  # fmt: skip
                names = _fields(req, allowed, "Post", ())
                return Response(200, _pick(self._post_record(post), names))
            if (photo := s.photos.get(object_id)) is not None:
                names = _fields(
                    req, {"id", "name", "created_time", "link", "page_story_id"}, "Photo", ()
                )
                photo_record: dict[str, Any] = {
                    "id": photo.id,
                    "name": photo.caption,
                    "created_time": photo.created_time,
                    "link": f"https://www.facebook.com/photo/?fbid={photo.id}",
                    "page_story_id": photo.post_id,
                }
                return Response(200, _pick(photo_record, names))
            if (video := s.videos.get(object_id)) is not None:
                allowed = {"id", "title", "description", "created_time", "permalink_url",
                           "status", "published"}  # fmt: skip
                names = _fields(req, allowed, "Video", ())
                video_record: dict[str, Any] = {
                    "id": video.id,
                    "title": video.title,
                    "description": video.description,
                    "created_time": video.created_time,
                    "permalink_url": f"/{video.page}/videos/{video.id}/",
                    "status": {"video_status": "ready", "processing_progress": 100},
                    "published": video.published,
                }
                return Response(200, _pick(video_record, names))
        raise _not_found(object_id)


def _paginate(req: Request, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Graph's cursor paging, with the offset as the cursor."""
    limit = max(1, min(as_int(req.params.get("limit")) or 25, 100))
    start = as_int(req.params.get("after")) or 0
    page = records[start : start + limit]
    body: dict[str, Any] = {"data": page}
    if records:
        cursors = {"before": str(start), "after": str(start + len(page))}
        body["paging"] = {"cursors": cursors}
        if start + limit < len(records):
            # Meta's "next" is a full URL (with the token in it; ours never carries one).
            query = {k: str(v) for k, v in req.query.items() if k not in ("after", "limit")}
            query.update(limit=str(limit), after=str(start + len(page)))
            next_url = f"http://{req.host}{req.path}?{urllib.parse.urlencode(query)}"
            body["paging"]["next"] = next_url
    return body
