"""Meta's media container flow, which Instagram and Threads share; not a platform itself.

Both publish in steps: create a container for the media (a carousel's children first,
then the carousel naming them), read its status until it is FINISHED, publish it, read
the published media; an account may publish only so many in a moving window. See
https://developers.facebook.com/docs/instagram-platform/content-publishing/ and
https://developers.facebook.com/docs/threads/posts. The flow is written once here; a
stand-in declares where it lives (:class:`Flow`), its node types (``graph_common.Node``),
the errors it refuses with (:class:`Refusals`), the checks of a create call and what its
containers and media read as. URLs, under the stand-in's Graph host and version::

    POST /{user-id}/{edge}          flow.create   a container
    GET  /{user-id}/{edge}          flow.listing  the published media, newest first
    POST /{user-id}/{publish_edge}  flow.publish  a container goes live
    GET  /{user-id}/{limit_edge}    flow.limit    the publishing limit and its usage
    GET  /{container-id}            flow.status   a container's status
    GET  /{media-id}                flow.media    a published media
"""

from __future__ import annotations

import abc
import datetime as dt
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from studio_publish.sandbox.ledger import LedgerEntry
from studio_publish.sandbox.standins.graph_common import (
    Edges,
    GraphStandIn,
    Node,
    Refusal,
    Upload,
    graph_error,
    graph_time,
    not_found,
    object_id,
    paginate,
    pick,
)
from studio_publish.sandbox.wire import Request, Response, Route, as_list, as_str

IN_PROGRESS, FINISHED, PUBLISHED, ERROR, EXPIRED = (
    "IN_PROGRESS",
    "FINISHED",
    "PUBLISHED",
    "ERROR",
    "EXPIRED",
)
CAROUSEL = "CAROUSEL"  # the media_type of a container that takes children
# The endpoint name each of Flow's name fields defaults to, after its prefix and a dot.
_DEFAULT_NAMES = {
    "create": "create",
    "listing": "list",
    "publish": "publish",
    "limit": "publishing_limit",
}


@dataclass(frozen=True)
class Flow:
    """Where a stand-in serves the flow: its edges under ``/{user-id}/``, and the endpoint
    name of each call (what faults and the call statistics know it by): ``prefix``, a dot
    and create, list, publish, publishing_limit, container_status or object, unless
    named otherwise here."""

    prefix: str
    edge: str  # POST creates a container, GET lists the published media
    publish_edge: str
    limit_edge: str
    create: str = ""
    listing: str = ""
    publish: str = ""
    limit: str = ""

    def __post_init__(self) -> None:
        for name, call in _DEFAULT_NAMES.items():
            if not getattr(self, name):
                object.__setattr__(self, name, f"{self.prefix}.{call}")

    @property
    def status(self) -> str:
        return f"{self.prefix}.container_status"

    @property
    def media(self) -> str:
        return f"{self.prefix}.object"

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (self.create, self.publish, self.status, self.limit, self.listing, self.media)


@dataclass(frozen=True)
class Refusals:
    """What a stand-in answers the flow's mistakes with: the platforms agree on when to
    refuse, not on the codes, subcodes and wording."""

    carousel_size: Refusal  # too few or too many children
    unknown_child: Refusal  # a child that is not one of the account's carousel items
    child_not_ready: Refusal | None  # a child not FINISHED; None: children are not checked
    unknown: Refusal  # publishing a container the account does not have
    carousel_item: Refusal  # publishing a carousel item on its own
    not_ready: Mapping[str, Refusal]  # publishing a container by its status, not FINISHED
    used_up: Refusal  # publishing past the publishing limit


@dataclass(frozen=True)
class Draft:
    """A create call as the stand-in's own checks of its parameters found it."""

    media_type: str | None  # CAROUSEL takes children
    caption: str
    is_carousel_item: bool
    instant: bool = False  # FINISHED at once, without the processing polls
    resumable: bool = False  # its video is uploaded to it (Instagram's resumable upload)


@dataclass
class Container:
    id: str
    account: str
    media_type: str | None  # as the create call gave it (Instagram: None for an image)
    is_carousel_item: bool
    caption: str  # the post's text: Instagram's caption, Threads' text
    children: tuple[str, ...]
    polls_left: int
    created: float
    ready_at: float  # IN_PROGRESS until then (the processing_seconds knob), polls or not
    fails: bool
    error_subcode: int  # what an ERROR names, when it fails
    status: str = IN_PROGRESS
    expired: bool = False
    upload: Upload | None = None  # a resumable container's file: processed once complete


@dataclass
class Media:
    """A published container: ``fields`` is what reads of it answer, "id" among them."""

    id: str
    account: str
    created: float
    fields: dict[str, Any]


