"""Facebook Page publishing: text/link posts, one or several photos, video, reels and stories.

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

A ``reel`` takes the Reels Publishing API
(https://developers.facebook.com/docs/video-api/guides/reels-publishing): a vertical video
sent to /videos can stay a draft that never goes live. ``POST /{page}/video_reels`` with
``upload_phase=start`` answers ``{video_id, upload_url}``; the hosted file is uploaded with
``POST {rupload}/video-upload/{version}/{video_id}`` and the headers ``Authorization: OAuth
<token>`` and ``file_url`` (the guide's "upload a hosted file"), answering ``{success:
true}``; ``upload_phase=finish`` with ``video_id``, ``video_state=PUBLISHED`` and
``description`` publishes it (``{success: true}``). A local file is uploaded to the same
URL with the headers ``offset`` and ``file_size`` and its bytes streamed as the body (the
guide's "upload a local file"; graph/rupload.py), from the offset the video's status says
arrived; a local ``video`` takes the Video API's resumable upload (``_resumable_video``).
The rupload host is
STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE and the Graph version that of the Graph base, so the
token only goes where the settings say (``upload_url`` is not followed).

A ``story`` takes the Page Stories API (https://developers.facebook.com/docs/page-stories-api,
see stories.py). A photo story uploads the photo unpublished (as a multi-photo post's are),
then ``POST /{page}/photo_stories`` with ``photo_id`` publishes it, answering ``{success:
true, post_id}``. A video story is a reel's upload session on ``/{page}/video_stories``:
the same start, rupload upload and status, but a finish with ``video_id`` alone (no text,
no ``video_state``) that answers ``{success: true, post_id}`` too. Its id is saved at once,
and the story is ``posted`` once the status says published, as a reel's. The Stories guide
prints ``publish_status`` "published" beside a publishing phase "not_started" in its status
example: a phase not started is never read as live; after an unclear finish such a status
counts as taken (waited for, never resent), the safe reading. A story's permalink is the
``url`` the Page's story list gives.

A video, reel or not, is ``posted`` only once the Video node's ``status`` says it is
published (``GET /{video-id}?fields=status``, the guide's "Get the Upload Status" and
https://developers.facebook.com/docs/graph-api/reference/video/): its ``publishing_phase``
done ("complete" or "completed": the guide spells it both ways) with ``publish_status``
``published`` (``video_status`` ``ready`` alone where a Graph version gives no phases;
"ready" means only "ready to be published"). ``video_status`` ``error``, ``expired`` or
``upload_failed``, a phase in ``error`` or carrying an error object, or ``publish_status``
``error`` fail the post; anything else is still processing, looked at again with the run's
non-blocking wait (platforms/polling.py) and handed back (WAIT) when it says stop, up to
PROCESSING_LIMIT after the publishing call (Meta documents no bound: past it, a person
looks).

Saved ids (``ctx.save``), each before the next call:
  ``fb_photo_ids``        unpublished photo ids of a multi-photo post or a photo story, grown
                          one at a time (unpublished photos are invisible, so they are
                          reused, not redone)
  ``fb_video_id``         a reel's or video story's video id, as ``upload_phase=start``
                          answered it; or the video id /videos answered, before its status
                          and post id are read
  ``fb_reel_uploaded``    True once the reel's (or video story's) file was uploaded (rupload
                          answered success); the names predate stories and stay, so posts in
                          flight resume
  ``fb_upload_session_id``, ``fb_upload_video_id``, ``fb_upload_range`` a local video's
                          resumable upload to /videos: its session, its video and the next
                          ``[start_offset, end_offset]`` Meta asked for, saved as each
                          answer arrives (``_resumable_video``)
  ``fb_reel_finished``    True once ``finish`` answered success (then only the status wait)
  ``fb_story_post_id``    the post id a video story's ``finish`` answered, before it is live
  ``fb_publish_sent_at``  ISO time, saved just before the call that makes the post visible
                          (/feed, /photos, /videos, ``photo_stories`` or the ``finish``),
                          cleared again on a clear refusal
  ``fb_post_id``          the published Page post id (a video's id where Meta gives no other;
                          a story's post id as Meta answered it)

After an unclear answer to the visible call, the Page's recent posts (or videos) are
searched for the caption before anything else; a photo story's, the Page's stories (``GET
/{page}/stories``) for the story showing its photo id. Not finding it is *not* taken as
proof it was never posted: the edge is eventually consistent, so the outcome is UNKNOWN
(``photo_stories`` is never sent again). A reel or video story needs no search: after an
unclear ``finish`` its video's status tells. Publishing under way or done: the finish was
taken, wait. Processed and never publishing: it was not, and it is sent again for the same
video id (``_after_unclear_finish`` says why that cannot make a second reel or story); a
resend that goes unanswered too, or is refused for good while the status still shows no
publishing, goes to a person (UNKNOWN).

The Reels API allows "30 API-published posts within a 24-hour moving period" per Page,
enforced by Meta at ``finish``; the guide gives no call that reads the count, so its
refusal is mapped like any Graph error (README, Platforms).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

from studio_publish.domain import Media, Post, Published
from studio_publish.ids import usable_id
from studio_publish.platforms.base import (
    Decision,
    PlatformError,
    ProcessingTimeout,
    PublishContext,
    ReconcileStatus,
    Reconciliation,
)
from studio_publish.platforms.clock import iso, parse_time, saved_at_least
from studio_publish.platforms.facebook import SPEC
from studio_publish.platforms.facebook.stories import (
    find_story,
    is_story,
    is_video_story,
    story_media_id,
)
from studio_publish.platforms.graph import comments
from studio_publish.platforms.graph.client import GraphClient, GraphPlatform, not_found
from studio_publish.platforms.graph.errors import GraphError
from studio_publish.platforms.graph.rupload import resume_offset, rupload, upload_file
from studio_publish.platforms.media import FileSlice, file_name, image_content_type, local_path
from studio_publish.platforms.polling import poll, processing_wait
from studio_publish.platforms.transport import OutcomeUnclear

FACEBOOK = "https://www.facebook.com"
SEARCH_TRIES = 3  # right after an unclear answer, give the posts edge a moment to catch up
SEARCH_SLACK = dt.timedelta(minutes=1)  # clock skew between our database and Meta
# How long after its publishing call a video may stay unpublished before a person looks:
# Meta documents no bound for a Page video's processing; this is ours.
PROCESSING_LIMIT = dt.timedelta(hours=24)

# A video's state, as its ``status`` field tells it (see the module docstring).
LIVE, PROCESSING, ERROR = "live", "processing", "error"

# The status vocabulary of the Reels Publishing guide's "Get the Upload Status"
# (https://developers.facebook.com/docs/video-api/guides/reels-publishing), declared once.
PHASES = ("uploading_phase", "processing_phase", "publishing_phase")
# A phase's ``status`` is "not_started", "in_progress", "completed" or "error" in the
# guide's table, but "complete" in its examples (and in answers seen in practice): both.
PHASE_DONE = frozenset({"complete", "completed"})
# ``video_status`` values that end the video: "error" (in processing or publishing),
# "expired" ("must be uploaded again") and "upload_failed" ("retry the upload"). The video
# will not go live, so the post fails with the reason rather than waiting out
# PROCESSING_LIMIT; "ready" is only "ready to be published", never proof of it.
VIDEO_FAILED = frozenset({"error", "expired", "upload_failed"})
# ``publishing_phase.publish_status``: "draft", "error", "published" or "scheduled".
PUBLISHED = "published"


def _phases(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The ``status`` object and its phases (each {} when missing or not an object)."""
    status = body.get("status")
    status = status if isinstance(status, dict) else {}
    phases = {name: status.get(name) for name in PHASES}
    return status, {name: p if isinstance(p, dict) else {} for name, p in phases.items()}


