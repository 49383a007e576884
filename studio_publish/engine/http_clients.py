"""The run's HTTP client: one httpx client over the lean pool (engine/http_pool.py).

httpcore's pool scans every pooled connection on each request event and costs about 1 ms of
CPU a request; the lean pool costs a tenth of that and finds a free connection at once, so
one client serves all the posts in flight (before it, the run split them over clients of 16
connections to keep httpcore's scans short). With a proxy configured in the environment
(``HTTPS_PROXY`` and the like) the run uses httpx's own pool, which speaks to proxies.
"""

from __future__ import annotations

import functools
import ssl
import urllib.request
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from studio_publish.engine.http_short import ShortRequest, ShortResponse, short_request, timeouts

if TYPE_CHECKING:
    from studio_publish.engine.http_pool import LeanPool

# Connections a post in flight may use at once: its calls are sequential, but its first
# call may have a once-per-account read beside it (Instagram's quota, read while the
# container is made). With one a post, the first round's reads waited for a connection
# behind the posts' own calls, a whole call's latency (bench/README.md).
CONNECTIONS_PER_POST = 2
# Room beyond them: an upload and a first comment may overlap a post. The pool keeps as
# many idle connections as it may open.
CONNECTION_HEADROOM = 16


class _NoCookies(httpx.Cookies):
    """Always empty: the platform APIs are called with tokens, and no cookie they set is
    sent back. Storing them (httpx parses every response's URL and headers for them) was
    about 5 % of the engine's CPU per call (bench/README.md)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _Client(httpx.AsyncClient):
    """An httpx client that keeps no cookies (see _NoCookies) and, over the lean pool,
    sends a request straight to its transport (see ``request``)."""

    def __init__(self, *, lean: bool, **options: Any) -> None:
        super().__init__(**options)
        self._lean = lean

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        pass  # nothing is ever kept

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: httpx.URL | str,
        *,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,  # seconds, an httpx.Timeout, or the client's
        headers: dict[str, str] | None = None,
        **content: Any,
    ) -> httpx.Response:
        """httpx's request without what no platform call uses: cookies, auth, redirects,
        event hooks, a base URL, the client's default headers. Going through
        ``AsyncClient.send`` for them cost about as much CPU as the pool itself
        (README.md, Performance). A plain call goes the short path (engine/http_short.py)
        straight to the lean pool; any other goes to the same transport as an httpx request
        (what pytest-httpx answers for). ``content`` is httpx's params, data, files, json or
        content; anything else, or a client with a proxy, goes httpx's own way."""
        defaults = {k: v for k, v in content.items() if _UNSET.get(k, _NOT_DEFAULT) is v}
        wanted = {k: v for k, v in content.items() if k not in defaults}
        if not self._lean or not wanted.keys() <= _CONTENT:
            return await super().request(method, url, timeout=timeout, headers=headers, **content)
        content = wanted
        headers = _DEFAULT_HEADERS if headers is None else {**_DEFAULT_HEADERS, **headers}
        if _transport_is_httpxs(self._transport):
            short = short_request(method, url, headers, content)
            if short is not None:
                return await self._send_short(short, timeout)
        request = httpx.Request(
            method, url, headers=headers, extensions={"timeout": self._timeouts(timeout)}, **content
        )
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def _send_short(self, short: ShortRequest, timeout: Any) -> httpx.Response:
        pool: LeanPool = self._transport._pool  # type: ignore[attr-defined]
        status, headers, body = await pool.exchange(
            short.method.encode("ascii"),
            short.origin,
            short.target,
            short.headers,
            short.content,
            self._timeouts(timeout),
        )
        return ShortResponse(short, status, headers, body)

    def _timeouts(self, timeout: Any) -> dict[str, float | None]:
        """httpx's four timeouts for a call's ``timeout`` (seconds, an httpx.Timeout, or the
        client's), as the transport takes them; seconds, what every platform call gives,
        from a cache."""
        if isinstance(timeout, int | float):
            return timeouts(float(timeout))
        given = self.timeout if timeout is httpx.USE_CLIENT_DEFAULT else httpx.Timeout(timeout)
        return given.as_dict()


def _transport_is_httpxs(transport: httpx.AsyncBaseTransport) -> bool:
    """Whether requests to ``transport`` would reach its pool as httpx sends them: not when
    pytest-httpx has replaced ``AsyncHTTPTransport.handle_async_request`` (it answers for
    the platforms in tests), which the short path would otherwise go around."""
    handler = type(transport).handle_async_request
    return handler.__module__ == _HTTPX_TRANSPORTS


# Named, not read from the class at import: pytest-httpx may have patched it by then.
_HTTPX_TRANSPORTS = "httpx._transports.default"


# What _Client.request passes on to httpx.Request (anything else: httpx's own way), and the
# arguments AsyncClient.get, .post and the like pass on at their defaults (nothing asked).
_CONTENT = frozenset({"params", "data", "files", "json", "content"})
_UNSET: dict[str, Any] = {
    "cookies": None,
    "extensions": None,
    "auth": httpx.USE_CLIENT_DEFAULT,
    "follow_redirects": httpx.USE_CLIENT_DEFAULT,
    **dict.fromkeys(_CONTENT),
}
_NOT_DEFAULT = object()
_DEFAULT_HEADERS = {"Accept": "*/*", "User-Agent": "studio-publish"}


_NO_COOKIES = _NoCookies()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default context (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), made once, when a
    run first opens an https connection: loading the CA bundle is a measurable share of
    start-up, and an idle run or a sandbox run never needs it."""
    return httpx.create_ssl_context()


def proxies_configured() -> bool:
    """Whether the environment names a proxy (httpx would route some requests through it)."""
    return bool(urllib.request.getproxies())


class HttpClients:
    """The run's client, made when a post first needs one: an idle run makes none."""

    def __init__(self, concurrency: int, timeout: float) -> None:
        size = CONNECTIONS_PER_POST * concurrency + CONNECTION_HEADROOM
        self._limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def next(self) -> httpx.AsyncClient:
        """The client for the next post (the same one: the pool serves them all)."""
        if self._client is None:
            # Imported here: the pool imports httpcore (its errors), which an idle run never
            # needs (bench/startup.py).
            from studio_publish.engine.http_pool import LeanTransport

            transport = None if proxies_configured() else LeanTransport(self._limits, _ssl_context)
            self._client = _Client(
                lean=transport is not None,
                timeout=self._timeout,
                limits=self._limits,
                transport=transport,
            )
        return self._client

    async def __aenter__(self) -> HttpClients:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
