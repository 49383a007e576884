"""Instagram (professional accounts, Graph API with Facebook Login): the platform's spec.

Rules from the Content Publishing guide,
https://developers.facebook.com/docs/instagram-platform/content-publishing/ and the IG User
media reference, https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media/
"""

from __future__ import annotations

from studio_publish.platforms.spec import (
    IMAGES,
    IMAGES_OR_VIDEOS,
    VIDEOS,
    Demo,
    DemoPost,
    MediaRule,
    PlatformSpec,
    PostTypeRule,
    TextRule,
    option,
)

# 2,200 characters, at most 30 hashtags and 20 @mentions (the media reference's caption).
CAPTION = TextRule(2200, max_hashtags=30, max_mentions=20)
CDN = "https://cdn.example.com/demo"


SPEC = PlatformSpec(
    name="instagram",
    display_name="Instagram",
    account_id_label="Instagram user id",
    post_types={
        "image": PostTypeRule((1, 1), IMAGES, CAPTION),
        "reel": PostTypeRule((1, 1), VIDEOS, CAPTION),
        # Stories have no caption: one is refused rather than silently dropped.
        "story": PostTypeRule((1, 1), IMAGES_OR_VIDEOS, None),
        "carousel": PostTypeRule((2, 10), IMAGES_OR_VIDEOS, CAPTION),
    },
    # JPEG images; MOV or MP4 videos. Meta fetches every item from a public URL itself.
    media={
        "image": MediaRule(frozenset({"jpg", "jpeg"})),
        "video": MediaRule(frozenset({"mp4", "mov"})),
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
    api_base_setting="graph_api_base",
    client="studio_publish.platforms.instagram.client:InstagramPlatform",
    demo=Demo(
        platform_account_id="17841400000000001",
        name="Demo Instagram",
        posts=(
            DemoPost("A single photo", (f"{CDN}/morning.jpg",)),
            DemoPost("A carousel: photo and video", (f"{CDN}/one.jpg", f"{CDN}/two.mp4")),
            DemoPost("A reel, shared to the feed", (f"{CDN}/reel.mp4",), ("share_to_feed=true",)),
            DemoPost("", (f"{CDN}/story.jpg",), post_type="story"),
        ),
    ),
)
