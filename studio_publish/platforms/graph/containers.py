"""Meta's container publishing, shared by the platforms that publish this way.

Create a container for the media (one per carousel item, then the carousel), wait until
Meta has processed it (FINISHED), publish it, and read what it became. Instagram
(https://developers.facebook.com/docs/instagram-platform/content-publishing/) and Threads
(https://developers.facebook.com/docs/threads/posts) publish this way; each platform's
``ContainerApi`` names its edges and fields.

Saved ids (``ctx.save``, each key prefixed by the platform's ``key_prefix``, e.g. ``ig_``),
each before the next call:
  ``children``        carousel child container ids, in order, grown one at a time
  ``container_id``    the container to publish (the carousel parent for carousels)
  ``container_created_at`` ISO time the container was made (or first seen, for rows saved
                      before this key existed): its processing is bounded by the container's
                      24-hour life
  ``publish_sent_at`` ISO time, saved just before the publish call goes out
  ``media_id``        the published media id
  ``uploaded``        True once the container's media was uploaded (Instagram's resumable
                      upload of a local video; see ``upload``)
  ``container_retries`` how often the saved container was tried again after an error that
                      asks for a brief retry before a new container (2207008)
A spoilt container (ERROR, EXPIRED, or an error that asks for a new one) is dropped by
saving these keys as None, so the next attempt starts over with fresh containers. A
container that cannot be read is not spoilt: Meta has answered 100/33 to reads of fresh
containers for days while creating and publishing worked, so a failed read decides nothing.

The publish call is not idempotent, but the container's status tells whether it went out
(PUBLISHED) or not (FINISHED): every resume reads it before publishing again.

Waiting for a container to be processed goes through ``ctx.processing_wait`` (see
platforms/polling.py): the engine's gives the post's slot back meanwhile and, when the run's
budget ends, the post is handed back (WAIT) with its container kept, for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from studio_publish.domain import Post, Published, Quota
from studio_publish.platforms.base import (
    CommentContext,
    Decision,
    PlatformError,
    ProcessingTimeout,
    PublishContext,
    ReconcileStatus,
    Reconciliation,
)
from studio_publish.platforms.clock import iso, parse_time, saved_at_least
from studio_publish.platforms.graph.client import GraphClient, GraphPlatform, not_found
from studio_publish.platforms.graph.errors import QUOTA_WAIT, GraphError, container_error
from studio_publish.platforms.polling import poll, processing_wait
from studio_publish.platforms.transport import OutcomeUnclear

UNREAD = object()  # an account fact not read yet in this run (None: read, and absent)


@dataclass(frozen=True)
class ContainerApi:
    """Where a container platform's calls go, below ``/{account id}/``, and what it reads."""

    name: str  # the platform's display name, for messages
    key_prefix: str  # of the saved ids: "ig" saves ig_container_id, ...
    create: str  # POST: a container
    publish: str  # POST: publish a container (creation_id)
    quota: str  # GET: the publishing limit (quota_usage, config.quota_total)
    quota_code: str  # the code recorded when the quota is used up
    listing: str  # GET: the account's newest media
    status_fields: tuple[str, str]  # the container's status field, and its detail field
    text_field: str  # the media's text field (caption, text)


