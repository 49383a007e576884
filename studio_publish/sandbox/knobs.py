"""The sandbox's knobs: behaviour settings, and faults queued for specific endpoints.

Deterministic faults ("fail the next 2 calls to graph.media_publish") are what tests
want; random rates (seeded) are for soak runs and benchmarks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from studio_publish.platforms.tiktok import TOKENS as TIKTOK_TOKENS
from studio_publish.sandbox.standins import STANDINS

# Endpoint names used by faults, error_rate_endpoints and the call statistics, as the
# discovered stand-ins declare them ("graph.media_publish", "tiktok.video_init", ...).
ENDPOINTS = tuple(dict.fromkeys(name for standin in STANDINS for name in standin.endpoints))

# The calls that make something happen on the platform. "lose_response_rate" applies to
# these only: losing the answer to a read is harmless and would only add noise.
ACTION_ENDPOINTS = frozenset(name for standin in STANDINS for name in standin.actions)

ZERO = dt.timedelta()

FaultKind = Literal["error", "rate_limit", "expired_token", "lose_response", "hang", "drop"]
FAULT_KINDS: tuple[str, ...] = (
    "error",
    "rate_limit",
    "expired_token",
    "lose_response",
    "hang",
    "drop",
)


@dataclass
class Fault:
    """One queued fault, applied to the next ``count`` calls matching ``endpoint``.

    * ``error``: answer with an error instead of doing the work. The default is the
      platform's transient error (Graph code 2 as HTTP 500; TikTok 500 internal_error);
      ``http_status``, ``code``, ``subcode``, ``message`` and ``is_transient`` override it.
      With ``after_action=True`` the work is done first (e.g. the post goes live) and the
      error is returned anyway: the "accepted, then a 500" case.
    * ``rate_limit``: Graph code 4 / TikTok 429 rate_limit_exceeded.
    * ``expired_token``: Graph 190/463 / TikTok 401 access_token_invalid.
    * ``lose_response``: do the work (ledger entry written), then close the connection
      without answering.
    * ``hang``: do the work, then hold the connection for ``seconds`` (default: the
      ``hang_seconds`` knob) before closing it unanswered: the client's timeout fires.
    * ``drop``: close the connection unanswered *without* doing the work: the request was
      lost on its way, the platform never saw it. To the client it looks exactly like
      ``lose_response``; only the platform's state differs.
    """

    endpoint: str = "*"  # an endpoint name, or a glob: "*", "graph.*", "tiktok.*_init"
    kind: FaultKind = "error"
    count: int = 1
    http_status: int | None = None
    code: int | str | None = None
    subcode: int | None = None
    message: str | None = None
    is_transient: bool | None = None
    after_action: bool = False
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if self.count < 1:
            raise ValueError("count must be at least 1")

    def matches(self, endpoint: str) -> bool:
        return fnmatch.fnmatchcase(endpoint, self.endpoint)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class Knobs:
    """Behaviour settings. All can be changed at runtime (``Sandbox.set_knobs``)."""

    latency: float = 0.0  # seconds added to every platform call
    latency_jitter: float = 0.0  # plus a uniform random 0..jitter
    error_rate: float = 0.0  # share of calls answered with a transient error
    error_rate_endpoints: str = "*"  # which endpoints error_rate applies to (glob)
    lose_response_rate: float = 0.0  # share of action calls performed and then unanswered
    seed: int | None = None  # seeds the random choices above (None: unseeded)
    # Processing. A video container (an image one is FINISHED at once, as Meta's usually
    # are) answers IN_PROGRESS for container_polls status reads; a TikTok post stays
    # PROCESSING_* for tiktok_status_polls reads. Both also take processing_seconds at least.
    container_polls: int = 2
    tiktok_status_polls: int = 2
    processing_seconds: float = 0.0
    # The next N image (or Threads text) containers are processed like videos: their publish
    # answers 9007 "media is not ready" until a status read has found them FINISHED.
    slow_image_containers: int = 0
    quota_total: int = 50  # IG publishing quota per account per quota_duration
    quota_duration: int = 86400
    container_ttl_seconds: float = 86400.0  # containers report EXPIRED after this
    container_failures: int = 0  # the next N IG containers end in ERROR
    # The subcode an ERROR container's status names (Instagram: "Error: Media upload has
    # failed with error code N"): 2207053 asks for a new container, 2207026 is final.
    container_error_subcode: int = 2207053
    # The next N container status reads answer 100/33, as Meta did for days in May 2026
    # while creating and publishing kept working (Postiz #1562).
    container_read_failures: int = 0
    # The next N container status reads leave out the state (IG status_code), keeping only
    # the status text, as trypost PR #351 saw.
    container_status_missing: int = 0
    tiktok_publish_failures: int = 0  # the next N TikTok publishes end FAILED
    # Facebook: every video sent to /videos stays a draft (status ready, publish_status
    # draft) and never goes live, as Postiz PR #1740 saw for vertical videos (reels) there.
    facebook_videos_stay_drafts: bool = False
    # The next N Facebook videos, reels or video stories fail processing: the guide's error
    # example (a processing_phase error object, "Resolution too low").
    facebook_video_failures: int = 0
    # The next N reads of a Page's stories list (GET /{page}/stories) leave out its newest
    # story, as a list that lags behind a story just published would.
    facebook_story_list_lag: int = 0
    # The next local-file upload to rupload (a Facebook reel's or story's, an Instagram
    # video's) keeps only this many bytes and answers a retriable 503, as a connection that
    # broke mid-upload would; 0: off. Its status then shows the bytes that arrived.
    rupload_fail_after_bytes: int = 0
    # The chunk the Video API's resumable upload asks for at a time (end_offset - start_offset).
    facebook_transfer_chunk: int = 1024 * 1024
    tiktok_daily_post_cap: int | None = None  # spam_risk_too_many_posts beyond this
    # Inbox inits of one creator in 24 hours before 403 spam_risk_too_many_pending_share:
    # TikTok's "more than 5 pending shares" (none is ever finished here); None: no cap.
    tiktok_pending_share_cap: int | None = 5
    # Refuse a DIRECT_POST photo init without brand_content_toggle and brand_organic_toggle,
    # which the Photo Post reference marks "Required: true".
    tiktok_photo_disclosure_required: bool = True
    upload_url_ttl_seconds: float = 3600.0  # TikTok upload_url validity
    # expires_in and refresh_expires_in of refreshed TikTok tokens: TikTok's documented 2 h
    # and 180 days (platforms/tiktok's token_lifetimes).
    tiktok_access_token_ttl: int = int((TIKTOK_TOKENS.access or ZERO).total_seconds())
    tiktok_refresh_token_ttl: int = int((TIKTOK_TOKENS.refresh or ZERO).total_seconds())
    tiktok_client_key: str | None = None  # None: any client_key is accepted
    tiktok_client_secret: str | None = None
    strict_tokens: bool = False  # only registered tokens are valid
    # The Graph hosts (graph.facebook.com, graph.threads.net) cannot parse an Instagram
    # Login token (IG...), nor graph.instagram.com a Facebook Login token (EAA...): 190
    # "Invalid OAuth access token - Cannot parse access token".
    instagram_login_tokens_refused: bool = True
    usage_percent: int | None = None  # reported in X-App-Usage; None: from traffic
    hang_seconds: float = 60.0  # how long a "hang" fault holds the connection

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in ("error_rate", "lose_response_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        for name in ("latency", "latency_jitter", "hang_seconds", "processing_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in (
            "container_polls",
            "tiktok_status_polls",
            "quota_total",
            "container_read_failures",
            "container_status_missing",
            "slow_image_containers",
            "facebook_video_failures",
            "facebook_story_list_lag",
            "rupload_fail_after_bytes",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        # Client secrets are credentials: say whether one is set, never what it is.
        data["tiktok_client_secret"] = "set" if self.tiktok_client_secret else None
        return data

    @staticmethod
    def names() -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(Knobs))


@dataclass
class FaultBook:
    """The queued faults, consumed first-in first-out, thread-safe."""

    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def take(self, endpoint: str) -> Fault | None:
        """Consume one use of the first fault matching ``endpoint``."""
        with self._lock:
            for index, fault in enumerate(self.faults):
                if fault.matches(endpoint):
                    fault.count -= 1
                    if fault.count == 0:
                        del self.faults[index]
                    return dataclasses.replace(fault, count=1)
            return None

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_dict() for fault in self.faults]


class Dice:
    """A seeded random source shared by request threads."""

    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._random.seed(seed)

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def uniform(self, high: float) -> float:
        if high <= 0:
            return 0.0
        with self._lock:
            return self._random.uniform(0, high)