def _phase_error(name: str, phase: dict[str, Any]) -> bool:
    """A phase that failed: its status (or publish_status) says "error", or it carries an
    error object. The guide's "Example Response with a Processing Error" shows a
    processing_phase still "not_started" whose ``error`` says "Resolution too low": final,
    whatever the status fields say."""
    if phase.get("status") == "error" or phase.get("error") or phase.get("errors"):
        return True
    return name == "publishing_phase" and phase.get("publish_status") == "error"


def video_state(body: dict[str, Any]) -> str:
    """LIVE, PROCESSING or ERROR from a ``GET /{video-id}?fields=status`` answer.

    LIVE is the publishing phase done with ``publish_status`` "published" (a publishing
    phase done with no publish_status is taken as published: "adding the video to the
    page" is what the phase is); a draft or scheduled video is not live. Without a
    publishing phase at all (a Graph version that leaves it out), ``video_status``
    "ready" stands in."""
    status, phases = _phases(body)
    if not status:
        return PROCESSING
    if status.get("video_status") in VIDEO_FAILED or any(
        _phase_error(name, phase) for name, phase in phases.items()
    ):
        return ERROR
    publishing = phases["publishing_phase"]
    if not publishing:
        return LIVE if status.get("video_status") == "ready" else PROCESSING
    done = publishing.get("status", "complete") in PHASE_DONE
    published = publishing.get("publish_status", PUBLISHED) == PUBLISHED
    return LIVE if done and published else PROCESSING


