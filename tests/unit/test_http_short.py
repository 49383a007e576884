"""The short path of a plain platform call (engine/http_short.py): it sends exactly the bytes
httpx would, takes only what it can send so, and refuses a header that would smuggle
another one in."""

from __future__ import annotations

import gzip
import json
import string

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpx import HTTPXMock
from support.http_server import Reader, Server, Writer, keep_answering, reply, run

from studio_publish.engine.http_clients import HttpClients
from studio_publish.engine.http_pool import LeanTransport
from studio_publish.engine.http_short import ShortResponse, short_request
from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.platforms.transport import send

pytestmark = pytest.mark.usefixtures("no_proxy")  # the short path is the lean client's


HEADERS = {"Accept": "*/*", "User-Agent": "studio-publish", "Authorization": "Bearer t0k3n"}

# What a platform call is made of: ids and API versions in the path, any text in fields.
segment = st.text(string.ascii_letters + string.digits + "_.:~-", min_size=1, max_size=20)
path = st.lists(segment, max_size=4).map(lambda parts: "/" + "/".join(parts))
field_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
fields = st.dictionaries(field_text, field_text | st.integers(-(10**12), 10**12), max_size=5)


def _nested(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(inner, max_size=3) | st.dictionaries(field_text, inner, max_size=3)


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | field_text, _nested, max_leaves=8
)
# Any of them, or several: httpx takes content, then non-empty data, then json.
body = st.fixed_dictionaries(
    {}, optional={"data": fields, "json": json_value, "content": st.binary(max_size=40)}
)
host = st.sampled_from(["127.0.0.1", "graph.facebook.com", "open.tiktokapis.com", "localhost"])
port = st.sampled_from(["", ":80", ":443", ":8080", ":65535"])


def httpx_sends(
    method: str, url: str, headers: dict[str, str], content: dict[str, object]
) -> httpx.Request:
    return httpx.Request(method, url, headers=headers, **content)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    scheme=st.sampled_from(["http", "https"]),
    host=host,
    port=port,
    path=path,
    query=st.none() | st.text(string.ascii_letters + string.digits + "=&%-", max_size=12),
    params=st.none() | fields,
    body=body,
)
def test_a_plain_call_is_sent_byte_for_byte_as_httpx_would_send_it(
    method: str,
    scheme: str,
    host: str,
    port: str,
    path: str,
    query: str | None,
    params: dict[str, object] | None,
    body: dict[str, object],
) -> None:
    url = f"{scheme}://{host}{port}{path}" + ("" if query is None else f"?{query}")
    content = {**body, **({"params": params} if params is not None else {})}
    short = short_request(method, url, HEADERS, content)
    if "/." in path or (query is not None and params is not None) or "%" in (query or ""):
        # httpx normalises dot segments, merges a query with params (or drops it for
        # empty ones), and re-quotes a "%" that starts no escape: its own way, or the same.
        if short is not None:
            assert short.target == httpx_sends(method, url, HEADERS, content).url.raw_path
        return
    assert short is not None, url
    expected = httpx_sends(method, url, HEADERS, content)
    assert short.target == expected.url.raw_path
    assert short.headers == expected.headers.raw
    assert short.content == expected.read()
    scheme_b, host_b, port_n, _ = short.origin
    assert (scheme_b, host_b) == (expected.url.raw_scheme, expected.url.raw_host)
    assert port_n == (expected.url.port or (443 if scheme == "https" else 80))


@settings(max_examples=500, deadline=None)
@given(
    url=st.text(max_size=60)
    | st.from_regex(
        r"https?://[a-zA-Z0-9.-]{1,15}(:[0-9]{0,6})?(/[\x20-\x7e]{0,30})?", fullmatch=True
    )
)
def test_any_other_url_goes_httpxs_way_or_is_sent_as_httpx_would(url: str) -> None:
    short = short_request("GET", url, HEADERS, {})
    if short is None:
        return  # httpx builds it, or refuses it with its own error, as before
    expected = httpx_sends("GET", url, HEADERS, {})
    assert short.target == expected.url.raw_path
    assert short.headers == expected.headers.raw


@pytest.mark.parametrize(
    ("url", "content", "headers"),
    [
        ("http://127.0.0.1/a b", {}, {}),  # httpx quotes the space
        ("http://Graph.Facebook.com/me", {}, {}),  # and lower-cases the host
        ("http://[::1]:80/me", {}, {}),
        ("http://127.0.0.1/me#part", {}, {}),
        ("http://127.0.0.1/v1/../me", {}, {}),
        ("http://127.0.0.1:99999/me", {}, {}),
        ("http://127.0.0.1/me?fields=id", {"params": {"limit": 1}}, {}),  # httpx merges them
        ("http://127.0.0.1/me?fields=id", {"params": {}}, {}),  # and drops it for no params
        ("http://127.0.0.1/me", {"params": {"on": True}}, {}),  # httpx writes "true"
        ("http://127.0.0.1/me", {"data": {"n": 1.5}}, {}),
        ("http://127.0.0.1/me", {"json": {"x": float("nan")}}, {}),  # httpx refuses it
        ("http://127.0.0.1/me", {"content": iter([b"x"])}, {}),
        ("http://127.0.0.1/me", {}, {"Host": "elsewhere"}),
        ("http://127.0.0.1/me", {}, {"X-Name": "é"}),  # httpx refuses non-ASCII headers
    ],
)
def test_what_is_not_plain_goes_httpxs_way(
    url: str, content: dict[str, object], headers: dict[str, str]
) -> None:
    assert short_request("GET", url, {**HEADERS, **headers}, content) is None


