"""The sandbox HTTP server: one asyncio server (http11.py) serving every platform stand-in.

URL layout (``url`` is ``http://HOST:PORT``)::

    {url}/{prefix}/...      the stand-ins declaring that prefix (``standins/``, one module
                            a platform; each module's docstring lists its URLs)
    {url}/_sandbox/...      control API (ledger, knobs, faults, accounts, reset)

``env()`` gathers the settings that point studio-publish at them: each stand-in's
``env(url)``, STUDIO_PUBLISH_{NAME}_API_BASE for each of its ``bases``.

Every platform call goes through the same pipeline: count it, wait the latency, refuse
a token in the URL, apply a queued fault or the random error rate, check the token, run
the handler, then maybe drop the response ("lost") after the work is done. What differs
by platform (routes, token checks, error shapes, usage headers) is the stand-in's.

Handlers run on the server's event loop: they are quick, pure bookkeeping. A route that
reads its body as a stream (an upload of up to gigabytes) runs in a worker thread of its
own, reading the socket a megabyte at a time through the loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import inspect
import signal
import sys
import threading
import time
import traceback
import urllib.parse
from collections import Counter, deque
from collections.abc import Coroutine, Iterable, Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from types import FrameType, TracebackType
from typing import Any, ClassVar, TextIO

from studio_publish.sandbox import control
from studio_publish.sandbox.http11 import (
    BadRequest,
    Head,
    ThreadedServer,
    encode_response,
    read_chunked,
    read_head,
)
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
_STOP_CHECK = 0.2  # how often a worker waiting on an upload's body looks whether we stop
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
        self._server: ThreadedServer | None = None
        # Streamed uploads run here, one thread each, as each had its own connection thread.
        self._uploads: ThreadPoolExecutor | None = None
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
        self._uploads = ThreadPoolExecutor(max_workers=64, thread_name_prefix="sandbox-upload")
        server = ThreadedServer(self._host, self._port, self._connection)
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes the latency waits and hung answers of uploads
        server.stop()  # closes every connection, a hung answer's included
        if self._uploads is not None:
            self._uploads.shutdown(wait=False, cancel_futures=True)
            self._uploads = None

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
        return int(self._server.address[1])

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

    def _call_started(self, req: Request, standin: StandIn, route: Route) -> _Call:
        """A platform call arrived (its body read, or about to be streamed): count it and
        draw its latency. The caller waits the latency, then calls _answer."""
        endpoint = standin.call_name(req, route)
        recent = self._stats.call(endpoint)
        knobs = self.knobs
        delay = knobs.latency + self.dice.uniform(knobs.latency_jitter)
        return _Call(endpoint, recent, delay)

    def _answer(self, req: Request, standin: StandIn, route: Route, call: _Call) -> Response:
        """Everything after the latency. Raises _Lost to drop the response."""
        endpoint, recent, knobs = call.endpoint, call.recent, self.knobs
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

    # ---- connections (http11.py) ------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client's connection: its requests in turn, until either side closes it."""
        while True:
            try:
                head = await read_head(reader)
            except BadRequest as exc:
                self._write(writer, Response(400, {"error": str(exc)}), close=True)
                return
            if head is None:
                return
            try:
                keep_open = await self._exchange(head, reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                return  # the client went away mid-request
            if not keep_open:
                return
            await writer.drain()

    async def _exchange(
        self, head: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """One request and its answer; whether the connection stays open."""
        if head.headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        split = urllib.parse.urlsplit(head.target)
        assert self._server is not None
        host = head.headers.get("host") or "{}:{}".format(*self._server.address)
        req = Request(
            method=head.method,
            path=split.path,
            query=parse_query(split.query),
            headers=head.headers,
            host=host,
            raw_query=split.query,
        )
        body = _Body(0 if head.chunked else head.content_length, head.chunked)
        started = time.monotonic()  # the request is here: its latency counts from now
        try:
            if head.method not in _METHODS:
                body.close = True
                response = Response(501, {"error": f"the sandbox does not serve {req.method}"})
            else:
                response = await self._respond(req, reader, body, started)
        except _Lost as lost:
            if lost.hang > 0:
                await asyncio.sleep(lost.hang)
            self._log(f"{req.method} {req.path} -> (response lost)")
            return False
        except (ConnectionError, asyncio.IncompleteReadError):
            raise
        except Exception as exc:  # a sandbox bug must not look like a platform answer
            text = f"{type(exc).__name__}: {exc}"
            self._stats.server_error(text)
            traceback.print_exc()
            response = Response(500, {"error": {"message": f"sandbox bug: {text}", "code": 1}})
        if 0 < body.left <= _DRAIN_LIMIT:
            # Answered without reading the body (a refused upload chunk). Read and drop it:
            # closing on a client still sending gets it a reset instead of our answer.
            await body.drain(reader)
        close = body.close or body.left > 0 or not head.keep_alive
        self._write(writer, response, close=close)
        self._log(
            f"{req.method} {req.path} -> {response.status} ({time.monotonic() - started:.3f}s)"
        )
        return not close

    async def _respond(
        self, req: Request, reader: asyncio.StreamReader, body: _Body, arrived: float
    ) -> Response:
        control_api = req.path.startswith("/_sandbox")
        found = None if control_api else self._route(req)
        standin, route = found if found is not None else (None, None)
        if standin is not None and route is not None and route.stream:
            return await self._streamed(req, standin, route, reader, body)
        try:
            await self._load_body(req, reader, body, standin)
        except ApiError as exc:
            return exc.response
        if control_api:
            return control.handle(self, req, req.path[len("/_sandbox") :])
        if standin is None or route is None:
            return Response(404, {"error": f"the sandbox does not serve {req.method} {req.path}"})
        call = self._call_started(req, standin, route)
        if call.delay > 0:  # the knob's latency from the request's arrival, body read included
            await asyncio.sleep(max(0.0, arrived + call.delay - time.monotonic()))
        return self._answer(req, standin, route, call)

    async def _streamed(
        self,
        req: Request,
        standin: StandIn,
        route: Route,
        reader: asyncio.StreamReader,
        body: _Body,
    ) -> Response:
        """A route that reads its own body (an upload): run in a worker thread, which
        reads the socket through the loop a piece at a time, never holding the body."""
        loop = asyncio.get_running_loop()

        def stream_body() -> Iterator[bytes]:
            while body.left > 0:
                piece = self._read_from_loop(reader.read(min(_PIECE, body.left)), loop)
                if not piece:
                    body.close = True  # the client went away mid-chunk
                    return
                body.left -= len(piece)
                yield piece

        def answer() -> Response:
            call = self._call_started(req, standin, route)
            if call.delay > 0:
                self._stopping.wait(call.delay)
            return self._answer(req, standin, route, call)

        req.stream_body = stream_body
        return await loop.run_in_executor(self._uploads, answer)

    def _read_from_loop(
        self, read: Coroutine[Any, Any, bytes], loop: asyncio.AbstractEventLoop
    ) -> bytes:
        """A piece of an upload's body, read by the server's loop for a worker thread; b""
        once the sandbox stops. The worker looks every _STOP_CHECK seconds: a read the
        stopping loop never ran would leave it waiting for ever, and the process, which
        waits for its worker threads, would never exit."""
        try:
            future = asyncio.run_coroutine_threadsafe(read, loop)
        except RuntimeError:  # the loop is closed
            read.close()
            return b""
        while True:
            try:
                return future.result(timeout=_STOP_CHECK)
            except FutureTimeout:
                if self._stopping.is_set():
                    future.cancel()
                    if inspect.getcoroutinestate(read) == inspect.CORO_CREATED:
                        read.close()  # never started: no "never awaited" warning at exit
                    return b""
            except CancelledError:  # the loop cancelled it on its way down
                return b""

    async def _load_body(
        self, req: Request, reader: asyncio.StreamReader, body: _Body, standin: StandIn | None
    ) -> None:
        """Read the whole body into req.params/json_body; a body too large or unparseable
        is answered in the stand-in's error shape (the control API's without one)."""
        if body.chunked:
            try:
                data = await read_chunked(reader, MAX_BODY_BYTES)
            except BadRequest as exc:
                body.close = True
                status = 413 if "too large" in str(exc) else 400
                raise _body_error(standin, status, str(exc)) from None
        elif body.left > MAX_BODY_BYTES:
            body.close = True
            raise _body_error(standin, 413, "The request body is too large for the sandbox.")
        else:
            data = await reader.readexactly(body.left)
        body.left = 0
        req.body_size = len(data)
        try:
            params, json_body = parse_body(req.headers.get("content-type", ""), data)
        except ValueError as exc:
            raise _body_error(standin, 400, str(exc)) from None
        req.params = {**req.query, **params}
        req.json_body = json_body

    @staticmethod
    def _write(writer: asyncio.StreamWriter, response: Response, *, close: bool) -> None:
        headers = {}
        if response.body is not None and not isinstance(response.body, bytes):
            headers["Content-Type"] = "application/json; charset=UTF-8"
        headers.update(response.headers)
        writer.write(
            encode_response(
                response.status, headers, response.encode(), close=close, server=_SERVER_NAME
            )
        )


_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})
_SERVER_NAME = "studio-publish-sandbox"


@dataclasses.dataclass(frozen=True)
class _Call:
    """A platform call under way: its endpoint name, the calls in the last minute (for
    the usage headers), and the latency drawn for it."""

    endpoint: str
    recent: int
    delay: float


@dataclasses.dataclass
class _Body:
    """What is left of a request's body on the connection, and whether the connection must
    close after the answer (the body was cut short or too large to read)."""

    left: int
    chunked: bool
    close: bool = False

    async def drain(self, reader: asyncio.StreamReader) -> None:
        while self.left > 0:
            piece = await reader.read(min(_PIECE, self.left))
            if not piece:
                self.close = True
                return
            self.left -= len(piece)


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
        print(f"# control API: {sandbox.url}/_sandbox/  (Ctrl-C to stop)", file=out)
        # Its sample media is on this host, which the media policy refuses unless allowed.
        media_host = urllib.parse.urlsplit(sandbox.url).hostname
        print(
            f"# to schedule its media ({sandbox.url}/_sandbox/media/photo.jpg), also "
            f"STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS={media_host}",
            file=out,
            flush=True,
        )
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if on_main:
                signal.signal(signal.SIGTERM, previous)
