"""Meta Graph API errors (reference section 3) classified into engine decisions.

Classification uses ``code``/``error_subcode`` and ``is_transient``, never the HTTP status
alone: Instagram answers every publishing error with HTTP 400, and code 1 has been seen
with HTTP 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from studio_publish.platforms import instagram
from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.platforms.spec import EMPTY
from studio_publish.platforms.transport import redact

# Default waits, in seconds, when the platform gives no better estimate.
SHORT_THROTTLE = 300.0  # user/page/custom throttling: usage windows are a rolling hour
LONG_THROTTLE = 900.0  # app-wide limits: "retry with long backoff"
BUC_DEFAULT = 600.0  # BUC limit without estimated_time_to_regain_access
QUOTA_WAIT = 3600.0  # Instagram's 24 h publishing quota; prepare() reads the real state
# A container that is not ready yet: Meta's advice is to poll about once a minute (IG-guide).
NOT_READY_WAIT = 60.0
# "Try again 1-2 times in the next 30 seconds to 2 minutes" (IG-err, 2207008).
BUILDER_RETRY = 30.0


@dataclass(frozen=True)
class Rule:
    decision: Decision
    retry_after: float | None = None
    # Instagram: the container is spoilt; drop it so the next attempt makes a new one.
    new_container: bool = False
    # How many times the same container is tried again before it counts as spoilt (and is
    # dropped, with new_container): for errors Meta says to retry briefly first.
    same_container_tries: int = 0


_RETRY = Rule(Decision.RETRY)
_FAIL = Rule(Decision.FAIL)
_REAUTH = Rule(Decision.REAUTH)
_NEW_CONTAINER = Rule(Decision.RETRY, new_container=True)

# Instagram publishing errors, keyed by subcode (IG-err); each subcode belongs to one code.
# Quotes are the "Recommended Solution" column of
# https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes
_SUBCODES: dict[int, Rule] = {
    2207003: _NEW_CONTAINER,  # -2: media download timed out
    2207020: _NEW_CONTAINER,  # -2: container expired
    2207001: _RETRY,  # -1: "Instagram server error. Try again." (Postiz calls it spam; docs win)
    2207032: _NEW_CONTAINER,  # -1: container creation failed
    2207053: _NEW_CONTAINER,  # -1: unknown video upload error
    2207057: _FAIL,  # 1: thumb_offset out of range
    2207051: _FAIL,  # 4: suspected spam; despite code 4 this is no rate limit
    2207042: Rule(Decision.WAIT, QUOTA_WAIT),  # 9: publishing limit reached
    # 24: media not found. "Possible permission error ... Generate a new container and use it
    # to try again": a retry, not a re-authorisation; a real token problem answers 190 next.
    2207006: _NEW_CONTAINER,
    # 24: media builder expired. "Try again 1-2 times in the next 30 seconds to 2 minutes. If
    # unsuccessful, generate a new container": containers are capped at 400 a day.
    2207008: Rule(Decision.RETRY, BUILDER_RETRY, new_container=True, same_container_tries=2),
    2207050: _FAIL,  # 25: account restricted; the user must act in the app, not reconnect
    2207023: _FAIL,  # 100: unknown media type
    2207028: _FAIL,  # 100: carousel needs 2-10 items
    2207035: _FAIL,  # 100: product tags
    2207036: _FAIL,
    2207037: _FAIL,
    2207040: _FAIL,  # 100: more than 20 tags
    2207026: _FAIL,  # 352: video format
    # 9004: media could not be fetched. The docs allow "at most a limited retry": RETRY, which
    # the engine bounds with max_attempts, with a new container since the old one is dead.
    2207052: _NEW_CONTAINER,
    # 9007: media not ready. "Check the container status and publish when its status is
    # FINISHED": a wait (no attempt used), keeping the container, whose status is read first.
    2207027: Rule(Decision.WAIT, NOT_READY_WAIT),
    2207004: _FAIL,  # 36000: image over 8 MiB
    2207005: _FAIL,  # 36001: unsupported image format
    2207009: _FAIL,  # 36003: aspect ratio
    2207010: _FAIL,  # 36004: caption too long
    # UNCONFIRMED (seen only in Postiz): treated like their documented neighbours.
    2207077: _NEW_CONTAINER,  # video download failed, like 2207052
    2207081: _FAIL,  # trial reels not supported
    2207082: _RETRY,  # Postiz retries it
}

_CODES: dict[int, Rule] = {
    1: _RETRY,  # API unknown, possibly downtime
    2: _RETRY,  # API service, temporary
    -1: _RETRY,  # Instagram server error family
    -2: _NEW_CONTAINER,  # Instagram media/container timeout family
    4: Rule(Decision.WAIT, LONG_THROTTLE),  # app request limit
    9: Rule(Decision.WAIT, QUOTA_WAIT),  # Instagram publishing limit family
    17: Rule(Decision.WAIT, SHORT_THROTTLE),  # user request limit
    32: Rule(Decision.WAIT, SHORT_THROTTLE),  # page-level throttling
    341: Rule(Decision.WAIT, LONG_THROTTLE),  # application limit reached
    613: Rule(Decision.WAIT, SHORT_THROTTLE),  # custom-level throttling
    # 368, blocked for policy violations: "wait and retry" could go on for days and deepen
    # the block, so a person looks at the account and uses retry-failed when it is lifted.
    368: _FAIL,
    3: _REAUTH,  # capability / permission missing: the user must re-grant
    10: _REAUTH,
    # Meta has no refresh grant, so an invalid token or session always means reconnect.
    102: _REAUTH,
    190: _REAUTH,  # all subcodes: 458, 459, 460, 463, 464, 467, 492
    100: _FAIL,  # invalid parameter
    506: _FAIL,  # duplicate post
    1609005: _FAIL,  # link could not be scraped
    24: _FAIL,
    25: _FAIL,
    352: _FAIL,
    9004: _NEW_CONTAINER,
    9007: Rule(Decision.WAIT, NOT_READY_WAIT),  # media not ready, as 2207027
    36000: _FAIL,
    36001: _FAIL,
    36003: _FAIL,
    36004: _FAIL,
}

BUC_CODES = range(80000, 80015)  # Business Use Case limits, 80000-80014
PERMISSION_CODES = range(200, 300)  # 200-299: permission errors


def rule_for(
    code: int | None, subcode: int | None, *, is_transient: bool, http_status: int
) -> Rule:
    if subcode in _SUBCODES:
        return _SUBCODES[subcode]
    if code in BUC_CODES:
        return Rule(Decision.WAIT, BUC_DEFAULT)
    if code in PERMISSION_CODES:
        return _REAUTH
    if code is not None and code in _CODES:
        return _CODES[code]
    if is_transient or http_status >= 500:
        return _RETRY
    if http_status == 429:
        return Rule(Decision.WAIT, SHORT_THROTTLE)
    return _FAIL


# Meta's publishing subcodes are seven digits (2207xxx); a container's ERROR status text
# carries one, e.g. "Error: Media upload has failed with error code 2207082".
_SUBCODE_IN_TEXT = re.compile(r"\b(\d{7})\b")


def subcode_in(text: str) -> int | None:
    """The error subcode a container's status text names, if it names one."""
    found = _SUBCODE_IN_TEXT.search(text)
    return int(found.group(1)) if found else None


