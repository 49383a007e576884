"""The cron hook: one `run-due` per authorised HTTP request, for Vercel Cron and the like.

Vercel's Python runtime serves the ``BaseHTTPRequestHandler`` subclass named ``handler`` in a
file under ``api/`` (see examples/vercel/); any other server can mount ``handler`` too, or call
``respond`` from its own framework. GET (what Vercel Cron sends) and POST both run.

Only a request carrying ``Authorization: Bearer $CRON_SECRET`` runs anything; the comparison
takes constant time. Without CRON_SECRET every request is refused. The secret is never
echoed, and the request log holds the method, the path without its query, and the status.

The handler bounds every request itself, whatever server runs it (a plain single-threaded
``HTTPServer`` serves one connection at a time, so one silent client would stall it): each
socket read or write may wait ``timeout`` seconds, no read starts once the request (line,
headers and body) has taken ``request_time_limit`` seconds, and a body is read only when it
has a Content-Length of at most ``max_body_bytes``; it is read and ignored. A larger body is
refused with 413 unread, a chunked one with 411, a Content-Length that is not one whole
number with 400; nothing runs. All three limits are class attributes.

A serverless function is killed at its time limit, so the run is fitted into
``STUDIO_PUBLISH_HOOK_TIME_LIMIT_SECONDS``: half of it for claiming posts, half for waiting
on a post the platform is still processing (a post still processing then waits for a later
run). A post cut off anyway is safe: its lease runs out and a later run settles it.
"""

from __future__ import annotations

import hmac
import io
import socket
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, ClassVar

from studio_publish import operations
from studio_publish.errors import ConfigError, DatabaseUnavailable, NotMigrated, StudioPublishError
from studio_publish.formatting import to_json
from studio_publish.logs import configure_logging, get_logger
from studio_publish.platforms.base import Platform
from studio_publish.settings import Settings, load_settings
from studio_publish.store import db
from studio_publish.store.migrations import require_migrated

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

HookResponse = tuple[int, dict[str, Any]]

# The defaults of the handler's limits (see the module doc). A cron request has no body and
# arrives in one piece; these leave ample room for a slow network and none for a stalled one.
SOCKET_TIMEOUT_SECONDS = 10.0
REQUEST_TIME_LIMIT_SECONDS = 20.0
MAX_BODY_BYTES = 64 * 1024