IN_PROGRESS, FINISHED, PUBLISHED = "IN_PROGRESS", "FINISHED", "PUBLISHED"
ERROR, EXPIRED = "ERROR", "EXPIRED"
# Our own markers. UNREADABLE: the read was refused with Graph code 100 (100/33 "does not
# exist ... or does not support this operation"), which Meta has also answered for days about
# containers that were fine. NO_STATUS: the read answered without a status (trypost PR #351
# saw only a "status" text): neither is FINISHED, so neither is ever published on.
UNREADABLE, NO_STATUS = "UNREADABLE", "NO_STATUS"
NOT_SETTLED = frozenset({IN_PROGRESS, UNREADABLE, NO_STATUS})  # polled until they change
# How long to wait before reading again a container that cannot be read now (Meta's advice
# is to poll about once a minute); one still processing is read after POLL_INTERVAL_SECONDS.
UNREADABLE_WAIT = 60.0
# "Containers ... expire after 24 hours" (https://developers.facebook.com/docs/
# instagram-platform/instagram-graph-api/reference/ig-user/media); Threads' are the same. A
# container still not FINISHED by then never will be; a publish sent and unconfirmed by
# then is for a person to check.
CONTAINER_LIFETIME = dt.timedelta(hours=24)
# How far before publish_sent_at a media's timestamp may be (clock skew) and still match.
MATCH_SLACK = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class ContainerState:
    code: str  # IN_PROGRESS, FINISHED, PUBLISHED, ERROR, EXPIRED, UNREADABLE or NO_STATUS
    text: str = ""  # for ERROR, what went wrong (an error subcode or name)