class GraphError(PlatformError):
    """A classified Graph error; ``code`` reads ``"190/463"`` (code/subcode)."""

    def __init__(
        self,
        rule: Rule,
        message: str,
        *,
        graph_code: int | None,
        subcode: int | None,
        http_status: int,
        retry_after: float | None,
    ) -> None:
        label = (
            None
            if graph_code is None
            else f"{graph_code}/{subcode}"
            if subcode
            else str(graph_code)
        )
        super().__init__(
            rule.decision, message, code=label, http_status=http_status, retry_after=retry_after
        )
        self.graph_code = graph_code
        self.subcode = subcode
        self.new_container = rule.new_container
        self.same_container_tries = rule.same_container_tries

    @property
    def not_ready(self) -> bool:
        """9007 (2207027): the container is not FINISHED yet; nothing was published."""
        return self.graph_code == 9007 or self.subcode == 2207027

    @property
    def outcome_unclear(self) -> bool:
        """Whether the failed call may still have taken effect (server-side trouble)."""
        if self.decision is not Decision.RETRY or self.new_container:
            return False
        return (self.http_status or 0) >= 500 or self.graph_code in (1, 2, -1)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# The two Meta logins and the host each one's tokens work on. "API requests are sent to one of
# two Meta host URLs": graph.facebook.com for the Instagram API with Facebook Login,
# graph.instagram.com for the Instagram API with Instagram Login
# (https://developers.facebook.com/docs/instagram-platform/reference). Facebook Pages take
# Facebook Login tokens only (https://developers.facebook.com/docs/pages-api/getting-started).
INSTAGRAM_LOGIN_HOST = "graph.instagram.com"
FACEBOOK_LOGIN = instagram.FACEBOOK_LOGIN.display_name  # "Facebook Login"
INSTAGRAM_LOGIN = instagram.INSTAGRAM_LOGIN.display_name  # "Instagram Login"
_TOKEN_SHAPES = {
    # Meta documents no token format. In practice Instagram Login issues Instagram User
    # tokens beginning "IG" (IGAA..., IGQV... from the retired Basic Display API), and
    # Facebook Login issues user and Page tokens beginning "EAA". A token of another shape
    # (a test token, a future format) decides nothing: its 190 stays a re-authorisation.
    INSTAGRAM_LOGIN: ("IG", "IG…"),
    FACEBOOK_LOGIN: ("EAA", "EAA…"),
}


