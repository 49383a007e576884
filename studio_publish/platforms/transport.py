"""One HTTP request with a timeout, telling "never sent" apart from "may have been sent".

The difference decides what a failed irreversible call means: a request that never left
this machine can simply be retried, while one that may have reached the platform has to
be looked up first, or it could publish the post twice.
"""

from __future__ import annotations

from typing import Any

import httpx

from studio_publish import redaction
from studio_publish.platforms.base import Decision, PlatformError

# httpx raises these before any byte of the request has been written to the socket.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


class OutcomeUnclear(PlatformError):
    """An irreversible call may or may not have taken effect: the caller must look it up.

    Its decision is UNKNOWN so that, should it escape unhandled, a person decides rather
    than the engine publishing again.
    """

    def __init__(
        self, message: str, *, code: str | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(Decision.UNKNOWN, message, code=code, http_status=http_status)


def redact(text: str, *secrets: str | None) -> str:
    """Platforms sometimes echo what they were sent, encoded or not: never let a token into
    a message (see studio_publish.redaction)."""
    return redaction.redact(text, secrets)


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    timeout: float,
    irreversible: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request; network failures become RETRY, or OutcomeUnclear for irreversible calls.

    ``what`` names the call in messages: the URL is never quoted (upload URLs carry
    credentials in their query string).
    """
    try:
        return await http.request(method, url, timeout=timeout, **kwargs)
    except httpx.LocalProtocolError as exc:
        # Refused before sending (engine/http_pool.py, or h11 under httpx's pool): sending
        # it again would be refused again. Its own message may quote the header: not shown.
        raise PlatformError(
            Decision.FAIL,
            f"{what}: not sent: a request header held a line break or another character "
            f"HTTP forbids ({type(exc).__name__})",
        ) from exc
    except _NOT_SENT as exc:
        host = _host(url)
        raise PlatformError(
            Decision.RETRY, f"{what}: could not connect to {host} ({type(exc).__name__})"
        ) from exc
    except httpx.TransportError as exc:
        host = _host(url)
        if irreversible:
            raise OutcomeUnclear(
                f"{what}: no answer from {host} ({type(exc).__name__}); it may have gone through"
            ) from exc
        raise PlatformError(
            Decision.RETRY, f"{what}: network error talking to {host} ({type(exc).__name__})"
        ) from exc


def _host(url: str) -> str:
    """The host, never the path or query: with the sandbox's settings forgotten, "could not
    connect to graph.facebook.com" says at once what is wrong. (Parsed only for a message:
    parsing a URL is a measurable share of a call's CPU.)"""
    return httpx.URL(url).host or "?"


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or {} when the body is not one (e.g. an HTML 502 page)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
