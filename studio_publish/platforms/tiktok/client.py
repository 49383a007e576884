"""TikTok Content Posting API: creator_info, Direct Post or inbox init, chunk upload, status.

There is no separate publish call: a Direct Post starts publishing once TikTok has the
media, so ``init`` is the irreversible step (and, for FILE_UPLOAD, the final chunk).

``post_mode=inbox`` (see the package's spec) takes the same steps to the creator's inbox:
the video through ``/v2/post/publish/inbox/video/init/``
(https://developers.tiktok.com/doc/content-posting-api-reference-upload-video), photos
through the photo init with ``post_mode=MEDIA_UPLOAD``
(https://developers.tiktok.com/doc/content-posting-api-reference-photo-post). Its outcome is
the status ``SEND_TO_USER_INBOX``
(https://developers.tiktok.com/doc/content-posting-api-reference-get-video-status): the post
is then ``posted`` with no permalink (the creator finishes it in the app, beyond our sight),
and ``tiktok_inbox_delivered_at`` records the delivery. An inbox post reads no creator_info:
the Direct Post references ask for it to render privacy and interaction choices the inbox
leaves to the app, and it needs the ``video.publish`` scope an inbox-only app (``video.upload``)
lacks. The saved ids, the lost-answer rule and the abandoning below are the same in both modes.

Saved ids (``ctx.save``):
  ``tiktok_init_sent_at``  ISO time, saved just before init goes out; cleared on a clear refusal
  ``tiktok_publish_id``    saved the moment init answers; every later call resumes from it
  ``tiktok_video_size``    the bytes a FILE_UPLOAD init announced (``video_size``)
  ``tiktok_uploaded_at``   ISO time our upload's last chunk was sent: until then (or with
                           ``uploaded_bytes`` below the size) TikTok cannot have the whole video
  ``tiktok_abandoned_publish_id``  a publish_id given up on (FAILED, or its upload never
                           completed): kept for the record; the next attempt inits afresh
  ``tiktok_inbox_delivered_at``  ISO time TikTok was seen to have delivered an inbox post

Waiting for TikTok to process the post goes through ``ctx.processing_wait`` (see
platforms/polling.py), and is bounded by the upload URL's documented one-hour life: a
``publish_id`` whose upload can no longer complete is abandoned and a new init starts at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeGuard

import httpx

from studio_publish.domain import Account, Post, Published, TokenGrant
from studio_publish.platforms.base import (
    Decision,
    PlatformError,
    ProcessingTimeout,
    PublishContext,
    ReconcileStatus,
    Reconciliation,
)
from studio_publish.platforms.clock import Clock, iso, saved_at_least, utc_now
from studio_publish.platforms.media import (
    file_range,
    local_path,
    url_range,
    url_size,
    video_content_type,
)
from studio_publish.platforms.polling import poll, processing_wait
from studio_publish.platforms.tiktok import INBOX_DELIVERED, SPEC, is_inbox
from studio_publish.platforms.tiktok.api import TikTokApi, fail_reason_error
from studio_publish.platforms.tiktok.chunks import ChunkPlan, plan_chunks
from studio_publish.platforms.tiktok.upload import ChunkBody, UploadIncomplete, upload_chunks
from studio_publish.platforms.transport import OutcomeUnclear, json_body, redact, send
from studio_publish.settings import Settings

CREATOR_INFO = "/v2/post/publish/creator_info/query/"
VIDEO_INIT = "/v2/post/publish/video/init/"
INBOX_VIDEO_INIT = "/v2/post/publish/inbox/video/init/"
PHOTO_INIT = "/v2/post/publish/content/init/"
STATUS_FETCH = "/v2/post/publish/status/fetch/"
TOKEN = "/v2/oauth/token/"

COMPLETE, FAILED, INBOX = "PUBLISH_COMPLETE", "FAILED", "SEND_TO_USER_INBOX"
SETTLED = (COMPLETE, FAILED, INBOX)  # the statuses nothing follows for us
PROCESSING_UPLOAD, PROCESSING_DOWNLOAD = "PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD"
# "The upload_url is valid for one hour after issuance. The upload must be completed in this
# time range" (https://developers.tiktok.com/doc/content-posting-api-reference-direct-post).
# A publish_id still processing well past that (twice it: a completed upload is processed in
# minutes, and a hung PULL_FROM_URL download behaves the same) never goes live: abandoned.
UPLOAD_URL_LIFE = dt.timedelta(hours=1)
ABANDON_AFTER = 2 * UPLOAD_URL_LIFE
# A publish_id processed this long (moderation included) may yet be live: a person looks.
PROCESSING_BOUND = dt.timedelta(hours=24)
_SAVED_KEYS = (
    "tiktok_publish_id",
    "tiktok_init_sent_at",
    "tiktok_video_size",
    "tiktok_uploaded_at",
)


class _Abandoned(PlatformError):
    """A publish_id given up on because it can never go live: a new init follows at once."""


def _count(value: object) -> TypeGuard[int]:
    """A byte count as TikTok documents it (an integer), not a flag or text posing as one."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _fail(message: str) -> PlatformError:
    return PlatformError(Decision.FAIL, message)


