"""A lean HTTP/1.1 connection pool for the engine's platform calls.

Why: httpx's default pool (httpcore, over anyio and h11) costs about 1 ms of CPU per request
on this project's machine, ten times what httpx's own request and response models cost
(README.md, Performance, "CPU per call"). At the platforms' documented latencies that CPU, not the
network, bounds how many posts one ``run-due`` publishes a minute. The pool here speaks
the same small part of HTTP/1.1 the platform APIs use, on asyncio's transports directly:
one request at a time per connection, keep-alive, ``Content-Length``, chunked and
read-until-close bodies read no further ahead than the reader, TLS (with httpcore's
``sni_hostname`` extension), and httpx's four timeouts.

It is reached two ways:
- ``handle_async_request``: httpcore's pool interface. It plugs in under httpx where
  httpcore's pool sits (``LeanTransport._pool``), so everything above it, the tests'
  pytest-httpx mocks included, is unchanged.
- ``exchange``: a request whose body is in hand, answered with its whole body. The run's
  client sends its plain platform calls this way (engine/http_short.py), without httpx's
  request model or the conversion to httpcore's.

Either way it raises httpx's transport errors. A request that never left this machine
raises ``ConnectError``/``ConnectTimeout``/``PoolTimeout``/``UnsupportedProtocol``, or
``LocalProtocolError`` for a header no HTTP message may carry; one that may have reached
the platform raises anything else (platforms/transport.py tells the two apart).

Not handled here, left to httpx's own pool: proxies (engine/http_clients.py keeps the
stock client when a proxy is configured), HTTP/2, ``Expect: 100-continue`` and upgrades.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    # Imported where httpx's own request path needs it (handle_async_request): the short
    # path never does, and importing httpcore was about 11 ms of a busy run's first post,
    # every post of the first round waiting on it (README.md, Performance).
    import httpcore

_MAX_HEAD_BYTES = 64 * 1024  # a status line and headers larger than this are refused
_SMALL_BODY = 64 * 1024  # a body up to this size goes out in the same write as its head
# Read no further ahead of the reader than this: the socket is read as the body is, as
# httpcore does (a server that ignores Range must not pour a whole video into memory).
_READ_AHEAD = 1024 * 1024
# scheme, host, port, and the name TLS checks the certificate against when it is not the
# host's (the media policy connects to a checked address: its "sni_hostname" extension).
_Origin = tuple[bytes, bytes, int, str | None]


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: bytes in a buffer, and a future to wake the one reader."""

    def __init__(self, origin: _Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False  # the peer closed, or we did: never reused
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._reading_paused = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_AHEAD and not self._reading_paused and self.transport:
            self.transport.pause_reading()
            self._reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # used by the pool

    def take(self, size: int) -> bytes:
        """Up to ``size`` bytes from the buffer; reading resumes once it is low again."""
        piece = bytes(self.buffer[:size])
        del self.buffer[:size]
        if self._reading_paused and len(self.buffer) <= _READ_AHEAD // 4 and self.transport:
            self._reading_paused = False
            self.transport.resume_reading()
        return piece

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def write(self, data: bytes, timeout: float | None) -> None:
        if self.closed or self.transport is None:
            raise httpx.WriteError("the connection closed before the request was written")
        self.transport.write(data)
        if self._drain is not None:
            await _within(self._drain, timeout, httpx.WriteTimeout)
            if self.closed:
                raise httpx.WriteError("the connection closed while the request was written")

    async def wait_for_data(self, timeout: float | None) -> bool:
        """Wait until more bytes arrive (True) or the peer closes (False)."""
        if self.closed:
            return False
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await _within(waiter, timeout, httpx.ReadTimeout)
        finally:
            self._waiter = None
        return bool(self.buffer) or not self.closed


async def _within(
    future: asyncio.Future[None], timeout: float | None, error: type[Exception]
) -> None:
    """Await ``future``, raising ``error`` after ``timeout`` seconds (None: no limit).

    A timer that cancels the future, not asyncio.wait_for, which costs a task a wait.
    """
    if timeout is None:
        await future
        return
    expired = False

    def expire() -> None:
        nonlocal expired
        if not future.done():
            expired = True
            future.cancel()

    timer = asyncio.get_running_loop().call_later(timeout, expire)
    try:
        await future
    except asyncio.CancelledError:
        if expired:
            raise error(f"no progress in {timeout:g} s") from None
        raise  # the caller was cancelled
    finally:
        timer.cancel()


def _timeouts(request: httpcore.Request) -> dict[str, float | None]:
    timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
    return timeouts


def _head_bytes(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """A request's line and headers, refused (never sent) when a name or value holds a line
    break or NUL: a token read from a row must not add headers of its own (h11, under
    httpx's pool, refuses them too)."""
    lines = [b"%s %s HTTP/1.1" % (method, target)]
    lines.extend(b"%s: %s" % (name, value) for name, value in headers)
    head = b"\r\n".join(lines)
    if head.count(b"\n") != len(headers) or head.count(b"\r") != len(headers) or b"\0" in head:
        raise httpx.LocalProtocolError("a request header holds a line break or NUL: not sent")
    return head + b"\r\n\r\n"


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class _Body:
    """A response body as httpx reads it: pieces as they arrive, framed as the head said;
    the connection goes back to the pool once the body is read to its end."""

    def __init__(
        self,
        conn: _Connection,
        framing: str,
        length: int,
        keep_alive: bool,
        read_timeout: float | None,
        release: Callable[[_Connection, bool], None],
    ) -> None:
        self._conn = conn
        self._framing = framing  # "none", "length", "chunked" or "close"
        self._left = length
        self._keep_alive = keep_alive
        self._timeout = read_timeout
        self._release: Callable[[_Connection, bool], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._framing == "length":
                async for piece in self._by_length():
                    yield piece
            elif self._framing == "chunked":
                async for piece in self._chunked():
                    yield piece
            elif self._framing == "close":
                async for piece in self._until_close():
                    yield piece
        except BaseException:
            self._done(reusable=False)
            raise
        self._done(reusable=self._keep_alive)

    async def aclose(self) -> None:
        self._done(reusable=False)  # a body left unread: the connection cannot be reused

    def release_now(self) -> None:
        self._done(reusable=self._keep_alive)

    def _done(self, *, reusable: bool) -> None:
        release, self._release = self._release, None
        if release is not None:
            release(self._conn, reusable)

    async def _by_length(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while self._left > 0:
            if not conn.buffer and not await conn.wait_for_data(self._timeout):
                raise httpx.RemoteProtocolError(
                    f"the server closed the connection with {self._left} bytes of the body unsent"
                )
            piece = conn.take(self._left)
            self._left -= len(piece)
            yield piece

    async def _until_close(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if conn.buffer:
                yield conn.take(len(conn.buffer))
            elif not await conn.wait_for_data(self._timeout):
                return

    async def _line(self) -> bytes:
        conn = self._conn
        while (end := conn.buffer.find(b"\r\n")) < 0:
            if len(conn.buffer) > _MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("a chunk's size line is too long")
            if not await conn.wait_for_data(self._timeout):
                raise httpx.RemoteProtocolError("the server closed the connection mid-body")
        return conn.take(end + 2)[:-2]

    async def _chunked(self) -> AsyncIterator[bytes]:
        while True:
            size_text = (await self._line()).split(b";", 1)[0].strip()
            try:
                self._left = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError("a chunk's size is not a number") from None
            if self._left < 0:
                raise httpx.RemoteProtocolError("a chunk's size is negative")
            if self._left == 0:
                while await self._line():  # trailers, up to the empty line
                    pass
                return
            async for piece in self._by_length():
                yield piece
            if await self._line():
                raise httpx.RemoteProtocolError("a chunk is longer than its size")


class LeanPool:
    """httpcore's pool interface (``handle_async_request``, ``aclose``), over _Connection.

    ``max_connections`` bounds the connections open at once across origins; a request
    waits for one up to its pool timeout. Idle connections are kept, newest first, up to
    ``max_keepalive`` per origin and ``keepalive_expiry`` seconds.
    """

    def __init__(
        self,
        *,
        max_connections: int | None,
        max_keepalive: int | None,
        keepalive_expiry: float | None,
        ssl_context: Callable[[], ssl.SSLContext],
    ) -> None:
        self._max = max_connections
        self._max_idle = max_keepalive
        self._expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._open = 0  # connections open or being opened, idle or in use
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        url = request.url
        origin = _origin(url.scheme, url.host, url.port, request.extensions.get("sni_hostname"))
        timeouts = _timeouts(request)
        chunked = (_header(request.headers, b"transfer-encoding") or b"").lower() == b"chunked"
        head = _head_bytes(request.method, url.target, request.headers)
        conn = await self._connection(origin, timeouts)
        try:
            stream = request.stream
            assert isinstance(stream, AsyncIterable)
            await self._send(conn, head, stream, chunked, timeouts.get("write"))
            status, reason, headers = await self._final_head(conn, timeouts.get("read"))
        except BaseException:
            self._release(conn, False)
            raise
        body = self._body(conn, request.method, status, headers, timeouts.get("read"))
        import httpcore  # see the module's imports

        return httpcore.Response(
            status,
            headers=headers,
            content=body,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    async def exchange(
        self,
        method: bytes,
        origin: _Origin,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        content: bytes,
        timeouts: dict[str, float | None],
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One request whose body is in hand: its status, headers and whole body."""
        head = _head_bytes(method, target, headers)
        conn = await self._connection(origin, timeouts)
        try:
            if len(content) > _SMALL_BODY:  # not copied into one buffer with its head
                await conn.write(head, timeouts.get("write"))
                await conn.write(content, timeouts.get("write"))
            else:
                await conn.write(head + content, timeouts.get("write"))
            status, _, answer_headers = await self._final_head(conn, timeouts.get("read"))
        except BaseException:
            self._release(conn, False)
            raise
        body = self._body(conn, method, status, answer_headers, timeouts.get("read"))
        return status, answer_headers, b"".join([piece async for piece in body])

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

    async def __aenter__(self) -> LeanPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # connections

    async def _connection(self, origin: _Origin, timeouts: dict[str, float | None]) -> _Connection:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            # Closed by the peer, bytes nobody asked for, or idle too long: not reused.
            stale = self._expiry is not None and now - conn.idle_since > self._expiry
            if conn.closed or conn.buffer or stale:
                self._forget(conn)
            else:
                return conn
        if self._max is not None and self._open >= self._max:
            await self._wait_for_slot(timeouts.get("pool"))
        self._open += 1
        try:
            return await self._connect(origin, timeouts.get("connect"))
        except BaseException:
            self._open -= 1
            self._wake_slot_waiter()
            raise

    async def _connect(self, origin: _Origin, timeout: float | None) -> _Connection:
        scheme, host, port, sni = origin
        loop = asyncio.get_running_loop()
        hostname = host.decode("ascii")
        context = self._ssl_context() if scheme == b"https" else None
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(origin),
                    hostname,
                    port,
                    ssl=context,
                    server_hostname=(sni or hostname) if context is not None else None,
                ),
                timeout,
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting took over {timeout:g} s") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return conn

    async def _wait_for_slot(self, timeout: float | None) -> None:
        while self._max is not None and self._open >= self._max:
            if self._close_one_idle():
                return
            waiter = asyncio.get_running_loop().create_future()
            self._slot_waiters.append(waiter)
            try:
                await _within(waiter, timeout, httpx.PoolTimeout)
            finally:
                if waiter in self._slot_waiters:
                    self._slot_waiters.remove(waiter)

    def _close_one_idle(self) -> bool:
        """Make room by closing the oldest idle connection of any origin."""
        oldest: _Connection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest.idle_since):
                oldest = idle[0]
        if oldest is None:
            return False
        self._idle[oldest.origin].remove(oldest)
        self._forget(oldest)
        return True

    def _forget(self, conn: _Connection) -> None:
        conn.close()
        self._open -= 1
        self._wake_slot_waiter()

    def _wake_slot_waiter(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, conn: _Connection, reusable: bool) -> None:
        if not reusable or conn.closed or conn.buffer or self._closed:
            self._forget(conn)
            return
        idle = self._idle.setdefault(conn.origin, deque())
        if self._max_idle is not None and len(idle) >= self._max_idle:
            self._forget(conn)
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)
        self._wake_slot_waiter()  # a waiter for another origin may close it to make room

    # one exchange

    async def _send(
        self,
        conn: _Connection,
        head: bytes,
        stream: AsyncIterable[bytes],
        chunked: bool,
        timeout: float | None,
    ) -> None:
        """The head and a streamed body; a small body goes out in one write with its head."""
        pending, size = [head], 0
        async for piece in stream:
            if not piece:
                continue
            if chunked:
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            if size + len(piece) > _SMALL_BODY:  # a large piece is written as it is
                await conn.write(b"".join(pending), timeout)
                await conn.write(piece, timeout)
                pending, size = [], 0
            else:
                pending.append(piece)
                size += len(piece)
        if chunked:
            pending.append(b"0\r\n\r\n")
        if pending:
            await conn.write(b"".join(pending), timeout)

    async def _final_head(
        self, conn: _Connection, timeout: float | None
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        while True:
            status, reason, headers = await self._head(conn, timeout)
            if status >= 200:  # 1xx answers (none asked for) come before the real one
                return status, reason, headers

    def _body(
        self,
        conn: _Connection,
        method: bytes,
        status: int,
        headers: list[tuple[bytes, bytes]],
        timeout: float | None,
    ) -> _Body:
        """The answer's body, to be read; the connection goes back once it is."""
        framing, length = _framing(method, status, headers)
        connection = (_header(headers, b"connection") or b"").lower()
        body = _Body(
            conn,
            framing,
            length,
            keep_alive=framing != "close" and b"close" not in connection,
            read_timeout=timeout,
            release=self._release,
        )
        if framing == "none":
            body.release_now()  # nothing to read: the connection is free at once
        return body

    async def _head(
        self, conn: _Connection, timeout: float | None
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        start = 0
        while (end := conn.buffer.find(b"\r\n\r\n", start)) < 0:
            if len(conn.buffer) > _MAX_HEAD_BYTES:
                break
            start = max(0, len(conn.buffer) - 3)
            if not await conn.wait_for_data(timeout):
                raise httpx.RemoteProtocolError(
                    "the server closed the connection without sending a response"
                )
        if end < 0 or end > _MAX_HEAD_BYTES:
            raise httpx.RemoteProtocolError("the response's headers are too large")
        lines = conn.take(end + 4)[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        code, _, reason = rest.partition(b" ")
        if not version.startswith(b"HTTP/1.") or not code.isdigit() or len(code) != 3:
            raise httpx.RemoteProtocolError("the response's status line is not HTTP/1.x")
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise httpx.RemoteProtocolError("a response header is malformed")
            headers.append((name, value.strip()))
        connection = (_header(headers, b"connection") or b"").lower()
        if version == b"HTTP/1.0" and connection != b"keep-alive":
            headers.append((b"Connection", b"close"))  # 1.0 closes unless it said otherwise
        return int(code), reason, headers


def _origin(scheme: bytes, host: bytes, port: int | None, sni: str | None) -> _Origin:
    """Where a request goes; ``sni`` (the name TLS checks) only counts for https."""
    if scheme not in (b"http", b"https"):
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
    https = scheme == b"https"
    return (scheme, host, port or (443 if https else 80), sni if https else None)


def _framing(method: bytes, status: int, headers: list[tuple[bytes, bytes]]) -> tuple[str, int]:
    """How the body is delimited (RFC 9112, section 6.3), and its length when known."""
    if method == b"HEAD" or status in (204, 304):
        return "none", 0
    encoding = _header(headers, b"transfer-encoding")
    if encoding is not None:
        if encoding.lower().rsplit(b",", 1)[-1].strip() == b"chunked":
            return "chunked", 0
        return "close", 0
    length = _header(headers, b"content-length")
    if length is None:
        return "close", 0
    if not length.strip().isdigit():
        raise httpx.RemoteProtocolError("the response's Content-Length is not a number")
    size = int(length)
    return ("length", size) if size else ("none", 0)


class LeanTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with LeanPool in place of httpcore's pool.

    It inherits ``handle_async_request`` unchanged, which turns an httpx request into an
    httpcore one and is what pytest-httpx mocks.
    """

    def __init__(self, limits: httpx.Limits, ssl_context: Callable[[], ssl.SSLContext]) -> None:
        # Not super().__init__(): that makes httpcore's pool and an SSL context at once.
        self._pool: Any = LeanPool(
            max_connections=limits.max_connections,
            max_keepalive=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            ssl_context=ssl_context,
        )
