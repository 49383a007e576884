"""The TikTok stand-in: the Content Posting API subset (creator_info, init, chunk upload,
status) and the token refresh.

Shapes follow https://developers.tiktok.com/doc/content-posting-api-reference-direct-post,
https://developers.tiktok.com/doc/content-posting-api-reference-upload-video (the inbox),
https://developers.tiktok.com/doc/content-posting-api-reference-photo-post,
https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide,
https://developers.tiktok.com/doc/content-posting-api-reference-get-video-status,
https://developers.tiktok.com/doc/oauth-user-access-token-management and the error
envelope of https://developers.tiktok.com/doc/tiktok-api-v2-error-handling. A Direct Post
counts as live (ledger entry) the moment TikTok has committed to it: when the last chunk
arrives (201), or at init for PULL_FROM_URL. The status then reads PROCESSING_* for
``tiktok_status_polls`` polls before PUBLISH_COMPLETE, as the real one lags behind.

An inbox post (the inbox video init, or a photo init with post_mode=MEDIA_UPLOAD) is committed
the same way, ends in SEND_TO_USER_INBOX and never in PUBLISH_COMPLETE (no creator finishes it
here), and goes in the ledger with destination "inbox" under its publish_id. More than
``tiktok_pending_share_cap`` inbox inits of one creator in 24 hours are refused with 403
spam_risk_too_many_pending_share, as the error table documents ("more than 5").

URLs (``url`` is ``http://HOST:PORT``), -> STUDIO_PUBLISH_TIKTOK_API_BASE = {url}/tiktok::

    POST {url}/tiktok/v2/post/publish/creator_info/query/   tiktok.creator_info
    POST {url}/tiktok/v2/post/publish/video/init/           tiktok.video_init
    POST {url}/tiktok/v2/post/publish/inbox/video/init/     tiktok.inbox_video_init
    POST {url}/tiktok/v2/post/publish/content/init/         tiktok.content_init
    POST {url}/tiktok/v2/post/publish/status/fetch/         tiktok.status
    POST {url}/tiktok/v2/oauth/token/                       tiktok.token
    PUT  {url}/tiktok-upload/{upload-id}                    tiktok.upload (init's upload_url)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio_publish.sandbox.ledger import INBOX, LedgerEntry
from studio_publish.sandbox.standins.base import StandIn
from studio_publish.sandbox.wire import (
    ApiError,
    Grant,
    Request,
    Response,
    Route,
    as_int,
    as_str,
    token_digest,
)

if TYPE_CHECKING:
    from studio_publish.sandbox.knobs import Fault
    from studio_publish.sandbox.state import TokenProblem

PLATFORM = "tiktok"
UPLOAD_PREFIX = "tiktok-upload"
TOKEN_ENDPOINT = "tiktok.token"

# Chunk rules (the media transfer guide above). "5 MB" and "64 MB" are ambiguous between
# 10^6 and 2^20; the sandbox takes the looser reading of each, so it only rejects plans
# that are wrong under both readings.
MIN_CHUNK = 5_000_000
MAX_CHUNK = 64 * 1024 * 1024
MAX_FINAL_CHUNK = 128 * 1024 * 1024
MAX_CHUNKS = 1000
MAX_VIDEO = 4 * 1024 * 1024 * 1024
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
TITLE_MAX_UTF16 = 2200
PHOTO_TITLE_MAX, PHOTO_DESCRIPTION_MAX, PHOTO_MAX = 90, 4000, 35
RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")

PROCESSING_UPLOAD = "PROCESSING_UPLOAD"
PROCESSING_DOWNLOAD = "PROCESSING_DOWNLOAD"
SEND_TO_USER_INBOX = "SEND_TO_USER_INBOX"
PUBLISH_COMPLETE = "PUBLISH_COMPLETE"
FAILED = "FAILED"


def log_id() -> str:
    return secrets.token_hex(16).upper()


def tiktok_error(http_status: int, code: str, message: str) -> ApiError:
    return ApiError(tiktok_response(http_status, {}, code=code, message=message))


def tiktok_response(
    http_status: int, data: Mapping[str, Any], *, code: str = "ok", message: str = ""
) -> Response:
    return Response(
        http_status,
        {"data": dict(data), "error": {"code": code, "message": message, "log_id": log_id()}},
    )


def _oauth_error(error: str, description: str, status: int = 400) -> ApiError:
    # The OAuth endpoint has its own flat error shape, not the data/error envelope
    # (https://developers.tiktok.com/doc/oauth-error-handling).
    return ApiError(
        Response(status, {"error": error, "error_description": description, "log_id": log_id()})
    )


def chunk_plan_problem(video_size: int, chunk_size: int, total_chunk_count: int) -> str | None:
    """Why a FILE_UPLOAD plan breaks the transfer rules, or None when it is valid."""
    if video_size <= 0 or chunk_size <= 0 or total_chunk_count <= 0:
        return "video_size, chunk_size and total_chunk_count must be positive"
    if video_size > MAX_VIDEO:
        return "video_size is over 4 GB"
    if video_size < MIN_CHUNK:
        if chunk_size != video_size or total_chunk_count != 1:
            return "a video under 5 MB goes as one chunk with chunk_size = video_size"
        return None
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        return "chunk_size must be between 5 MB and 64 MB"
    if total_chunk_count != video_size // chunk_size:
        return "total_chunk_count must be floor(video_size / chunk_size)"
    if total_chunk_count > MAX_CHUNKS:
        return "at most 1000 chunks"
    final = video_size - chunk_size * (total_chunk_count - 1)
    if final > MAX_FINAL_CHUNK:
        return "the final chunk would be over 128 MB"
    return None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _invalid(message: str) -> ApiError:
    return tiktok_error(400, "invalid_params", message)


@dataclass
class Publish:
    publish_id: str
    open_id: str
    source: str  # FILE_UPLOAD or PULL_FROM_URL
    kind: str  # video or photo
    direct: bool  # Direct Post (goes live) or inbox draft (the user finishes it)
    caption: str
    privacy_level: str
    polls_left: int
    created: float
    video_size: int = 0
    chunk_size: int = 0
    total_chunk_count: int = 0
    uploaded: int = 0
    upload_id: str | None = None
    uploading: bool = False  # a chunk is being received right now
    committed: bool = False  # the platform has the post (or the inbox draft)
    ready_at: float = 0.0  # processing until then, once committed (processing_seconds)
    fails: bool = False
    post_id: str | None = None
    media: str = ""  # what an inbox video carried (it has no caption): its URL or size


@dataclass
class TikTokState:
    publishes: dict[str, Publish] = field(default_factory=dict)
    uploads: dict[str, str] = field(default_factory=dict)  # upload_id -> publish_id
    live_times: dict[str, list[float]] = field(default_factory=dict)  # open_id -> times
    share_times: dict[str, list[float]] = field(default_factory=dict)  # inbox inits, the same


class TikTokStandIn(StandIn):
    platforms = (PLATFORM,)
    prefixes = (PLATFORM, UPLOAD_PREFIX)
    realm = PLATFORM
    endpoints = (
        "tiktok.creator_info",
        "tiktok.video_init",
        "tiktok.inbox_video_init",
        "tiktok.content_init",
        "tiktok.upload",
        "tiktok.status",
        TOKEN_ENDPOINT,
    )
    actions = frozenset(
        {"tiktok.video_init", "tiktok.inbox_video_init", "tiktok.content_init", "tiktok.upload"}
    )

    def reset(self) -> None:
        with self._lock:
            self._state = TikTokState()

    # ---- routing ----------------------------------------------------------------------

    def route(self, req: Request, parts: list[str]) -> Route | None:
        if parts[0] == UPLOAD_PREFIX:
            if len(parts) == 2 and req.method == "PUT":
                return Route("tiktok.upload", self.upload_chunk, needs_auth=False, stream=True)
            return None
        path = "/".join(parts[1:])
        table = {
            "v2/post/publish/creator_info/query": ("tiktok.creator_info", self.creator_info),
            "v2/post/publish/video/init": ("tiktok.video_init", self.video_init),
            "v2/post/publish/inbox/video/init": ("tiktok.inbox_video_init", self.inbox_init),
            "v2/post/publish/content/init": ("tiktok.content_init", self.content_init),
            "v2/post/publish/status/fetch": ("tiktok.status", self.status_fetch),
        }
        if req.method == "POST" and path in table:
            endpoint, handler = table[path]
            return Route(endpoint, handler)
        if req.method == "POST" and path == "v2/oauth/token":
            return Route(TOKEN_ENDPOINT, self.token, needs_auth=False)
        return None

    def unrouted(self, req: Request, parts: list[str]) -> Route | None:
        if parts[0] == UPLOAD_PREFIX:
            return None
        return Route("tiktok.unknown", _not_found, needs_auth=False)

    # ---- tokens and errors ------------------------------------------------------------

    def caller(self, route: Route, token: str, owner: str | None) -> str:
        # Lenient mode: an unregistered token is its own account, named after its digest.
        return owner or _anonymous(token)

    def token_error(self, problem: TokenProblem) -> ApiError:
        return tiktok_error(
            401, "access_token_invalid", "The access token is invalid or not found in the request."
        )

    def request_error(self, status: int, message: str) -> ApiError:
        return tiktok_error(status, "invalid_params", message)

    def fault_error(self, fault: Fault, endpoint: str) -> ApiError:
        status: int
        code: str
        message: str
        if fault.kind == "rate_limit":
            status, code, message = 429, "rate_limit_exceeded", "API rate limit was exceeded."
        elif fault.kind == "expired_token":
            status, code = 401, "access_token_invalid"
            message = "The access token is invalid or not found in the request."
        else:
            status = fault.http_status or 500
            code = str(fault.code) if fault.code is not None else "internal_error"
            message = fault.message or "Something went wrong. Please try again later."
        if endpoint == TOKEN_ENDPOINT:
            return _oauth_error(code, message, status)
        return tiktok_error(status, code, message)

    def bases(self, url: str) -> dict[str, str]:
        return {PLATFORM: f"{url}/{PLATFORM}"}

    # ---- creator info ---------------------------------------------------------------

    def _privacy_options(self, open_id: str) -> tuple[str, ...]:
        return self.accounts.settings(PLATFORM, open_id).privacy_level_options

    def _over_daily_cap(self, open_id: str) -> bool:
        return self._over(self._state.live_times, open_id, self.knobs.tiktok_daily_post_cap)

    def _over(self, book: dict[str, list[float]], open_id: str, cap: int | None) -> bool:
        """Whether ``open_id`` has ``cap`` times in ``book`` within 24 hours (None: no cap)."""
        if cap is None:
            return False
        now = time.time()
        with self._lock:
            times = [t for t in book.get(open_id, []) if now - t < 86400]
            book[open_id] = times
            return len(times) >= cap

    def _share(self, open_id: str) -> None:
        """One more inbox share for ``open_id``, or 403 spam_risk_too_many_pending_share."""
        if self._over(self._state.share_times, open_id, self.knobs.tiktok_pending_share_cap):
            raise tiktok_error(
                403,
                "spam_risk_too_many_pending_share",
                "The creator has too many pending shares in their inbox.",
            )
        with self._lock:
            self._state.share_times.setdefault(open_id, []).append(time.time())

    def creator_info(self, req: Request, open_id: str) -> Response:
        if self._over_daily_cap(open_id):
            # Documented: these come back as HTTP 200 with error.code != "ok".
            return tiktok_response(
                200,
                {},
                code="spam_risk_too_many_posts",
                message="The daily post cap for this creator is reached.",
            )
        spec = self.accounts.settings(PLATFORM, open_id)
        username = spec.username or f"sandbox_{open_id[-6:]}"
        return tiktok_response(
            200,
            {
                "creator_avatar_url": "https://p16-sign.tiktokcdn.com/sandbox-avatar.jpeg",
                "creator_username": username,
                "creator_nickname": spec.nickname or username.title(),
                "privacy_level_options": list(spec.privacy_level_options),
                "comment_disabled": False,
                "duet_disabled": False,
                "stitch_disabled": False,
                "max_video_post_duration_sec": spec.max_video_post_duration_sec,
            },
        )

    # ---- init -------------------------------------------------------------------------

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        if not isinstance(req.json_body, dict):
            raise _invalid("The request body must be a JSON object.")
        return req.json_body

    def _check_post_info(self, post_info: Any, open_id: str, *, title_max: int) -> tuple[str, str]:
        if not isinstance(post_info, dict):
            raise _invalid("post_info is required.")
        title = as_str(post_info.get("title")) or ""
        if _utf16_len(title) > title_max:
            raise _invalid(f"post_info.title is longer than {title_max} characters.")
        privacy = as_str(post_info.get("privacy_level"))
        if not privacy:
            raise _invalid("post_info.privacy_level is required.")
        if privacy not in self._privacy_options(open_id):
            raise tiktok_error(
                403,
                "privacy_level_option_mismatch",
                "privacy_level is not one of the creator's privacy_level_options.",
            )
        if self._over_daily_cap(open_id):
            raise tiktok_error(
                403, "spam_risk_too_many_posts", "The daily post cap for this creator is reached."
            )
        return title, privacy

    def video_init(self, req: Request, open_id: str) -> Response:
        body = self._body(req)
        title, privacy = self._check_post_info(
            body.get("post_info"), open_id, title_max=TITLE_MAX_UTF16
        )
        return self._init_video(req, body, open_id, title, privacy, direct=True)

    def inbox_init(self, req: Request, open_id: str) -> Response:
        # The upload-video reference documents source_info alone: a post_info (Postiz sends
        # a title) is not read, and the creator writes the caption in the app.
        body = self._body(req)
        return self._init_video(req, body, open_id, "", "SELF_ONLY", direct=False)

    def _init_video(
        self,
        req: Request,
        body: dict[str, Any],
        open_id: str,
        title: str,
        privacy: str,
        *,
        direct: bool,
    ) -> Response:
        source_info = body.get("source_info")
        if not isinstance(source_info, dict):
            raise _invalid("source_info is required.")
        source = as_str(source_info.get("source"))
        if source == "FILE_UPLOAD":
            sizes = [
                as_int(source_info.get(k))
                for k in ("video_size", "chunk_size", "total_chunk_count")
            ]
            if any(v is None for v in sizes):
                raise _invalid("video_size, chunk_size and total_chunk_count are required.")
            video_size, chunk_size, count = (v or 0 for v in sizes)
            problem = chunk_plan_problem(video_size, chunk_size, count)
            if problem:
                raise _invalid(f"source_info: {problem}.")
        elif source == "PULL_FROM_URL":
            url = as_str(source_info.get("video_url")) or ""
            if not url.startswith(("http://", "https://")):
                raise _invalid("source_info.video_url must be an http(s) URL.")
            video_size = chunk_size = count = 0
        else:
            raise _invalid("source_info.source must be FILE_UPLOAD or PULL_FROM_URL.")
        if not direct:
            self._share(open_id)

        prefix = "v_inbox" if not direct else "v_pub"
        kind = "file" if source == "FILE_UPLOAD" else "url"
        publish = Publish(
            publish_id=f"{prefix}_{kind}~v2-1.{self.ids.next('7')}",
            open_id=open_id,
            source=source,
            kind="video",
            direct=direct,
            caption=title,
            privacy_level=privacy,
            polls_left=self.knobs.tiktok_status_polls,
            created=time.time(),
            video_size=video_size,
            chunk_size=chunk_size,
            total_chunk_count=count,
            media=as_str(source_info.get("video_url")) or f"{video_size} bytes",
        )
        data: dict[str, Any] = {"publish_id": publish.publish_id}
        with self._lock:
            self._state.publishes[publish.publish_id] = publish
            if source == "FILE_UPLOAD":
                publish.upload_id = self.ids.next("8")
                self._state.uploads[publish.upload_id] = publish.publish_id
                data["upload_url"] = f"http://{req.host}/tiktok-upload/{publish.upload_id}"
            else:
                self._commit(publish)
        return tiktok_response(200, data)

    def content_init(self, req: Request, open_id: str) -> Response:
        body = self._body(req)
        if as_str(body.get("media_type")) != "PHOTO":
            raise _invalid("media_type must be PHOTO.")
        mode = as_str(body.get("post_mode"))
        if mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
            raise _invalid("post_mode must be DIRECT_POST or MEDIA_UPLOAD.")
        direct = mode == "DIRECT_POST"
        info = body.get("post_info")
        if direct:
            title, privacy = self._check_post_info(info, open_id, title_max=PHOTO_TITLE_MAX)
            if self.knobs.tiktok_photo_disclosure_required:
                # "Required: true" for DIRECT_POST in the Photo Post reference: a missing
                # disclosure is refused, not taken as "no brand".
                for name in ("brand_content_toggle", "brand_organic_toggle"):
                    if not isinstance(info, dict) or not isinstance(info.get(name), bool):
                        raise _invalid(f"post_info.{name} is required.")
        else:
            raw_title = as_str(info.get("title")) if isinstance(info, dict) else None
            title, privacy = raw_title or "", "SELF_ONLY"
        if len(title) > PHOTO_TITLE_MAX:
            raise _invalid("post_info.title is longer than 90 characters.")
        description = (as_str(info.get("description")) if isinstance(info, dict) else None) or ""
        if len(description) > PHOTO_DESCRIPTION_MAX:
            raise _invalid("post_info.description is longer than 4000 characters.")
        source_info = body.get("source_info")
        if not isinstance(source_info, dict) or source_info.get("source") != "PULL_FROM_URL":
            raise _invalid("Photos take source_info.source = PULL_FROM_URL only.")
        images = source_info.get("photo_images")
        if not isinstance(images, list) or not 1 <= len(images) <= PHOTO_MAX:
            raise _invalid("source_info.photo_images must list 1 to 35 image URLs.")
        if not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in images):
            raise _invalid("source_info.photo_images must be http(s) URLs.")
        cover = as_int(source_info.get("photo_cover_index", 0))
        if cover is None or not 0 <= cover < len(images):
            raise _invalid("source_info.photo_cover_index is out of range.")
        if not direct:
            self._share(open_id)
        publish = Publish(
            publish_id=f"p_{'pub' if direct else 'inbox'}_url~v2.{self.ids.next('7')}",
            open_id=open_id,
            source="PULL_FROM_URL",
            kind="photo",
            direct=direct,
            caption=description or title,
            privacy_level=privacy,
            polls_left=self.knobs.tiktok_status_polls,
            created=time.time(),
        )
        with self._lock:
            self._state.publishes[publish.publish_id] = publish
            self._commit(publish)
        return tiktok_response(200, {"publish_id": publish.publish_id})

    def _commit(self, publish: Publish) -> None:
        """TikTok has everything it needs: a Direct Post goes live now (unless it is one
        of the ``tiktok_publish_failures``). Caller holds the lock."""
        publish.committed = True
        publish.ready_at = time.time() + self.knobs.processing_seconds
        if self.knobs.tiktok_publish_failures > 0:
            self.knobs.tiktok_publish_failures -= 1
            publish.fails = True
            return
        now = time.time()
        entry = LedgerEntry(
            platform=PLATFORM,
            account=publish.open_id,
            platform_post_id=publish.publish_id,
            kind=publish.kind,
            caption=publish.caption,
            created_at=dt.datetime.fromtimestamp(now, dt.UTC),
            source_ids=(publish.publish_id,),
        )
        if not publish.direct:
            # A draft in the creator's inbox: no post id until they post it in the app.
            self.ledger.record(dataclasses.replace(entry, destination=INBOX, media=publish.media))
            return
        publish.post_id = str(7_000_000_000_000_000_000 + int(self.ids.next("")) % 10**18)
        self._state.live_times.setdefault(publish.open_id, []).append(now)
        self.ledger.record(dataclasses.replace(entry, platform_post_id=publish.post_id))

    # ---- upload -----------------------------------------------------------------------

    def upload_chunk(self, req: Request, who: str) -> Response:
        upload_id = req.path.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            publish_id = self._state.uploads.get(upload_id)
            publish = self._state.publishes.get(publish_id) if publish_id else None
            if publish is None:
                raise tiktok_error(404, "invalid_params", "No upload task for this upload_url.")
            if time.time() - publish.created > self.knobs.upload_url_ttl_seconds:
                raise tiktok_error(403, "invalid_params", "The upload_url has expired.")
            ctype = (req.header("content-type") or "").split(";", 1)[0].strip().lower()
            if ctype not in VIDEO_TYPES:
                raise self._range_error(publish, 400, "Content-Type must be a video type.")
            match = RANGE_RE.match((req.header("content-range") or "").strip())
            if not match:
                raise self._range_error(
                    publish, 400, "Content-Range must read bytes {first}-{last}/{total}."
                )
            first, last, total = (int(g) for g in match.groups())
            if total != publish.video_size:
                raise self._range_error(publish, 400, "The total in Content-Range != video_size.")
            if publish.committed or publish.uploading or first != publish.uploaded:
                raise self._range_error(
                    publish, 416, f"Expected the chunk starting at byte {publish.uploaded}."
                )
            index = publish.uploaded // publish.chunk_size
            is_final = index >= publish.total_chunk_count - 1
            expected = publish.video_size - first if is_final else publish.chunk_size
            if last - first + 1 != expected:
                raise self._range_error(
                    publish, 400, f"This chunk must be {expected} bytes (Content-Range)."
                )
            if as_int(req.header("content-length")) != expected:
                raise self._range_error(
                    publish, 400, f"Content-Length must be {expected} for this chunk."
                )
            publish.uploading = True
        received = 0
        try:
            # Count and discard: a 1 GB upload never sits in memory.
            assert req.stream_body is not None
            for piece in req.stream_body():
                received += len(piece)
        finally:
            with self._lock:
                publish.uploading = False
                if received == expected:
                    publish.uploaded += received
        if received != expected:
            raise self._range_error(publish, 400, "The chunk body was shorter than Content-Length.")
        with self._lock:
            done = publish.uploaded == publish.video_size
            if done:
                self._commit(publish)
        return Response(201 if done else 206, None, self._progress_header(publish))

    @staticmethod
    def _progress_header(publish: Publish) -> dict[str, str]:
        # "bytes 0-{last byte received}/{total}", the same inclusive convention as the
        # request header; "bytes */{total}" before the first byte (RFC 9110's form).
        if publish.uploaded == 0:
            return {"Content-Range": f"bytes */{publish.video_size}"}
        return {"Content-Range": f"bytes 0-{publish.uploaded - 1}/{publish.video_size}"}

    def _range_error(self, publish: Publish, status: int, message: str) -> ApiError:
        code = "invalid_params" if status == 400 else "range_not_satisfiable"
        error = tiktok_error(status, code, message)
        error.response.headers.update(self._progress_header(publish))
        return error

    # ---- status -----------------------------------------------------------------------

    def status_fetch(self, req: Request, open_id: str) -> Response:
        body = req.json_body if isinstance(req.json_body, dict) else req.params
        publish_id = as_str(body.get("publish_id"))
        if not publish_id:
            raise _invalid("publish_id is required.")
        with self._lock:
            publish = self._state.publishes.get(publish_id)
            if publish is None:
                raise tiktok_error(400, "invalid_publish_id", "The publish_id does not exist.")
            if publish.open_id != open_id:
                raise tiktok_error(
                    400,
                    "token_not_authorized_for_specified_publish_id",
                    "The token does not belong to the creator of this publish_id.",
                )
            data = self._status(publish)
        return tiktok_response(200, data)

    def _status(self, p: Publish) -> dict[str, Any]:
        processing = PROCESSING_UPLOAD if p.source == "FILE_UPLOAD" else PROCESSING_DOWNLOAD
        data: dict[str, Any] = {"fail_reason": "", "publicaly_available_post_id": []}
        if p.source == "FILE_UPLOAD":
            data["uploaded_bytes"] = p.uploaded
        else:
            data["downloaded_bytes"] = 0
        if not p.committed:
            data["status"] = processing
            return data
        if p.polls_left > 0 or time.time() < p.ready_at:
            p.polls_left = max(0, p.polls_left - 1)
            data["status"] = processing
            return data
        if p.source != "FILE_UPLOAD":
            data["downloaded_bytes"] = 1_048_576
        if p.fails:
            data.update(status=FAILED, fail_reason="internal")
        elif not p.direct:
            data["status"] = SEND_TO_USER_INBOX
        else:
            data["status"] = PUBLISH_COMPLETE
            # Post ids are only shown for public posts.
            if p.privacy_level == "PUBLIC_TO_EVERYONE" and p.post_id:
                data["publicaly_available_post_id"] = [int(p.post_id)]
        return data

    # ---- tokens -----------------------------------------------------------------------

    def token(self, req: Request, who: str) -> Response:
        p = req.params
        if as_str(p.get("grant_type")) != "refresh_token":
            raise _oauth_error("unsupported_grant_type", "grant_type must be refresh_token.")
        client_key = as_str(p.get("client_key"))
        client_secret = as_str(p.get("client_secret"))
        if not client_key or not client_secret:
            raise _oauth_error("invalid_request", "client_key and client_secret are required.")
        want_key, want_secret = self.knobs.tiktok_client_key, self.knobs.tiktok_client_secret
        if (want_key and client_key != want_key) or (want_secret and client_secret != want_secret):
            raise _oauth_error("invalid_client", "Client key or secret is invalid.")
        refresh_token = as_str(p.get("refresh_token"))
        if not refresh_token:
            raise _oauth_error("invalid_request", "refresh_token is required.")
        grant = Grant(
            access_token="act." + secrets.token_urlsafe(24),
            refresh_token="rft." + secrets.token_urlsafe(24),
            expires_in=self.knobs.tiktok_access_token_ttl,
            refresh_expires_in=self.knobs.tiktok_refresh_token_ttl,
        )
        open_id = self.accounts.rotate_refresh(
            refresh_token, grant, realm=self.realm, anonymous=_anonymous(refresh_token)
        )
        if open_id is None:
            raise _oauth_error("invalid_grant", "Refresh token is invalid or expired.")
        return Response(
            200,
            {
                "access_token": grant.access_token,
                "expires_in": grant.expires_in,
                "open_id": open_id,
                "refresh_token": grant.refresh_token,
                "refresh_expires_in": grant.refresh_expires_in,
                "scope": "user.info.basic,video.publish,video.upload",
                "token_type": "Bearer",
            },
        )


def _anonymous(token: str) -> str:
    """The open_id of an unregistered token (lenient mode): named after its digest."""
    return "open-" + token_digest(token)[:16]


def _not_found(req: Request, who: str) -> Response:
    raise tiktok_error(404, "invalid_params", f"The sandbox does not serve {req.path}.")


STANDIN = TikTokStandIn
