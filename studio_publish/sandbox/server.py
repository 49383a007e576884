"""The sandbox HTTP server: one ThreadingHTTPServer serving every platform stand-in.

URL layout (``url`` is ``http://HOST:PORT``)::

    {url}/{prefix}/...      the stand-ins declaring that prefix (``standins/``, one module
                            a platform; each module's docstring lists its URLs)
    {url}/_sandbox/...      control API (ledger, knobs, faults, accounts, reset)

``env()`` gathers the settings that point studio-publish at them: each stand-in's
``env(url)``, STUDIO_PUBLISH_{NAME}_API_BASE for each of its ``bases``.

Every platform call goes through the same pipeline: count it, sleep the latency, refuse
a token in the URL, apply a queued fault or the random error rate, check the token, run
the handler, then maybe drop the response ("lost") after the work is done. What differs
by platform (routes, token checks, error shapes, usage headers) is the stand-in's.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, ClassVar, TextIO

from studio_publish.sandbox import control
from studio_publish.sandbox.knobs import Dice, Fault, FaultBook, Knobs
from studio_publish.sandbox.ledger import Ledger
from studio_publish.sandbox.standins import STANDINS, StandIn
from studio_publish.sandbox.state import Accounts, AccountSpec, Ids
from studio_publish.sandbox.wire import (
    MAX_BODY_BYTES,
    ApiError,
    Request,
    Response,
    Route,
    parse_body,
    parse_query,
)

DEFAULT_PORT = 8765
_PIECE = 1024 * 1024  # upload bodies are read (and dropped) a megabyte at a time
_DRAIN_LIMIT = 256 * 1024 * 1024  # the largest legal chunk is 128 MB

# Credentials that must never be in a URL query string (the form body is fine).
_SECRET_PARAMS = frozenset(
    {"access_token", "refresh_token", "client_secret", "fb_exchange_token", "input_token"}
)


class _Lost(Exception):
    """No answer reaches the client: the platform did the work (lose_response, hang), or
    the request never reached it (drop)."""

    def __init__(self, hang: float = 0.0) -> None:
        super().__init__("response lost")
        self.hang = hang


class _Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.faults_fired: Counter[str] = Counter()
        self.lost_responses = 0
        self.violations: list[dict[str, str]] = []
        self.server_errors: list[str] = []
        self._recent: deque[float] = deque()  # call times in the last minute, for X-App-Usage

    def call(self, endpoint: str) -> int:
        now = time.monotonic()
        with self._lock:
            self.calls[endpoint] += 1
            self._recent.append(now)
            while self._recent and now - self._recent[0] > 60:
                self._recent.popleft()
            return len(self._recent)

    def fired(self, kind: str) -> None:
        with self._lock:
            self.faults_fired[kind] += 1

    def lost(self) -> None:
        with self._lock:
            self.lost_responses += 1

    def violation(self, endpoint: str, problem: str) -> None:
        with self._lock:
            self.violations.append({"endpoint": endpoint, "problem": problem})

    def server_error(self, text: str) -> None:
        with self._lock:
            self.server_errors.append(text)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "total_calls": sum(self.calls.values()),
                "faults_fired": dict(self.faults_fired),
                "lost_responses": self.lost_responses,
                "violations": list(self.violations),
                "server_errors": list(self.server_errors),
            }


class Sandbox:
    """A local stand-in for the platforms' APIs: one :class:`StandIn` each, discovered.

    ``Sandbox(port=0, latency=0.2, container_polls=3, accounts=[...])`` takes any
    :class:`Knobs` field as a keyword. Use as a context manager, or ``start()``/``stop()``.
    """

    # The stand-ins it serves (a subclass may serve others, e.g. in a test).
    standin_types: ClassVar[tuple[type[StandIn], ...]] = STANDINS

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        accounts: Iterable[AccountSpec] = (),
        faults: Iterable[Fault] = (),
        log_requests: bool = False,
        log_to: TextIO | None = None,
        **knobs: Any,
    ) -> None:
        unknown = set(knobs) - Knobs.names()
        if unknown:
            raise TypeError(f"unknown sandbox knobs: {', '.join(sorted(unknown))}")
        self._host, self._port = host, port
        self._initial_knobs = Knobs(**knobs)
        self._initial_accounts = list(accounts)
        self._initial_faults = list(faults)
        self.knobs = dataclasses.replace(self._initial_knobs)
        self.ledger = Ledger()
        self.faults = FaultBook()
        self.accounts = Accounts(self.knobs)
        self.ids = Ids()
        self.standins = tuple(
            kind(self.knobs, self.ledger, self.ids, self.accounts) for kind in self.standin_types
        )
        self._by_prefix: dict[str, list[StandIn]] = {}
        for standin in self.standins:
            for prefix in standin.prefixes:
                self._by_prefix.setdefault(prefix, []).append(standin)
        self.dice = Dice(self.knobs.seed)
        self._stats = _Stats()
        self._knob_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.log_requests = log_requests
        self._log_to = log_to
        self._load_initial()

    def _load_initial(self) -> None:
        for spec in self._initial_accounts:
            self.accounts.add(spec)
        for fault in self._initial_faults:
            self.faults.add(dataclasses.replace(fault))

    # ---- lifecycle --------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self._host, self._port), _Handler)
        server.sandbox = self
        self._server = server
        # A short poll interval makes stop() quick (shutdown waits for the next poll).
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True,
            name="studio-publish-sandbox",
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes latency sleeps and hung responses
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._host if self._host not in ("0.0.0.0", "", "::") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    def bases(self) -> dict[str, str]:
        """Every stand-in's API base URLs by name ("graph", "tiktok", ...)."""
        return {name: base for s in self.standins for name, base in s.bases(self.url).items()}

    def base(self, name: str) -> str:
        return self.bases()[name]

    # The two bases callers have always had by name; a new platform's is base(name).
    @property
    def graph_base(self) -> str:
        return self.base("graph")

    @property
    def tiktok_base(self) -> str:
        return self.base("tiktok")

    def env(self) -> dict[str, str]:
        """The settings that point studio-publish at this sandbox."""
        return {name: value for s in self.standins for name, value in s.env(self.url).items()}

    # ---- knobs ------------------------------------------------------------------------

    def set_knobs(self, **changes: Any) -> Knobs:
        unknown = set(changes) - Knobs.names()
        if unknown:
            raise ValueError(f"unknown knobs: {', '.join(sorted(unknown))}")
        with self._knob_lock:
            dataclasses.replace(self.knobs, **changes)  # validates before anything changes
            # Mutated in place: the stand-ins and the token code hold this same object.
            for name, value in changes.items():
                setattr(self.knobs, name, value)
            if "seed" in changes:
                self.dice.reseed(self.knobs.seed)
        return self.knobs

    def inject(
        self, endpoint: str = "*", kind: str = "error", count: int = 1, **fields: Any
    ) -> Fault:
        """Queue a fault for the next ``count`` calls to ``endpoint`` (see :class:`Fault`)."""
        fault = Fault.from_dict({"endpoint": endpoint, "kind": kind, "count": count, **fields})
        self.faults.add(fault)
        return fault

    def rate_limit(self, count: int = 1, endpoint: str = "*") -> Fault:
        return self.inject(endpoint, "rate_limit", count)

    def lose_response(self, endpoint: str, count: int = 1, hang: float | None = None) -> Fault:
        """The next ``count`` calls do their work, then the answer is lost: the connection
        closes at once, or after ``hang`` seconds (past the client's timeout)."""
        if hang is None:
            return self.inject(endpoint, "lose_response", count)
        return self.inject(endpoint, "hang", count, seconds=hang)

    def expire_token(self, token: str) -> None:
        self.accounts.expire_token(token)

    def expire_account(self, platform: str, account_id: str) -> int:
        return self.accounts.expire_account(platform, account_id)

    def add_account(
        self,
        platform: str,
        account_id: str,
        access_token: str | None = None,
        *,
        access_tokens: Iterable[str] = (),
        refresh_token: str | None = None,
        **details: Any,
    ) -> AccountSpec:
        tokens = (*access_tokens, *([access_token] if access_token else []))
        spec = AccountSpec(
            platform=platform,
            account_id=account_id,
            access_tokens=tokens,
            refresh_token=refresh_token,
            **details,
        )
        self.accounts.add(spec)
        return spec

    def set_refresh_token(self, open_id: str, refresh_token: str) -> None:
        self.accounts.set_refresh_token(open_id, refresh_token)

    def expire_container(self, container_id: str) -> bool:
        return any(standin.expire_container(container_id) for standin in self.standins)

    def reset(self) -> None:
        """Forget everything: state, ledger, faults, stats, accounts; knobs as constructed."""
        with self._knob_lock:
            for f in dataclasses.fields(Knobs):
                setattr(self.knobs, f.name, getattr(self._initial_knobs, f.name))
            self.dice.reseed(self.knobs.seed)
        self.ledger.clear()
        self.faults.clear()
        self.accounts.clear()
        for standin in self.standins:
            standin.reset()
        self._stats = _Stats()
        self._load_initial()

    def stats(self) -> dict[str, Any]:
        return self._stats.to_dict()

    # ---- the request pipeline ---------------------------------------------------------

    def _route(self, req: Request) -> tuple[StandIn, Route] | None:
        """The stand-in and route for a request: the first stand-in with the path's prefix
        that routes it, else the first one's "not found" for its prefix."""
        parts = [p for p in req.path.split("/") if p]
        standins = self._by_prefix.get(parts[0], []) if parts else []
        for standin in standins:
            if (route := standin.route(req, parts)) is not None:
                return standin, route
        for standin in standins:
            if (route := standin.unrouted(req, parts)) is not None:
                return standin, route
        return None

    def _process(self, req: Request, standin: StandIn, route: Route) -> Response:
        """Everything after the body is read. Raises _Lost to drop the response."""
        endpoint = standin.call_name(req, route)
        recent = self._stats.call(endpoint)
        knobs = self.knobs
        delay = knobs.latency + self.dice.uniform(knobs.latency_jitter)
        if delay > 0:
            self._stopping.wait(delay)
        fault: Fault | None = None
        rate_limited = False
        try:
            if not route.token_in_query:
                self._refuse_token_in_url(req, standin, endpoint)
            fault = self.faults.take(endpoint)
            if fault is not None:
                self._stats.fired(fault.kind)
                rate_limited = fault.kind == "rate_limit"
                if fault.kind in ("rate_limit", "expired_token") or (
                    fault.kind == "error" and not fault.after_action
                ):
                    raise standin.fault_error(fault, endpoint)
                if fault.kind == "drop":  # before the work: the platform never saw it
                    self._stats.lost()
                    raise _Lost()
            elif fnmatch.fnmatchcase(endpoint, knobs.error_rate_endpoints) and self.dice.chance(
                knobs.error_rate
            ):
                self._stats.fired("random_error")
                raise standin.fault_error(Fault(endpoint, "error"), endpoint)
            who = standin.authenticate(req, route)
            response = route.handler(req, who)
        except ApiError as exc:
            response = exc.response
        if fault is not None and fault.kind in ("lose_response", "hang"):
            self._stats.lost()
            hang = 0.0
            if fault.kind == "hang":
                hang = fault.seconds if fault.seconds is not None else knobs.hang_seconds
            raise _Lost(hang)
        if fault is not None and fault.kind == "error" and fault.after_action:
            response = standin.fault_error(fault, endpoint).response
        elif (
            fault is None
            and endpoint in standin.actions
            and response.status < 300
            and self.dice.chance(knobs.lose_response_rate)
        ):
            self._stats.lost()
            raise _Lost()
        response.headers.update(standin.usage_headers(route, recent, rate_limited))
        return response

    def _refuse_token_in_url(self, req: Request, standin: StandIn, endpoint: str) -> None:
        """Tokens belong in the Authorization header: a URL ends up in logs and traces."""
        token = req.bearer
        leaked = bool(_SECRET_PARAMS & req.query.keys()) or (
            token is not None
            and len(token) >= 8
            and (token in urllib.parse.unquote(req.raw_query) or token in req.path)
        )
        if not leaked:
            return
        self._stats.violation(endpoint, "a token or secret was sent in the URL")
        raise standin.request_error(
            400,
            "(sandbox) A token or secret was sent in the URL. studio-publish must send tokens "
            "in the Authorization header (secrets in the body), so they never reach URLs, "
            "proxies or logs.",
        )

    def _log(self, line: str) -> None:
        if self.log_requests:
            out = self._log_to or sys.stderr
            print(line, file=out, flush=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # hung or slow requests never block shutdown
    allow_reuse_address = True
    request_queue_size = 1024  # 64+ clients connecting at once must not be refused
    sandbox: Sandbox


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive: benchmark clients reuse connections instead of reconnecting per call.
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "studio-publish-sandbox"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        # The default logs the request line, query string included; a leaked token would
        # land in the log. The sandbox logs method and path only, and only when asked.
        pass

    def _handle(self) -> None:
        sandbox = self.server.sandbox
        self._body_left = self._content_length()
        split = urllib.parse.urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
        req = Request(
            method=self.command,
            path=split.path,
            query=parse_query(split.query),
            headers=headers,
            host=host,
            raw_query=split.query,
        )
        started = time.monotonic()
        try:
            response = self._respond(sandbox, req)
        except _Lost as lost:
            if lost.hang > 0:
                sandbox._stopping.wait(lost.hang)
            self.close_connection = True
            sandbox._log(f"{req.method} {req.path} -> (response lost)")
            return
        except Exception as exc:  # a sandbox bug must not look like a platform answer
            text = f"{type(exc).__name__}: {exc}"
            sandbox._stats.server_error(text)
            traceback.print_exc()
            response = Response(500, {"error": {"message": f"sandbox bug: {text}", "code": 1}})
        self._send(response)
        sandbox._log(
            f"{req.method} {req.path} -> {response.status} ({time.monotonic() - started:.3f}s)"
        )

    def _respond(self, sandbox: Sandbox, req: Request) -> Response:
        control_api = req.path.startswith("/_sandbox")
        found = None if control_api else sandbox._route(req)
        standin, route = found if found is not None else (None, None)
        if route is not None and route.stream:
            req.stream_body = self._stream_body
        else:
            try:
                self._load_body(req, standin)
            except ApiError as exc:
                return exc.response
        if control_api:
            return control.handle(sandbox, req, req.path[len("/_sandbox") :])
        if standin is None or route is None:
            return Response(404, {"error": f"the sandbox does not serve {req.method} {req.path}"})
        return sandbox._process(req, standin, route)

    # ---- bodies -----------------------------------------------------------------------

    def _content_length(self) -> int:
        try:
            return max(0, int(self.headers.get("Content-Length", "0")))
        except ValueError:
            return 0

    def _load_body(self, req: Request, standin: StandIn | None) -> None:
        """Read the whole body into req.params/json_body; a body too large or unparseable
        is answered in the stand-in's error shape (the control API's without one)."""
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if not chunked and self._body_left > MAX_BODY_BYTES:
            self.close_connection = True
            raise _body_error(standin, 413, "The request body is too large for the sandbox.")
        body = self._read_chunked() if chunked else self.rfile.read(self._body_left)
        self._body_left = 0
        req.body_size = len(body)
        try:
            params, json_body = parse_body(self.headers.get("Content-Type", ""), body)
        except ValueError as exc:
            raise _body_error(standin, 400, str(exc)) from None
        req.params = {**req.query, **params}
        req.json_body = json_body

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            length = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if length == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            size += length
            if size > MAX_BODY_BYTES:
                self.close_connection = True
                raise ValueError("chunked body too large")
            parts.append(self.rfile.read(length))
            self.rfile.readline(1024)

    def _stream_body(self) -> Iterator[bytes]:
        while self._body_left > 0:
            piece = self.rfile.read(min(_PIECE, self._body_left))
            if not piece:
                self.close_connection = True  # the client went away mid-chunk
                return
            self._body_left -= len(piece)
            yield piece

    def _send(self, response: Response) -> None:
        data = response.encode()
        if 0 < self._body_left <= _DRAIN_LIMIT:
            # Answered without reading the body (a refused upload chunk). Read and drop it:
            # closing on a client still sending gets it a reset instead of our answer.
            for _ in self._stream_body():
                pass
        if self._body_left > 0:
            self.close_connection = True  # the unread bytes would pass for the next request
        try:
            self.send_response(response.status)
            if response.body is not None and not isinstance(response.body, bytes):
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _handle logs (without the query string) when log_requests is on


def _body_error(standin: StandIn | None, status: int, message: str) -> ApiError:
    if standin is None:
        return ApiError(Response(status, {"error": message}))
    return standin.request_error(status, message)


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    out: TextIO | None = None,
    log_requests: bool = False,
    stop: threading.Event | None = None,
    **knobs: Any,
) -> None:
    """Run a sandbox until Ctrl-C or SIGTERM (for ``studio-publish sandbox``), or until
    ``stop`` is set. Prints the settings that point studio-publish at it, one
    ``NAME=value`` a line. ``port=0`` picks a free port.
    """
    out = out or sys.stdout
    stop = stop or threading.Event()
    sandbox = Sandbox(host, port, log_requests=log_requests, log_to=out, **knobs)
    previous: Any = None
    on_main = threading.current_thread() is threading.main_thread()
    if on_main:

        def _on_term(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = signal.signal(signal.SIGTERM, _on_term)
    with sandbox:
        for name, value in sandbox.env().items():
            print(f"{name}={value}", file=out)
        print(f"# control API: {sandbox.url}/_sandbox/  (Ctrl-C to stop)", file=out, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if on_main:
                signal.signal(signal.SIGTERM, previous)
