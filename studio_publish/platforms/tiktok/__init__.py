"""TikTok (Content Posting API: Direct Post, or the creator's inbox): the platform's spec.

Rules from https://developers.tiktok.com/doc/content-posting-api-reference-direct-post
(videos), https://developers.tiktok.com/doc/content-posting-api-reference-upload-video
(videos to the inbox), https://developers.tiktok.com/doc/content-posting-api-reference-photo-post
(photos, both modes) and https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide
(formats, sizes, PULL_FROM_URL).

``post_mode=inbox`` sends the video or photos to the creator's TikTok inbox, to finish in the
app. What that mode takes, from the references above: the inbox video init's body is
``source_info`` alone (no post_info: no caption, no privacy, no interaction settings); a photo
init with ``post_mode=MEDIA_UPLOAD`` takes post_info's title and description, and its
privacy_level is "Required for DIRECT POST" and disable_comment "Only works for post_mode =
DIRECT POST". So the Direct Post settings (privacy, comments, duets, stitches, cover frame,
music, the disclosure toggles, the AI label) are Direct Post only: the creator chooses them in
TikTok's editing flow, and given with post_mode=inbox they are refused, not dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from studio_publish.platforms.spec import (
    IMAGES,
    LOCAL_VIDEO,
    VIDEOS,
    Demo,
    DemoPost,
    MediaLimit,
    MediaRule,
    OptionValue,
    PlatformSpec,
    PostTypeRule,
    TextRule,
    TokenLifetimes,
    option,
    utf16_units,
)

PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
# The caption is a video's title, or a photo post's description, counted in UTF-16 units.
VIDEO_TITLE = TextRule(2200, unit="UTF-16 units", counter=utf16_units)
PHOTO_DESCRIPTION = TextRule(4000, unit="UTF-16 units", counter=utf16_units)
PHOTO_TITLE = TextRule(90, unit="UTF-16 units", counter=utf16_units)
# The media transfer guide: photos WebP or JPEG, 20 MB at most each; videos 4 GB at most
# (the tool reads them itself: MediaRule.max_bytes) and 10 minutes at most through the API.
PHOTO = MediaLimit(max_bytes=20 * 1024**2)
VIDEO_SECONDS = 600
VIDEO = MediaLimit(max_seconds=VIDEO_SECONDS)
ALL = ("image", "carousel", "video")
PHOTOS = ("image", "carousel")
CDN = "https://cdn.example.com/demo"
PUBLIC = "privacy_level=PUBLIC_TO_EVERYONE"
POST_MODES = ("direct", "inbox")
INBOX = "inbox"
DIRECT = ("post_mode", "direct")  # the options taken only by a Direct Post
# Where platform_state records that TikTok delivered the post to the creator's inbox.
INBOX_DELIVERED = "tiktok_inbox_delivered_at"


# "Although the fetched access_token expires within 2 hours, it can be refreshed"; "Refresh
# tokens are rotated" (the page below, updated November 2026); the token lifetimes table of
# https://developers.tiktok.com/docs/en/oauth-user-access-token-management gives the refresh
# token 180 days. The older /doc/oauth-user-access-token-management said 24 hours and 365
# days: the current pages win. The client reads expires_in and refresh_expires_in instead.
TOKENS = TokenLifetimes(
    access=dt.timedelta(hours=2),
    refresh=dt.timedelta(days=180),
    rotated=True,
    source="https://developers.tiktok.com/docs/en/oauth-refresh-a-user-access-token",
)


def is_inbox(options: Mapping[str, object]) -> bool:
    """Whether the post goes to the creator's inbox (post_mode=inbox), not the profile."""
    return options.get("post_mode", SPEC.options["post_mode"].default) == INBOX


def _inbox_video_takes_no_caption(
    post_type: str, caption: str, options: Mapping[str, OptionValue]
) -> str | None:
    # The inbox video init's body is source_info alone: there is nowhere to put a caption.
    if post_type == "video" and caption.strip() and is_inbox(options):
        return (
            "TikTok's inbox upload of a video takes no caption: the creator writes it in the "
            "TikTok app (it is scheduled, and the caption stays in `status` to copy from)"
        )
    return None


