"""The engine's lean HTTP/1.1 pool (engine/http_pool.py), against small servers of each test's
own on 127.0.0.1: every way a server frames a body, keep-alive and its loss, httpx's four
timeouts, and the line platforms/transport.py draws between a request that never left and
one that may have reached the platform."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from support.http_server import Reader, Server, Writer, keep_answering, reply, run

from studio_publish.engine.http_clients import HttpClients
from studio_publish.engine.http_pool import LeanTransport
from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.platforms.transport import OutcomeUnclear, send


def lean_client(
    *, max_connections: int = 8, timeout: float = 5.0, ssl_context: ssl.SSLContext | None = None
) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=8)
    context = ssl_context or ssl.create_default_context()
    return httpx.AsyncClient(timeout=timeout, transport=LeanTransport(limits, lambda: context))


# --- bodies and keep-alive ------------------------------------------------------------------


def test_requests_share_one_kept_alive_connection() -> None:
    async def scenario() -> None:
        async with Server(keep_answering(reply())) as server, lean_client() as client:
            for _ in range(3):
                response = await client.get(f"{server.url}/v1/me?fields=id")
                assert response.json() == {"id": "1"}
            assert server.connections == 1
            assert server.requests[0][0].startswith(b"GET /v1/me?fields=id HTTP/1.1\r\n")

    run(scenario())


def test_a_form_body_and_a_json_body_arrive_as_sent() -> None:
    async def scenario() -> None:
        async with Server(keep_answering(reply())) as server, lean_client() as client:
            await client.post(f"{server.url}/media", data={"caption": "a é & b", "x": "1"})
            await client.post(f"{server.url}/media", json={"caption": "ünïcode"})
        form, sent_json = server.requests
        assert b"content-type: application/x-www-form-urlencoded" in form[0].lower()
        assert form[1] == b"caption=a+%C3%A9+%26+b&x=1"
        assert json.loads(sent_json[1]) == {"caption": "ünïcode"}

    run(scenario())


def test_a_streamed_upload_arrives_whole_and_in_order() -> None:
    pieces = [bytes([n]) * 1_000_003 for n in range(7)]  # 7 MB, odd sizes

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    async def scenario() -> None:
        async with Server(keep_answering(reply())) as server, lean_client() as client:
            # Without a length httpx sends it chunked; with one, as it is.
            await client.put(f"{server.url}/upload", content=body())
            await client.put(
                f"{server.url}/upload",
                content=body(),
                headers={"Content-Length": str(sum(map(len, pieces)))},
            )
        assert [received for _, received in server.requests] == [b"".join(pieces)] * 2

    run(scenario())


def test_chunked_and_read_until_close_bodies_are_read_whole() -> None:
    payload = json.dumps({"data": [{"id": str(n)} for n in range(500)]}).encode()

    async def chunked(reader: Reader, writer: Writer, server: Server) -> None:
        while await server.read_request(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for start in range(0, len(payload), 1000):
                piece = payload[start : start + 1000]
                writer.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
            writer.write(b"0\r\nX-Trailer: yes\r\n\r\n")
            await writer.drain()

    async def until_close(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + payload)
        await writer.drain()

    async def scenario() -> None:
        async with lean_client() as client:
            async with Server(chunked) as server:
                for _ in range(2):
                    assert (await client.get(server.url)).content == payload
                assert server.connections == 1  # a chunked body ends; the connection stays
            async with Server(until_close) as server:
                for _ in range(2):
                    assert (await client.get(server.url)).content == payload
                assert server.connections == 2  # read to its close: never reused

    run(scenario())


def test_head_204_and_304_have_no_body_and_keep_the_connection() -> None:
    async def handler(reader: Reader, writer: Writer, server: Server) -> None:
        answers = iter(
            [
                # HEAD: the length of the body a GET would have; none follows.
                b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
                b"HTTP/1.1 204 No Content\r\n\r\n",
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\n\r\n",
                reply(),
            ]
        )
        while await server.read_request(reader) is not None:
            writer.write(next(answers))
            await writer.drain()

    async def scenario() -> None:
        async with Server(handler) as server, lean_client() as client:
            head = await client.head(server.url)
            assert (head.status_code, head.headers["content-length"], head.content) == (
                200,
                "5000",
                b"",
            )
            assert (await client.delete(server.url)).status_code == 204
            assert (await client.get(server.url)).status_code == 304
            assert (await client.get(server.url)).json() == {"id": "1"}
            assert server.connections == 1

    run(scenario())


def test_an_http_1_0_answer_closes_its_connection() -> None:
    async def handler(reader: Reader, writer: Writer, server: Server) -> None:
        while await server.read_request(reader) is not None:
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    async def scenario() -> None:
        async with Server(handler) as server, lean_client() as client:
            assert (await client.get(server.url)).text == "ok"
            assert (await client.get(server.url)).text == "ok"
            assert server.connections == 2

    run(scenario())


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def one_answer_then_close(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)
        writer.write(reply())  # keep-alive by default, then closed anyway
        await writer.drain()

    async def scenario() -> None:
        async with Server(one_answer_then_close) as server, lean_client() as client:
            for _ in range(3):
                assert (await client.get(server.url)).json() == {"id": "1"}
                await asyncio.sleep(0.05)  # the close reaches the client meanwhile
            assert server.connections == 3

    run(scenario())


def test_a_stream_left_unread_closes_its_connection() -> None:
    big = b"x" * 2_000_000

    async def scenario() -> None:
        async with Server(keep_answering(reply("200 OK", big))) as server, lean_client() as client:
            async with client.stream("GET", server.url) as response:
                first = await response.aiter_raw().__anext__()
                assert 0 < len(first) < len(big)
            # The rest was never read: the next request takes a new connection.
            assert (await client.get(server.url)).content == big
            assert server.connections == 2

    run(scenario())


# --- failures: never sent, or may have been sent ----------------------------------------------


def test_a_refused_connection_was_never_sent_and_names_the_host() -> None:
    async def scenario() -> None:
        async with Server(keep_answering(reply())) as server:
            url = server.url
        async with lean_client() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(url)
            with pytest.raises(PlatformError) as caught:
                await send(client, "POST", url, what="POST media", timeout=2, irreversible=True)
        assert caught.value.decision is Decision.RETRY  # never sent: safe to send again
        assert "could not connect to 127.0.0.1" in caught.value.message

    run(scenario())


def test_a_connection_closed_without_an_answer_may_have_gone_through() -> None:
    async def read_then_close(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)  # the platform got it, and the answer is lost

    async def scenario() -> None:
        async with Server(read_then_close) as server, lean_client() as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(server.url, data={"creation_id": "1"})
            with pytest.raises(OutcomeUnclear):
                await send(client, "POST", server.url, what="publish", timeout=2, irreversible=True)
            with pytest.raises(PlatformError) as read:
                await send(client, "GET", server.url, what="GET status", timeout=2)
        assert read.value.decision is Decision.RETRY
        assert "network error talking to 127.0.0.1" in read.value.message

    run(scenario())


def test_a_body_cut_short_is_an_error_not_a_short_answer() -> None:
    async def cut_short(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"id":')
        await writer.drain()

    async def scenario() -> None:
        async with Server(cut_short) as server, lean_client() as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(server.url)

    run(scenario())


@pytest.mark.parametrize(
    "answer",
    [
        b"SPDY/3 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
    ],
    ids=["not-http", "bad-status", "bad-header", "bad-length", "bad-chunk", "huge-head"],
)
def test_a_malformed_answer_is_a_protocol_error(answer: bytes) -> None:
    async def handler(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(0.5)

    async def scenario() -> None:
        async with Server(handler) as server, lean_client() as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(server.url)

    run(scenario())


def test_an_answer_slower_than_the_read_timeout_times_out() -> None:
    async def silent(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)
        await asyncio.sleep(5)

    async def scenario() -> None:
        async with Server(silent) as server, lean_client(timeout=0.2) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(server.url)

    run(scenario())


def test_a_request_waiting_for_a_connection_past_the_pool_timeout_was_never_sent() -> None:
    async def slow(reader: Reader, writer: Writer, server: Server) -> None:
        while await server.read_request(reader) is not None:
            await asyncio.sleep(0.5)
            writer.write(reply())
            await writer.drain()

    async def scenario() -> None:
        async with Server(slow) as server, lean_client(max_connections=1) as client:
            first = asyncio.create_task(client.get(server.url))
            await asyncio.sleep(0.05)
            timeout = httpx.Timeout(5.0, pool=0.1)
            with pytest.raises(httpx.PoolTimeout):
                await client.get(server.url, timeout=timeout)
            assert (await first).status_code == 200
            # Once free, the one connection serves the next request.
            assert (await client.get(server.url)).status_code == 200
            assert len(server.requests) == 2

    run(scenario())


def test_a_cancelled_request_gives_its_connection_back_to_the_pool() -> None:
    async def slow(reader: Reader, writer: Writer, server: Server) -> None:
        while await server.read_request(reader) is not None:
            await asyncio.sleep(0.3)
            writer.write(reply())
            await writer.drain()

    async def scenario() -> None:
        async with Server(slow) as server, lean_client(max_connections=1) as client:
            task = asyncio.create_task(client.get(server.url))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The one connection's slot is free again (a new connection: the old one may
            # still get the cancelled request's answer).
            response = await client.get(server.url, timeout=httpx.Timeout(5.0, pool=1.0))
            assert response.status_code == 200

    run(scenario())


# --- TLS ----------------------------------------------------------------------------------


def make_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (an address or a host name), with its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    kind = "IP" if name[0].isdigit() else "DNS"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", f"/CN={name}", "-addext", f"subjectAltName={kind}:{name}"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return make_certificate(tmp_path, "127.0.0.1")


def test_https_is_verified_against_the_context_it_is_given(
    certificate: tuple[Path, Path],
) -> None:
    key, cert = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async def scenario() -> None:
        async with Server(keep_answering(reply()), server_context) as server:
            async with lean_client(ssl_context=trusting) as client:
                assert (await client.get(server.url)).json() == {"id": "1"}
                assert (await client.get(server.url)).json() == {"id": "1"}
            assert server.connections == 1
            # The default context does not know this certificate: refused, never sent.
            async with lean_client() as client:
                with pytest.raises(httpx.ConnectError):
                    await client.get(server.url)

    run(scenario())


def test_a_pinned_address_is_verified_against_the_name_the_request_gives(tmp_path: Path) -> None:
    # The media policy connects to the address it checked and asks TLS to check the
    # certificate against the URL's host name (httpcore's "sni_hostname" extension).
    key, cert = make_certificate(tmp_path, "media.example")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async def scenario() -> None:
        server = Server(keep_answering(reply()), server_context)
        async with server, lean_client(ssl_context=trusting) as client:
            pinned = await client.get(
                server.url,
                headers={"Host": "media.example"},
                extensions={"sni_hostname": "media.example"},
            )
            assert pinned.json() == {"id": "1"}
            with pytest.raises(httpx.ConnectError):  # the address is not the certificate's
                await client.get(server.url)

    run(scenario())


def test_a_body_is_read_from_the_socket_no_faster_than_it_is_consumed() -> None:
    size = 64 * 1024 * 1024
    sent = [0]

    async def firehose(reader: Reader, writer: Writer, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        piece = b"x" * 65536
        while sent[0] < size:
            writer.write(piece)
            await writer.drain()  # blocks while the client's socket buffers are full
            sent[0] += len(piece)

    async def scenario() -> None:
        server = Server(firehose)
        async with server, lean_client() as client, client.stream("GET", server.url) as response:
            chunks = response.aiter_raw()  # held: a dropped iterator would close the stream
            await chunks.__anext__()
            await asyncio.sleep(0.5)  # a slow reader (an upload of the chunk read)
            # The kernel's buffers and the pool's read-ahead hold a few megabytes; the
            # server could not send the other tens of megabytes nobody read.
            assert sent[0] < size // 2
            await chunks.aclose()

    run(scenario())


# --- the run's client --------------------------------------------------------------------


@pytest.mark.usefixtures("no_proxy")
def test_the_runs_client_is_lean_unless_a_proxy_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(HttpClients(64, 5).next()._transport, LeanTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    client = HttpClients(64, 5).next()
    assert not isinstance(client._transport, LeanTransport)  # httpx's pool speaks to proxies


@pytest.mark.usefixtures("no_proxy")
def test_the_runs_client_sends_straight_to_its_transport_with_httpxs_semantics() -> None:

    async def handler(reader: Reader, writer: Writer, server: Server) -> None:
        while (request := await server.read_request(reader)) is not None:
            if request[0].startswith(b"GET /slow"):
                await asyncio.sleep(1)
            if request[0].startswith(b"GET /moved"):
                writer.write(reply("302 Found", b"", "Location: /v1/me"))
            else:
                writer.write(reply())
            await writer.drain()

    async def scenario() -> None:
        async with Server(handler) as server, HttpClients(4, 5) as clients:
            client = clients.next()
            response = await client.post(
                f"{server.url}/v1/media", params={"a": "b c"}, data={"x": "1"}, headers={"X-T": "1"}
            )
            assert response.json() == {"id": "1"} and response.request.url.params["a"] == "b c"
            head = server.requests[-1][0].lower()
            assert head.startswith(b"post /v1/media?a=b+c http/1.1")
            for line in (b"x-t: 1", b"user-agent: studio-publish", b"accept: */*", b"host: 127"):
                assert line in head
            assert server.requests[-1][1] == b"x=1"
            # A call's own timeout, then the client's, are the read timeouts that apply.
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"{server.url}/slow", timeout=0.2)
            # Anything the short path does not take goes httpx's own way (here: redirects).
            followed = await client.get(f"{server.url}/moved", follow_redirects=True)
            assert followed.status_code == 200 and followed.url.path == "/v1/me"
            assert server.connections == 2  # the timed-out connection was not reused

    run(scenario())


@pytest.mark.usefixtures("no_proxy")
def test_the_runs_client_lets_each_post_in_flight_have_a_second_call() -> None:
    """A post's first call may have a once-per-account read beside it (Instagram's quota):
    with every post in flight doing so, none of those calls waits for a connection."""
    concurrency = 40
    calls = 2 * concurrency
    in_flight, most = 0, 0
    everyone_here = asyncio.Event()

    async def handler(reader: Reader, writer: Writer, server: Server) -> None:
        nonlocal in_flight, most
        while await server.read_request(reader) is not None:
            in_flight += 1
            most = max(most, in_flight)
            if in_flight == calls:
                everyone_here.set()
            with contextlib.suppress(TimeoutError):  # a call short of a connection: no hang
                await asyncio.wait_for(everyone_here.wait(), 2)
            in_flight -= 1
            writer.write(reply())
            await writer.drain()

    async def scenario() -> None:
        async with Server(handler) as server, HttpClients(concurrency, 10) as clients:
            client = clients.next()
            await asyncio.gather(*(client.get(f"{server.url}/v1/{i}") for i in range(calls)))

    run(scenario())
    assert most == calls
