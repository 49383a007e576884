"""Threads (the Threads API, graph.threads.net): the platform's spec.

Rules from https://developers.facebook.com/docs/threads/posts (text, media, carousels,
links, topic tags), https://developers.facebook.com/docs/threads/overview (media
specifications, the 250-posts-per-24-hours limit) and
https://developers.facebook.com/docs/threads/reference/publishing (parameters).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from studio_publish.platforms.spec import (
    IMAGES,
    IMAGES_OR_VIDEOS,
    NO_MEDIA,
    VIDEOS,
    Demo,
    DemoPost,
    FirstCommentRule,
    MediaLimit,
    MediaRule,
    OptionValue,
    PlatformSpec,
    PostTypeRule,
    TextRule,
    TokenLifetimes,
    option,
)


def _length(text: str) -> int:
    """Characters, an emoji counting its UTF-8 bytes: "emojis are counted as the number of
    UTF-8 bytes" (posts guide). The guide does not say which characters are emoji; these
    ranges (pictographs, dingbats, symbols, joiners and selectors) err on the long side."""
    return sum(len(c.encode("utf-8")) if _is_emoji(ord(c)) else 1 for c in text)


def _is_emoji(code: int) -> bool:
    return (
        code >= 0x1F000
        or 0x2600 <= code <= 0x27BF
        or 0x2B00 <= code <= 0x2BFF
        or code in (0x200D, 0xFE0F, 0x20E3)
    )


TEXT = TextRule(500, unit="characters (an emoji counts its UTF-8 bytes)", counter=_length)
REPLY_CONTROL = (
    "everyone",
    "accounts_you_follow",
    "mentioned_only",
    "parent_post_author_only",
    "followers_only",
)
# The overview's media specifications: images 8 MB at most, videos 1 GB and 5 minutes.
IMAGE = MediaLimit(max_bytes=8 * 1024**2)
VIDEO = MediaLimit(max_bytes=1024**3, max_seconds=5 * 60)
ALL = ("text", "image", "video", "carousel")
CDN = "https://cdn.example.com/demo"
# A reply of the account's own under its thread: a TEXT container with reply_to_id, then
# threads_publish (https://developers.facebook.com/docs/threads/reply-management,
# https://developers.facebook.com/documentation/threads/retrieve-and-manage-replies/create-replies):
# a reply is a post, with a post's 500-character text.
FIRST_COMMENT = FirstCommentRule(
    TEXT, frozenset(ALL), "https://developers.facebook.com/docs/threads/reply-management"
)


def _topic_tag_has_no_stop(options: Mapping[str, OptionValue], media_count: int) -> str | None:
    # "Periods (.) and ampersands (&) are not allowed" in a topic tag (posts guide).
    tag = options.get("topic_tag")
    if isinstance(tag, str) and ("." in tag or "&" in tag):
        return "topic_tag cannot contain . or &"
    return None


SPEC = PlatformSpec(
    name="threads",
    display_name="Threads",
    account_id_label="Threads user id",
    post_types={
        "text": PostTypeRule((0, 0), NO_MEDIA, TEXT, needs_caption=True),
        "image": PostTypeRule((1, 1), IMAGES, TEXT, limits={"image": IMAGE}),
        "video": PostTypeRule((1, 1), VIDEOS, TEXT, limits={"video": VIDEO}),
        # 2 to 20 items, mixed
        "carousel": PostTypeRule(
            (2, 20), IMAGES_OR_VIDEOS, TEXT, limits={"image": IMAGE, "video": VIDEO}
        ),
    },
    # JPEG or PNG images, MOV or MP4 videos: Meta fetches them from a public URL itself, so
    # local files are refused.
    media={
        "image": MediaRule(frozenset({"jpg", "jpeg", "png"})),
        "video": MediaRule(frozenset({"mp4", "mov"})),
    },
    options={
        "reply_control": option("choice", *ALL, choices=REPLY_CONTROL),
        "topic_tag": option("str", *ALL, text=TextRule(50)),
        "link_attachment": option("url", "text"),  # text posts only
        "alt_text": option("str", "image", "video", text=TextRule(1000)),
    },
    option_checks=(_topic_tag_has_no_stop,),
    default_types={"text": "text", "image": "image", "video": "video", "carousel": "carousel"},
    type_hints={"reel": "Threads posts videos as video: use video"},
    # A long-lived token lasts 60 days and refreshes itself with th_refresh_token once it
    # is a day old; an expired one cannot be refreshed, so refresh a week ahead
    # (https://developers.facebook.com/docs/threads/get-started/long-lived-tokens).
    refreshes_tokens=True,
    refresh_margin=dt.timedelta(days=7),
    token_lifetimes=TokenLifetimes(
        access=dt.timedelta(days=60),
        source="https://developers.facebook.com/docs/threads/get-started/long-lived-tokens",
    ),
    quota="250 posts per account per rolling 24 hours (threads_publishing_limit)",
    api_base_setting="threads_api_base",
    first_comment=FIRST_COMMENT,
    client="studio_publish.platforms.threads.client:ThreadsPlatform",
    demo=Demo(
        platform_account_id="6000000000000001",
        name="Demo Threads",
        posts=(
            DemoPost(
                "A text post on Threads",
                (),
                ("reply_control=everyone", "first_comment=More in the replies"),
            ),
            DemoPost("A photo on Threads", (f"{CDN}/thread.png",)),
            DemoPost("A video on Threads", (f"{CDN}/thread.mp4",)),
            DemoPost("A carousel on Threads", (f"{CDN}/t1.jpg", f"{CDN}/t2.mp4")),
        ),
    ),
)
