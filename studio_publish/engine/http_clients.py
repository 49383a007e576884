"""A few small HTTP clients for a run, instead of one large one.

httpcore's connection pool scans every pooled connection on each request event, so the CPU
one request costs grows with the pool's size. With one client for 64 posts in flight the
engine spent about 48 ms of CPU per Instagram post, 80% of it in the pool (bench/README.md).
Clients of 16 connections, each post bound to one for its whole attempt, keep that flat.
"""

from __future__ import annotations

import math
from types import TracebackType

import httpx

POSTS_PER_CLIENT = 8
CONNECTIONS_PER_CLIENT = 16  # a post's calls are sequential; the headroom serves uploads


class _NoCookies(httpx.Cookies):
    """Always empty: the platform APIs are called with tokens, and no cookie they set is
    sent back. Storing them (httpx parses every response's URL and headers for them) was
    about 5 % of the engine's CPU per call (bench/README.md)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _Client(httpx.AsyncClient):
    """An httpx client that keeps no cookies (see _NoCookies)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        pass  # nothing is ever kept


_NO_COOKIES = _NoCookies()


class HttpClients:
    """``concurrency / POSTS_PER_CLIENT`` clients, each made when a post first needs it: an
    idle run makes none (each loads the certificate store, a measurable share of start-up)."""

    def __init__(self, concurrency: int, timeout: float) -> None:
        self._limits = httpx.Limits(
            max_connections=CONNECTIONS_PER_CLIENT, max_keepalive_connections=POSTS_PER_CLIENT
        )
        self._timeout = timeout
        self._count = max(1, math.ceil(concurrency / POSTS_PER_CLIENT))
        self._clients: list[httpx.AsyncClient] = []
        self._turn = 0

    def next(self) -> httpx.AsyncClient:
        """The client for the next post, in turn."""
        index, self._turn = self._turn % self._count, self._turn + 1
        if index == len(self._clients):
            self._clients.append(_Client(timeout=self._timeout, limits=self._limits))
        return self._clients[index]

    async def __aenter__(self) -> HttpClients:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for client in self._clients:
            await client.aclose()
