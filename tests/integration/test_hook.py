"""The cron hook over a real socket: only the right bearer secret runs `run-due`."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from support.engine import Conn, add_account, add_post, post
from support.fakes import FakePlatform

from studio_publish.hook import handler, hook_settings, make_handler
from studio_publish.settings import Settings

SECRET = "cron-secret-7f3a9c1e5b2d4f60"
Serve = Callable[..., str]


@pytest.fixture
def fake(tmp_path: Path) -> FakePlatform:
    return FakePlatform("instagram", tmp_path / "ledger.txt")


@pytest.fixture
def hook_url(
    db_url: str, clean_env: None, monkeypatch: pytest.MonkeyPatch, fake: FakePlatform
) -> Iterator[str]:
    """The hook served on a free local port, publishing through the fake platform."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CRON_SECRET", SECRET)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(platforms={"instagram": fake}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/cron"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def runs(conn: Conn) -> int:
    row = conn.execute("SELECT count(*) AS n FROM studio_publish_runs").fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize(
    ("method", "scheme"), [("GET", "Bearer"), ("POST", "Bearer"), ("GET", "bearer")]
)
def test_the_right_secret_runs_one_run_due(
    hook_url: str,
    conn: Conn,
    fake: FakePlatform,
    method: str,
    scheme: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    due = add_post(conn, add_account(conn))

    # The scheme is case-insensitive (RFC 9110): "bearer" is "Bearer".
    response = httpx.request(
        method, hook_url, headers={"Authorization": f"{scheme} {SECRET}"}, timeout=30
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    summary = response.json()
    assert summary["command"] == "run-due"
    assert summary["outcome"] == "ok"
    assert summary["posted"] == 1
    assert [p["post_id"] for p in summary["posts"]] == [due]
    assert post(conn, due)["status"] == "posted"
    assert fake.live() == [due]
    assert runs(conn) == 1
    logs = capfd.readouterr()
    assert SECRET not in response.text + logs.out + logs.err


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-the-secret"},
        {"Authorization": f"Bearer {SECRET}x"},
        {"Authorization": SECRET},  # without the scheme
        {"Authorization": f"Basic {SECRET}"},
        {},  # no header at all
    ],
    ids=["wrong", "longer", "no-scheme", "basic", "missing"],
)
def test_anything_but_the_secret_is_refused_and_runs_nothing(
    hook_url: str,
    conn: Conn,
    fake: FakePlatform,
    headers: dict[str, str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    due = add_post(conn, add_account(conn))

    response = httpx.get(hook_url, headers=headers, timeout=30)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "unauthorised" in response.json()["error"]
    assert runs(conn) == 0
    assert post(conn, due)["status"] == "scheduled"
    assert not fake.calls
    logs = capfd.readouterr()
    assert SECRET not in response.text + logs.out + logs.err


def test_without_cron_secret_every_request_is_refused(
    hook_url: str, conn: Conn, fake: FakePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_post(conn, add_account(conn))
    monkeypatch.setenv("CRON_SECRET", "")

    for headers in ({"Authorization": "Bearer"}, {"Authorization": f"Bearer {SECRET}"}, {}):
        response = httpx.get(hook_url, headers=headers, timeout=30)
        assert response.status_code == 500
        assert "CRON_SECRET is not set" in response.json()["error"]
    assert runs(conn) == 0
    assert not fake.calls


def test_bad_configuration_is_a_500_without_detail(
    hook_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_PUBLISH_CONCURRENCY", "lots")

    response = httpx.get(hook_url, headers={"Authorization": f"Bearer {SECRET}"}, timeout=30)

    assert response.status_code == 500
    assert "misconfigured" in response.json()["error"]
    assert runs(conn) == 0


def test_an_unreachable_database_is_a_503(hook_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nothing")

    response = httpx.get(hook_url, headers={"Authorization": f"Bearer {SECRET}"}, timeout=30)

    assert response.status_code == 503
    assert "cannot reach" in response.json()["error"]


def test_an_unmigrated_database_is_a_503(
    hook_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn.execute("DELETE FROM studio_publish_migrations WHERE version = 2")

    response = httpx.get(hook_url, headers={"Authorization": f"Bearer {SECRET}"}, timeout=30)

    assert response.status_code == 503
    assert "db migrate" in response.json()["error"]
    assert runs(conn) == 0


def test_the_run_fits_in_the_time_limit() -> None:
    settings = Settings(hook_time_limit_seconds=40, run_budget_seconds=50)

    fitted = hook_settings(settings)

    # Waits on processing end with the run's budget (posts still processing are handed
    # back to the next run), so the budget is all there is to fit.
    assert fitted.run_budget_seconds == 20
    generous = hook_settings(Settings(hook_time_limit_seconds=800, run_budget_seconds=50))
    assert generous.run_budget_seconds == 50


# --- a client that never finishes its request ----------------------------------------------
# A plain HTTPServer serves one connection at a time: the handler's own limits are all that
# stands between one stalled client and every later request. They are cut short here.
PER_READ = 0.5  # seconds
WHOLE_REQUEST = 1.5  # seconds
NO_HANG = 20  # seconds: only a bound proving that nothing waited forever


class ReplacesHandleOneRequest(BaseHTTPRequestHandler):
    """Like Vercel's runtime, which serves ``class Handler(BaseHandler, handler)``: its own
    handle_one_request (which lets a timeout escape) comes before the hook's."""

    def handle_one_request(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        getattr(self, "do_" + self.command)()
        self.wfile.flush()


@contextmanager
def serving_alone(handler_class: type[BaseHTTPRequestHandler]) -> Iterator[tuple[str, int]]:
    server = HTTPServer(("127.0.0.1", 0), handler_class)
    server.handle_error = lambda *args: None  # type: ignore[method-assign]  # an escaped timeout
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def quick_hook(monkeypatch: pytest.MonkeyPatch) -> type[BaseHTTPRequestHandler]:
    """The hook's handler with its limits cut short. No database: a request without the
    secret is answered 401 before anything else."""
    monkeypatch.setenv("CRON_SECRET", SECRET)
    handler_class = make_handler()
    monkeypatch.setattr(handler_class, "timeout", PER_READ)
    monkeypatch.setattr(handler_class, "request_time_limit", WHOLE_REQUEST)
    return handler_class


@pytest.fixture(params=["plain", "vercel-like"])
def single_server(
    request: pytest.FixtureRequest, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, int]]:
    """(host, port) of the hook under a single-threaded HTTPServer, as it is and as Vercel's
    runtime mixes it in."""
    handler_class = quick_hook(monkeypatch)
    if request.param == "vercel-like":
        handler_class = type("Handler", (ReplacesHandleOneRequest, handler_class), {})
    with serving_alone(handler_class) as address:
        yield address


@pytest.fixture
def plain_server(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    with serving_alone(quick_hook(monkeypatch)) as address:
        yield address


def answered(host: str, port: int) -> httpx.Response:
    """A complete request without the secret, sent from a thread; its answer."""
    answers: list[httpx.Response | BaseException] = []

    def ask() -> None:
        try:
            answers.append(httpx.get(f"http://{host}:{port}/api/cron", timeout=NO_HANG))
        except BaseException as exc:
            answers.append(exc)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(NO_HANG + 5)
    assert answers, "the second request was never answered: the server hung"
    [answer] = answers
    assert isinstance(answer, httpx.Response), answer
    return answer


def dropped(stalled: socket.socket) -> bool:
    """Whether the server closed this connection (without an answer)."""
    stalled.settimeout(NO_HANG)
    try:
        return stalled.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_the_hook_has_socket_limits_whatever_serves_it() -> None:
    assert handler.timeout is not None and 0 < handler.timeout <= 30
    limit = getattr(handler, "request_time_limit", None)
    assert limit is not None and 0 < limit <= 60
    assert 0 < getattr(handler, "max_body_bytes", 0) <= 1024 * 1024


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /api/cr",  # half a request line
        b"GET /api/cron HTTP/1.1\r\nHost: x\r\nAuthori",  # half the headers
        b"POST /api/cron HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b",
    ],
    ids=["request-line", "headers", "body"],
)
def test_a_silent_client_does_not_stall_a_single_threaded_server(
    single_server: tuple[str, int], partial: bytes
) -> None:
    host, port = single_server
    with socket.create_connection((host, port)) as silent:
        silent.sendall(partial)  # ... and nothing more, connection held open

        answer = answered(host, port)

        assert answer.status_code == 401
        assert dropped(silent)


def test_a_client_sending_a_byte_now_and_then_is_cut_off(single_server: tuple[str, int]) -> None:
    """Each byte comes well within the per-read timeout; the request as a whole never does."""
    host, port = single_server
    cut_off = threading.Event()

    def trickle(conn: socket.socket) -> None:
        try:
            conn.sendall(b"GET /api/cron HTTP/1.1\r\nX-Slow: ")
            for _ in range(300):  # 30 s if nothing cuts it off
                time.sleep(PER_READ / 5)
                conn.sendall(b"a")
        except OSError:  # the server closed the connection
            cut_off.set()

    with socket.create_connection((host, port)) as slow:
        thread = threading.Thread(target=trickle, args=(slow,), daemon=True)
        thread.start()
        time.sleep(PER_READ)  # the server is busy with the trickle by now

        answer = answered(host, port)

        assert answer.status_code == 401
        thread.join(NO_HANG)
        assert cut_off.is_set()


def raw_request(url: str, request: bytes) -> bytes:
    """Send bytes as they are; everything the server answers before it closes."""
    parts = httpx.URL(url)
    with socket.create_connection((parts.host, parts.port or 80), timeout=30) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def test_a_large_body_is_refused_unread_and_runs_nothing(
    hook_url: str, conn: Conn, fake: FakePlatform
) -> None:
    add_post(conn, add_account(conn))
    request = (
        f"POST /api/cron HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\r\n"
        "Content-Length: 1000000000\r\n\r\n"
    ).encode()

    answer = raw_request(hook_url, request + b"x" * 1000)  # a gigabyte promised, not sent

    assert answer.startswith(b"HTTP/1.0 413 "), answer[:200]
    assert runs(conn) == 0
    assert not fake.calls


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ("Transfer-Encoding: chunked\r\n", b"411"),
        ("Content-Length: lots\r\n", b"400"),
        ("Content-Length: -1\r\n", b"400"),
        ("Content-Length: 5\r\nContent-Length: 6\r\n", b"400"),
        ("Content-Length: " + "9" * 5000 + "\r\n", b"400"),
    ],
    ids=["chunked", "words", "negative", "two-lengths", "huge-number"],
)
def test_a_body_of_unknown_size_is_refused_and_runs_nothing(
    hook_url: str, conn: Conn, fake: FakePlatform, headers: str, status: bytes
) -> None:
    add_post(conn, add_account(conn))
    request = (
        f"POST /api/cron HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\r\n{headers}\r\n"
    ).encode()

    answer = raw_request(hook_url, request)

    assert answer.startswith(b"HTTP/1.0 " + status + b" "), answer[:200]
    assert runs(conn) == 0
    assert not fake.calls


def test_a_small_body_is_read_and_ignored(hook_url: str, conn: Conn) -> None:
    add_post(conn, add_account(conn))

    response = httpx.post(
        hook_url, headers={"Authorization": f"Bearer {SECRET}"}, content=b"{}" * 1000, timeout=30
    )

    assert response.status_code == 200, response.text
    assert response.json()["command"] == "run-due"
    assert runs(conn) == 1


@pytest.mark.parametrize(
    "request_line", [b"garbage", b"GET", b"GET / HTTP/9", b"GET /" + b"x" * 70000 + b" HTTP/1.1"]
)
def test_a_malformed_request_is_answered(
    plain_server: tuple[str, int], request_line: bytes
) -> None:
    host, port = plain_server

    answer = raw_request(f"http://{host}:{port}/", request_line + b"\r\n\r\n")

    # 400, 414 or 505 (without a status line to an HTTP/0.9-looking request); never nothing
    assert b"Error code: 4" in answer or b"Error code: 5" in answer, answer[:200]
