"""The Meta Graph API client shared by the Meta platforms.

The token travels only in the ``Authorization: Bearer`` header, never in a URL, so it
cannot leak into logs, proxies or error messages that quote a URL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import httpx

from studio_publish.domain import Account, TokenGrant
from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.platforms.clock import Clock, utc_now
from studio_publish.platforms.graph.errors import GraphError, graph_error
from studio_publish.platforms.graph.usage import SHARED, UsageThrottle
from studio_publish.platforms.registry import spec_for
from studio_publish.platforms.spec import EMPTY, Login
from studio_publish.platforms.transport import OutcomeUnclear, json_body, send
from studio_publish.settings import Settings

_VERSION = re.compile(r"/v\d+(\.\d+)?$")


class GraphClient:
    """Graph calls for one account: JSON in, typed errors out, usage headers watched."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        account: Account,
        throttle: UsageThrottle = SHARED,
        *,
        base: str | None = None,
        login: str | None = None,
        logins: Mapping[str, str] = EMPTY,
    ) -> None:
        self._http = http
        self._base = base or settings.graph_api_base
        # The Meta login whose tokens the host takes (None: the host says, see graph/errors),
        # and the --login names of the platform's logins, for a mismatch's advice.
        self._login = login
        self._logins = logins
        self._timeout = settings.http_timeout_seconds
        self._account = account
        self._throttle = throttle

    async def get(self, path: str, **params: str | int) -> dict[str, Any]:
        return await self._call("GET", path, what=f"GET {path}", params=params)

    async def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        files: dict[str, Any] | None = None,
        irreversible: bool = False,
    ) -> dict[str, Any]:
        """A write. ``irreversible`` marks a call that makes the post visible: a failure that
        may still have gone through raises OutcomeUnclear instead of a retryable error."""
        # Writes wait while usage is high; reads carry on and bring fresh usage figures.
        self._throttle.check(self._account.platform_account_id)
        return await self._call(
            "POST", path, what=f"POST {path}", data=data, files=files, irreversible=irreversible
        )

    async def _call(
        self, method: str, path: str, *, what: str, irreversible: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        token = self._account.access_token
        # send()'s own messages name only the call and the exception type: no token there.
        response = await send(
            self._http,
            method,
            f"{self._base}/{path.lstrip('/')}",
            what=what,
            timeout=self._timeout,
            irreversible=irreversible,
            headers={"Authorization": f"Bearer {token}"},
            **kwargs,
        )
        regain = self._throttle.observe(self._account.platform_account_id, response.headers)
        body = json_body(response)
        if response.is_success and "error" not in body:
            return body
        error = graph_error(
            body,
            http_status=response.status_code,
            what=what,
            regain_seconds=regain,
            secrets=(token,),
            token=token,
            base=self._base,
            login=self._login,
            logins=self._logins,
        )
        if irreversible and error.outcome_unclear:
            raise OutcomeUnclear(error.message, code=error.code, http_status=error.http_status)
        raise error


class GraphPlatform:
    """What the Meta platforms share: settings, the throttle and Meta's token rules."""

    name: str  # the platform's registry name: its spec says the rest

    def __init__(
        self, settings: Settings, *, throttle: UsageThrottle = SHARED, clock: Clock = utc_now
    ) -> None:
        self.settings = settings
        self.throttle = throttle
        self.clock = clock

    @property
    def api_base(self) -> str:
        """Where this platform's calls go by default: the setting its spec names (Threads
        has a host of its own)."""
        base: str = getattr(self.settings, spec_for(self.name).api_base_setting)
        return base

    def rupload_url(self, path: str, object_id: str) -> str:
        """Where an upload for ``object_id`` goes on the rupload host (graph/rupload.py):
        STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE, the Graph base's version; never a URL an answer
        gave, so the token only goes where the settings say."""
        version = self.settings.graph_api_base.rstrip("/").rsplit("/", 1)[-1]
        return f"{self.settings.facebook_upload_base}/{path}/{version}/{object_id}"

    def login(self, account: Account) -> Login:
        """How ``account`` is connected (its ``login`` option; Instagram has two)."""
        return spec_for(self.name).login(account.options)

    def api_base_for(self, account: Account) -> str:
        """Where ``account``'s calls go: its login's host (Instagram Login's is its own)."""
        base: str = getattr(self.settings, self.login(account).api_base_setting)
        return base

    def client(self, http: httpx.AsyncClient, account: Account) -> GraphClient:
        logins = spec_for(self.name).logins
        return GraphClient(
            http,
            self.settings,
            account,
            self.throttle,
            base=self.api_base_for(account),
            # Only a platform with several logins declares which one its host takes.
            login=self.login(account).display_name if logins else None,
            logins={login.display_name: login.name for login in logins},
        )

    @property
    def can_refresh_tokens(self) -> bool:
        """Whether any of its accounts' tokens refresh (declared once, in the spec); which
        ones do is each account's login's to say (engine/tokens.py)."""
        spec = spec_for(self.name)
        return any(login.refreshes_tokens for login in (spec.login(), *spec.logins))

    async def refresh_token(self, account: Account, http: httpx.AsyncClient) -> TokenGrant:
        # Meta has no refresh grant for Facebook Login: a long-lived user token lasts ~60
        # days, then the user logs in again (Page tokens derived from it do not expire).
        raise PlatformError(
            Decision.REAUTH, "Meta access tokens cannot be refreshed: reconnect the account"
        )

    async def refresh_itself(
        self,
        account: Account,
        http: httpx.AsyncClient,
        *,
        grant_type: str,
        what: str,
        in_query: bool = False,
    ) -> TokenGrant:
        """Exchange a long-lived token that refreshes itself (Threads' th_refresh_token,
        Instagram Login's ig_refresh_token) for a new one: ``{access_token, token_type,
        expires_in}``, valid from now. The endpoint is on the login's host, unversioned.

        The token goes in a POST body unless ``in_query``: the one call Meta documents with
        GET only (Instagram Login's), whose URL is never logged or quoted (send() names only
        ``what`` and the host).
        """
        root = _VERSION.sub("", self.api_base_for(account))
        now = self.clock()
        params = {"grant_type": grant_type, "access_token": account.access_token}
        carried: dict[str, Any] = {"params": params} if in_query else {"data": params}
        response = await send(
            http,
            "GET" if in_query else "POST",
            f"{root}/refresh_access_token",
            what=what,
            timeout=self.settings.http_timeout_seconds,
            **carried,
        )
        body = json_body(response)
        token, lifetime = body.get("access_token"), body.get("expires_in")
        if response.is_success and isinstance(token, str) and token:
            seconds = lifetime if isinstance(lifetime, int) and lifetime > 0 else None
            expires = now + dt.timedelta(seconds=seconds) if seconds else None
            return TokenGrant(access_token=token, refresh_token=None, expires_at=expires)
        error = graph_error(
            body,
            http_status=response.status_code,
            what=what,
            regain_seconds=None,
            secrets=(account.access_token,),
        )
        if error.decision in (Decision.RETRY, Decision.WAIT):
            raise error
        # An expired or revoked token cannot be refreshed: the user logs in again.
        raise PlatformError(
            Decision.REAUTH,
            f"the {self.login(account).display_name} token could not be refreshed: {error.message}",
            code=error.code,
            http_status=error.http_status,
        )


def not_found(error: PlatformError) -> bool:
    """Graph's "object does not exist / unsupported get" answer (code 100) to a read."""
    return isinstance(error, GraphError) and error.graph_code == 100
