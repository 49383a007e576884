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
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

from studio_publish.sandbox.ledger import LedgerEntry
from studio_publish.sandbox.standins.graph_common import (
    ERROR,
    FINISHED,
    IN_PROGRESS,
    PUBLISHED,
    Edges,
    GraphStandIn,
    answer,
    container_status,
    expire,
    fields,
    graph_error,
    graph_time,
    not_found,
    object_id,
    paginate,
    pick,
    publishes_within,
)
from studio_publish.sandbox.wire import Grant, Request, Response, Route, as_bool, as_list, as_str

PLATFORM = "threads"
VERSION = "v1.0"
TEXT_MAX = 500
CAROUSEL_MIN, CAROUSEL_MAX = 2, 20
QUOTA_TOTAL, QUOTA_DURATION = 250, 86400  # posts per moving 24 hours
TOKEN_LIFETIME = 60 * 86400  # a long-lived token: 60 days from the refresh
MEDIA_TYPES = ("TEXT", "IMAGE", "VIDEO", "CAROUSEL")


@dataclass
class Container:
    id: str
    account: str
    media_type: str
    is_carousel_item: bool
    text: str
    children: tuple[str, ...]
    polls_left: int
    created: float
    fails: bool
    status: str = IN_PROGRESS
    expired: bool = False


@dataclass
class Thread:
    id: str
    account: str
    text: str
    media_type: str  # TEXT_POST, IMAGE, VIDEO, CAROUSEL_ALBUM
    permalink: str
    timestamp: str
    created: float


