"""Threads publishing: containers, then threads_publish, on graph.threads.net.

The flow and its saved ids (``th_container_id``, ``th_children``, ``th_publish_sent_at``,
``th_media_id``) are Meta's container publishing (graph/containers.py); this module says
what a Threads container holds and how its token is refreshed.

- Containers: POST /{user}/threads with media_type TEXT, IMAGE, VIDEO or CAROUSEL
  (https://developers.facebook.com/docs/threads/reference/publishing); carousel items
  carry is_carousel_item=true, the carousel names them in ``children``
  (https://developers.facebook.com/docs/threads/posts#carousel-posts).
- Status: GET /{container}?fields=status,error_message: IN_PROGRESS, FINISHED, PUBLISHED,
  ERROR (error_message says why, e.g. FAILED_DOWNLOADING_VIDEO) or EXPIRED (not published
  within 24 hours) (https://developers.facebook.com/docs/threads/troubleshooting).
- The limit: GET /{user}/threads_publishing_limit?fields=quota_usage,config, 250 posts in a
  moving 24 hours (https://developers.facebook.com/docs/threads/overview#rate-limiting).
- Errors come in the Graph envelope and are classified by graph/errors.py.
"""

from __future__ import annotations

import httpx

from studio_publish.domain import Account, Post, TokenGrant
from studio_publish.platforms.graph.containers import ContainerApi
from studio_publish.platforms.threads.comments import ThreadsReplies

API = ContainerApi(
    name="Threads",
    key_prefix="th",
    create="threads",
    publish="threads_publish",
    quota="threads_publishing_limit",
    quota_code="threads_publishing_limit",
    listing="threads",
    status_fields=("status", "error_message"),
    text_field="text",
)


class ThreadsPlatform(ThreadsReplies):  # a ContainerPlatform that takes replies
    name = "threads"
    api = API

    def child_params(self, post: Post, kind: str, url: str) -> dict[str, str]:
        media = {"media_type": "VIDEO", "video_url": url} if kind == "video" else None
        return {**(media or {"media_type": "IMAGE", "image_url": url}), "is_carousel_item": "true"}

    def container_params(self, post: Post, children: list[str]) -> dict[str, str]:
        if post.post_type == "carousel":
            params = {"media_type": "CAROUSEL", "children": ",".join(children)}
        elif post.post_type == "text":
            params = {"media_type": "TEXT"}
        else:
            params = self.child_params(post, post.media[0].kind, post.media[0].url)
            params["is_carousel_item"] = "false"
        if post.caption:
            params["text"] = post.caption
        for key in ("reply_control", "topic_tag", "link_attachment", "alt_text"):
            if post.options.get(key) not in (None, ""):
                params[key] = str(post.options[key])
        return params

    async def refresh_token(self, account: Account, http: httpx.AsyncClient) -> TokenGrant:
        """A long-lived token refreshes itself: th_refresh_token, valid 60 days from then.

        https://developers.facebook.com/docs/threads/get-started/long-lived-tokens documents
        a GET with the token in the query; the token is sent in a POST body instead, so it is
        never in a URL (logs, proxies), as Mixpost does in production.
        """
        return await self.refresh_itself(
            account, http, grant_type="th_refresh_token", what="Threads token refresh"
        )
