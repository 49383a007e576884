"""The Facebook stand-in: the Pages API subset for publishing to a Page.

Shapes follow https://developers.facebook.com/docs/pages-api/posts and the Page edge
references https://developers.facebook.com/docs/graph-api/reference/page/feed/,
https://developers.facebook.com/docs/graph-api/reference/page/photos/ and
https://developers.facebook.com/docs/video-api/guides/publishing/, and for reels the Reels
Publishing API, https://developers.facebook.com/docs/video-api/guides/reels-publishing
(``video_reels`` start and finish, the rupload host's hosted-file upload, the Video node's
``status`` with its uploading, processing and publishing phases). Where the sandbox is
deliberately stricter or looser than Meta it says so in a comment.

A video (sent to /videos, or a reel once uploaded) is processed for the
``processing_seconds`` knob; until then its status says ``processing``, and it goes live
(a Page post, a ledger entry) only once processed and published: at the first look after
that. ``facebook_videos_stay_drafts`` keeps /videos videos drafts that never go live (the
finding that reels sent there do); ``facebook_video_failures`` fails the next videos'
processing (the guide's processing-error example). A reel's finish is the call
``graph.video_reels.finish``, apart from its start (``graph.video_reels``), so a test can
lose or drop the one that publishes; a second finish of a published reel is refused
(#100), so a client that resends one wrongly shows in tests.

URLs (``url`` is ``http://HOST:PORT``), on the Graph host it shares with Instagram (see
``graph_common``), -> STUDIO_PUBLISH_GRAPH_API_BASE = {url}/graph/v25.0::

    POST {url}/graph/v25.0/{page-id}/feed            graph.feed
    POST {url}/graph/v25.0/{page-id}/photos          graph.photos
    POST {url}/graph/v25.0/{page-id}/videos          graph.videos
    POST {url}/graph/v25.0/{page-id}/video_reels     graph.video_reels (upload_phase=start)
                                                     graph.video_reels.finish (=finish)
    POST {url}/rupload/video-upload/v25.0/{video-id} rupload.video_upload
         -> STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE = {url}/rupload
    GET  {url}/graph/v25.0/{page-id}/posts           graph.posts (also /feed, /published_posts)
    GET  {url}/graph/v25.0/{post-photo-or-video-id}  graph.object
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from studio_publish.sandbox.ledger import LedgerEntry
from studio_publish.sandbox.standins.graph_common import (
    GRAPH_VERSION,
    OBJECT,
    PREFIX,
    Edges,
    GraphStandIn,
    answer,
    fields,
    graph_error,
    graph_time,
    not_found,
    object_id,
    paginate,
    parse_time,
    pick,
)
from studio_publish.sandbox.wire import (
    Request,
    Response,
    Route,
    UploadedFile,
    as_bool,
    as_list,
    as_str,
)

PLATFORM = "facebook"
UPLOAD_PREFIX = "rupload"
# One URL, two calls: a reel's start only opens an upload session, its finish publishes it,
# so faults and statistics name the finish apart ("graph.video_reels*" matches both).
REELS, FINISH = "graph.video_reels", "graph.video_reels.finish"
MESSAGE_MAX = 63206
_POST_FIELDS = {"id", "message", "created_time", "permalink_url", "is_published", "status_type"}


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
    published: bool  # asked to be published (/videos published=true, a reel's finish)
    post_id: str | None = None
    kind: str = "video"  # or "reel"
    uploaded_at: float | None = None  # when its file arrived: processing starts
    draft: bool = False  # never goes live (facebook_videos_stay_drafts)
    fails: bool = False  # its processing fails (facebook_video_failures)
    created: float = 0.0


class FacebookStandIn(GraphStandIn):
    platforms = (PLATFORM,)
    prefixes = (PREFIX, UPLOAD_PREFIX)
    endpoints = (
        "graph.feed",
        "graph.photos",
        "graph.videos",
        REELS,
        FINISH,
        "rupload.video_upload",
        "graph.posts",
        OBJECT,
    )
    actions = frozenset(
        {
            "graph.feed",
            "graph.photos",
            "graph.videos",
            REELS,
            FINISH,
            "rupload.video_upload",
        }
    )
    usage_type = "pages"

    def reset(self) -> None:
        with self._lock:
            self._posts: dict[str, PagePost] = {}
            self._photos: dict[str, Photo] = {}
            self._videos: dict[str, Video] = {}

    def edges(self) -> Edges:
        return {
            ("POST", "feed"): ("graph.feed", self.page_feed),
            ("POST", "photos"): ("graph.photos", self.page_photo),
            ("POST", "videos"): ("graph.videos", self.page_video),
            ("POST", "video_reels"): (REELS, self.video_reels),
            ("GET", "posts"): ("graph.posts", self.page_posts),
            ("GET", "feed"): ("graph.posts", self.page_posts),
            ("GET", "published_posts"): ("graph.posts", self.page_posts),
        }

    def route(self, req: Request, parts: list[str]) -> Route | None:
        if parts[0] != UPLOAD_PREFIX:
            return super().route(req, parts)
        # rupload/video-upload/{version}/{video-id}: the token is the Graph one, sent as
        # "Authorization: OAuth <token>" (Request.bearer takes either scheme).
        if len(parts) == 4 and parts[1] == "video-upload" and req.method == "POST":
            with self._lock:
                video = self._videos.get(parts[3])
            page = video.page if video is not None else None
            return Route("rupload.video_upload", self.video_upload, account=page)
        return None

    def unrouted(self, req: Request, parts: list[str]) -> Route:
        if parts[0] == UPLOAD_PREFIX:
            return Route("rupload.video_upload", self.video_upload, account=None)
        return super().unrouted(req, parts)

    def call_name(self, req: Request, route: Route) -> str:
        if route.endpoint == REELS and as_str(req.params.get("upload_phase")) == "finish":
            return FINISH
        return route.endpoint

    def env(self, url: str) -> dict[str, str]:
        return {**super().env(url), "STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE": f"{url}/{UPLOAD_PREFIX}"}

    def node(self, object_id: str) -> Route | None:
        with self._lock:
            node = (
                self._posts.get(object_id)
                or self._photos.get(object_id)
                or self._videos.get(object_id)
            )
        return Route(OBJECT, self.read_node, account=node.page) if node else None

    # ---- publishing -------------------------------------------------------------------

    def page_feed(self, req: Request, page: str) -> Response:
        p = req.params
        message = as_str(p.get("message")) or ""
        link = as_str(p.get("link")) or ""
        attached = self._attached_media(p)
        if not (message or link or attached):
            raise graph_error(100, "(#100) Missing message or attachment")
        if len(message) > MESSAGE_MAX:
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
            when = parse_time(scheduled) or 0.0
            if not now + 600 <= when <= now + 30 * 86400:
                raise graph_error(
                    100,
                    "(#100) The specified scheduled publish time is invalid: it must be between "
                    "10 minutes and 30 days from now.",
                )
        with self._lock:
            photos = []
            for fbid in attached:
                photo = self._photos.get(fbid)
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
            created_time=graph_time(now),
            created=now,
            permalink_url=f"https://www.facebook.com/{page}/posts/{number}",
            published=published,
            kind=kind,
        )
        self._posts[post.id] = post
        return post

    def _record_fb(self, post: PagePost, source_ids: tuple[str, ...]) -> None:
        self.ledger.record(
            LedgerEntry(
                platform=PLATFORM,
                account=post.page,
                platform_post_id=post.id,
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
                created_time=graph_time(now),
            )
            self._photos[photo.id] = photo
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
            video = self._new_video(page, "video", now)
            video.title = as_str(p.get("title")) or ""
            video.description = description
            video.published = published
            video.uploaded_at = now  # fetched from file_url at once
            video.draft = self.knobs.facebook_videos_stay_drafts
            self._settle(video, now)
        # The answer holds the video id only (the publishing guide); the video goes live
        # once processed (the status says so), then shows as a Page post.
        return Response(200, {"id": video.id})

    def _new_video(self, page: str, kind: str, now: float) -> Video:
        fails = self.knobs.facebook_video_failures > 0
        if fails:
            self.knobs.facebook_video_failures -= 1
        video = Video(
            id=self.ids.next("1"),
            page=page,
            title="",
            description="",
            created_time=graph_time(now),
            published=False,
            kind=kind,
            fails=fails,
            created=now,
        )
        self._videos[video.id] = video
        return video

    def _processed(self, video: Video, now: float) -> bool:
        return (
            video.uploaded_at is not None
            and now - video.uploaded_at >= self.knobs.processing_seconds
        )

    def _settle(self, video: Video, now: float) -> None:
        """Under the lock: a processed, published video goes live (once): a Page post, so
        /posts reconciliation finds it, and a ledger entry naming its post, as for /photos."""
        if video.post_id is not None or not video.published or video.draft or video.fails:
            return
        if not self._processed(video, now):
            return
        post = self._make_post(video.page, video.description, video.kind, True, now)
        if video.kind == "reel":
            post.permalink_url = f"https://www.facebook.com/reel/{video.id}/"
        else:
            post.permalink_url = f"https://www.facebook.com/{video.page}/videos/{video.id}/"
        video.post_id = post.id
        self._record_fb(post, (video.id,))

    def _status(self, video: Video, now: float) -> dict[str, Any]:
        """The Video node's ``status``, as the Reels Publishing guide shows it ("Get the
        Upload Status"). Phases say "complete", as the guide's examples do (its table says
        "completed"; the client takes both)."""
        uploading = {"status": "not_started", "bytes_transferred": 0}
        processing: dict[str, Any] = {"status": "not_started"}
        publishing: dict[str, Any] = {"status": "not_started"}
        video_status = "processing"
        if video.uploaded_at is not None:
            uploading = {"status": "complete", "bytes_transferred": 1048576}
            video_status = "upload_complete"
            processing = {"status": "in_progress"}
            if self._processed(video, now):
                if video.fails:
                    # The guide's "Example Response with a Processing Error", as it is: the
                    # phase still "not_started", the error object alone saying it failed.
                    processing = {
                        "status": "not_started",
                        "error": {
                            "message": "Resolution too low. Video must have a minimum "
                            "resolution of 540p."
                        },
                    }
                    return {
                        "video_status": "processing",
                        "uploading_phase": uploading,
                        "processing_phase": processing,
                        "publishing_phase": publishing,
                    }
                processing = {"status": "complete"}
                video_status = "ready"
                if video.draft:
                    publishing = {"status": "complete", "publish_status": "draft"}
                elif video.published:
                    publishing = {
                        "status": "complete",
                        "publish_status": "published",
                        "publish_time": int(now),
                    }
            elif video.published:
                video_status = "processing"
        return {
            "video_status": video_status,
            "uploading_phase": uploading,
            "processing_phase": processing,
            "publishing_phase": publishing,
        }

    # ---- reels (the Reels Publishing API) -----------------------------------------------

    def video_reels(self, req: Request, page: str) -> Response:
        p = req.params
        phase = as_str(p.get("upload_phase"))
        now = time.time()
        if phase == "start":
            with self._lock:
                started = self._new_video(page, "reel", now)
            host = req.host or "127.0.0.1"
            upload_url = f"http://{host}/{UPLOAD_PREFIX}/video-upload/{GRAPH_VERSION}/{started.id}"
            return Response(200, {"video_id": started.id, "upload_url": upload_url})
        if phase != "finish":
            raise graph_error(100, "(#100) upload_phase must be one of start, finish")
        video_id = as_str(p.get("video_id")) or ""
        state = as_str(p.get("video_state")) or ""
        if state not in ("PUBLISHED", "DRAFT", "SCHEDULED"):
            raise graph_error(100, "(#100) video_state must be PUBLISHED, DRAFT or SCHEDULED")
        with self._lock:
            video = self._videos.get(video_id)
            if video is None or video.page != page or video.kind != "reel":
                raise graph_error(100, f"(#100) video_id {video_id} is not a reel of this Page")
            if video.uploaded_at is None:
                # Meta: "Video Upload Is Missing" (trypost PR #32 saw it after a no-op upload).
                raise graph_error(6000, "There was a problem uploading your video file")
            if video.published:
                # A second finish is refused, so a resent one is visible in tests.
                raise graph_error(100, f"(#100) the reel {video_id} is already published")
            video.description = as_str(p.get("description")) or ""
            video.title = as_str(p.get("title")) or ""
            video.published = state == "PUBLISHED"
            self._settle(video, now)
        return Response(200, {"success": True})

    def video_upload(self, req: Request, page: str) -> Response:
        video_id = object_id(req)
        file_url = req.header("file_url") or ""
        with self._lock:
            video = self._videos.get(video_id)
            if video is None or video.kind != "reel":
                return Response(
                    400,
                    {
                        "debug_info": {
                            "retriable": False,
                            "type": "NotFoundError",
                            "message": f"video {video_id} has no upload session",
                        }
                    },
                )
            if not file_url.startswith(("http://", "https://")):
                return Response(
                    400,
                    {
                        "debug_info": {
                            "retriable": False,
                            "type": "ParameterValidationError",
                            "message": "file_url header must be a public http(s) URL",
                        }
                    },
                )
            # The sandbox does not fetch the file: it takes the URL as the upload.
            video.uploaded_at = time.time()
        return Response(200, {"success": True})

    def page_posts(self, req: Request, page: str) -> Response:
        names = fields(
            req, _POST_FIELDS, "Post", ("id", "message", "created_time", "permalink_url")
        )
        since = parse_time(req.params.get("since"))
        until = parse_time(req.params.get("until"))
        with self._lock:
            now = time.time()
            for waiting in self._videos.values():
                if waiting.page == page:
                    self._settle(waiting, now)
            posts = [
                post
                for post in self._posts.values()
                if post.page == page
                and post.published
                and (since is None or post.created >= since)
                and (until is None or post.created <= until)
            ]
        posts.sort(key=lambda post: post.created, reverse=True)
        records = [self._post_record(post) for post in posts]
        return Response(200, paginate(req, [pick(r, names) for r in records]))

    @staticmethod
    def _post_record(post: PagePost) -> dict[str, Any]:
        return {
            "id": post.id,
            "message": post.message,
            "created_time": post.created_time,
            "permalink_url": post.permalink_url,
            "is_published": post.published,
            "status_type": {"photo": "added_photos", "photos": "added_photos"}.get(
                post.kind,
                "added_video" if post.kind in ("video", "reel") else "mobile_status_update",
            ),
        }

    # ---- nodes ------------------------------------------------------------------------

    def read_node(self, req: Request, who: str) -> Response:
        node_id = object_id(req)
        with self._lock:
            post = self._posts.get(node_id)
            photo = self._photos.get(node_id)
            video = self._videos.get(node_id)
            now = time.time()
            if video is not None:
                self._settle(video, now)
                status = self._status(video, now)
        if post is not None:
            return answer(req, self._post_record(post), _POST_FIELDS, "Post")
        if photo is not None:
            photo_record: dict[str, Any] = {
                "id": photo.id,
                "name": photo.caption,
                "created_time": photo.created_time,
                "link": f"https://www.facebook.com/photo/?fbid={photo.id}",
                "page_story_id": photo.post_id,
            }
            return answer(req, photo_record, set(photo_record), "Photo")
        if video is not None:
            video_record: dict[str, Any] = {
                "id": video.id,
                "title": video.title,
                "description": video.description,
                "created_time": video.created_time,
                "permalink_url": (
                    f"/reel/{video.id}/"
                    if video.kind == "reel"
                    else f"/{video.page}/videos/{video.id}/"
                ),
                "status": status,
                "published": video.post_id is not None,
                "post_id": video.post_id,
            }
            return answer(req, video_record, set(video_record), "Video")
        raise not_found(node_id)


STANDIN = FacebookStandIn
