"""The sandbox's HTTP/1.1 layer (sandbox/http11.py and server.py's connection handling), seen
from a raw socket: keep-alive, what an answer carries, and how it treats what is not a
request it serves."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from studio_publish.sandbox import Sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def exchange(sock: socket.socket, raw: bytes) -> bytes:
    """Send ``raw``; read one answer (its head, then Content-Length bytes)."""
    sock.sendall(raw)
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            return data
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def connect(sandbox: Sandbox) -> socket.socket:
    return socket.create_connection(("127.0.0.1", sandbox.port), timeout=5)


def test_one_connection_serves_requests_in_turn(sandbox: Sandbox) -> None:
    with connect(sandbox) as sock:
        for _ in range(3):
            answer = exchange(sock, b"GET /_sandbox/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"Content-Type: application/json; charset=UTF-8" in answer
            assert b"Connection: close" not in answer
            assert b'"ok":true' in answer


def test_a_request_asking_to_close_is_answered_then_closed(sandbox: Sandbox) -> None:
    with connect(sandbox) as sock:
        answer = exchange(sock, b"GET /_sandbox/health HTTP/1.0\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in answer
        assert sock.recv(10) == b""  # HTTP/1.0 without keep-alive: closed
    with connect(sandbox) as sock:
        answer = exchange(sock, b"GET /_sandbox/health HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert b"Connection: close" in answer and sock.recv(10) == b""


def test_expect_100_continue_is_answered_before_the_body(sandbox: Sandbox) -> None:
    body = b'{"latency": 0}'
    with connect(sandbox) as sock:
        sock.sendall(
            b"POST /_sandbox/knobs HTTP/1.1\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        answer = exchange(sock, b"")
        assert answer.startswith(b"HTTP/1.1 200 OK")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"HEAD /_sandbox/health HTTP/1.1\r\n\r\n", b"501"),
        (b"BREW /coffee HTTP/1.1\r\n\r\n", b"501"),
        (b"this is not http\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", b"400"),
    ],
    ids=["head", "unknown-method", "not-http", "bad-header"],
)
def test_what_the_sandbox_does_not_serve_is_refused_and_closed(
    sandbox: Sandbox, raw: bytes, status: bytes
) -> None:
    with connect(sandbox) as sock:
        answer = exchange(sock, raw)
        assert answer.startswith(b"HTTP/1.1 " + status)
        assert b"Connection: close" in answer and sock.recv(10) == b""


def test_a_bad_chunked_body_is_refused_in_the_standins_shape(sandbox: Sandbox) -> None:
    with connect(sandbox) as sock:
        answer = exchange(
            sock,
            b"POST /graph/v25.0/17841400000000001/media HTTP/1.1\r\n"
            b"Authorization: Bearer sample-token-abc123\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 400") and b'"error"' in answer


def test_stopping_closes_a_connection_waiting_on_a_hung_answer(sandbox: Sandbox) -> None:
    sandbox.lose_response("*", hang=30)
    sock = connect(sandbox)
    sock.sendall(
        b"GET /graph/v25.0/17841400000000001?fields=id HTTP/1.1\r\n"
        b"Authorization: Bearer sample-token-abc123\r\n\r\n"
    )
    deadline = time.monotonic() + 5
    while sandbox.stats()["lost_responses"] == 0:  # the call was made, its answer withheld
        assert time.monotonic() < deadline
        time.sleep(0.01)
    started = time.monotonic()
    sandbox.stop()
    assert sock.recv(10) == b""  # closed at once, not after 30 s
    assert time.monotonic() - started < 5
    sock.close()


def test_stopping_ends_an_upload_whose_body_stopped_coming(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TikTok chunk whose sender went quiet mid-body: its worker thread waits for the
    socket, read by the server's loop. Stopping must end it, or the process hangs at exit:
    it did, at the end of a test run, its worker waiting on a read that the loop, stopping,
    never ran. Here every read after the first is such a read."""
    run_threadsafe = asyncio.run_coroutine_threadsafe
    reads = 0
    never_run: list[Any] = []

    def never_run_after_the_first(coro: Any, loop: Any) -> Any:
        nonlocal reads
        if getattr(coro, "__qualname__", "") != "StreamReader.read":
            return run_threadsafe(coro, loop)
        reads += 1
        if reads == 1:
            return run_threadsafe(coro, loop)
        never_run.append(coro)
        return concurrent.futures.Future()  # the loop never runs it

    monkeypatch.setattr(asyncio, "run_coroutine_threadsafe", never_run_after_the_first)
    init = httpx.post(
        f"{sandbox.tiktok_base}/v2/post/publish/inbox/video/init/",
        headers={"Authorization": "Bearer sample-token-abc123"},
        json={
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": 1000,
                "chunk_size": 1000,
                "total_chunk_count": 1,
            }
        },
        timeout=5,
    )
    assert init.status_code == 200, init.text
    upload = httpx.URL(init.json()["data"]["upload_url"])
    sock = connect(sandbox)
    sock.sendall(
        f"PUT {upload.raw_path.decode()} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: video/mp4\r\nContent-Range: bytes 0-999/1000\r\n"
        "Content-Length: 1000\r\n\r\n".encode()
        + b"\0" * 10  # and then nothing more
    )

    def uploads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("sandbox-upload")]

    deadline = time.monotonic() + 5
    while reads < 2:  # the worker waits on the read never run
        assert time.monotonic() < deadline
        time.sleep(0.01)
    sandbox.stop()
    for thread in uploads():
        thread.join(timeout=5)
        assert not thread.is_alive(), "an upload worker outlived the sandbox"
    # The read it gave up on is closed, not left to warn "never awaited" at exit.
    assert [inspect.getcoroutinestate(c) for c in never_run] == [inspect.CORO_CLOSED]
    sock.close()
