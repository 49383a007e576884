"""TikTok Content Posting API calls and their errors (reference sections 4.5 and 4.6).

Every answer carries ``error.code``; anything but "ok" is an error, even with HTTP 200
(TikTok returns the spam_risk_* and reached_active_user_cap refusals that way on purpose).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx

from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.platforms.clock import utc_now
from studio_publish.platforms.transport import OutcomeUnclear, json_body, redact, send

RATE_LIMIT_WAIT = 60.0  # "after about 60 s"
PENDING_SHARE_WAIT = 3600.0  # the user has to clear their inbox first


def until_tomorrow(now: dt.datetime | None = None) -> float:
    """Seconds to the next UTC midnight (plus a margin): TikTok's daily caps reset daily,
    in a time zone it does not document."""
    now = now or utc_now()
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=5, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


@dataclass(frozen=True)
class Rule:
    decision: Decision
    retry_after: float | None = None
    hint: str = ""  # what a person can do, added to TikTok's message


_FAIL = Rule(Decision.FAIL)
_TOMORROW = Rule(Decision.WAIT, -1.0)  # -1: computed at the time of the error

ERROR_CODES: dict[str, Rule] = {
    "invalid_param": _FAIL,  # the posting docs' spelling
    "invalid_params": _FAIL,  # TT-err's spelling
    "app_version_check_failed": _FAIL,
    "invalid_file_upload": _FAIL,
    "spam_risk_too_many_posts": _TOMORROW,  # the daily per-user cap: nothing was posted
    "spam_risk_user_banned_from_posting": _FAIL,
    # An inbox init refused: "more than 5 pending shares" in 24 hours. Nothing was sent, so
    # waiting is safe, without using an attempt: the count falls as the creator posts or
    # deletes the drafts waiting in their inbox, or as the 24 hours pass.
    "spam_risk_too_many_pending_share": Rule(
        Decision.WAIT,
        PENDING_SHARE_WAIT,
        hint="the creator must post or delete the drafts waiting in their TikTok inbox",
    ),
    # The app's daily cap on active posting users. Postiz disconnects the account, but
    # nothing is wrong with the account: wait for the cap to reset.
    "reached_active_user_cap": _TOMORROW,
    # Unaudited apps may post SELF_ONLY to private accounts only: a setup problem.
    "unaudited_client_can_only_post_to_private_accounts": Rule(
        Decision.FAIL,
        hint="until the TikTok app is audited, use post_mode=inbox or privacy_level=SELF_ONLY",
    ),
    "url_ownership_unverified": _FAIL,
    "privacy_level_option_mismatch": _FAIL,
    "access_token_invalid": Rule(Decision.REFRESH_TOKEN),
    "scope_not_authorized": Rule(Decision.REAUTH),
    "scope_permission_missed": Rule(Decision.REAUTH),
    "rate_limit_exceeded": Rule(Decision.WAIT, RATE_LIMIT_WAIT),
    "internal_error": Rule(Decision.RETRY),
    "invalid_publish_id": _FAIL,
    "token_not_authorized_for_specified_publish_id": _FAIL,
}

FAIL_REASONS: dict[str, Rule] = {
    "internal": Rule(Decision.RETRY),
    # Retried: the engine's attempt limit bounds it if the URL is really broken.
    "video_pull_failed": Rule(Decision.RETRY),
    "photo_pull_failed": Rule(Decision.RETRY),
    "file_format_check_failed": _FAIL,
    "duration_check_failed": _FAIL,
    "frame_rate_check_failed": _FAIL,
    "picture_size_check_failed": _FAIL,
    "publish_cancelled": _FAIL,
    "auth_removed": Rule(Decision.REAUTH),  # the user removed the app's access
    # The reference lists it as terminal, but it is the same daily cap as the error code
    # of that name and the post was not published: try again tomorrow.
    "spam_risk_too_many_posts": _TOMORROW,
    "spam_risk_user_banned_from_posting": _FAIL,
    "spam_risk_text": _FAIL,
    "spam_risk": _FAIL,
}


def _rule_for_status(http_status: int) -> Rule:
    if http_status == 401:
        return Rule(Decision.REFRESH_TOKEN)
    if http_status == 429:
        return Rule(Decision.WAIT, RATE_LIMIT_WAIT)
    if http_status >= 500:
        return Rule(Decision.RETRY)
    return _FAIL


def tiktok_error(code: str, message: str, *, http_status: int | None = None) -> PlatformError:
    rule = ERROR_CODES.get(code) or _rule_for_status(http_status or 0)
    return _error(rule, message, code, http_status)


def fail_reason_error(reason: str) -> PlatformError:
    rule = FAIL_REASONS.get(reason, _FAIL)
    return _error(
        rule, f"TikTok could not publish the post: {reason or 'no reason given'}", reason, None
    )


def _error(rule: Rule, message: str, code: str, http_status: int | None) -> PlatformError:
    retry_after = until_tomorrow() if rule.retry_after == -1.0 else rule.retry_after
    if rule.hint:
        message = f"{message}; {rule.hint}"
    return PlatformError(
        rule.decision, message, code=code, http_status=http_status, retry_after=retry_after
    )


class TikTokApi:
    """JSON calls with the user token in ``Authorization: Bearer``, never in the URL."""

    def __init__(self, http: httpx.AsyncClient, base: str, token: str, timeout: float) -> None:
        self._http, self._base, self._token, self._timeout = http, base, token, timeout

    async def call(
        self, path: str, body: dict[str, Any], *, irreversible: bool = False
    ) -> dict[str, Any]:
        """POST ``body``; returns ``data``. For ``irreversible`` calls, a server-side failure
        that may still have taken effect raises OutcomeUnclear."""
        what = f"TikTok {path}"
        response = await send(
            self._http,
            "POST",
            f"{self._base}{path}",
            what=what,
            timeout=self._timeout,
            irreversible=irreversible,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json; charset=UTF-8",
            },
            json=body,
        )
        payload = json_body(response)
        envelope = payload.get("error")
        error: dict[str, Any] = envelope if isinstance(envelope, dict) else {}
        code = str(error.get("code") or "")
        if response.is_success and code == "ok":
            data = payload.get("data")
            return data if isinstance(data, dict) else {}
        message = redact(
            f"{what}: {error.get('message') or code or f'HTTP {response.status_code}'}", self._token
        )
        failure = tiktok_error(code, message, http_status=response.status_code)
        if irreversible and failure.decision is Decision.RETRY:
            # internal_error / 5xx: TikTok may have created the post before failing.
            raise OutcomeUnclear(message, code=code or None, http_status=response.status_code)
        raise failure
