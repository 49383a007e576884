"""The Threads stand-in: the publishing subset of the Threads API, on its own host.

Shapes follow https://developers.facebook.com/docs/threads/posts (containers, carousels,
threads_publish), https://developers.facebook.com/docs/threads/troubleshooting (container
status and error_message, threads_publishing_limit) and
https://developers.facebook.com/docs/threads/get-started/long-lived-tokens (refresh).
Errors use the Graph envelope, as the Threads API does. Where the sandbox is stricter or
looser than Meta it says so in a comment.

URLs (``url`` is ``http://HOST:PORT``), -> STUDIO_PUBLISH_THREADS_API_BASE =
{url}/threads/v1.0::

    POST {url}/threads/v1.0/{user-id}/threads                    threads.create
    POST {url}/threads/v1.0/{user-id}/threads_publish            threads.publish
    GET  {url}/threads/v1.0/{user-id}/threads_publishing_limit   threads.publishing_limit
    GET  {url}/threads/v1.0/{user-id}/threads                    threads.list
    GET  {url}/threads/v1.0/{container-id}                       threads.container_status
    GET  {url}/threads/v1.0/{media-id}                           threads.object
    POST {url}/threads/refresh_access_token                      threads.refresh
    POST {url}/threads/v1.0/{user-id}/threads_publish            threads.reply_publish
         (creation_id is a reply's container: made with reply_to_id={thread id})
    GET  {url}/threads/v1.0/{thread-id}/replies                  threads.replies

Replies follow https://developers.facebook.com/docs/threads/reply-management and
https://developers.facebook.com/documentation/threads/retrieve-and-manage-replies/create-replies:
a TEXT container with ``reply_to_id``, published by threads_publish; it goes into the
ledger as a comment, not a post. The replies listing carries id, text, timestamp, username,
is_reply_owned_by_me. (Replies count against the sandbox's one publishing limit; Meta keeps a
reply quota of its own.)
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from studio_publish.sandbox.standins.comments import Comment, CommentBox, list_comments
from studio_publish.sandbox.standins.containers import (
    CAROUSEL,
    ERROR,
    EXPIRED,
    IN_PROGRESS,
    PUBLISHED,
    Container,
    ContainerStandIn,
    Draft,
    Flow,
    Media,
    Refusals,
)
from studio_publish.sandbox.standins.graph_common import Node, Refusal, graph_error, graph_time
from studio_publish.sandbox.wire import Grant, Request, Response, Route, as_bool, as_str

PLATFORM = "threads"
VERSION = "v1.0"
TEXT_MAX = 500
QUOTA_TOTAL, QUOTA_DURATION = 250, 86400  # posts per moving 24 hours
TOKEN_LIFETIME = 60 * 86400  # a long-lived token: 60 days from the refresh
MEDIA_TYPES = ("TEXT", "IMAGE", "VIDEO", CAROUSEL)
_MEDIA_FIELDS = {"id", "text", "permalink", "timestamp", "media_type"}
# What Meta answers for a container it cannot publish, whatever the reason (24/4279009).
_MEDIA_NOT_FOUND = Refusal(24, "Media Not Found", 4279009)


class ThreadsStandIn(ContainerStandIn):
    platforms = (PLATFORM,)
    prefixes: ClassVar[tuple[str, ...]] = (PLATFORM,)
    realm: ClassVar[str] = PLATFORM
    usage_type = "threads"
    flow = Flow(PLATFORM, "threads", "threads_publish", "threads_publishing_limit")
    endpoints = (*flow.endpoints, "threads.refresh", "threads.reply_publish", "threads.replies")
    actions = frozenset({flow.publish, "threads.reply_publish"})
    comment_edge = "replies"
    reply_node = Node(
        "ThreadsMedia",
        {"id", "text", "timestamp", "username", "is_reply_owned_by_me", "permalink"},
        ("id",),
    )
    state_field = "status"
    container_node = Node("ThreadsContainer", {"id", "status", "error_message"}, ("id", "status"))
    media_node = Node("ThreadsMedia", _MEDIA_FIELDS)
    listed_node = Node("ThreadsMedia", _MEDIA_FIELDS, ("id",))
    user_node = Node("User", {"quota_usage", "config", "reply_quota_usage", "reply_config"})
    refusals = Refusals(
        carousel_size=Refusal(100, "(#100) A carousel takes 2 to 20 children"),
        unknown_child=Refusal(24, "The media with this id does not exist."),
        child_not_ready=None,  # a child's status is not checked
        unknown=_MEDIA_NOT_FOUND,
        carousel_item=_MEDIA_NOT_FOUND,
        not_ready=dict.fromkeys((IN_PROGRESS, ERROR, EXPIRED), _MEDIA_NOT_FOUND),
        used_up=Refusal(4, "(#4) The publishing limit is used up", is_transient=True),
    )
    carousel_children = (2, 20)
    container_ids, media_ids = "1790", "1800"

    def quota(self) -> tuple[int, int]:
        return QUOTA_TOTAL, QUOTA_DURATION

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._replies = CommentBox(PLATFORM, self.ledger)
            self._reply_to: dict[str, str] = {}  # reply container id -> the thread it answers

    def route(self, req: Request, parts: list[str]) -> Route | None:
        # The token endpoints carry no version; the token comes in the body, not a header.
        if parts[1:] == ["refresh_access_token"] and req.method == "POST":
            return Route("threads.refresh", self.refresh, account=None, needs_auth=False)
        return super().route(req, parts)

    def bases(self, url: str) -> dict[str, str]:
        return {PLATFORM: f"{url}/{PLATFORM}/{VERSION}"}

    # ---- replies ----------------------------------------------------------------------

    def call_name(self, req: Request, route: Route) -> str:
        # One URL publishes posts and replies: a test can lose the answer to either alone.
        if route.endpoint == self.flow.publish:
            with self._lock:
                if as_str(req.params.get("creation_id")) in self._reply_to:
                    return "threads.reply_publish"
        return route.endpoint

    def create_container(self, req: Request, account: str) -> Response:
        parent = as_str(req.params.get("reply_to_id"))
        if parent is not None:
            with self._lock:
                thread = self._media.get(parent)
            if thread is None:
                raise self.refusals.unknown.error()
            if (as_str(req.params.get("media_type")) or "").upper() != "TEXT":
                raise graph_error(100, "(#100) The sandbox takes TEXT replies only")
        answer = super().create_container(req, account)
        if parent is not None:
            with self._lock:
                self._reply_to[answer.body["id"]] = parent
        return answer

    def _go_live(self, c: Container, now: float) -> Media:
        parent = self._reply_to.get(c.id)
        if parent is None:
            return super()._go_live(c, now)
        # A reply: under its thread, in the ledger as a comment, not in the account's posts.
        reply_id = self.ids.next(self.media_ids)
        c.status = PUBLISHED
        self._replies.add(reply_id, parent, c.account, c.caption)
        return Media(id=reply_id, account=c.account, created=now, fields={"id": reply_id})

    def comments_route(self, req: Request, object_id: str) -> Route | None:
        if req.method != "GET":
            return None
        with self._lock:
            thread = self._media.get(object_id)
        if thread is None:
            return None
        return Route(
            "threads.replies",
            lambda r, who: list_comments(
                self._replies, r, object_id, self.reply_node, self._reply_record
            ),
            account=thread.account,
        )

    @staticmethod
    def _reply_record(c: Comment) -> dict[str, Any]:
        return {
            "id": c.id,
            "text": c.text,
            "timestamp": graph_time(c.created),
            "username": "sandbox",
            "is_reply_owned_by_me": True,
            "permalink": f"https://www.threads.net/@sandbox/post/{c.id}",
        }

    # ---- containers -------------------------------------------------------------------

    def draft(self, p: dict[str, Any]) -> Draft:
        media_type = (as_str(p.get("media_type")) or "").upper()
        is_item = as_bool(p.get("is_carousel_item"), False)
        text = as_str(p.get("text")) or ""
        if media_type not in MEDIA_TYPES:
            raise graph_error(
                100, "(#100) Param media_type must be one of TEXT, IMAGE, VIDEO, CAROUSEL"
            )
        if len(text) > TEXT_MAX:  # the sandbox counts characters only (looser for emoji)
            raise graph_error(100, "(#100) Param text must be at most 500 characters long.")
        if media_type == "TEXT" and not text:
            raise graph_error(100, "(#100) The parameter text is required for a TEXT post")
        if p.get("link_attachment") and media_type != "TEXT":
            raise graph_error(100, "(#100) link_attachment works with TEXT posts only")
        url_param = {"IMAGE": "image_url", "VIDEO": "video_url"}.get(media_type)
        if url_param is not None:
            url = as_str(p.get(url_param))
            if not url or not url.startswith(("http://", "https://")):
                raise graph_error(100, f"(#100) The parameter {url_param} is required")
        # A text container is ready at once; media takes the knob's polls.
        return Draft(media_type, text, is_item, instant=media_type == "TEXT")

    def status_fields(self, c: Container, status: str) -> dict[str, Any]:
        # Threads names what went wrong (FAILED_DOWNLOADING_VIDEO, ...), not a subcode.
        if status == ERROR:
            return {"status": status, "error_message": "FAILED_DOWNLOADING_VIDEO"}
        return {"status": status}

    # ---- published media --------------------------------------------------------------

    def media_fields(self, c: Container, media_id: str) -> dict[str, Any]:
        media_type = c.media_type or ""
        return {
            "text": c.caption,
            "media_type": {"TEXT": "TEXT_POST", CAROUSEL: "CAROUSEL_ALBUM"}.get(
                media_type, media_type
            ),
            "permalink": f"https://www.threads.net/@sandbox/post/{media_id}",
        }

    def kind(self, c: Container) -> str:
        return (c.media_type or "").lower()

    # ---- tokens -----------------------------------------------------------------------

    def refresh(self, req: Request, who: str) -> Response:
        """th_refresh_token: the long-lived token itself is exchanged for a new one.

        Meta documents a GET with the token in the query; the sandbox takes it in a POST
        body (its pipeline refuses tokens in URLs). It does not enforce the 24-hour age."""
        if as_str(req.params.get("grant_type")) != "th_refresh_token":
            raise graph_error(100, "(#100) grant_type must be th_refresh_token")
        token = as_str(req.params.get("access_token")) or ""
        if not token:
            raise self.token_error("missing")
        check = self.accounts.check(token, self.realm)
        if check.problem is not None:
            raise self.token_error(check.problem)
        new = "THQ" + secrets.token_urlsafe(24)
        grant = Grant(new, new, TOKEN_LIFETIME, TOKEN_LIFETIME)
        owner = check.account_id or "sandbox-threads-user"
        if self.accounts.rotate_refresh(token, grant, realm=self.realm, anonymous=owner) is None:
            raise self.token_error("expired")  # already exchanged: like an expired one
        return Response(
            200, {"access_token": new, "token_type": "bearer", "expires_in": TOKEN_LIFETIME}
        )


STANDIN = ThreadsStandIn
