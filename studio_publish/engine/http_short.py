"""The short path of a plain platform call: its bytes built here, sent by the lean pool.

Why: building httpx's request model (URL parsing and re-quoting, header normalisation, the
body's stream) and converting it to httpcore's was about a quarter of the engine's CPU per
call (README.md, Performance, "CPU per call"), as much as the pool's own work. Nearly every
platform call is plain: a URL the settings and checked ids make, a few headers, form fields,
query parameters or a JSON object. For those, ``short_request`` makes exactly the bytes
httpx would send (tests/unit/test_http_short.py compares them), and ``ShortResponse`` is
httpx's own response, whose request is built only if someone asks for it.

Anything else (files, streamed bodies, an ``httpx.URL``, a URL httpx would re-quote or
normalise, a value httpx would coerce) gets ``None`` from ``short_request``, and the
caller goes httpx's own way.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

# A URL exactly as httpx would send it: a lower-case host or address, an optional port,
# and a path and query made only of characters httpx leaves as they are (RFC 3986's
# unreserved and sub-delims, ":", "@", "/", "?" and well-formed %XX escapes).
_KEPT = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})"
_URL = re.compile(
    rf"(https?)://([a-z0-9][a-z0-9.\-]*)(?::([0-9]{{1,5}}))?(/{_KEPT}*)?(?:\?((?:{_KEPT}|\?)*))?"
)
_DEFAULT_PORT = {"http": 80, "https": 443}
_FORM = "application/x-www-form-urlencoded"
_MADE_HERE = frozenset({"host", "content-length", "content-type", "transfer-encoding"})
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})  # httpx says Content-Length: 0 when empty


@dataclass(frozen=True, slots=True)
class ShortRequest:
    """A request's parts as the pool sends them, and what httpx would need to rebuild it."""

    method: str
    url: str
    origin: tuple[bytes, bytes, int, None]  # scheme, host, port, no SNI override
    target: bytes
    headers: list[tuple[bytes, bytes]]
    content: bytes
    given_headers: dict[str, str]
    given_content: dict[str, Any]

    def as_httpx(self) -> httpx.Request:
        """httpx's request for the same call (what ``response.request`` shows)."""
        return httpx.Request(
            self.method, self.url, headers=self.given_headers, **self.given_content
        )


def short_request(
    method: str, url: object, headers: dict[str, str], content: dict[str, Any]
) -> ShortRequest | None:
    """The request's bytes, or None when it is not plain (see the module's docstring).

    ``content`` holds httpx's ``params``, ``data``, ``json`` or ``content`` arguments.
    """
    if not isinstance(url, str) or not (match := _URL.fullmatch(url)):
        return None
    scheme, host, port_text, path, query = match.groups()
    path = path or "/"
    port = int(port_text) if port_text else _DEFAULT_PORT[scheme]
    if port > 65535 or "/." in path:  # httpx refuses the one and normalises the other
        return None
    if any(name.lower() in _MADE_HERE for name in headers):
        return None  # httpx would keep the caller's: its own way
    params = content.get("params")
    if params is not None:
        fields = _fields(params)
        if fields is None or query is not None:
            return None  # httpx merges the URL's query with them (or drops it): its own way
        if fields:
            query = urlencode(fields)
    body = _body(content)
    if body is None:
        return None
    payload, body_headers = body
    netloc = host if port == _DEFAULT_PORT[scheme] else f"{host}:{port}"
    head = [("Host", netloc)]
    if not body_headers and method in _WITH_BODY:
        head.append(("Content-Length", "0"))
    head.extend(headers.items())
    head.extend(body_headers)
    try:
        encoded = [(name.encode("ascii"), value.encode("ascii")) for name, value in head]
    except (UnicodeEncodeError, AttributeError):
        return None  # httpx raises its own error for these
    target = path if query is None else f"{path}?{query}"  # "?" kept, as httpx keeps it
    return ShortRequest(
        method=method,
        url=url,
        origin=(scheme.encode(), host.encode(), port, None),
        target=target.encode("ascii"),
        headers=encoded,
        content=payload,
        given_headers=headers,
        given_content=content,
    )


def _fields(values: object) -> list[tuple[str, str]] | None:
    """Form or query fields as httpx would write them; None for values httpx coerces."""
    if not isinstance(values, dict):
        return None
    fields = []
    for name, value in values.items():
        if not isinstance(name, str) or isinstance(value, bool):
            return None
        if isinstance(value, int):
            value = str(value)
        elif not isinstance(value, str):
            return None
        fields.append((name, value))
    return fields


def _body(content: dict[str, Any]) -> tuple[bytes, list[tuple[str, str]]] | None:
    """The body and the headers that describe it, taken as httpx takes them: ``content``
    first, then ``files`` (never here), non-empty ``data``, then ``json``."""
    raw, files, data, value = (content.get(k) for k in ("content", "files", "data", "json"))
    if raw is not None:
        if not isinstance(raw, bytes | str):
            return None  # a stream: httpx's way
        payload = raw.encode() if isinstance(raw, str) else raw
        return payload, [("Content-Length", str(len(payload)))] if payload else []
    if files:
        return None
    if data:
        fields = _fields(data)
        return None if fields is None else _described(urlencode(fields).encode(), _FORM)
    if value is not None:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return None  # httpx raises its own error
        return _described(text.encode(), "application/json")
    return b"", []


def _described(payload: bytes, content_type: str) -> tuple[bytes, list[tuple[str, str]]]:
    return payload, [("Content-Length", str(len(payload))), ("Content-Type", content_type)]


@functools.lru_cache(maxsize=16)
def timeouts(seconds: float) -> dict[str, float | None]:
    """httpx's four timeouts for a call's ``timeout`` in seconds, as the pool takes them."""
    return httpx.Timeout(seconds).as_dict()


class ShortResponse(httpx.Response):
    """httpx's response to a short request: read, closed, and its request made on demand."""

    def __init__(
        self,
        request: ShortRequest,
        status_code: int,
        headers: list[tuple[bytes, bytes]],
        content: bytes,
    ) -> None:
        super().__init__(
            status_code,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"http_version": b"HTTP/1.1"},
        )
        if "content-encoding" in self.headers:
            self.read()  # decoded, as httpx's aread() would
        else:  # what read() would make of it, without walking the stream's decoders
            self._content = content
            self.is_stream_consumed = self.is_closed = True
        self._short = request

    @property
    def request(self) -> httpx.Request:
        if self._request is None:
            self._request = self._short.as_httpx()
        return self._request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value
