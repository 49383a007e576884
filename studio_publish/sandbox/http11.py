"""The sandbox's HTTP/1.1 plumbing on asyncio: a server in a thread of its own, and the
small part of the protocol the sandbox speaks (keep-alive, Content-Length and chunked
bodies, ``Expect: 100-continue``). server.py builds the platforms' pipeline on it.

Why asyncio and not http.server's ThreadingHTTPServer: a thread per connection, each
sleeping the latency knob and taking the GIL in turn, cost about 0.5 ms of CPU a call and
added several milliseconds of scheduling to each answer's latency once 64 clients called
at once (README.md, Performance, "CPU per call"). Here a call's latency is a timer, and the work of
a call is a few dictionary lookups in one thread.
"""

from __future__ import annotations

import asyncio
import email.utils
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
STATUS_TEXT = {
    100: "Continue",
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class BadRequest(Exception):
    """The bytes received are not an HTTP/1.x request: answered 400, then closed."""


@dataclass
class Head:
    """A request's first line and headers (names lower-case; a repeated header keeps its
    last value, as the sandbox always read them)."""

    method: str
    target: str
    version: str
    headers: dict[str, str]

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.1":
            return connection != "close"
        return connection == "keep-alive"

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    @property
    def content_length(self) -> int:
        try:
            return max(0, int(self.headers.get("content-length", "0")))
        except ValueError:
            return 0


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """The next request's head; None when the client closed the connection between
    requests. Raises BadRequest for anything that is not one."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("the request ended before its headers did") from None
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("the request's headers are too large") from None
    lines = raw[:-4].decode("latin-1").split("\r\n")
    while lines and not lines[0]:  # stray CRLFs between requests (RFC 9112, 2.2)
        lines.pop(0)
    parts = lines[0].split(" ") if lines else []
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("the request line is not METHOD TARGET HTTP/1.x")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest("a request header is malformed")
        headers[name.lower()] = value.strip()
    return Head(parts[0], parts[1], parts[2], headers)


async def read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    """A chunked body, whole; BadRequest past ``limit`` bytes or when malformed."""
    parts: list[bytes] = []
    size = 0
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            try:
                length = int(line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                raise BadRequest("a chunk's size is not a number") from None
            if length == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return b"".join(parts)
            size += length
            if size > limit:
                raise BadRequest("chunked body too large")
            parts.append(await reader.readexactly(length))
            await reader.readexactly(2)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise BadRequest("the chunked body ended early") from None


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header's value, made once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


def encode_response(
    status: int, headers: dict[str, str], body: bytes, *, close: bool, server: str
) -> bytes:
    """The status line, headers and body, as one write."""
    lines = [
        f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'Unknown')}",
        f"Server: {server}",
        f"Date: {http_date()}",
    ]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


Connection = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ThreadedServer:
    """An asyncio server on its own event loop in a daemon thread, for the callers that
    are not async themselves (the CLI's ``sandbox`` command, the tests)."""

    def __init__(self, host: str, port: int, connection: Connection) -> None:
        self._host, self._port = host, port
        self._connection = connection
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.address: tuple[str, int] = (host, port)

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self._server = self.loop.run_until_complete(
                    # 64+ clients connecting at once must not be refused.
                    asyncio.start_server(self._serve, self._host, self._port, backlog=1024)
                )
                self.address = self._server.sockets[0].getsockname()[:2]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="studio-publish-sandbox")
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._connection(reader, writer)
        except asyncio.CancelledError:
            pass  # stop() ends every connection: this one ends quietly, not as an error
        finally:
            self._tasks.discard(task)
            writer.close()

    def stop(self) -> None:
        """Close the listening socket and every connection (a hung answer included)."""
        if self._thread is None:
            return

        async def shut_down() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut_down(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self._thread = None
        self.loop.close()