def flag(value: Any) -> bool:
    """Options arrive from the CLI as strings: "true"/"1"/"yes" count as true."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def is_photo_post(post: Post) -> bool:
    return post.post_type in ("image", "carousel")


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # an unknown duration is left for TikTok to check


@dataclass(frozen=True)
class CreatorInfo:
    username: str
    privacy_level_options: tuple[str, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int | None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CreatorInfo:
        longest = data.get("max_video_post_duration_sec")
        return cls(
            username=str(data.get("creator_username") or ""),
            privacy_level_options=tuple(data.get("privacy_level_options") or ()),
            comment_disabled=bool(data.get("comment_disabled")),
            duet_disabled=bool(data.get("duet_disabled")),
            stitch_disabled=bool(data.get("stitch_disabled")),
            max_video_post_duration_sec=longest if isinstance(longest, int) else None,
        )

    def check(self, post: Post) -> None:
        """TikTok's sharing guidelines: the chosen privacy level must be one it offers."""
        privacy = post.options.get("privacy_level")
        offered = ", ".join(self.privacy_level_options) or "none"
        if privacy not in self.privacy_level_options:
            raise _fail(
                f"privacy_level {privacy!r} is not offered for this TikTok account; "
                f"set the option privacy_level to one of: {offered}"
            )
        duration = _seconds(post.options.get("duration_sec"))
        longest = self.max_video_post_duration_sec
        if not is_photo_post(post) and duration and longest and duration > longest:
            raise _fail(f"the video is {duration:g} s; this account may post at most {longest} s")


@dataclass(frozen=True)
class Upload:
    """What init needs to know about a FILE_UPLOAD video, and how to read its bytes."""

    plan: ChunkPlan
    body: ChunkBody
    content_type: str


def permalink(username: str, post_id: str, *, photo: bool) -> str | None:
    if not username:
        return None
    # Postiz's /video/ form; photo posts live under /photo/.
    return f"https://www.tiktok.com/@{username}/{'photo' if photo else 'video'}/{post_id}"