def publishing_started(body: dict[str, Any]) -> bool:
    """Whether a reel's status shows a ``finish`` was taken: publishing under way or done."""
    status, phases = _phases(body)
    publishing = phases["publishing_phase"]
    if not publishing:
        return status.get("video_status") == "ready"
    return publishing.get("status") in PHASE_DONE | {"in_progress"} or publishing.get(
        "publish_status"
    ) in (PUBLISHED, "scheduled")


def unclear_finish_settled(body: dict[str, Any]) -> bool:
    """After an unclear ``finish``: whether the status can tell if it was taken. While the
    upload is still processing, publishing has not started either way; once processing is
    complete, a finish that was taken shows publishing."""
    if video_state(body) != PROCESSING or publishing_started(body):
        return True
    return _phases(body)[1]["processing_phase"].get("status") in PHASE_DONE


def _status_error(body: dict[str, Any]) -> PlatformError:
    status, phases = _phases(body)
    detail = f"video_status {status.get('video_status')}"
    for name, phase in phases.items():
        if _phase_error(name, phase):
            errors = phase.get("errors") or phase.get("error") or ""
            detail = f"{name}: {json.dumps(errors)[:300]}" if errors else name
            break
    return PlatformError(
        Decision.FAIL, f"Facebook could not process the video ({detail})", code="video_error"
    )


def _span(value: object, size: int) -> list[int] | None:
    """A ``[start_offset, end_offset]`` pair Meta answered (numbers or digit strings) that
    lies within a file of ``size`` bytes; None otherwise."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    offsets = []
    for item in value:
        text = str(item) if isinstance(item, int | str) and not isinstance(item, bool) else ""
        if not (text.isascii() and text.isdecimal() and len(text) <= 20):
            return None
        offsets.append(int(text))
    first, end = offsets
    return [first, end] if 0 <= first <= end <= size else None


def _fail(message: str) -> PlatformError:
    return PlatformError(Decision.FAIL, message)


def is_video_post(post: Post) -> bool:
    return post.post_type in ("video", "reel")


def uses_upload_session(post: Post) -> bool:
    """A reel or a video story: start, upload to rupload, finish (then the status)."""
    return post.post_type == "reel" or is_video_story(post)


def session_edge(post: Post) -> str:
    return "video_stories" if is_story(post) else "video_reels"


def _absolute(link: str | None) -> str | None:
    # Video permalink_url is relative ("/page/videos/123/"); post permalinks are absolute.
    if link and link.startswith("/"):
        return FACEBOOK + link
    return link or None


def page_post_id(page: str, post_id: object) -> str | None:
    """A Page post id as ``{page-id}_{post-id}``, the form /feed and /photos answer, from a
    Video's ``post_id`` (given either way); None when it is missing or not id-shaped."""
    text = usable_id(post_id)
    if text is None:
        return None
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