def test_the_runs_client_sends_plain_calls_the_short_way_with_httpxs_bytes() -> None:
    async def scenario() -> None:
        async with Server(keep_answering(reply())) as server, HttpClients(4, 5) as clients:
            short = await clients.next().post(
                f"{server.url}/v21.0/17841/media",
                params={"fields": "id,status_code"},
                data={"caption": "été & #tags", "image_url": "https://cdn.example/a.jpg"},
                headers={"Authorization": "Bearer t0k3n"},
            )
            limits = httpx.Limits(max_connections=4)
            transport = LeanTransport(limits, lambda: pytest.fail("no TLS here"))
            async with httpx.AsyncClient(transport=transport) as plain:
                await plain.post(  # the same call, the whole way through httpx
                    f"{server.url}/v21.0/17841/media",
                    params={"fields": "id,status_code"},
                    data={"caption": "été & #tags", "image_url": "https://cdn.example/a.jpg"},
                    headers={
                        "Accept": "*/*",
                        "User-Agent": "studio-publish",
                        "Authorization": "Bearer t0k3n",
                    },
                )
            assert isinstance(short, ShortResponse)
            assert short.json() == {"id": "1"} and short.status_code == 200
            # The request behind it is there for whoever asks (made only then).
            assert short.request.url.params["fields"] == "id,status_code"
            (short_head, short_body), (httpx_head, httpx_body) = server.requests
            assert (
                short_body
                == httpx_body
                == (
                    b"caption=%C3%A9t%C3%A9+%26+%23tags&image_url=https%3A%2F%2Fcdn.example%2Fa.jpg"
                )
            )
            # httpx adds its own Accept-Encoding and Connection headers; nothing else differs.
            extra = {b"accept-encoding: gzip, deflate", b"connection: keep-alive"}
            httpx_lines = [line for line in httpx_head.split(b"\r\n") if line.lower() not in extra]
            assert short_head.split(b"\r\n") == httpx_lines

    run(scenario())


@settings(max_examples=200, deadline=None)
@given(
    status=st.integers(100, 599),
    body=st.binary(max_size=64) | json_value.map(lambda j: json.dumps(j).encode()),
    headers=st.lists(
        st.tuples(
            st.sampled_from(["Content-Type", "X-App-Usage", "Content-Length", "Connection"]),
            st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
        ),
        max_size=4,
    ),
)
def test_a_short_response_reads_as_httpxs_own_would(
    status: int, body: bytes, headers: list[tuple[str, str]]
) -> None:
    raw = [(name.encode(), value.encode()) for name, value in headers]
    short = ShortResponse(short_request("GET", "http://h/x", {}, {}), status, raw, body)  # type: ignore[arg-type]
    own = httpx.Response(status, headers=raw, stream=httpx.ByteStream(body))
    own.read()
    assert (short.status_code, short.headers, short.content) == (
        own.status_code,
        own.headers,
        own.content,
    )
    assert (short.text, short.is_success, short.encoding) == (
        own.text,
        own.is_success,
        own.encoding,
    )
    assert short.is_closed and short.is_stream_consumed


def test_a_large_body_arrives_whole_the_short_way() -> None:
    body = bytes(range(256)) * 4099  # over a megabyte, odd-sized: written apart from its head

    async def scenario() -> None:
        async with Server(keep_answering(reply())) as server, HttpClients(4, 5) as clients:
            response = await clients.next().post(f"{server.url}/v1/upload", content=body)
            assert isinstance(response, ShortResponse) and response.json() == {"id": "1"}
        ((head, received),) = server.requests
        assert received == body and f"content-length: {len(body)}".encode() in head.lower()

    run(scenario())


def test_a_compressed_answer_is_read_decompressed() -> None:
    packed = gzip.compress(b'{"id": "9"}')
    answer = reply("200 OK", packed, "Content-Encoding: gzip", "Content-Type: application/json")

    async def scenario() -> None:
        async with Server(keep_answering(answer)) as server, HttpClients(4, 5) as clients:
            response = await clients.next().get(f"{server.url}/v1/me")
            assert isinstance(response, ShortResponse) and response.json() == {"id": "9"}

    run(scenario())


@pytest.mark.parametrize("files", [None, {"source": ("a.jpg", b"\xff\xd8", "image/jpeg")}])
def test_a_header_that_would_smuggle_another_is_never_sent(
    files: dict[str, object] | None,
) -> None:
    """A token read from a row (or a platform's refresh answer) holding a line break: the
    short path and httpx's path through the lean pool alike refuse it before connecting."""
    seen: list[bytes] = []

    async def handler(reader: Reader, writer: Writer, server: Server) -> None:
        seen.append(await reader.read(1000))

    async def scenario() -> None:
        async with Server(handler) as server, HttpClients(4, 5) as clients:
            with pytest.raises(PlatformError) as caught:
                await send(
                    clients.next(),
                    "POST",
                    f"{server.url}/v21.0/1/photos",
                    what="POST /1/photos",
                    timeout=5,
                    irreversible=True,
                    headers={"Authorization": "Bearer abc\r\nX-Evil: 1"},
                    **({"files": files} if files else {}),
                )
            assert server.connections == 0 and not seen
        error = caught.value
        assert error.decision == Decision.FAIL  # refused again if sent again: no retry
        assert "not sent" in str(error) and "Evil" not in str(error) and "abc" not in str(error)

    run(scenario())


def test_pytest_httpx_answers_instead_of_the_short_path(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="http://127.0.0.1:9/v1/me", json={"id": "42"})

    async def scenario() -> None:
        async with HttpClients(4, 5) as clients:
            response = await clients.next().get("http://127.0.0.1:9/v1/me")
            assert response.json() == {"id": "42"}
            assert not isinstance(response, ShortResponse)

    run(scenario())
