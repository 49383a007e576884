"""The Facebook stand-in: the Pages API subset for publishing to a Page.

Shapes follow https://developers.facebook.com/docs/pages-api/posts and the Page edge
references https://developers.facebook.com/docs/graph-api/reference/page/feed/,
https://developers.facebook.com/docs/graph-api/reference/page/photos/ and
https://developers.facebook.com/docs/video-api/guides/publishing/, and for reels the Reels
Publishing API, https://developers.facebook.com/docs/video-api/guides/reels-publishing
(``video_reels`` start and finish, the rupload host's hosted-file upload, the Video node's
``status`` with its uploading, processing and publishing phases), and for stories the Page
Stories API, https://developers.facebook.com/docs/page-stories-api (``photo_stories`` with
an unpublished photo's ``photo_id``, ``video_stories`` start and finish around the same
upload, ``GET /{page}/stories``). Where the sandbox is deliberately stricter or looser than
Meta it says so in a comment.

A video (sent to /videos, or a reel once uploaded) is processed for the
``processing_seconds`` knob; until then its status says ``processing``, and it goes live
(a Page post, a ledger entry) only once processed and published: at the first look after
that. ``facebook_videos_stay_drafts`` keeps /videos videos drafts that never go live (the
finding that reels sent there do); ``facebook_video_failures`` fails the next videos'
processing (the guide's processing-error example). A reel's finish is the call
``graph.video_reels.finish``, apart from its start (``graph.video_reels``), so a test can
lose or drop the one that publishes; a second finish of a published reel is refused
(#100), so a client that resends one wrongly shows in tests.

A story is live (listed, a ledger entry of kind ``story``) once ``photo_stories`` takes its
photo, or once its video, finished, is processed; both answer ``{"success": true,
"post_id"}``, the video story's finish before processing ends. A photo or video already in
a published post or story is refused (#100): the guide's "can not have been used in a
previously published post", which also makes a wrongly resent story show in tests. A video
story's finish is ``graph.video_stories.finish``, apart from its start.
``facebook_story_list_lag`` leaves a Page's newest story out of the next list reads.

URLs (``url`` is ``http://HOST:PORT``), on the Graph host it shares with Instagram (see
``graph_common``), -> STUDIO_PUBLISH_GRAPH_API_BASE = {url}/graph/v25.0::

    POST {url}/graph/v25.0/{page-id}/feed            graph.feed
    POST {url}/graph/v25.0/{page-id}/photos          graph.photos
    POST {url}/graph/v25.0/{page-id}/videos          graph.videos
    POST {url}/graph/v25.0/{page-id}/video_reels     graph.video_reels (upload_phase=start)
                                                     graph.video_reels.finish (=finish)
    POST {url}/graph/v25.0/{page-id}/photo_stories   graph.photo_stories
    POST {url}/graph/v25.0/{page-id}/video_stories   graph.video_stories (upload_phase=start)
                                                     graph.video_stories.finish (=finish)
    POST {url}/rupload/video-upload/v25.0/{video-id} rupload.video_upload
         -> STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE = {url}/rupload
    GET  {url}/graph/v25.0/{page-id}/posts           graph.posts (also /feed, /published_posts)
    GET  {url}/graph/v25.0/{page-id}/stories         graph.stories
    GET  {url}/graph/v25.0/{post-photo-or-video-id}  graph.object
    POST {url}/graph/v25.0/{post-photo-or-video-id}/comments  graph.comments (message)
    GET  {url}/graph/v25.0/{post-photo-or-video-id}/comments  graph.comments_list

Comments follow https://developers.facebook.com/docs/graph-api/reference/object/comments:
``{"id": ...}`` for a new one (a Page's comment as the Page); the listing's comments carry id,
message, created_time and from (id and name: the Page's own id for the Page's comments),
in the ``order`` asked (chronological unless reverse_chronological).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from studio_publish.sandbox.ledger import LedgerEntry
from studio_publish.sandbox.standins.comments import Comment, CommentBox, comments_route
from studio_publish.sandbox.standins.graph_common import (
    GRAPH_VERSION,
    OBJECT,
    PREFIX,
    UPLOAD_PREFIX,
    Edges,
    GraphStandIn,
    Node,
    Upload,
    answer,
    fields,
    graph_error,
    graph_time,
    not_found,
    object_id,
    paginate,
    parse_time,
    pick,
    receive,
    rupload_error,
)
from studio_publish.sandbox.wire import (
    Request,
    Response,
    Route,
    UploadedFile,
    as_bool,
    as_int,
    as_list,
    as_str,
)

PLATFORM = "facebook"
# One URL, two calls: a reel's start only opens an upload session, its finish publishes it,
# so faults and statistics name the finish apart ("graph.video_reels*" matches both).
REELS, FINISH = "graph.video_reels", "graph.video_reels.finish"
PHOTO_STORIES = "graph.photo_stories"
VIDEO_STORIES, STORY_FINISH = "graph.video_stories", "graph.video_stories.finish"
# The upload sessions: a session edge's name -> its finish's call name and its videos' kind.
SESSIONS = {REELS: (FINISH, "reel"), VIDEO_STORIES: (STORY_FINISH, "story")}
MESSAGE_MAX = 63206
COMMENT_MAX = 8000
_POST_FIELDS = {"id", "message", "created_time", "permalink_url", "is_published", "status_type"}


class Dated(Protocol):
    page: str
    created: float


D = TypeVar("D", bound=Dated)
_COMMENT_NODE = Node(
    "Comment",
    {"id", "message", "created_time", "from", "like_count"},
    ("id", "message", "created_time", "from"),
)


def _comment_record(c: Comment) -> dict[str, Any]:
    return {
        "id": c.id,
        "message": c.text,
        "created_time": graph_time(c.created),
        "from": {"id": c.account, "name": "Sandbox Page"},
        "like_count": 0,
    }


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
    kind: str = "video"  # or "reel", "story"
    uploaded_at: float | None = None  # when its file arrived: processing starts
    draft: bool = False  # never goes live (facebook_videos_stay_drafts)
    fails: bool = False  # its processing fails (facebook_video_failures)
    created: float = 0.0
    story_id: str | None = None  # a video story's post id, answered by its finish
    upload: Upload | None = None  # a local file's bytes (rupload, or /videos' transfers)
    session: str | None = None  # a /videos resumable upload's upload_session_id


@dataclass
class Story:
    """A Page story, as ``GET /{page}/stories`` lists it."""

    post_id: str
    page: str
    media_type: str  # "photo" or "video"
    media_id: str
    created: float

    def record(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "status": "PUBLISHED",  # ARCHIVED after 24 hours; the sandbox keeps them fresh
            "creation_time": str(int(self.created)),
            "media_type": self.media_type,
            "media_id": self.media_id,
            "url": f"https://facebook.com/stories/{self.post_id}",
        }


class FacebookStandIn(GraphStandIn):
    platforms = (PLATFORM,)
    prefixes = (PREFIX, UPLOAD_PREFIX)
    endpoints = (
        "graph.feed",
        "graph.photos",
        "graph.videos",
        REELS,
        FINISH,
        PHOTO_STORIES,
        VIDEO_STORIES,
        STORY_FINISH,
        "rupload.video_upload",
        "graph.posts",
        "graph.stories",
        OBJECT,
        "graph.comments",
        "graph.comments_list",
    )
    # Every endpoint but the reads (see the base class).
    actions = frozenset(endpoints) - {"graph.posts", "graph.stories", OBJECT, "graph.comments_list"}
    usage_type = "pages"

    def reset(self) -> None:
        with self._lock:
            self._posts: dict[str, PagePost] = {}
            self._photos: dict[str, Photo] = {}
            self._videos: dict[str, Video] = {}
            self._stories: dict[str, Story] = {}
            self._comments = CommentBox(PLATFORM, self.ledger)

    def comments_route(self, req: Request, object_id: str) -> Route | None:
        with self._lock:
            node = (
                self._posts.get(object_id)
                or self._photos.get(object_id)
                or self._videos.get(object_id)
            )
        if node is None:
            return None
        return comments_route(
            req,
            self._comments,
            object_id,
            node.page,
            max_length=COMMENT_MAX,
            new_id=lambda: f"{object_id.rsplit('_', 1)[-1]}_{self.ids.next('9')}",
            node=_COMMENT_NODE,
            record=_comment_record,
            # Graph's default order is chronological.
            newest_first=lambda r: as_str(r.params.get("order")) == "reverse_chronological",
        )

    def edges(self) -> Edges:
        return {
            ("POST", "feed"): ("graph.feed", self.page_feed),
            ("POST", "photos"): ("graph.photos", self.page_photo),
            ("POST", "videos"): ("graph.videos", self.page_video),
            ("POST", "video_reels"): (REELS, self.video_reels),
            ("POST", "photo_stories"): (PHOTO_STORIES, self.photo_stories),
            ("POST", "video_stories"): (VIDEO_STORIES, self.video_stories),
            ("GET", "stories"): ("graph.stories", self.page_stories),
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
            # A local file's bytes are the body, read by the handler as they come.
            local = req.header("file_url") is None
            return Route("rupload.video_upload", self.video_upload, account=page, stream=local)
        return None

    def unrouted(self, req: Request, parts: list[str]) -> Route:
        if parts[0] == UPLOAD_PREFIX:
            return Route("rupload.video_upload", self.video_upload, account=None)
        return super().unrouted(req, parts)

    def call_name(self, req: Request, route: Route) -> str:
        if route.endpoint in SESSIONS and as_str(req.params.get("upload_phase")) == "finish":
            return SESSIONS[route.endpoint][0]
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
        if as_str(p.get("upload_phase")):
            return self._resumable_video(req, page)
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
        if video.kind == "story":
            video.post_id = self._add_story(
                video.story_id or "", video.page, "video", video.id, now
            )
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
        if video.upload is not None and video.uploaded_at is None:
            uploading = video.upload.phase()
        if video.uploaded_at is not None:
            sent = video.upload.received if video.upload is not None else 1048576
            uploading = {"status": "complete", "bytes_transferred": sent}
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
                elif video.kind == "story":
                    # The Stories guide's vocabulary for a video not (yet) published.
                    publishing = {"status": "not_started", "publish_status": "not_published"}
            elif video.published:
                video_status = "processing"
        return {
            "video_status": video_status,
            "uploading_phase": uploading,
            "processing_phase": processing,
            "publishing_phase": publishing,
        }

    # ---- upload sessions: reels (the Reels Publishing API), video stories -----------------

    def video_reels(self, req: Request, page: str) -> Response:
        return self._session(req, page, "reel")

    def video_stories(self, req: Request, page: str) -> Response:
        return self._session(req, page, "story")

    def _session(self, req: Request, page: str, kind: str) -> Response:
        """``upload_phase=start`` opens an upload session for a video of ``kind``; ``finish``
        publishes it: a reel with its ``video_state``, text and title, a story with nothing
        but the ``video_id`` (answering the story's post id)."""
        p = req.params
        phase = as_str(p.get("upload_phase"))
        now = time.time()
        if phase == "start":
            with self._lock:
                started = self._new_video(page, kind, now)
            host = req.host or "127.0.0.1"
            upload_url = f"http://{host}/{UPLOAD_PREFIX}/video-upload/{GRAPH_VERSION}/{started.id}"
            return Response(200, {"video_id": started.id, "upload_url": upload_url})
        if phase != "finish":
            raise graph_error(100, "(#100) upload_phase must be one of start, finish")
        video_id = as_str(p.get("video_id")) or ""
        state = as_str(p.get("video_state")) or ("PUBLISHED" if kind == "story" else "")
        if state not in ("PUBLISHED", "DRAFT", "SCHEDULED"):
            raise graph_error(100, "(#100) video_state must be PUBLISHED, DRAFT or SCHEDULED")
        with self._lock:
            video = self._videos.get(video_id)
            if video is None or video.page != page or video.kind != kind:
                raise graph_error(100, f"(#100) video_id {video_id} is not a {kind} of this Page")
            if video.uploaded_at is None:
                # Meta: "Video Upload Is Missing" (trypost PR #32 saw it after a no-op upload).
                raise graph_error(6000, "There was a problem uploading your video file")
            if video.published:
                # A second finish is refused, so a resent one is visible in tests.
                raise graph_error(100, f"(#100) the {kind} {video_id} is already published")
            video.published = state == "PUBLISHED"
            body: dict[str, Any] = {"success": True}
            if kind == "story":
                video.story_id = self.ids.next("1")
                body["post_id"] = int(video.story_id)  # a number, as the guide prints it
            else:
                video.description = as_str(p.get("description")) or ""
                video.title = as_str(p.get("title")) or ""
            self._settle(video, now)
        return Response(200, body)

    # ---- photo stories and the Page's stories (the Page Stories API) ---------------------

    def photo_stories(self, req: Request, page: str) -> Response:
        photo_id = as_str(req.params.get("photo_id")) or ""
        if not photo_id:
            raise graph_error(100, "(#100) The parameter photo_id is required")
        now = time.time()
        with self._lock:
            photo = self._photos.get(photo_id)
            if photo is None or photo.page != page:
                raise graph_error(100, f"(#100) photo {photo_id} does not exist on this Page")
            if photo.published:
                # "A photo or video uploaded for a story can not have been used in a previously
                # published post": a story resent for the same photo is refused too.
                raise graph_error(
                    100, f"(#100) photo {photo_id} was already used in a published post"
                )
            photo.published = True
            photo.post_id = self._add_story(self.ids.next("1"), page, "photo", photo.id, now)
        return Response(200, {"success": True, "post_id": int(photo.post_id)})

    def _add_story(
        self, post_id: str, page: str, media_type: str, media_id: str, now: float
    ) -> str:
        """Under the lock: a story goes live (listed, a ledger entry). Stories have no
        caption: the entry's ``source_ids`` name its photo or video."""
        story = Story(post_id, page, media_type, media_id, now)
        self._stories[post_id] = story
        self.ledger.record(
            LedgerEntry(
                platform=PLATFORM,
                account=page,
                platform_post_id=post_id,
                kind="story",
                caption="",
                created_at=dt.datetime.fromtimestamp(now, dt.UTC),
                source_ids=(media_id,),
            )
        )
        return post_id

    def _listing(self, req: Request, page: str, items: Iterable[D]) -> list[D]:
        """Under the lock: the Page's ``items`` (a live view: read after the Page's waiting
        videos are settled, so one processed since is listed) within ``since`` and
        ``until``, newest first."""
        since = parse_time(req.params.get("since"))
        until = parse_time(req.params.get("until"))
        now = time.time()
        for waiting in self._videos.values():
            if waiting.page == page:
                self._settle(waiting, now)
        chosen = [
            item
            for item in items
            if item.page == page
            and (since is None or item.created >= since)
            and (until is None or item.created <= until)
        ]
        return sorted(chosen, key=lambda item: item.created, reverse=True)

    def page_stories(self, req: Request, page: str) -> Response:
        with self._lock:
            stories = self._listing(req, page, self._stories.values())
            if stories and self.knobs.facebook_story_list_lag > 0:
                self.knobs.facebook_story_list_lag -= 1
                stories = stories[1:]  # the list lags: its newest story is not in it yet
        return Response(200, paginate(req, [story.record() for story in stories]))

    def video_upload(self, req: Request, page: str) -> Response:
        """rupload's upload of a reel's or video story's file: "Upload a hosted file" (the
        ``file_url`` header; the sandbox does not fetch it, it takes the URL as the upload)
        or "Upload a local file" (``offset``, ``file_size`` and the bytes, counted as they
        stream in; see graph_common.receive)."""
        video_id = object_id(req)
        file_url = req.header("file_url")
        with self._lock:
            video = self._videos.get(video_id)
            if video is None or video.kind not in ("reel", "story"):
                message = f"video {video_id} has no upload session"
                return rupload_error(400, "NotFoundError", message)
            if video.uploaded_at is not None:
                return Response(200, {"success": True})  # sent again: nothing new
            if file_url is not None:
                if not file_url.startswith(("http://", "https://")):
                    message = "file_url header must be a public http(s) URL"
                    return rupload_error(400, "ParameterValidationError", message)
                video.uploaded_at = time.time()
                return Response(200, {"success": True})
            upload = video.upload = video.upload or Upload()
            fail_after, self.knobs.rupload_fail_after_bytes = self.knobs.rupload_fail_after_bytes, 0
        refused = receive(req, upload, fail_after)
        if refused is not None:
            return refused
        with self._lock:
            video.uploaded_at = time.time()
        return Response(200, {"success": True})

    def _resumable_video(self, req: Request, page: str) -> Response:
        """/videos' Resumable Upload protocol (the Video API's publishing guide): ``start``
        with ``file_size`` opens a session, each ``transfer`` takes the multipart
        ``video_file_chunk`` from ``start_offset`` and answers the next offsets (equal once
        it is all there), ``finish`` publishes it with its description and title."""
        p = req.params
        phase = as_str(p.get("upload_phase"))
        now = time.time()
        with self._lock:
            if phase == "start":
                size = as_int(p.get("file_size")) or 0
                if size <= 0:
                    raise graph_error(100, "(#100) file_size must be a positive number")
                video = self._new_video(page, "video", now)
                video.upload, video.session = Upload(size=size), self.ids.next("2")
                return Response(
                    200,
                    {
                        "video_id": video.id,
                        "upload_session_id": video.session,
                        **self._next_range(video),
                    },
                )
            session = as_str(p.get("upload_session_id")) or ""
            found = next((v for v in self._videos.values() if v.session == session), None)
            if found is None or found.page != page or found.upload is None:
                raise graph_error(100, f"(#100) no upload session {session} on this Page")
            video, upload = found, found.upload
            if phase == "transfer":
                chunk = p.get("video_file_chunk")
                start = as_int(p.get("start_offset"))
                if not isinstance(chunk, UploadedFile):
                    raise graph_error(100, "(#100) video_file_chunk is required")
                if start != upload.received:
                    raise graph_error(
                        6001, f"(#6001) start_offset should be {upload.received}", subcode=1363037
                    )
                upload.received = min(upload.size, upload.received + chunk.size)
                return Response(200, self._next_range(video))
            if phase != "finish":
                raise graph_error(100, "(#100) upload_phase must be start, transfer or finish")
            if not upload.complete:
                raise graph_error(6000, "There was a problem uploading your video file")
            if video.published:
                raise graph_error(100, f"(#100) the video {video.id} is already published")
            video.title = as_str(p.get("title")) or ""
            video.description = as_str(p.get("description")) or ""
            video.published = as_bool(p.get("published"), True)
            video.uploaded_at = now
            video.draft = self.knobs.facebook_videos_stay_drafts
            self._settle(video, now)
        return Response(200, {"success": True})

    def _next_range(self, video: Video) -> dict[str, str]:
        assert video.upload is not None
        start = video.upload.received
        end = min(video.upload.size, start + max(1, self.knobs.facebook_transfer_chunk))
        return {"start_offset": str(start), "end_offset": str(end)}

    def page_posts(self, req: Request, page: str) -> Response:
        names = fields(
            req, _POST_FIELDS, "Post", ("id", "message", "created_time", "permalink_url")
        )
        with self._lock:
            posts = [p for p in self._listing(req, page, self._posts.values()) if p.published]
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