class ThreadsStandIn(GraphStandIn):
    platforms = (PLATFORM,)
    prefixes: ClassVar[tuple[str, ...]] = (PLATFORM,)
    realm: ClassVar[str] = PLATFORM
    endpoints = (
        "threads.create",
        "threads.publish",
        "threads.publishing_limit",
        "threads.list",
        "threads.container_status",
        "threads.object",
        "threads.refresh",
    )
    actions = frozenset({"threads.publish"})
    usage_type = "threads"

    def reset(self) -> None:
        with self._lock:
            self._containers: dict[str, Container] = {}
            self._threads: dict[str, Thread] = {}
            self._publishes: dict[str, deque[float]] = {}

    def edges(self) -> Edges:
        return {
            ("POST", "threads"): ("threads.create", self.create_container),
            ("POST", "threads_publish"): ("threads.publish", self.publish),
            ("GET", "threads_publishing_limit"): (
                "threads.publishing_limit",
                self.publishing_limit,
            ),
            ("GET", "threads"): ("threads.list", self.list_threads),
        }

    def node(self, object_id: str) -> Route | None:
        with self._lock:
            if (c := self._containers.get(object_id)) is not None:
                return Route("threads.container_status", self.read_container, account=c.account)
            if (t := self._threads.get(object_id)) is not None:
                return Route("threads.object", self.read_thread, account=t.account)
        return None

    def route(self, req: Request, parts: list[str]) -> Route | None:
        # The token endpoints carry no version; the token comes in the body, not a header.
        if parts[1:] == ["refresh_access_token"] and req.method == "POST":
            return Route("threads.refresh", self.refresh, account=None, needs_auth=False)
        return super().route(req, parts)

    def bases(self, url: str) -> dict[str, str]:
        return {PLATFORM: f"{url}/{PLATFORM}/{VERSION}"}

    # ---- containers -------------------------------------------------------------------

    def create_container(self, req: Request, account: str) -> Response:
        p = req.params
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
        children: tuple[str, ...] = ()
        with self._lock:
            if media_type == "CAROUSEL":
                children = tuple(str(c) for c in as_list(p.get("children")))
                if not CAROUSEL_MIN <= len(children) <= CAROUSEL_MAX:
                    raise graph_error(100, "(#100) A carousel takes 2 to 20 children")
                for child_id in children:
                    child = self._containers.get(child_id)
                    if child is None or child.account != account or not child.is_carousel_item:
                        raise graph_error(24, "The media with this id does not exist.")
            fails = self.knobs.container_failures > 0
            if fails:
                self.knobs.container_failures -= 1
            container = Container(
                id=self.ids.next("1790"),
                account=account,
                media_type=media_type,
                is_carousel_item=is_item,
                text=text,
                children=children,
                # A text container is ready at once; media takes the knob's polls.
                polls_left=0 if media_type == "TEXT" else self.knobs.container_polls,
                created=time.time(),
                fails=fails,
            )
            self._containers[container.id] = container
        return Response(200, {"id": container.id})

    def _status(self, c: Container, *, consume_poll: bool) -> str:
        return container_status(c, self.knobs, consume_poll=consume_poll)

    def expire_container(self, container_id: str) -> bool:
        with self._lock:
            return expire(self._containers, container_id)

    def read_container(self, req: Request, who: str) -> Response:
        container_id = object_id(req)
        names = fields(req, {"id", "status", "error_message"}, "ThreadsContainer", ("id", "status"))
        with self._lock:
            c = self._containers.get(container_id)
            if c is None:
                raise not_found(container_id)
            status = self._status(c, consume_poll=True)
        record = {"id": c.id, "status": status}
        if status == ERROR:
            record["error_message"] = "FAILED_DOWNLOADING_VIDEO"
        return Response(200, pick(record, names))

    # ---- publishing -------------------------------------------------------------------

    def _quota_used(self, account: str, now: float) -> int:
        return publishes_within(self._publishes.setdefault(account, deque()), now, QUOTA_DURATION)

    def publish(self, req: Request, account: str) -> Response:
        creation_id = as_str(req.params.get("creation_id"))
        if not creation_id:
            raise graph_error(100, "(#100) The parameter creation_id is required")
        now = time.time()
        with self._lock:
            c = self._containers.get(creation_id)
            if c is None or c.account != account or c.is_carousel_item:
                # What Meta answers for a container it cannot find (24/4279009).
                raise graph_error(24, "Media Not Found", subcode=4279009)
            status = self._status(c, consume_poll=False)
            if status == PUBLISHED:
                # A second publish of one container is refused, never a duplicate post.
                raise graph_error(100, "(#100) The media has already been published.")
            if status != FINISHED:
                raise graph_error(24, "Media Not Found", subcode=4279009)
            if self._quota_used(account, now) >= QUOTA_TOTAL:
                raise graph_error(4, "(#4) The publishing limit is used up", is_transient=True)
            self._publishes[account].append(now)
            thread = Thread(
                id=self.ids.next("1800"),
                account=account,
                text=c.text,
                media_type={"TEXT": "TEXT_POST", "CAROUSEL": "CAROUSEL_ALBUM"}.get(
                    c.media_type, c.media_type
                ),
                permalink="",
                timestamp=graph_time(now),
                created=now,
            )
            thread.permalink = f"https://www.threads.net/@sandbox/post/{thread.id}"
            self._threads[thread.id] = thread
            c.status = PUBLISHED
            for child_id in c.children:
                if (child := self._containers.get(child_id)) is not None:
                    child.status = PUBLISHED
            self.ledger.record(
                LedgerEntry(
                    platform=PLATFORM,
                    account=account,
                    platform_post_id=thread.id,
                    kind=c.media_type.lower(),
                    caption=c.text,
                    created_at=dt.datetime.fromtimestamp(now, dt.UTC),
                    source_ids=(c.id, *c.children),
                )
            )
        return Response(200, {"id": thread.id})

    def publishing_limit(self, req: Request, account: str) -> Response:
        fields(req, {"quota_usage", "config", "reply_quota_usage", "reply_config"}, "User", ())
        with self._lock:
            used = self._quota_used(account, time.time())
        config = {"quota_total": QUOTA_TOTAL, "quota_duration": QUOTA_DURATION}
        return Response(200, {"data": [{"quota_usage": used, "config": config}]})

    def list_threads(self, req: Request, account: str) -> Response:
        names = fields(
            req,
            {"id", "text", "permalink", "timestamp", "media_type"},
            "ThreadsMedia",
            ("id",),
        )
        with self._lock:
            items = [t for t in self._threads.values() if t.account == account]
        items.sort(key=lambda t: t.created, reverse=True)
        return Response(200, paginate(req, [pick(vars(t), names) for t in items]))

    def read_thread(self, req: Request, who: str) -> Response:
        thread_id = object_id(req)
        with self._lock:
            t = self._threads.get(thread_id)
        if t is None:
            raise not_found(thread_id)
        return answer(
            req, vars(t), {"id", "text", "permalink", "timestamp", "media_type"}, "ThreadsMedia"
        )

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