class ContainerPlatform(GraphPlatform):
    """Publishing through containers: create, wait until FINISHED, publish, find the media.

    A subclass says where (``api``) and what to send (``container_params``,
    ``child_params``); this class keeps the saved-ids protocol of the module docstring.
    """

    api: ContainerApi

    def published_media_id(self, ctx: CommentContext) -> str:
        """The live post's media id as publish saved it (a post whose media could not be
        found was recorded as its container): what a first comment goes under."""
        return str(ctx.post_ids.get(self.key("media_id")) or ctx.platform_post_id)

    def container_params(self, post: Post, children: list[str]) -> dict[str, str]:
        """The parameters of the container that the publish call will publish."""
        raise NotImplementedError

    def child_params(self, post: Post, kind: str, url: str) -> dict[str, str]:
        """The parameters of one of ``post``'s carousel items' containers."""
        raise NotImplementedError

    def listing(self, post: Post) -> str:
        """The edge (below the account) that lists the account's newest media."""
        return self.api.listing

    def ready_at_once(self, post: Post) -> bool:
        """Whether ``post``'s container is usually FINISHED as soon as it is made, so it is
        published without reading its status first (the publish says 9007 when it is not)."""
        return False

    async def upload(self, ctx: PublishContext, graph: GraphClient, container: str) -> None:
        """Send the media of a container made to be uploaded to (Instagram's resumable
        upload), before its status is waited for; nothing for media Meta fetches itself."""

    def key(self, name: str) -> str:
        return f"{self.api.key_prefix}_{name}"

    async def _save(self, ctx: PublishContext, **ids: Any) -> None:
        await ctx.save(**{self.key(name): value for name, value in ids.items()})

    def _saved(self, ctx: PublishContext, name: str) -> Any:
        return ctx.saved_ids.get(self.key(name))

    # -- Platform ---------------------------------------------------------------------------

    async def prepare(self, ctx: PublishContext) -> None:
        # The publishing quota is read once per account per run, and this run's publishes
        # are counted on it (_count_published). Known already: checked here, before anything
        # is sent. Not read yet: publish() reads it beside the post's container, which uses
        # none of it ("the limit is enforced on the media_publish endpoint"), so the first
        # post of an account waits one round trip less.
        quota = ctx.account_facts.get(self.key("quota"), UNREAD)
        if quota is not UNREAD:
            self._check_quota(ctx, quota)

    def _check_quota(self, ctx: PublishContext, quota: Quota | None) -> None:
        """Decision.WAIT when the account's quota (None: unknown) is used up."""
        if quota is None:
            return
        ctx.quota = quota
        usage, total = quota.used, quota.total
        if usage >= total:
            # The quota is a rolling 24 h window and the API does not say when a slot frees.
            raise PlatformError(
                Decision.WAIT,
                f"{self.api.name} publishing quota used up ({usage}/{total} in 24 h)",
                code=self.api.quota_code,
                retry_after=QUOTA_WAIT,
            )

    async def _quota_room(self, ctx: PublishContext) -> None:
        """Before a publish: the account's quota has room (read now if this run has not)."""
        quota = ctx.account_facts.get(self.key("quota"), UNREAD)
        if quota is UNREAD:
            quota = ctx.account_facts[self.key("quota")] = await self._read_quota(ctx)
        self._check_quota(ctx, quota)

    async def _create_reading_quota(
        self, ctx: PublishContext, graph: GraphClient, params: dict[str, str]
    ) -> str:
        """The post's container; the first time this run, the account's quota is read beside
        it. Should the read fail, the container is kept for the next attempt."""
        if self.key("quota") in ctx.account_facts:
            return await self._create(ctx, graph, params)
        reading = asyncio.ensure_future(self._read_quota(ctx))
        try:
            container = await self._create(ctx, graph, params)
        except BaseException:
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading
            raise
        try:
            ctx.account_facts.setdefault(self.key("quota"), await reading)
        except PlatformError:
            await self._save(ctx, container_id=container, container_created_at=iso(self.clock()))
            raise
        return container

    async def _read_quota(self, ctx: PublishContext) -> Quota | None:
        """The account's publishing limit, or None when the answer does not hold one:
        Instagram's ``content_publishing_limit`` (https://developers.facebook.com/docs/
        instagram-platform/instagram-graph-api/reference/ig-user/content_publishing_limit),
        Threads' ``threads_publishing_limit`` in the same shape."""
        body = await self.client(ctx.http, ctx.account).get(
            f"{ctx.account.platform_account_id}/{self.api.quota}",
            fields="quota_usage,config",
        )
        rows = body.get("data") or [{}]
        usage, total = rows[0].get("quota_usage"), (rows[0].get("config") or {}).get("quota_total")
        if isinstance(usage, int) and isinstance(total, int):
            return Quota(used=usage, total=total)
        return None

    def _count_published(self, ctx: PublishContext) -> None:
        """One more post in the rolling window, on the quota this run read."""
        quota = ctx.account_facts.get(self.key("quota"))
        if isinstance(quota, Quota):
            ctx.quota = Quota(used=quota.used + 1, total=quota.total)
            ctx.account_facts[self.key("quota")] = ctx.quota

    async def publish(self, ctx: PublishContext) -> Published:
        graph = self.client(ctx.http, ctx.account)
        if self._saved(ctx, "media_id"):
            return await self._with_permalink(graph, str(self._saved(ctx, "media_id")))
        container = self._saved(ctx, "container_id")
        if container:
            state = ctx.looked_up.pop(self.key(container), None)  # read by reconcile() just now
            if not isinstance(state, ContainerState):
                state = await self._status(graph, container)
            if state.code == PUBLISHED:
                return await self._live(ctx, graph, container)
            if state.code not in (ERROR, EXPIRED) and not self._saved(ctx, "publish_sent_at"):
                await self.upload(ctx, graph, container)  # an upload cut off: carry on
            # Unreadable after a publish was sent: _wait_until_ready reads it again and,
            # still unreadable, waits; it publishes only on a FINISHED read.
            await self._wait_until_ready(ctx, graph, container, state)
            return await self._publish_container(ctx, graph, container)
        children = await self._children(ctx, graph)
        params = self.container_params(ctx.post, children)
        container = await self._create_reading_quota(ctx, graph, params)
        made = {"container_id": container, "container_created_at": iso(self.clock())}
        if not self.ready_at_once(ctx.post):
            await self._save(ctx, **made)
            await self.upload(ctx, graph, container)
            await self._wait_until_ready(ctx, graph, container, None)
            return await self._publish_container(ctx, graph, container)
        try:
            # Published at once: the container and the publish's marker in one save.
            return await self._publish_container(ctx, graph, container, also_save=made)
        except GraphError as exc:
            if exc.new_container:
                # Refused as spoilt: the container's own ERROR names the subcode that says
                # what to do (finding 1), which the publish error does not.
                state = await self._status(graph, container)
                if state.code == ERROR:
                    raise self._container_error(state) from exc
            if not exc.not_ready:
                raise
        # 9007: "Check the container status and publish when its status is FINISHED".
        await self._wait_until_ready(ctx, graph, container, None)
        return await self._publish_container(ctx, graph, container)

    async def reconcile(self, ctx: PublishContext) -> Reconciliation:
        graph = self.client(ctx.http, ctx.account)
        if self._saved(ctx, "media_id"):
            published = await self._with_permalink(graph, str(self._saved(ctx, "media_id")))
            return Reconciliation(ReconcileStatus.LIVE, published, reason="media id saved")
        container = self._saved(ctx, "container_id")
        if not container:
            return Reconciliation(ReconcileStatus.NOT_LIVE, reason="no container was published")
        state = await self._status(graph, container)
        if state.code == PUBLISHED:
            published = await self._live(ctx, graph, container)
            return Reconciliation(ReconcileStatus.LIVE, published, reason="container PUBLISHED")
        ctx.looked_up[self.key(container)] = state  # publish() resumes from this read
        if state.code == ERROR:
            # Dropped here, so that a retry the subcode allows makes a new container.
            await self._drop_containers(ctx)
            error = self._container_error(state)
            return Reconciliation(ReconcileStatus.FAILED, error=error, reason="container ERROR")
        if state.code == UNREADABLE and self._saved(ctx, "publish_sent_at"):
            # The listing may answer while the container does not; else look again later.
            try:
                found = await self._find_media(ctx, graph)
            except PlatformError:
                found = None
            if found is not None:
                await self._save(ctx, media_id=found[0])
                published = Published(found[0], found[1] or None)
                return Reconciliation(
                    ReconcileStatus.LIVE, published, reason="found in the listing"
                )
            if self._past_lifetime(ctx, "publish_sent_at"):
                timeout = self._unreadable_too_long(container, state.text)
                return Reconciliation(ReconcileStatus.FAILED, error=timeout, reason=state.text)
            return Reconciliation(
                ReconcileStatus.PENDING,
                reason=f"{self.api.publish} was sent; the container cannot be read yet",
            )
        # FINISHED, IN_PROGRESS, NO_STATUS, EXPIRED, or unreadable before any publish was
        # sent: not on the platform.
        return Reconciliation(ReconcileStatus.NOT_LIVE, reason=f"container {state.code}")

    # -- containers -------------------------------------------------------------------------

    async def _create(self, ctx: PublishContext, graph: GraphClient, params: dict[str, str]) -> str:
        try:
            body = await graph.post(f"{ctx.account.platform_account_id}/{self.api.create}", params)
        except GraphError as exc:
            await self._after_refusal(ctx, exc)
            raise
        return str(body["id"])

    async def _children(self, ctx: PublishContext, graph: GraphClient) -> list[str]:
        """Carousel children, reusing those an earlier attempt made; all FINISHED on return."""
        if ctx.post.post_type != "carousel":
            return []
        children = list(self._saved(ctx, "children") or [])
        for item in ctx.post.media[len(children) :]:
            children.append(
                await self._create(ctx, graph, self.child_params(ctx.post, item.kind, item.url))
            )
            await self._save(ctx, children=list(children))
        for child in children:  # created first, so Meta processes them side by side
            await self._wait_until_ready(ctx, graph, child, ContainerState(IN_PROGRESS))
        return children

    def _past_lifetime(self, ctx: PublishContext, since_key: str) -> bool:
        """Whether the saved time ``since_key`` is a container's lifetime ago or more."""
        return saved_at_least(self._saved(ctx, since_key), CONTAINER_LIFETIME, self.clock())

    async def _status(self, graph: GraphClient, container: str) -> ContainerState:
        try:
            code_field, text_field = self.api.status_fields
            body = await graph.get(container, fields=f"{code_field},{text_field}")
        except GraphError as exc:
            if not_found(exc):
                return ContainerState(UNREADABLE, exc.message)
            raise
        return ContainerState(
            str(body.get(code_field) or NO_STATUS), str(body.get(text_field) or "")
        )

    async def _wait_until_ready(
        self,
        ctx: PublishContext,
        graph: GraphClient,
        container: str,
        state: ContainerState | None,
    ) -> None:
        """Wait until ``container`` is FINISHED; anything else raises with the right decision.

        ``state`` is its last read (None: just made, so the first read waits an interval).
        """
        if state is None or state.code in NOT_SETTLED:
            state = await poll(
                lambda: self._status(graph, container),
                lambda current: current.code not in NOT_SETTLED,
                interval=self.settings.poll_interval_seconds,
                wait=processing_wait(ctx.processing_wait, self.settings.poll_timeout_seconds),
                current=state,
            ) or ContainerState(IN_PROGRESS)
        status = state.code
        if status == FINISHED:
            return
        if status in (IN_PROGRESS, NO_STATUS):
            await self._still_processing(ctx, container, state)
        if status == UNREADABLE:
            # Kept too: a later attempt reads it again rather than spending a new container.
            # Once a publish was sent the post may be live, so it waits (as reconcile's
            # PENDING does) rather than use attempts that would end in "failed".
            sent = bool(self._saved(ctx, "publish_sent_at"))
            if sent and self._past_lifetime(ctx, "publish_sent_at"):
                raise self._unreadable_too_long(container, state.text)
            raise PlatformError(
                Decision.WAIT if sent else Decision.RETRY,
                f"the {self.api.name} container {container} cannot be read now ({state.text}); "
                "will read it again",
                code=UNREADABLE,
                retry_after=UNREADABLE_WAIT if sent else None,
            )
        await self._drop_containers(ctx)
        if status == ERROR:
            raise self._container_error(state)
        if status == PUBLISHED:  # a child or parent published on its own: not expected
            raise PlatformError(Decision.UNKNOWN, f"container {container} is already PUBLISHED")
        # EXPIRED (not published within 24 h): a new container next time.
        raise PlatformError(
            Decision.RETRY, f"the {self.api.name} container is {status}", code=status
        )

    async def _still_processing(
        self, ctx: PublishContext, container: str, state: ContainerState
    ) -> None:
        """Raise for a container still processing: handed back to look again (WAIT, the
        container kept), or failed once it has outlived a container's 24-hour life."""
        if parse_time(self._saved(ctx, "container_created_at")) is None:
            # Saved before this key existed (or unreadable): its processing is bounded from now.
            await self._save(ctx, container_created_at=iso(self.clock()))
        elif self._past_lifetime(ctx, "container_created_at"):
            await self._drop_containers(ctx)
            raise ProcessingTimeout(
                Decision.FAIL,
                f"{self.api.name} was still processing the media 24 hours after its container "
                f"{container} was made; nothing was published",
            )
        detail = f" (no status given: {state.text or 'nothing'})" if state.code == NO_STATUS else ""
        raise PlatformError(
            Decision.WAIT,
            f"{self.api.name} is still processing the media{detail}",
            retry_after=self.settings.poll_interval_seconds,
        )

    def _unreadable_too_long(self, container: str, detail: str) -> ProcessingTimeout:
        """A publish was sent and the container has not been readable for its whole life:
        it may be live, so a person looks (needs_review, processing_timeout)."""
        return ProcessingTimeout(
            Decision.UNKNOWN,
            f"{self.api.publish} was sent and the {self.api.name} container {container} "
            f"could not be read for 24 hours ({detail or 'no detail'}): check the account",
        )

    def _container_error(self, state: ContainerState) -> GraphError:
        return container_error(state.text, what=f"{self.api.name} could not process the media")

    async def _after_refusal(self, ctx: PublishContext, exc: GraphError) -> None:
        """Drop the containers an error spoilt, after the brief retries its rule allows."""
        if not exc.new_container:
            return
        tries = self._saved(ctx, "container_retries")
        tries = tries if isinstance(tries, int) else 0
        if tries < exc.same_container_tries:
            await self._save(ctx, container_retries=tries + 1)
            return
        await self._drop_containers(ctx)

    async def _drop_containers(self, ctx: PublishContext) -> None:
        keys = (
            "container_id",
            "container_created_at",
            "children",
            "publish_sent_at",
            "container_retries",
            "uploaded",
        )
        await self._save(ctx, **dict.fromkeys(keys))

    # -- publishing -------------------------------------------------------------------------

    async def _publish_container(
        self,
        ctx: PublishContext,
        graph: GraphClient,
        container: str,
        *,
        also_save: dict[str, Any] | None = None,
    ) -> Published:
        try:
            await self._quota_room(ctx)
        except PlatformError:
            if also_save:  # the container, kept for the next attempt: it used no quota
                await self._save(ctx, **also_save)
            raise
        await self._save(ctx, **(also_save or {}), publish_sent_at=iso(self.clock()))
        try:
            body = await graph.post(
                f"{ctx.account.platform_account_id}/{self.api.publish}",
                {"creation_id": container},
                irreversible=True,
            )
        except OutcomeUnclear as unclear:
            return await self._after_unclear_publish(ctx, graph, container, unclear)
        except GraphError as exc:
            await self._after_refusal(ctx, exc)
            raise
        media_id = str(body["id"])
        self._count_published(ctx)
        return await ctx.save_while(
            self._with_permalink(graph, media_id), **{self.key("media_id"): media_id}
        )

    async def _after_unclear_publish(
        self, ctx: PublishContext, graph: GraphClient, container: str, unclear: OutcomeUnclear
    ) -> Published:
        try:
            status = (await self._status(graph, container)).code
        except PlatformError:
            status = ""
        if status == PUBLISHED:
            return await self._live(ctx, graph, container)
        # Not published (or unreadable). Publishing again here, seconds later, is what could
        # double-post; the next attempt reads the container again first, after a backoff.
        raise PlatformError(
            Decision.RETRY,
            f"{unclear.message}; the container is {status or 'unreadable'}, will check again",
            code=unclear.code,
            http_status=unclear.http_status,
        )

    async def _live(self, ctx: PublishContext, graph: GraphClient, container: str) -> Published:
        """A PUBLISHED container: find the media it became.

        The container read does not give the media id, so the account's newest media are
        matched on their text (for a post without one, on time alone) since the publish was
        sent. When exactly one matches it is the post; otherwise the container id is
        recorded as the post id, without a permalink, rather than guessing.
        """
        try:
            found = await self._find_media(ctx, graph)
        except PlatformError:
            found = None
        if found is None:
            return Published(platform_post_id=container)
        media_id, permalink = found
        await self._save(ctx, media_id=media_id)
        return Published(media_id, permalink or None)

    async def _find_media(self, ctx: PublishContext, graph: GraphClient) -> tuple[str, str] | None:
        # The earlier of the two: reconcile may run in a later attempt than the one that sent.
        moments = [parse_time(self._saved(ctx, "publish_sent_at")), ctx.post.attempt_started_at]
        since = min((m for m in moments if m is not None), default=None)
        body = await graph.get(
            f"{ctx.account.platform_account_id}/{self.listing(ctx.post)}",
            fields=f"id,{self.api.text_field},permalink,timestamp",
            limit=10,
        )
        matches = [item for item in body.get("data") or [] if self._matches(item, ctx.post, since)]
        if len(matches) != 1:
            return None
        return str(matches[0]["id"]), str(matches[0].get("permalink") or "")

    async def _with_permalink(self, graph: GraphClient, media_id: str) -> Published:
        # The post is live whatever happens here: a failed read only loses the link.
        try:
            body = await graph.get(media_id, fields="permalink")
        except PlatformError:
            return Published(media_id)
        return Published(media_id, body.get("permalink") or None)

    def _matches(self, item: dict[str, Any], post: Post, since: dt.datetime | None) -> bool:
        created = parse_time(item.get("timestamp"))
        if since is not None and (created is None or created < since - MATCH_SLACK):
            return False
        if not post.caption.strip() and not item.get(self.api.text_field):
            return True  # nothing to match on (a story): the time alone
        return (item.get(self.api.text_field) or "").strip() == post.caption.strip()