class TikTokPlatform:
    name = "tiktok"

    def __init__(self, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock

    @property
    def can_refresh_tokens(self) -> bool:
        return True

    def _api(self, ctx: PublishContext) -> TikTokApi:
        return TikTokApi(
            ctx.http,
            self.settings.tiktok_api_base,
            ctx.account.access_token,
            self.settings.http_timeout_seconds,
        )

    async def _creator(self, api: TikTokApi) -> CreatorInfo:
        return CreatorInfo.from_data(await api.call(CREATOR_INFO, {}))

    async def _creator_for(self, ctx: PublishContext, api: TikTokApi) -> CreatorInfo:
        """The creator info read by prepare() in this attempt, else read now (one call)."""
        creator = ctx.account_facts.get("tiktok_creator")
        if not isinstance(creator, CreatorInfo):
            creator = await self._creator(api)
            ctx.account_facts["tiktok_creator"] = creator
        return creator

    # -- Platform ---------------------------------------------------------------------------

    async def _checked_creator(self, ctx: PublishContext, api: TikTokApi) -> CreatorInfo | None:
        """The creator info, the post checked against it; None for an inbox post, which
        reads none (see above)."""
        if is_inbox(ctx.post.options):
            return None
        creator = await self._creator_for(ctx, api)
        creator.check(ctx.post)
        return creator

    async def prepare(self, ctx: PublishContext) -> None:
        await self._checked_creator(ctx, self._api(ctx))

    async def publish(self, ctx: PublishContext) -> Published:
        api = self._api(ctx)
        publish_id = ctx.saved_ids.get("tiktok_publish_id")
        if publish_id:
            try:
                return await self._finish(ctx, api, str(publish_id), username=None, fresh=False)
            except _Abandoned:
                pass  # that publish_id can never go live: a new init, at once (below)
        if ctx.saved_ids.get("tiktok_init_sent_at"):
            raise PlatformError(
                Decision.UNKNOWN,
                "an earlier TikTok init got no answer and TikTok offers no way to look it up",
            )
        creator = await self._checked_creator(ctx, api)
        upload = None if is_photo_post(ctx.post) else await self._upload_source(ctx)
        path, body = self._init_request(ctx, creator, upload)
        await ctx.save(tiktok_init_sent_at=iso(self.clock()))
        try:
            data = await api.call(path, body, irreversible=True)
        except OutcomeUnclear as exc:
            exc.message += "; TikTok may have created the post"
            raise
        except PlatformError:
            await ctx.save(tiktok_init_sent_at=None)  # a clear answer: nothing was created
            raise
        if not data.get("publish_id"):
            raise PlatformError(Decision.UNKNOWN, "TikTok init answered ok without a publish_id")
        publish_id = str(data["publish_id"])
        await ctx.save(
            tiktok_publish_id=publish_id,
            tiktok_video_size=upload.plan.video_size if upload is not None else None,
        )
        if upload is not None:
            await self._upload(ctx, publish_id, str(data.get("upload_url") or ""), upload)
        username = creator.username if creator is not None else ""
        return await self._finish(ctx, api, publish_id, username=username, fresh=True)

    async def reconcile(self, ctx: PublishContext) -> Reconciliation:
        publish_id = ctx.saved_ids.get("tiktok_publish_id")
        if not publish_id:
            if ctx.saved_ids.get("tiktok_init_sent_at"):
                return Reconciliation(
                    ReconcileStatus.UNKNOWN, reason="init was sent but no publish_id came back"
                )
            return Reconciliation(ReconcileStatus.NOT_LIVE, reason="init was never sent")
        api = self._api(ctx)
        data = await self._status(api, str(publish_id))
        status = str(data.get("status") or "")
        if self._delivered_to_inbox(ctx, status):
            published = await self._delivered(ctx, str(publish_id))
            return Reconciliation(ReconcileStatus.LIVE, published, reason=status)
        if status == COMPLETE:
            published = await self._published(ctx, api, str(publish_id), data, username=None)
            return Reconciliation(ReconcileStatus.LIVE, published, reason=status)
        if status == FAILED:
            error = fail_reason_error(str(data.get("fail_reason") or ""))
            return Reconciliation(ReconcileStatus.FAILED, error=error, reason=status)
        if (why := self._never_live(ctx, data)) is not None:
            await self._abandon(ctx, str(publish_id))
            return Reconciliation(ReconcileStatus.NOT_LIVE, reason=why)
        if self._past(ctx, PROCESSING_BOUND):
            timeout = self._processing_timeout(status)
            return Reconciliation(ReconcileStatus.FAILED, error=timeout, reason=status)
        ctx.looked_up[f"tiktok_{publish_id}"] = data  # publish() resumes from this read
        return Reconciliation(ReconcileStatus.PENDING, reason=status or "no status")

    async def refresh_token(self, account: Account, http: httpx.AsyncClient) -> TokenGrant:
        key = self.settings.tiktok_client_key
        client_secret = self.settings.tiktok_client_secret
        secret = client_secret.get_secret_value() if client_secret else None
        for value, name in ((key, "CLIENT_KEY"), (secret, "CLIENT_SECRET")):
            if not value:
                raise PlatformError(
                    Decision.REAUTH,
                    f"STUDIO_PUBLISH_TIKTOK_{name} is not set: TikTok tokens cannot be refreshed",
                )
        if not account.refresh_token:
            raise PlatformError(Decision.REAUTH, "no TikTok refresh token is saved")
        secrets = (account.refresh_token, account.access_token, secret)
        now = self.clock()
        response = await send(
            http,
            "POST",
            f"{self.settings.tiktok_api_base}{TOKEN}",
            what="TikTok token refresh",
            timeout=self.settings.http_timeout_seconds,
            data={
                "client_key": key or "",
                "client_secret": secret or "",
                "grant_type": "refresh_token",
                "refresh_token": account.refresh_token,
            },
        )
        body = json_body(response)
        if response.is_success and body.get("access_token"):
            return _grant(body, now, account.refresh_token)
        raise _refresh_error(response.status_code, body, secrets)

    # -- publishing -------------------------------------------------------------------------

    async def _upload_source(self, ctx: PublishContext) -> Upload | None:
        """How the video reaches TikTok: None for PULL_FROM_URL, else a FILE_UPLOAD plan."""
        media, http = ctx.post.media[0], ctx.http
        if flag(ctx.account.options.get("tiktok_pull_from_url")) and media.url.startswith(
            "https://"
        ):
            return None
        timeout = self.settings.http_timeout_seconds
        policy, most = self.settings.media_policy(), SPEC.media["video"].max_bytes
        if media.is_local:
            path = local_path(media, policy, max_bytes=most)
            size = path.stat().st_size

            def body(first: int, last: int) -> AsyncIterator[bytes]:
                return file_range(path, first, last)
        else:
            url = media.url
            size = await url_size(http, url, policy, timeout=timeout, max_bytes=most)

            def body(first: int, last: int) -> AsyncIterator[bytes]:
                return url_range(http, url, policy, first, last, timeout=timeout)

        try:
            plan = plan_chunks(size)
        except ValueError as exc:
            raise _fail(f"the video cannot be uploaded to TikTok: {exc}") from None
        return Upload(plan, body, video_content_type(media.url))

    def _init_request(
        self, ctx: PublishContext, creator: CreatorInfo | None, upload: Upload | None
    ) -> tuple[str, dict[str, Any]]:
        """The init call's path and body; ``creator`` None: an inbox post (it reads none)."""
        post = ctx.post
        if is_photo_post(post):
            return PHOTO_INIT, self._photo_body(post, creator)
        if upload is None:
            source_info: dict[str, Any] = {
                "source": "PULL_FROM_URL",
                "video_url": post.media[0].url,
            }
        else:
            source_info = dict(upload.plan.source_info)
        if creator is None:
            # The inbox video init's body is source_info alone (the upload-video reference).
            return INBOX_VIDEO_INIT, {"source_info": source_info}
        return VIDEO_INIT, {
            "post_info": self._video_info(post, creator),
            "source_info": source_info,
        }

    @staticmethod
    def _direct_info(post: Post, creator: CreatorInfo) -> dict[str, Any]:
        """What every Direct Post's post_info holds."""
        return {
            "privacy_level": post.options["privacy_level"],
            # Settings the creator has switched off must be sent as disabled.
            "disable_comment": flag(post.options.get("disable_comment"))
            or creator.comment_disabled,
        }

    def _video_info(self, post: Post, creator: CreatorInfo) -> dict[str, Any]:
        options = post.options
        post_info = self._direct_info(post, creator)
        post_info.update(
            title=post.caption,
            disable_duet=flag(options.get("disable_duet")) or creator.duet_disabled,
            disable_stitch=flag(options.get("disable_stitch")) or creator.stitch_disabled,
            brand_content_toggle=flag(options.get("brand_content_toggle")),
            brand_organic_toggle=flag(options.get("brand_organic_toggle")),
            is_aigc=flag(options.get("is_aigc")),
        )
        if options.get("video_cover_timestamp_ms") is not None:
            post_info["video_cover_timestamp_ms"] = int(options["video_cover_timestamp_ms"])
        return post_info

    def _photo_body(self, post: Post, creator: CreatorInfo | None) -> dict[str, Any]:
        options = post.options
        source = {
            "source": "PULL_FROM_URL",
            "photo_cover_index": int(options.get("photo_cover_index", 0)),
            "photo_images": [m.url for m in post.media],
        }
        # Title and description are taken in both modes; in MEDIA_UPLOAD (the inbox) the
        # rest is "Required for DIRECT POST" or "Only works for post_mode = DIRECT POST".
        text: dict[str, Any] = {"description": post.caption}
        if options.get("title"):
            text["title"] = str(options["title"])
        if creator is None:
            return {
                "post_info": text,
                "source_info": source,
                "post_mode": "MEDIA_UPLOAD",
                "media_type": "PHOTO",
            }
        post_info = {**self._direct_info(post, creator), **text}
        post_info["auto_add_music"] = flag(options.get("auto_add_music", True))
        # The disclosure is as binding for photos as for videos: the Photo Post reference
        # (https://developers.tiktok.com/doc/content-posting-api-reference-photo-post)
        # marks both toggles "Required: true" for DIRECT_POST, and puts is_aigc at the
        # top level of the body rather than in post_info.
        post_info["brand_content_toggle"] = flag(options.get("brand_content_toggle"))
        post_info["brand_organic_toggle"] = flag(options.get("brand_organic_toggle"))
        return {
            "post_info": post_info,
            "source_info": source,
            "post_mode": "DIRECT_POST",
            "media_type": "PHOTO",
            "is_aigc": flag(options.get("is_aigc")),
        }

    async def _upload(self, ctx: PublishContext, publish_id: str, url: str, upload: Upload) -> None:
        try:
            if not url:
                raise UploadIncomplete(Decision.RETRY, "TikTok init gave no upload_url")
            await upload_chunks(
                ctx.http,
                url,
                upload.plan,
                upload.body,
                content_type=upload.content_type,
                timeout=self.settings.http_timeout_seconds,
                backoff=self.settings.poll_interval_seconds,
            )
        except UploadIncomplete as exc:
            # TikTok never got the whole video, so this publish_id cannot go live.
            await self._abandon(ctx, publish_id)
            raise PlatformError(exc.decision, exc.message, http_status=exc.http_status) from exc
        except OutcomeUnclear:
            pass  # the final chunk may have landed: the status below tells
        await ctx.save(tiktok_uploaded_at=iso(self.clock()))

    async def _abandon(self, ctx: PublishContext, publish_id: str) -> None:
        await ctx.save(tiktok_abandoned_publish_id=publish_id, **dict.fromkeys(_SAVED_KEYS))

    async def _status(self, api: TikTokApi, publish_id: str) -> dict[str, Any]:
        try:
            return await api.call(STATUS_FETCH, {"publish_id": publish_id})
        except PlatformError as exc:
            if exc.code in ("invalid_publish_id", "token_not_authorized_for_specified_publish_id"):
                raise PlatformError(
                    Decision.UNKNOWN, f"TikTok does not recognise the saved publish_id ({exc.code})"
                ) from exc
            raise

    def _past(self, ctx: PublishContext, age: dt.timedelta) -> bool:
        """Whether the saved init was sent ``age`` ago or more."""
        return saved_at_least(ctx.saved_ids.get("tiktok_init_sent_at"), age, self.clock())

    def _processing_timeout(self, status: str) -> ProcessingTimeout:
        return ProcessingTimeout(
            Decision.UNKNOWN,
            f"TikTok was still processing the post ({status or 'no status'}) 24 hours after "
            "init; it may yet go live: check the account",
        )

    def _never_live(self, ctx: PublishContext, data: dict[str, Any]) -> str | None:
        """Why a publish_id still processing can never go live (its upload cannot complete),
        or None. Finding: a run killed mid-upload leaves a publish_id that waits forever."""
        status = data.get("status")
        if status not in (PROCESSING_UPLOAD, PROCESSING_DOWNLOAD):
            return None
        size, uploaded = ctx.saved_ids.get("tiktok_video_size"), data.get("uploaded_bytes")
        if (
            status == PROCESSING_UPLOAD
            and not ctx.saved_ids.get("tiktok_uploaded_at")
            and _count(size)
            and _count(uploaded)
            and uploaded < size
        ):
            return f"its upload stopped at {uploaded} of {size} bytes and its upload URL is gone"
        if self._past(ctx, ABANDON_AFTER):
            return f"still {status} two hours after init, past the upload URL's one-hour life"
        return None

    async def _finish(
        self,
        ctx: PublishContext,
        api: TikTokApi,
        publish_id: str,
        *,
        username: str | None,
        fresh: bool,
    ) -> Published:
        """Wait for TikTok to settle ``publish_id``. ``fresh``: just made, not read yet."""
        current = ctx.looked_up.pop(f"tiktok_{publish_id}", None)  # read by reconcile()
        if current is None and not fresh:
            current = await self._status(api, publish_id)
        data = (
            await poll(
                lambda: self._status(api, publish_id),
                lambda d: d.get("status") in SETTLED or bool(self._never_live(ctx, d)),
                interval=self.settings.poll_interval_seconds,
                wait=processing_wait(ctx.processing_wait, self.settings.poll_timeout_seconds),
                current=current,
            )
            or {}
        )
        status = data.get("status")
        if self._delivered_to_inbox(ctx, str(status or "")):
            return await self._delivered(ctx, publish_id)
        if status == COMPLETE:
            return await self._published(ctx, api, publish_id, data, username=username)
        if status == FAILED:
            # Certainly not published: a later attempt starts over with a new init.
            await self._abandon(ctx, publish_id)
            raise fail_reason_error(str(data.get("fail_reason") or ""))
        if (why := self._never_live(ctx, data)) is not None:
            await self._abandon(ctx, publish_id)
            raise _Abandoned(Decision.RETRY, f"TikTok publish_id {publish_id} abandoned: {why}")
        if self._past(ctx, PROCESSING_BOUND):
            raise self._processing_timeout(str(status or ""))
        # Processing or moderation outlasts this run's wait; the publish_id is saved, so the
        # next attempt resumes here. WAIT, not RETRY: this is not a failure worth an attempt.
        raise PlatformError(
            Decision.WAIT,
            f"TikTok is still processing the post ({status or 'no status'})",
            retry_after=self.settings.poll_interval_seconds,
        )

    @staticmethod
    def _delivered_to_inbox(ctx: PublishContext, status: str) -> bool:
        """Whether ``status`` says TikTok delivered the post to the creator's inbox: what the
        status reference calls SEND_TO_USER_INBOX, or, for an inbox post, PUBLISH_COMPLETE
        (the creator already finished it in the app)."""
        return status == INBOX or (status == COMPLETE and is_inbox(ctx.post.options))

    async def _delivered(self, ctx: PublishContext, publish_id: str) -> Published:
        # The inbox post is TikTok's now: nothing links to it until the creator posts it, so
        # the publish_id stands for it (unique, as platform_post_id must be) with no link.
        await ctx.save(**{INBOX_DELIVERED: iso(self.clock())})
        return Published(publish_id)

    async def _published(
        self,
        ctx: PublishContext,
        api: TikTokApi,
        publish_id: str,
        data: dict[str, Any],
        *,
        username: str | None,
    ) -> Published:
        # Post ids appear only for public posts, after moderation; else the publish_id stands in.
        ids = data.get("publicaly_available_post_id") or []  # TikTok's spelling
        if not ids:
            return Published(publish_id)
        post_id = str(ids[0])
        if username is None:
            try:
                username = (await self._creator(api)).username
            except PlatformError:
                username = ""  # the post is live: a failed lookup only loses the link
        return Published(post_id, permalink(username, post_id, photo=is_photo_post(ctx.post)))


def _grant(body: dict[str, Any], now: dt.datetime, old_refresh: str) -> TokenGrant:
    def after(seconds: Any) -> dt.datetime | None:
        return now + dt.timedelta(seconds=seconds) if isinstance(seconds, int | float) else None

    return TokenGrant(
        access_token=str(body["access_token"]),
        # Refresh tokens rotate: the new one must be saved, the old one stops working.
        refresh_token=str(body.get("refresh_token") or old_refresh),
        expires_at=after(body.get("expires_in")),
        refresh_expires_at=after(body.get("refresh_expires_in")),
    )


def _refresh_error(
    status: int, body: dict[str, Any], secrets: tuple[str | None, ...]
) -> PlatformError:
    error = body.get("error")
    if isinstance(error, dict):  # the v2 API envelope, e.g. rate_limit_exceeded
        code = str(error.get("code") or "")
        detail = str(error.get("message") or code)
    else:  # the OAuth form: {error, error_description, log_id}
        code = str(error or "")
        detail = str(body.get("error_description") or code or f"HTTP {status}")
    message = redact(f"TikTok token refresh failed: {detail}", *secrets)
    if status >= 500 or code == "internal_error":
        return PlatformError(Decision.RETRY, message, code=code or None, http_status=status)
    if status == 429 or code == "rate_limit_exceeded":
        return PlatformError(
            Decision.WAIT, message, code=code, http_status=status, retry_after=60.0
        )
    # invalid_grant (expired, revoked or already rotated) and every other refusal: a person
    # has to connect the account again.
    return PlatformError(Decision.REAUTH, message, code=code or None, http_status=status)