def _branded_content_is_public(options: Mapping[str, OptionValue], media_count: int) -> str | None:
    # TikTok's content-sharing guidelines: branded content cannot be private
    # (https://developers.tiktok.com/doc/content-sharing-guidelines).
    if options.get("brand_content_toggle") is True and options.get("privacy_level") == "SELF_ONLY":
        return "brand_content_toggle=true cannot be used with SELF_ONLY"
    return None


SPEC = PlatformSpec(
    name="tiktok",
    display_name="TikTok",
    account_id_label="TikTok open_id",
    post_types={
        "video": PostTypeRule((1, 1), VIDEOS, VIDEO_TITLE, limits={"video": VIDEO}),
        # a photo post of one
        "image": PostTypeRule((1, 1), IMAGES, PHOTO_DESCRIPTION, limits={"image": PHOTO}),
        "carousel": PostTypeRule((2, 35), IMAGES, PHOTO_DESCRIPTION, limits={"image": PHOTO}),
    },
    media={
        # Photos are PULL_FROM_URL only, and TikTok pulls only over HTTPS.
        "image": MediaRule(frozenset({"jpg", "jpeg", "webp"}), https_only=True),
        # Videos are uploaded by the tool (FILE_UPLOAD), from the media root or a URL it
        # downloads; 4 GB at most.
        "video": MediaRule(
            frozenset({"mp4", "webm", "mov"}), local_files=True, max_bytes=4 * 1024**3
        ),
    },
    options={
        # Direct Post (the default) or the creator's inbox, to finish in the TikTok app.
        "post_mode": option("choice", *ALL, choices=POST_MODES, default="direct"),
        # Required, with no default: PUBLIC_TO_EVERYONE could publish something meant to be
        # private, and SELF_ONLY could silently hide a post meant to be public.
        "privacy_level": option(
            "choice", *ALL, choices=PRIVACY_LEVELS, required=True, only_with=DIRECT
        ),
        "disable_comment": option("bool", *ALL, only_with=DIRECT),
        "disable_duet": option("bool", "video", only_with=DIRECT),
        "disable_stitch": option("bool", "video", only_with=DIRECT),
        "video_cover_timestamp_ms": option("int", "video", only_with=DIRECT),
        "brand_content_toggle": option("bool", *ALL, only_with=DIRECT),
        "brand_organic_toggle": option("bool", *ALL, only_with=DIRECT),
        "is_aigc": option("bool", *ALL, only_with=DIRECT),
        "auto_add_music": option("bool", *PHOTOS, only_with=DIRECT),
        # In source_info, so taken in both modes.
        "photo_cover_index": option("int", *PHOTOS, media_index=True),
        # The video's length, checked against the creator's maximum (10 min at most).
        "duration_sec": option("int", "video", minimum=1, maximum=VIDEO_SECONDS),
        # Photo posts only: a video's title is its caption.
        "title": option("str", *PHOTOS, text=PHOTO_TITLE),
    },
    option_checks=(_branded_content_is_public,),
    post_warnings=(_inbox_video_takes_no_caption,),
    state_notes={
        INBOX_DELIVERED: (
            "TikTok delivered it to the creator's TikTok inbox: they finish the post in the "
            "TikTok app, so it has no permalink (platform_post_id is TikTok's publish_id)"
        )
    },
    default_types={"image": "image", "video": "video", "carousel": "carousel"},
    type_hints={"reel": "TikTok posts are videos: use video"},
    account_options={
        "tiktok_pull_from_url": "TikTok fetches URL videos itself (verified domains only)"
    },
    refreshes_tokens=True,
    token_lifetimes=TOKENS,
    api_base_setting="tiktok_api_base",
    client="studio_publish.platforms.tiktok.client:TikTokPlatform",
    demo=Demo(
        platform_account_id="demo-open-id",
        name="Demo TikTok",
        refresh_token="demo-refresh-token",
        username="studio_demo",
        settings={"tiktok_client_key": "demo-client-key", "tiktok_client_secret": "demo-secret"},
        posts=(
            DemoPost("A video uploaded in chunks from a file", (LOCAL_VIDEO,), (PUBLIC,)),
            DemoPost("A photo post", (f"{CDN}/p1.jpg", f"{CDN}/p2.jpg"), (PUBLIC,)),
            DemoPost(
                "A photo sent to the creator's inbox", (f"{CDN}/p3.jpg",), ("post_mode=inbox",)
            ),
        ),
    ),
)
