"""Facebook Page stories: what the Page Stories API says a story is, and how to find one.

The Page Stories API (https://developers.facebook.com/docs/page-stories-api) publishes a
photo or a video as a story, with no text:

* a photo: uploaded unpublished (``POST /{page}/photos`` with ``published=false``, "Be sure
  to include the published parameter and set it to false"), then ``POST
  /{page}/photo_stories`` with its ``photo_id``, answering ``{"success": true, "post_id":
  ...}``;
* a video: ``POST /{page}/video_stories`` with ``upload_phase=start`` answering ``{video_id,
  upload_url}``, the file uploaded to rupload (the hosted file as a ``file_url`` header, as
  for reels), then ``upload_phase=finish`` with ``video_id``, answering ``{"success": true,
  "post_id": ...}``; "To check a status of your video, during upload or publishing", the
  Video node's ``status`` (its publishing phase's ``publish_status`` is ``published`` or
  ``not_published`` there).

``GET /{page}/stories`` lists the Page's stories, each with its ``post_id``, ``status``
(``PUBLISHED`` or ``ARCHIVED``), ``creation_time`` (a UNIX time), ``media_type``, ``media_id``
(the photo's or video's id) and ``url``, filtered by ``since`` and ``until``. The media id is
what finds a story after an unclear answer: ours is saved before the call that publishes,
and "A photo or video uploaded for a story can not have been used in a previously published
post", so a story showing it is ours. Archived stories are listed only when the Page's story
archive is on; a story is looked for within minutes of its publishing call, long before it
is archived.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from studio_publish.domain import Post, Published
from studio_publish.ids import usable_id
from studio_publish.platforms.graph.client import GraphClient

DOC = "https://developers.facebook.com/docs/page-stories-api"


def is_story(post: Post) -> bool:
    return post.post_type == "story"


def is_video_story(post: Post) -> bool:
    return is_story(post) and bool(post.media) and post.media[0].kind == "video"


def story_media_id(post: Post, saved: dict[str, Any]) -> str | None:
    """The id of the story's photo or video, as saved before the call that publishes it."""
    if is_video_story(post):
        video = saved.get("fb_video_id")
        return str(video) if video not in (None, "") else None
    photos = saved.get("fb_photo_ids")
    return str(photos[0]) if isinstance(photos, list) and photos else None


def _story(item: dict[str, Any], media_id: str) -> Published:
    url = item.get("url")
    # Where a listed story has no usable post id, its media's id stands in (as a video's
    # does for a Page video that gives no post id).
    return Published(
        usable_id(item.get("post_id")) or media_id, url if isinstance(url, str) else None
    )


async def find_story(
    graph: GraphClient, page: str, media_id: str, since: dt.datetime | None
) -> Published | None:
    """The Page's story showing ``media_id`` (GET /{page}/stories), or None when not listed.
    Not listed is no proof it was never published: the list may lag behind."""
    params: dict[str, str | int] = {}
    if since is not None:
        params["since"] = int(since.timestamp())
    body = await graph.get(f"{page}/stories", **params)
    for item in body.get("data") or []:
        if isinstance(item, dict) and str(item.get("media_id")) == media_id:
            return _story(item, media_id)
    return None