def token_login(token: str) -> str | None:
    """The login that issued ``token``, by its shape; None when the shape says nothing."""
    for login, (prefix, _) in _TOKEN_SHAPES.items():
        if token.startswith(prefix):
            return login
    return None


def host_login(base: str) -> str:
    """The login whose tokens the host of ``base`` takes, by its name, where the account
    declares none: graph.instagram.com takes Instagram Login's, every other Graph host
    (graph.facebook.com, the sandbox) Facebook Login's."""
    host = (urlsplit(base).hostname or "").lower()
    return INSTAGRAM_LOGIN if host == INSTAGRAM_LOGIN_HOST else FACEBOOK_LOGIN


def login_mismatch(
    token: str, base: str, login: str | None = None, logins: Mapping[str, str] = EMPTY
) -> str | None:
    """Why ``token`` cannot work on ``base``'s host, when it is the other login's; else None.

    ``login`` is the Meta login whose tokens the host takes (an account's declared login;
    None: the host's name says, see `host_login`), ``logins`` the platform's ``--login``
    names by Meta login, for the advice. Meta answers such a token with 190 "Invalid OAuth
    access token - Cannot parse access token" (finding 11: an IGAA token on
    graph.facebook.com), which on its own reads as a token to re-authorise. Re-authorising
    with another token of the same login gets the same 190, for ever; only a token of the
    host's login, or connecting the account with the other login, helps, so the post fails
    for good with this reason instead.
    """
    given, wanted = token_login(token), login or host_login(base)
    if given is None or given == wanted:
        return None
    host = urlsplit(base).hostname or base
    shape, wanted_shape = _TOKEN_SHAPES[given][1], _TOKEN_SHAPES[wanted][1]
    if given in logins:
        fix = f"or add the account again with `accounts add --login {logins[given]}`"
    elif given == INSTAGRAM_LOGIN:
        fix = "(Facebook Pages take Facebook Login tokens only)"
    else:
        fix = f"or point the API base setting at a host that takes {given} tokens"
    return (
        f"login mismatch: the account's token is a {given} token ({shape}), but its calls "
        f"go to {host}, which takes {wanted} tokens ({wanted_shape}) only; re-authorising "
        f"with another {given} token cannot fix this: connect the account with a {wanted} "
        f"token {fix}"
    )


def graph_error(
    body: dict[str, Any],
    *,
    http_status: int,
    what: str,
    regain_seconds: float | None,
    secrets: tuple[str, ...] = (),
    token: str | None = None,
    base: str | None = None,
    login: str | None = None,
    logins: Mapping[str, str] = EMPTY,
) -> GraphError:
    """Build the error from an envelope; ``regain_seconds`` comes from the BUC usage header.

    With the call's ``token`` and API ``base`` (and the ``login`` its host takes), an
    invalid-token answer (190) to a token of the other Meta login fails for good, naming the
    mismatch (see `login_mismatch`).
    """
    envelope = body.get("error")
    error: dict[str, Any] = envelope if isinstance(envelope, dict) else {}
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    rule = rule_for(
        code, subcode, is_transient=bool(error.get("is_transient")), http_status=http_status
    )
    retry_after = rule.retry_after
    if rule.decision is Decision.WAIT and regain_seconds:
        retry_after = regain_seconds  # Meta's own estimate beats our defaults
    detail = error.get("message") or error.get("error_user_msg") or f"HTTP {http_status}"
    mismatch = (
        login_mismatch(token, base, login, logins) if code == 190 and token and base else None
    )
    if mismatch is not None:
        rule, detail = _FAIL, f"{mismatch} (Meta: {detail})"
    return GraphError(
        rule,
        redact(f"{what}: {detail}", *secrets),
        graph_code=code,
        subcode=subcode,
        http_status=http_status,
        retry_after=retry_after,
    )


def container_error(text: str, *, what: str) -> GraphError:
    """A container whose status is ERROR, classified like a create or publish error.

    The IG Container reference says ``status`` then holds the error subcode
    (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container);
    it reads e.g. "Error: Media upload has failed with error code 2207082". Its rule comes from
    the same table (2207003, 2207053: "try again" with a new container); a subcode the table
    does not hold, or no subcode (Threads gives names, FAILED_DOWNLOADING_VIDEO), fails for
    good. An ERROR container never recovers, so a retry always makes a new one.
    """
    subcode = subcode_in(text)
    rule = rule_for(None, subcode, is_transient=False, http_status=200)
    rule = Rule(rule.decision, rule.retry_after, new_container=True)
    error = GraphError(
        rule,
        f"{what}: {text or 'no detail given'}",
        graph_code=None,
        subcode=subcode,
        http_status=200,
        retry_after=rule.retry_after,
    )
    error.code = f"ERROR/{subcode}" if subcode else "ERROR"
    return error