class ContainerStandIn(GraphStandIn):
    """A Graph platform that publishes through media containers (module docstring)."""

    flow: ClassVar[Flow]
    container_node: ClassVar[Node]  # GET /{container-id}
    media_node: ClassVar[Node]  # GET /{media-id}
    listed_node: ClassVar[Node]  # the media as the listing edge answers them
    user_node: ClassVar[Node]  # the node the limit edge reads (its fields are only checked)
    refusals: ClassVar[Refusals]
    carousel_children: ClassVar[tuple[int, int]]  # how many a carousel takes: fewest, most
    container_ids: ClassVar[str]  # id prefixes, so ids look like the platform's
    media_ids: ClassVar[str]

    @abc.abstractmethod
    def draft(self, params: dict[str, Any]) -> Draft:
        """Check a create call's parameters (all but a carousel's children), or raise."""

    # The status read's field that holds the state (IN_PROGRESS, FINISHED, ...).
    state_field: ClassVar[str]

    @abc.abstractmethod
    def status_fields(self, c: Container, status: str) -> dict[str, Any]:
        """What a status read of ``c``, now ``status``, answers beside the id."""

    @abc.abstractmethod
    def media_fields(self, c: Container, media_id: str) -> dict[str, Any]:
        """The fields of the media ``c`` publishes as, beside the id and the timestamp."""

    @abc.abstractmethod
    def kind(self, c: Container) -> str:
        """The ledger's kind of post for ``c``."""

    @abc.abstractmethod
    def quota(self) -> tuple[int, int]:
        """The publishing limit: how many publishes per how many seconds."""

    def reset(self) -> None:
        with self._lock:
            self._containers: dict[str, Container] = {}
            self._media: dict[str, Media] = {}
            self._publishes: dict[str, deque[float]] = {}  # account -> publish times

    # ---- routing ----------------------------------------------------------------------

    def edges(self) -> Edges:
        flow = self.flow
        return {
            ("POST", flow.edge): (flow.create, self.create_container),
            ("GET", flow.edge): (flow.listing, self.list_media),
            ("POST", flow.publish_edge): (flow.publish, self.publish),
            ("GET", flow.limit_edge): (flow.limit, self.publishing_limit),
        }

    def node(self, object_id: str) -> Route | None:
        with self._lock:
            if (c := self._containers.get(object_id)) is not None:
                return Route(self.flow.status, self.read_container, account=c.account)
            if (m := self._media.get(object_id)) is not None:
                return Route(self.flow.media, self.read_media, account=m.account)
        return None

    # ---- containers -------------------------------------------------------------------

    def create_container(self, req: Request, account: str) -> Response:
        draft = self.draft(req.params)
        children: tuple[str, ...] = ()
        if draft.media_type == CAROUSEL:
            children = tuple(str(c) for c in as_list(req.params.get("children")))
            fewest, most = self.carousel_children
            if not fewest <= len(children) <= most:
                raise self.refusals.carousel_size.error()
        with self._lock:
            for child_id in children:
                self._check_child(child_id, account)
            fails = self.knobs.container_failures > 0
            if fails:
                self.knobs.container_failures -= 1
            instant = draft.instant
            if instant and self.knobs.slow_image_containers > 0:
                self.knobs.slow_image_containers -= 1
                instant = False
            now = time.time()
            container = Container(
                id=self.ids.next(self.container_ids),
                account=account,
                media_type=draft.media_type,
                is_carousel_item=draft.is_carousel_item,
                caption=draft.caption,
                children=children,
                polls_left=0 if instant else self.knobs.container_polls,
                created=now,
                ready_at=now if instant else now + self.knobs.processing_seconds,
                fails=fails,
                error_subcode=self.knobs.container_error_subcode,
            )
            if draft.resumable:
                container.upload = Upload()
            self._containers[container.id] = container
        return Response(200, {"id": container.id})

    def _check_child(self, child_id: str, account: str) -> None:
        child = self._containers.get(child_id)
        if child is None or child.account != account or not child.is_carousel_item:
            raise self.refusals.unknown_child.error()
        not_ready = self.refusals.child_not_ready
        if not_ready is not None and self._status(child, consume_poll=False) != FINISHED:
            raise not_ready.error()

    def _status(self, c: Container, *, consume_poll: bool) -> str:
        """A container's status now: IN_PROGRESS for the knob's number of polls (a status
        read is a poll), then FINISHED (or ERROR when the knob said it fails), EXPIRED once
        expired or past the container lifetime (24 hours for Instagram and Threads)."""
        if c.status in (PUBLISHED, ERROR, EXPIRED):
            return c.status
        if c.expired or time.time() - c.created >= self.knobs.container_ttl_seconds:
            c.status = EXPIRED
            return c.status
        if c.upload is not None and not c.upload.complete:
            return IN_PROGRESS  # its video has not (all) arrived: nothing to process yet
        if c.polls_left > 0 or time.time() < c.ready_at:
            if consume_poll and c.polls_left > 0:
                c.polls_left -= 1
            return IN_PROGRESS
        c.status = ERROR if c.fails else FINISHED
        return c.status

    def expire_container(self, container_id: str) -> bool:
        with self._lock:
            container = self._containers.get(container_id)
            if container is None or container.status == PUBLISHED:
                return False
            container.expired = True
            return True

    def read_container(self, req: Request, who: str) -> Response:
        container_id = object_id(req)
        names = self.container_node.asked(req)
        with self._lock:
            c = self._containers.get(container_id)
            if c is None:
                raise not_found(container_id)
            if self.knobs.container_read_failures > 0:
                # The same answer as for no container at all: that is what makes it hard.
                self.knobs.container_read_failures -= 1
                raise not_found(container_id)
            status = self._status(c, consume_poll=True)
            fields = self.status_fields(c, status)
            if self.knobs.container_status_missing > 0:
                self.knobs.container_status_missing -= 1
                fields.pop(self.state_field, None)
        return Response(200, pick({"id": c.id, **fields}, names))

    # ---- publishing -------------------------------------------------------------------

    def _recent_publishes(self, account: str, now: float, duration: float) -> deque[float]:
        """The account's publish times in the limit's moving window, oldest first."""
        times = self._publishes.setdefault(account, deque())
        while times and now - times[0] >= duration:
            times.popleft()
        return times

    def publish(self, req: Request, account: str) -> Response:
        creation_id = as_str(req.params.get("creation_id"))
        if not creation_id:
            raise graph_error(100, "(#100) The parameter creation_id is required")
        now = time.time()
        total, duration = self.quota()
        with self._lock:
            c = self._containers.get(creation_id)
            if c is None or c.account != account:
                raise self.refusals.unknown.error()
            if c.is_carousel_item:
                raise self.refusals.carousel_item.error()
            status = self._status(c, consume_poll=False)
            if status == PUBLISHED:
                # Meta refuses a second publish of the same container; the sandbox does too,
                # so a client that retries blindly gets an error, not a duplicate.
                raise graph_error(100, "(#100) The media has already been published.")
            if status != FINISHED:
                raise self.refusals.not_ready[status].error()
            times = self._recent_publishes(account, now, duration)
            if len(times) >= total:
                raise self.refusals.used_up.error()
            times.append(now)
            media = self._go_live(c, now)
        return Response(200, {"id": media.id})

    def _go_live(self, c: Container, now: float) -> Media:
        """Publish ``c`` (under the lock): its media, its and its children's status, the
        ledger entry."""
        media_id = self.ids.next(self.media_ids)
        record = {"id": media_id, "timestamp": graph_time(now), **self.media_fields(c, media_id)}
        media = Media(id=media_id, account=c.account, created=now, fields=record)
        self._media[media.id] = media
        for container_id in (c.id, *c.children):
            if (done := self._containers.get(container_id)) is not None:
                done.status = PUBLISHED
        self.ledger.record(
            LedgerEntry(
                platform=self.platforms[0],
                account=c.account,
                platform_post_id=media.id,
                kind=self.kind(c),
                caption=c.caption,
                created_at=dt.datetime.fromtimestamp(now, dt.UTC),
                source_ids=(c.id, *c.children),
            )
        )
        return media

    def publishing_limit(self, req: Request, account: str) -> Response:
        self.user_node.asked(req)  # the answer is the same whatever was asked for
        total, duration = self.quota()
        with self._lock:
            used = len(self._recent_publishes(account, time.time(), duration))
        config = {"quota_total": total, "quota_duration": duration}
        return Response(200, {"data": [{"quota_usage": used, "config": config}]})

    # ---- published media --------------------------------------------------------------

    def list_media(self, req: Request, account: str) -> Response:
        names = self.listed_node.asked(req)
        with self._lock:
            items = [m for m in self._media.values() if m.account == account]
        items.sort(key=lambda m: m.created, reverse=True)
        return Response(200, paginate(req, [pick(m.fields, names) for m in items]))

    def read_media(self, req: Request, who: str) -> Response:
        media_id = object_id(req)
        with self._lock:
            m = self._media.get(media_id)
        if m is None:
            raise not_found(media_id)
        return Response(200, pick(m.fields, self.media_node.asked(req)))
