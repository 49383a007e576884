"""Instagram (professional accounts): the platform's spec.

Two logins connect an account (https://developers.facebook.com/docs/instagram-platform/):
the Instagram API with Facebook Login (a Facebook Page linked to the account; the default)
and with Instagram Login (no Page, the way most new Instagram apps connect). Content
publishing is the same on both hosts; their tokens and how those stay fresh differ.

Rules from the Content Publishing guide,
https://developers.facebook.com/docs/instagram-platform/content-publishing/ and the IG User
media reference, https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media/
"""

from __future__ import annotations

import datetime as dt

from studio_publish.platforms.spec import (
    IMAGES,
    IMAGES_OR_VIDEOS,
    VIDEOS,
    Demo,
    DemoPost,
    FirstCommentRule,
    Login,
    MediaLimit,
    MediaRule,
    PlatformSpec,
    PostTypeRule,
    TextRule,
    TokenLifetimes,
    option,
)

# 2,200 characters, at most 30 hashtags and 20 @mentions (the media reference's caption).
# Instagram announced 5 hashtags a post in December 2025, for the app, not in the API's
# documentation: 6 to 30 are scheduled with a warning (README, "Platform limits").
CAPTION = TextRule(
    2200,
    max_hashtags=30,
    max_mentions=20,
    advised_hashtags=5,
    advice=(
        "Instagram announced a limit of 5 hashtags per post in December 2025; its API still "
        "documents 30, and what it does with more than 5 (refuse, trim) is not known"
    ),
)
MB = 1024**2
# The content publishing guide's media specifications: images JPEG, 8 MB at most; reels
# MOV or MP4, 3 seconds to 15 minutes, 300 MB; story videos 60 seconds, 100 MB.
IMAGE = MediaLimit(max_bytes=8 * MB)
REEL = MediaLimit(max_bytes=300 * MB, min_seconds=3, max_seconds=15 * 60)
STORY_VIDEO = MediaLimit(max_bytes=100 * MB, max_seconds=60)
CDN = "https://cdn.example.com/demo"
# A comment under the account's own media: POST /{ig-media-id}/comments?message=...
# (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments).
# The reference gives no length; a comment is held to the caption's rules (2,200 characters,
# 30 hashtags, 20 @mentions), what Instagram's app allows a comment. Stories take no comments.
FIRST_COMMENT = FirstCommentRule(
    TextRule(2200, max_hashtags=30, max_mentions=20),
    frozenset({"image", "reel", "carousel"}),
    "https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments",
)

# A long-lived user token from Facebook Login lasts about 60 days; Meta has no refresh grant,
# so a person connects the account again
# (https://developers.facebook.com/docs/facebook-login/guides/access-long-lived).
FACEBOOK_LOGIN = Login(
    "facebook",
    "Facebook Login",
    "graph_api_base",
    token_lifetimes=TokenLifetimes(
        access=dt.timedelta(days=60),
        source="https://developers.facebook.com/docs/facebook-login/guides/access-long-lived",
    ),
)
# Instagram Login's long-lived Instagram User token lasts 60 days and refreshes itself with
# refresh_access_token (grant_type=ig_refresh_token) once "at least 24 hours old but has not
# expired"; an expired one cannot be refreshed, so run-due refreshes it a week ahead, as
# Threads' (https://developers.facebook.com/docs/instagram-platform/reference/refresh_access_token).
INSTAGRAM_LOGIN = Login(
    "instagram",
    "Instagram Login",
    "instagram_api_base",
    refreshes_tokens=True,
    refresh_margin=dt.timedelta(days=7),
    token_lifetimes=TokenLifetimes(
        access=dt.timedelta(days=60),
        source="https://developers.facebook.com/docs/instagram-platform/reference/refresh_access_token",
    ),
)


SPEC = PlatformSpec(
    name="instagram",
    display_name="Instagram",
    account_id_label="Instagram user id",
    post_types={
        "image": PostTypeRule((1, 1), IMAGES, CAPTION, limits={"image": IMAGE}),
        "reel": PostTypeRule((1, 1), VIDEOS, CAPTION, limits={"video": REEL}),
        # Stories have no caption: one is refused rather than silently dropped.
        "story": PostTypeRule(
            (1, 1), IMAGES_OR_VIDEOS, None, limits={"image": IMAGE, "video": STORY_VIDEO}
        ),
        # Local videos go to reels and stories only: carousel items are fetched by URL.
        "carousel": PostTypeRule(
            (2, 10), IMAGES_OR_VIDEOS, CAPTION, limits={"image": IMAGE}, urls_only=VIDEOS
        ),
    },
    # JPEG images; MOV or MP4 videos. Meta fetches images from a public URL itself; a
    # reel's or story's video is a public URL too, or a file from the media root sent with
    # the resumable upload, which is "available only for apps that have implemented
    # Facebook Login for Business" (https://developers.facebook.com/docs/instagram-platform/content-publishing/resumable-uploads):
    # Instagram Login accounts take videos by URL only. Its size is the post type's limit.
    media={
        "image": MediaRule(frozenset({"jpg", "jpeg"})),
        "video": MediaRule(
            frozenset({"mp4", "mov"}),
            local_files=True,
            max_bytes=REEL.max_bytes or 0,
            local_logins=(FACEBOOK_LOGIN.name,),
        ),
    },
    options={
        "share_to_feed": option("bool", "reel"),
        "cover_url": option("url", "reel"),
        "thumb_offset": option("int", "reel"),
        "alt_text": option("str", "image", "carousel"),
    },
    default_types={"image": "image", "video": "reel", "carousel": "carousel"},
    # Standalone VIDEO posts stopped being accepted in 2023: videos are published as reels.
    type_hints={"video": "Instagram publishes videos as reels: use reel"},
    quota="25-100 posts per account per rolling 24 hours (content_publishing_limit)",
    # The default login's: see FACEBOOK_LOGIN.
    token_lifetimes=FACEBOOK_LOGIN.token_lifetimes,
    api_base_setting=FACEBOOK_LOGIN.api_base_setting,
    logins=(FACEBOOK_LOGIN, INSTAGRAM_LOGIN),
    first_comment=FIRST_COMMENT,
    client="studio_publish.platforms.instagram.client:InstagramPlatform",
    demo=Demo(
        platform_account_id="17841400000000001",
        name="Demo Instagram",
        posts=(
            DemoPost(
                "A single photo",
                (f"{CDN}/morning.jpg",),
                ("first_comment=#goodmorning #sandbox",),
            ),
            DemoPost("A carousel: photo and video", (f"{CDN}/one.jpg", f"{CDN}/two.mp4")),
            DemoPost("A reel, shared to the feed", (f"{CDN}/reel.mp4",), ("share_to_feed=true",)),
            DemoPost("", (f"{CDN}/story.jpg",), post_type="story"),
        ),
    ),
)