class FacebookPlatform(comments.GraphComments, GraphPlatform):
    name = "facebook"
    comment_api = comments.FACEBOOK  # first comments as the Page (graph/comments.py)

    async def prepare(self, ctx: PublishContext) -> None:
        """Nothing to read first: the post passed validation.check_stored_post already."""

    def _local_file(self, item: Media, post_type: str) -> Path:
        """A photo or video file, checked again as it is read (media root, size cap)."""
        policy = self.settings.media_policy()
        return local_path(item, policy, max_bytes=SPEC.upload_cap(post_type, item.kind))

    async def publish(self, ctx: PublishContext) -> Published:
        try:
            return await self._publish(ctx)
        except PlatformError as exc:
            _page_token_hint(exc)
            raise

    async def _publish(self, ctx: PublishContext) -> Published:
        graph = self.client(ctx.http, ctx.account)
        if ctx.saved_ids.get("fb_post_id"):
            return await self._live(ctx, graph, str(ctx.saved_ids["fb_post_id"]))
        video = is_video_post(ctx.post) or is_video_story(ctx.post)
        if video and ctx.post.media[0].is_local and not ctx.saved_ids:
            # Refused (media root, size) before any upload session is opened.
            self._local_file(ctx.post.media[0], ctx.post.post_type)
        if uses_upload_session(ctx.post):
            return await self._upload_session(ctx, graph)
        if ctx.saved_ids.get("fb_video_id"):  # sent: wait until its status says published
            return await self._until_live(ctx, graph, str(ctx.saved_ids["fb_video_id"]))
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
        if post.post_type == "video":
            # A video's text is its description: the publishing guide's parameter.
            data = {"description": post.caption}
            if post.options.get("title"):
                data["title"] = str(post.options["title"])
            if post.media[0].is_local:
                return await self._resumable_video(ctx, graph, data)
            return await self._go_live(
                ctx, graph, f"{page}/videos", {"file_url": post.media[0].url, **data}
            )
        if is_story(post):  # a photo story: the photo uploaded unpublished, then the story
            photo_id = (await self._unpublished_photos(ctx, graph))[0]
            return await self._go_live(ctx, graph, f"{page}/photo_stories", {"photo_id": photo_id})
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
            published = await self._live(ctx, graph, str(ctx.saved_ids["fb_post_id"]))
            return Reconciliation(ReconcileStatus.LIVE, published, reason="post id saved")
        video_id = ctx.saved_ids.get("fb_video_id")
        sent = bool(ctx.saved_ids.get("fb_publish_sent_at"))
        session = uses_upload_session(ctx.post)
        if video_id and (sent or not session):
            body = await graph.get(str(video_id), fields="status")
            state = video_state(body)
            if state == LIVE:
                published = await self._saved_video(ctx, graph, str(video_id))
                return Reconciliation(ReconcileStatus.LIVE, published, reason="video published")
            if state == ERROR:
                return Reconciliation(
                    ReconcileStatus.FAILED, error=_status_error(body), reason="video error"
                )
            unclear = session and not ctx.saved_ids.get("fb_reel_finished")
            if unclear and not publishing_started(body) and unclear_finish_settled(body):
                # Not live; publishing again resends the finish for this video, never a start.
                return Reconciliation(
                    ReconcileStatus.NOT_LIVE,
                    reason=f"the {ctx.post.post_type}'s unclear finish was not taken "
                    "(its status: no publishing)",
                )
            return Reconciliation(ReconcileStatus.PENDING, reason="the video is processing")
        if session:  # finish never sent: an upload nobody sees at most
            return Reconciliation(
                ReconcileStatus.NOT_LIVE, reason=f"the {ctx.post.post_type} was never finished"
            )
        if not sent:
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
        file = self._local_file(item, ctx.post.post_type)
        with file.open("rb") as handle:  # httpx streams the multipart body from the handle
            files = {"source": (file.name, handle, image_content_type(file.name))}
            return await self._go_live(ctx, graph, path, data, files=files)

    async def _unpublished_photos(self, ctx: PublishContext, graph: GraphClient) -> list[str]:
        photo_ids = list(ctx.saved_ids.get("fb_photo_ids") or [])
        path = f"{ctx.account.platform_account_id}/photos"
        for item in ctx.post.media[len(photo_ids) :]:
            data = {"published": "false"}
            if item.is_local:
                file = self._local_file(item, ctx.post.post_type)
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
        video_id: str | None = None,
    ) -> Published:
        """The one call that makes the post visible: never repeated blindly. ``video_id``:
        the video a resumable upload's ``finish`` publishes, which answers only success."""
        await ctx.save(fb_publish_sent_at=iso(self.clock()))
        try:
            body = await graph.post(path, data, files=files, irreversible=True)
            story_post_id = usable_id(body.get("post_id"))
            if is_story(ctx.post) and story_post_id is None:
                # {success: true} without the post id: taken, but which story is it?
                raise OutcomeUnclear(f"POST {path} answered no usable post_id")
            if video_id is not None and body.get("success") is not True:
                raise PlatformError(Decision.RETRY, f"POST {path} finish did not answer success")
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
            # /videos answers {id: video} only: live once its status says so, and then the
            # Page post id is the video's to tell.
            video_id = usable_id(body.get("id")) or video_id or str(body["id"])
            await ctx.save(fb_video_id=video_id)
            return await self._until_live(ctx, graph, video_id)
        if story_post_id is not None and is_story(ctx.post):
            # photo_stories answers {success, post_id}: the story is published.
            await ctx.save(fb_post_id=story_post_id)
            return await self._story_post(ctx, graph, story_post_id)
        # /photos answers {id: photo, post_id: page post}: the post is what was published.
        post_id = str(body.get("post_id") or body["id"])
        return await ctx.save_while(self._with_permalink(graph, post_id), fb_post_id=post_id)

    async def _live(self, ctx: PublishContext, graph: GraphClient, post_id: str) -> Published:
        """A post known live by its saved id, with its permalink."""
        if is_story(ctx.post):
            return await self._story_post(ctx, graph, post_id)
        return await self._with_permalink(graph, post_id)

    # -- stories (https://developers.facebook.com/docs/page-stories-api) -------------------

    async def _story_post(
        self, ctx: PublishContext, graph: GraphClient, post_id: str | None
    ) -> Published:
        """The story as its Page post: ``post_id`` as Meta answered it (None: the listing's),
        and its ``url`` from the Page's stories. The story is live whatever happens here: a
        failed or lagging listing only loses the link (the media's id stands in for a post
        id nothing gave)."""
        media_id = story_media_id(ctx.post, ctx.saved_ids)
        listed = None
        if media_id is not None:
            try:
                listed = await find_story(
                    graph, ctx.account.platform_account_id, media_id, self._since(ctx)
                )
            except PlatformError:
                listed = None
        if listed is None:
            return Published(post_id or media_id or "")
        return Published(post_id or listed.platform_post_id, listed.permalink)

    # -- reels and video stories: an upload session ---------------------------------------
    # The Reels Publishing API and the Page Stories API's video stories share the flow:
    # start, the rupload upload, finish, the status (the module docstring).

    async def _upload_session(self, ctx: PublishContext, graph: GraphClient) -> Published:
        page, edge = ctx.account.platform_account_id, session_edge(ctx.post)
        saved = ctx.saved_ids
        if saved.get("fb_reel_finished") and saved.get("fb_video_id"):
            return await self._until_live(ctx, graph, str(saved["fb_video_id"]))
        if saved.get("fb_publish_sent_at") and saved.get("fb_video_id"):
            # An earlier attempt's finish went unanswered: its status decides what next.
            return await self._after_unclear_finish(ctx, graph, str(saved["fb_video_id"]))
        video_id = saved.get("fb_video_id")
        if not video_id:
            # Nothing is visible yet: a start whose answer is lost leaves an upload session
            # nobody sees, and the next attempt opens a new one.
            body = await graph.post(f"{page}/{edge}", {"upload_phase": "start"})
            video_id = usable_id(body.get("video_id"))
            if video_id is None:
                raise PlatformError(Decision.RETRY, f"{edge} start answered no usable video_id")
            await ctx.save(fb_video_id=video_id)
        video_id = str(video_id)
        if not saved.get("fb_reel_uploaded"):
            await self._upload(ctx, graph, video_id)
            await ctx.save(fb_reel_uploaded=True)
        return await self._finish(ctx, graph, video_id)

    async def _finish(
        self, ctx: PublishContext, graph: GraphClient, video_id: str, *, resend: bool = False
    ) -> Published:
        """``upload_phase=finish``, the call that publishes the reel or story. ``resend``: an
        earlier finish went unanswered and the status shows it was not taken; its saved time
        stands (the processing bound and the search count from the first)."""
        data = {"upload_phase": "finish", "video_id": video_id}
        if not is_story(ctx.post):  # a story takes no text and no state (the Stories API)
            data |= {"video_state": "PUBLISHED", "description": ctx.post.caption}
            if ctx.post.options.get("title"):
                data["title"] = str(ctx.post.options["title"])
        if not resend:
            await ctx.save(fb_publish_sent_at=iso(self.clock()))
        page, edge = ctx.account.platform_account_id, session_edge(ctx.post)
        try:
            body = await graph.post(f"{page}/{edge}", data, irreversible=True)
        except OutcomeUnclear:
            return await self._after_unclear_finish(ctx, graph, video_id, may_resend=not resend)
        except PlatformError as exc:
            if not resend:
                await ctx.save(fb_publish_sent_at=None)  # a clear refusal: nothing was published
                raise
            return await self._refused_resend(ctx, graph, video_id, exc)
        if body.get("success") is not True:
            if not resend:  # a resend keeps the first finish's time: that one is still unclear
                await ctx.save(fb_publish_sent_at=None)
            raise PlatformError(Decision.RETRY, f"{edge} finish did not answer success")
        # A video story's finish answers its post id: saved at once, the post itself only
        # once the status says published.
        story_post_id = usable_id(body.get("post_id"))
        if story_post_id is not None:
            await ctx.save(fb_reel_finished=True, fb_story_post_id=story_post_id)
        else:
            await ctx.save(fb_reel_finished=True)
        return await self._until_live(ctx, graph, video_id)

    async def _refused_resend(
        self, ctx: PublishContext, graph: GraphClient, video_id: str, refusal: PlatformError
    ) -> Published:
        """A resent finish refused. Anything but a final refusal (a token, a rate limit, a
        server error) leaves the first finish unclear for the next attempt to read again; a
        final one may mean the first was taken after all (a status read that lagged): the
        status decides once more, and a person when it still shows no publishing."""
        if refusal.decision is not Decision.FAIL:
            raise refusal
        body = await graph.get(video_id, fields="status")
        if publishing_started(body):
            return await self._until_live(ctx, graph, video_id, current=body)
        raise PlatformError(
            Decision.UNKNOWN,
            f"the {ctx.post.post_type}'s finish had an unclear answer and sending it again was "
            f"refused ({refusal.message}); its status shows no publishing",
            code=refusal.code,
            http_status=refusal.http_status,
        ) from refusal

    def upload_url(self, video_id: str) -> str:
        """The rupload URL for ``video_id``: the configured host, the Graph base's version."""
        return self.rupload_url("video-upload", video_id)

    async def _upload(self, ctx: PublishContext, graph: GraphClient, video_id: str) -> None:
        """The rupload upload (graph/rupload.py): a hosted file by its ``file_url`` (the
        guides' "Upload a hosted file"), a local one streamed with ``offset`` and
        ``file_size`` ("Upload a local file"), from where the video's status says an earlier
        attempt's upload stopped. Nothing is visible yet, so a failure here is retried (the
        same video id is uploaded again)."""
        item, token = ctx.post.media[0], ctx.account.access_token
        what = f"POST video-upload ({ctx.post.post_type})"
        url, timeout = self.upload_url(video_id), self.settings.http_timeout_seconds
        if not item.is_local:
            headers = {"file_url": item.url}
            await rupload(ctx.http, url, token, what=what, timeout=timeout, headers=headers)
            return
        path = self._local_file(item, ctx.post.post_type)
        status = (await graph.get(video_id, fields="status")).get("status")
        offset = resume_offset(status, path.stat().st_size)
        if offset is not None:
            await upload_file(ctx.http, url, token, path, offset=offset, what=what, timeout=timeout)

    # -- a local video for /videos: the Video API's resumable upload ---------------------------

    async def _resumable_video(
        self, ctx: PublishContext, graph: GraphClient, data: dict[str, str]
    ) -> Published:
        """A local file for ``/{page}/videos``: the Video API's Resumable Upload protocol
        (https://developers.facebook.com/docs/video-api/guides/publishing, "Resumable
        Upload"). ``upload_phase=start`` with ``file_size`` answers ``{video_id,
        upload_session_id, start_offset, end_offset}``; each ``upload_phase=transfer`` with
        ``upload_session_id``, ``start_offset`` and the bytes from there to ``end_offset`` as
        the multipart ``video_file_chunk`` answers the next ``{start_offset, end_offset}``,
        until both are equal; ``upload_phase=finish`` with ``upload_session_id`` and the
        description and title publishes it (``{success: true}``): that is the visible call,
        the one ``_go_live`` makes. The session and the next range are saved as they arrive,
        so a later attempt carries on from the last chunk Meta took; a session Meta refuses
        for good is dropped and the next attempt starts a new one (an unfinished upload is
        seen by nobody)."""
        path = self._local_file(ctx.post.media[0], "video")
        size, edge = path.stat().st_size, f"{ctx.account.platform_account_id}/videos"
        saved = ctx.saved_ids
        session, video_id = saved.get("fb_upload_session_id"), saved.get("fb_upload_video_id")
        span = _span(saved.get("fb_upload_range"), size)
        if not session or not video_id or span is None:
            body = await graph.post(edge, {"upload_phase": "start", "file_size": str(size)})
            session = usable_id(body.get("upload_session_id"))
            video_id = usable_id(body.get("video_id"))
            span = _span([body.get("start_offset"), body.get("end_offset")], size)
            if session is None or video_id is None or span is None:
                raise PlatformError(Decision.RETRY, f"{edge} start answered no usable session")
            await ctx.save(
                fb_upload_session_id=session, fb_upload_video_id=video_id, fb_upload_range=span
            )
        first, end = span
        while first < end:
            chunk = FileSlice(path, first, end - first)
            params = {
                "upload_phase": "transfer",
                "upload_session_id": str(session),
                "start_offset": str(first),
            }
            try:
                with chunk:
                    files = {"video_file_chunk": (path.name, chunk, "application/octet-stream")}
                    body = await graph.post(edge, params, files=files)
            except PlatformError as exc:
                if exc.decision is Decision.FAIL:  # the session is spoilt: a new one next time
                    await ctx.save(
                        fb_upload_session_id=None, fb_upload_video_id=None, fb_upload_range=None
                    )
                    raise PlatformError(
                        Decision.RETRY, f"{exc.message}; the upload starts again"
                    ) from exc
                raise
            span = _span([body.get("start_offset"), body.get("end_offset")], size)
            if span is None or span[0] < first:
                await ctx.save(fb_upload_range=None)
                raise PlatformError(Decision.RETRY, f"{edge} transfer answered no usable offsets")
            first, end = span
            await ctx.save(fb_upload_range=list(span))
        finish = {"upload_phase": "finish", "upload_session_id": str(session), **data}
        return await self._go_live(ctx, graph, edge, finish, video_id=str(video_id))

    async def _after_unclear_finish(
        self, ctx: PublishContext, graph: GraphClient, video_id: str, *, may_resend: bool = True
    ) -> Published:
        """A finish went unanswered: the video's status tells whether it was taken. Taken
        (publishing under way or done): wait until live. Not taken (processed, publishing
        never started): send it again for the same video id. The guide says nothing of a
        second finish, but a finish names the video ``start`` made, and one video is at most
        one reel or story (a story's media "can not have been used in a previously published
        post", the Stories API): only a new start could make a second one, and none is ever
        made once a finish was sent. A resend that goes unanswered too is not resent again."""
        try:
            body = await graph.get(video_id, fields="status")
        except PlatformError as exc:
            raise PlatformError(
                Decision.UNKNOWN,
                f"the {ctx.post.post_type}'s finish had an unclear answer and its status cannot "
                f"be read: {exc.message}",
            ) from exc
        body = (
            await poll(
                lambda: graph.get(video_id, fields="status"),
                unclear_finish_settled,
                interval=self.settings.poll_interval_seconds,
                wait=processing_wait(ctx.processing_wait, self.settings.poll_timeout_seconds),
                current=body,
            )
            or body
        )
        if video_state(body) == ERROR:
            raise _status_error(body)
        if not unclear_finish_settled(body):
            raise PlatformError(
                Decision.WAIT,
                f"Facebook is still processing the {ctx.post.post_type} {video_id}; whether its "
                "finish was taken shows once it is processed",
                retry_after=self.settings.poll_interval_seconds,
            )
        if publishing_started(body):
            return await self._until_live(ctx, graph, video_id, current=body)
        if may_resend:
            return await self._finish(ctx, graph, video_id, resend=True)
        raise PlatformError(
            Decision.UNKNOWN,
            f"the {ctx.post.post_type}'s finish and its resend both had unclear answers and its "
            "status shows no publishing",
        )

    # -- waiting until a video is published ---------------------------------------------

    async def _until_live(
        self,
        ctx: PublishContext,
        graph: GraphClient,
        video_id: str,
        *,
        current: dict[str, Any] | None = None,
    ) -> Published:
        """Wait (slot-free) until the video's status says published; then its Page post."""
        if current is None:
            current = await graph.get(video_id, fields="status")
        body = await poll(
            lambda: graph.get(video_id, fields="status"),
            lambda read: video_state(read) != PROCESSING,
            interval=self.settings.poll_interval_seconds,
            wait=processing_wait(ctx.processing_wait, self.settings.poll_timeout_seconds),
            current=current,
        )
        state = video_state(body or {})
        if state == LIVE:
            return await self._saved_video(ctx, graph, video_id)
        if state == ERROR:
            raise _status_error(body or {})
        if saved_at_least(ctx.saved_ids.get("fb_publish_sent_at"), PROCESSING_LIMIT, self.clock()):
            raise ProcessingTimeout(
                Decision.UNKNOWN,
                f"the Facebook video {video_id} was still not published "
                f"{int(PROCESSING_LIMIT.total_seconds() // 3600)} hours after it was sent "
                "(a draft?): check the Page",
            )
        raise PlatformError(
            Decision.WAIT,
            f"Facebook is still processing the video {video_id}",
            retry_after=self.settings.poll_interval_seconds,
        )

    async def _saved_video(
        self, ctx: PublishContext, graph: GraphClient, video_id: str
    ) -> Published:
        if is_story(ctx.post):  # its post id is the finish's, or the Page's stories tell
            saved = usable_id(ctx.saved_ids.get("fb_story_post_id"))
            published = await self._story_post(ctx, graph, saved)
        else:
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

    @staticmethod
    def _since(ctx: PublishContext) -> dt.datetime | None:
        """Where a search of the Page starts: the earlier of the attempt's start and the
        publishing call (reconcile may run in a later attempt than the one that sent), less
        the clock skew between our database and Meta."""
        post = ctx.post
        moments = [post.attempt_started_at, parse_time(ctx.saved_ids.get("fb_publish_sent_at"))]
        since = min((m for m in moments if m is not None), default=None)
        return None if since is None else since - SEARCH_SLACK

    async def _search(self, ctx: PublishContext, graph: GraphClient) -> Published | None:
        post, page = ctx.post, ctx.account.platform_account_id
        if is_story(post):  # no caption: the story showing our photo or video is ours
            media_id = story_media_id(post, ctx.saved_ids)
            return await find_story(graph, page, media_id, self._since(ctx)) if media_id else None
        if not post.caption.strip():
            return None  # nothing to match on: an empty-caption post cannot be told apart
        since = self._since(ctx)
        params: dict[str, str | int] = {}
        if since is not None:
            params["since"] = int(since.timestamp())
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
