"""Facebook Pages (Graph API, a Page access token): the platform's spec.

Rules from the Page feed, photos and videos references:
https://developers.facebook.com/docs/graph-api/reference/page/feed/,
https://developers.facebook.com/docs/graph-api/reference/page/photos/ and
https://developers.facebook.com/docs/video-api/guides/publishing/; stories from the Page
Stories API, https://developers.facebook.com/docs/page-stories-api
"""

from __future__ import annotations

import datetime as dt

from studio_publish.platforms.spec import (
    IMAGES,
    IMAGES_OR_VIDEOS,
    NO_MEDIA,
    VIDEO_EXTENSIONS,
    VIDEOS,
    CountedQuota,
    Demo,
    DemoPost,
    FirstCommentRule,
    MediaLimit,
    MediaRule,
    PlatformSpec,
    PostTypeRule,
    TextRule,
    TokenLifetimes,
    option,
)

CAPTION = TextRule(63206)  # the longest post message Facebook takes
CDN = "https://cdn.example.com/demo"
MB = 1024**2
# The Page Stories API's media requirements: a photo "can not exceed 10MB" (some copies of
# the page, its translations among them, still say 4MB); a video's duration is "3 to 90
# seconds" in its table, but its Limitations say "A video story can not exceed 60 seconds":
# the stricter is declared. Its photos are .jpeg, .bmp, .png, .gif or .tiff and its videos
# ".mp4 (recommended)", within the formats declared below.
STORY_PHOTO = MediaLimit(max_bytes=10 * MB)
STORY_VIDEO = MediaLimit(min_seconds=3, max_seconds=60)
# A comment as the Page under its own post: POST /{object-id}/comments with message
# (https://developers.facebook.com/docs/graph-api/reference/object/comments). 8,000
# characters, the longest comment Facebook takes.
FIRST_COMMENT = FirstCommentRule(
    TextRule(8000),
    frozenset({"text", "image", "video", "reel", "carousel"}),
    "https://developers.facebook.com/docs/graph-api/reference/object/comments",
)


SPEC = PlatformSpec(
    name="facebook",
    display_name="Facebook",
    account_id_label="Facebook Page id",
    post_types={
        "text": PostTypeRule((0, 0), NO_MEDIA, CAPTION, needs_caption=True, or_option="link"),
        "image": PostTypeRule((1, 1), IMAGES, CAPTION),
        "video": PostTypeRule((1, 1), VIDEOS, CAPTION),
        "reel": PostTypeRule((1, 1), VIDEOS, CAPTION),  # published as a Page video
        # Uploaded unpublished, then attached to one feed post. The reference gives no
        # maximum; 10 keeps a publish to a bounded number of non-idempotent uploads.
        "carousel": PostTypeRule((2, 10), IMAGES, CAPTION),
        # One photo or one video; the Stories API takes no text, so a caption is refused
        # rather than silently dropped (as Instagram stories are).
        "story": PostTypeRule(
            (1, 1), IMAGES_OR_VIDEOS, None, limits={"image": STORY_PHOTO, "video": STORY_VIDEO}
        ),
    },
    media={
        # Photos are uploaded from the media root or fetched by Facebook from a URL. Meta
        # recommends under 4 MB; 10 MB is our bound, beyond which an upload is refused.
        "image": MediaRule(
            frozenset({"jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff"}),
            local_files=True,
            max_bytes=10 * 1024**2,
        ),
        # Videos by URL (Meta fetches them) or uploaded from the media root, streamed: a
        # video by the Video API's resumable upload (start, transfer, finish), a reel or a
        # video story by the rupload host's "Upload a local file" (platforms/graph/rupload.py).
        # Meta's guides give no file size for Page videos or reels ("n/a" in the Reels
        # guide's table): 4 GB is our bound on what the tool reads.
        "video": MediaRule(VIDEO_EXTENSIONS, local_files=True, max_bytes=4 * 1024**3),
    },
    options={
        "link": option("url", "text"),  # a /feed link post; photos use attached_media
        "title": option("str", "video", "reel"),  # /videos' title; the caption is description
    },
    default_types={"text": "text", "image": "image", "video": "video", "carousel": "carousel"},
    # A Page token derived from a long-lived user token has no expiry date; a password
    # change, a lost Page role or a removed app revokes it
    # (https://developers.facebook.com/docs/facebook-login/guides/access-long-lived).
    token_lifetimes=TokenLifetimes(
        access=None,
        source="https://developers.facebook.com/docs/facebook-login/guides/access-long-lived",
    ),
    api_base_setting="graph_api_base",
    # "Reels API is limited to 30 API-published posts within a 24-hour moving period ...
    # Meta recommends that your app also enforces the publishing rate limit, especially if
    # your app allows app users to schedule posts" (the Reels Publishing API's Rate Limit).
    # No call reads it, so run-due counts the Page's reels it published itself.
    counted_quota=CountedQuota(
        frozenset({"reel"}),
        30,
        dt.timedelta(hours=24),
        "https://developers.facebook.com/docs/video-api/guides/reels-publishing",
    ),
    quota="30 API-published reels per Page per moving 24 hours (counted by studio-publish)",
    first_comment=FIRST_COMMENT,
    client="studio_publish.platforms.facebook.client:FacebookPlatform",
    demo=Demo(
        platform_account_id="102000000000001",
        name="Demo Page",
        posts=(
            DemoPost("A text post with a link", (), ("link=https://example.com",)),
            DemoPost("A photo on the Page", (f"{CDN}/page.jpg",)),
            DemoPost("Three photos in one post", tuple(f"{CDN}/{n}.jpg" for n in "abc")),
            DemoPost("A video by URL", (f"{CDN}/clip.mp4",)),
        ),
    ),
)