def respond(
    authorization: str | None, *, platforms: Mapping[str, Platform] | None = None
) -> HookResponse:
    """The status and JSON body for one request with this Authorization header."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        configure_logging()
        get_logger().error("hook_misconfigured", error=str(exc))
        # The caller may not be authorised: the detail goes to the log only.
        return 500, {"error": "the hook is misconfigured; see the function's logs"}
    configure_logging(settings.log_format)
    if settings.cron_secret is None:
        get_logger().error("hook_without_secret")
        return 500, {"error": "CRON_SECRET is not set: the hook refuses every request until it is"}
    expected = settings.cron_secret.get_secret_value().encode()
    # The scheme is case-insensitive (RFC 9110 section 11.1: "bearer" is "Bearer"); the
    # secret is compared in constant time.
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    given = credentials.strip().encode("utf-8", "replace")
    if not (scheme.lower() == "bearer" and hmac.compare_digest(expected, given)):
        get_logger().warning("hook_unauthorised", had_header=authorization is not None)
        return 401, {"error": "unauthorised: send Authorization: Bearer $CRON_SECRET"}
    try:
        target = db.resolve_target(settings)
        with db.connect(target) as conn:
            require_migrated(conn)  # the hook never migrates: `db migrate` does
        summary = operations.run_due(hook_settings(settings), target, platforms=platforms)
    except (DatabaseUnavailable, NotMigrated) as exc:
        return 503, {"error": str(exc)}
    except StudioPublishError as exc:
        return 500, {"error": str(exc)}
    except Exception:  # an answer is owed even for a bug: http.server would send none
        get_logger().exception("hook_failed")
        return 500, {"error": "the run failed unexpectedly; see the function's logs"}
    return 200, summary.as_dict()


def hook_settings(settings: Settings) -> Settings:
    """The settings of a run that fits in the hook's time limit (see the module doc)."""
    half = settings.hook_time_limit_seconds / 2
    return settings.copy_with(
        # Waits on processing end with the budget (engine/waits.py): nothing else to fit.
        run_budget_seconds=min(settings.run_budget_seconds, half),
    )


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes, until the time its handler allows for receiving a request is up.

    The socket's own timeout bounds each read; this bounds their sum, so a client that sends
    a byte now and then cannot hold the connection (and a single-threaded server) for long.
    """

    def __init__(self, sock: socket.socket, deadline: Callable[[], float | None]) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline  # the handler's, set anew for each request

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        deadline = self._deadline()
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError("the request did not arrive within the time limit")
        return self._sock.recv_into(buffer)


def make_handler(
    platforms: Mapping[str, Platform] | None = None,
) -> type[BaseHTTPRequestHandler]:
    """A handler class; ``platforms`` replaces the real platform clients (for tests)."""

    class CronHookHandler(BaseHTTPRequestHandler):
        # Seconds each socket read or write may wait; StreamRequestHandler.setup applies it.
        timeout: ClassVar[float | None] = SOCKET_TIMEOUT_SECONDS
        # Seconds the request line, headers and body together may take to arrive.
        request_time_limit: ClassVar[float | None] = REQUEST_TIME_LIMIT_SECONDS
        # The largest body read (and ignored); a larger one is refused unread.
        max_body_bytes: ClassVar[int] = MAX_BODY_BYTES

        def setup(self) -> None:
            super().setup()
            self._start_clock()  # here too: a server may replace handle_one_request (Vercel's)
            if isinstance(self.connection, socket.socket):
                # Instead of makefile's reader: the same bytes, within the time limit.
                self.rfile.close()
                self.rfile = io.BufferedReader(
                    _DeadlineReader(self.connection, lambda: self._read_deadline)
                )

        def handle_one_request(self) -> None:
            self._start_clock()
            super().handle_one_request()

        def _start_clock(self) -> None:
            limit = self.request_time_limit
            self._read_deadline = None if limit is None else time.monotonic() + limit

        def do_GET(self) -> None:
            self._run()

        def do_POST(self) -> None:
            self._run()

        def _run(self) -> None:
            refusal = self._read_body()
            if refusal is not None:
                self._send(*refusal)
                return
            self._send(*respond(self.headers.get("Authorization"), platforms=platforms))

        def _read_body(self) -> HookResponse | None:
            """Read and drop a small body; the refusal to send for any other kind."""
            if self.headers.get("Transfer-Encoding") is not None:
                self.close_connection = True
                return 411, {"error": "send the body with a Content-Length, or send none"}
            lengths = {value.strip() for value in self.headers.get_all("Content-Length") or []}
            if not lengths:
                return None
            text = lengths.pop()
            if lengths or not (text.isascii() and text.isdigit()) or len(text) > 20:
                self.close_connection = True
                return 400, {"error": "the Content-Length header is not one whole number"}
            length = int(text)
            if length > self.max_body_bytes:
                self.close_connection = True
                return 413, {"error": f"the body is over {self.max_body_bytes} bytes; send none"}
            self.rfile.read(length)  # the hook takes no body; read so closing resets nothing
            return None

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = to_json(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            if self.close_connection:
                self.send_header("Connection", "close")
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="studio-publish"')
            self.end_headers()
            self.wfile.write(data)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # A request refused before its line was read has no path or command.
            path = getattr(self, "path", "").split("?", 1)[0]
            method = getattr(self, "command", None)
            get_logger().info("hook_request", method=method, path=path, status=code)

        def log_message(self, format: str, *args: Any) -> None:
            # http.server's own errors (a malformed request): to our log, not raw stderr.
            get_logger().warning("hook_http_error", detail=format % args)

    return CronHookHandler


# What Vercel's runtime (or any server) serves: one run-due per authorised request.
handler = make_handler()
