"""Request and response plumbing shared by the platform stand-ins (``standins/``).

The handlers never touch sockets: they get a parsed :class:`Request` and return a
:class:`Response` (or raise :class:`ApiError`, which carries one). That keeps them
testable and lets the server apply latency, faults and "lost" responses uniformly.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Bodies other than streamed ones (Route.stream: chunk uploads) are read whole; anything
# bigger is refused so a misdirected upload cannot exhaust memory.
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: Mapping[str, str]  # lower-case names
    host: str  # "127.0.0.1:1234", from the Host header, for URLs pointing back at us
    params: dict[str, Any] = field(default_factory=dict)  # query + body, body wins
    json_body: Any = None
    body_size: int = 0
    # Streams the body in pieces (used by the chunk upload, which never holds a chunk).
    stream_body: Callable[[], Iterator[bytes]] | None = None
    # Raw query string, kept only to detect tokens leaked into the URL.
    raw_query: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def bearer(self) -> str | None:
        """The token from ``Authorization: Bearer x`` (or Graph's ``OAuth x``)."""
        value = self.header("authorization")
        if not value:
            return None
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return None
        token = token.strip()
        return token or None


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable, bytes as they are (set Content-Type), or None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, separators=(",", ":")).encode()


Handler = Callable[[Request, str], Response]


@dataclass(frozen=True)
class Route:
    """Where a request goes. ``handler(request, who)`` gets the account the call acts on,
    as the stand-in's ``authenticate`` found it (the node's owner, the token's user)."""

    endpoint: str  # a name from the stand-in's ``endpoints`` (knobs.ENDPOINTS)
    handler: Handler
    account: str | None = None  # the account the token must be valid for, when the URL names one
    needs_auth: bool = True
    stream: bool = False  # the handler reads the body itself, via Request.stream_body
    # The platform documents this call with the token in its query string and no other way
    # (Instagram Login's refresh_access_token): the server's URL check lets it through.
    token_in_query: bool = False


class ApiError(Exception):
    """Raised by a handler to answer with an error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"HTTP {response.status}")
        self.response = response


def token_digest(token: str) -> str:
    """Tokens are kept only as digests, so no state dump, repr or log can show one."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    """The pair a token refresh hands out, and how long each lives (seconds)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    refresh_expires_in: int


# ---- parameter parsing ------------------------------------------------------------


def parse_query(raw: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], Any]:
    """Returns (params, json_body). Graph takes the same parameters from a query string,
    a form body, a JSON body or a multipart form, so all of them end up in one dict."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}, None
    if ctype == "application/json" or (not ctype and body[:1] in (b"{", b"[")):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ValueError(f"the JSON body could not be parsed: {exc}") from None
        return (dict(data) if isinstance(data, dict) else {}), data
    if ctype == "multipart/form-data":
        return _parse_multipart(content_type, body), None
    return dict(
        urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    ), None


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part; only its size is kept."""

    filename: str
    size: int


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    # The email parser understands multipart/form-data, and the stdlib has nothing else
    # left for it (cgi is deprecated). Photo bodies are small, so parsing in memory is fine.
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            params[name] = UploadedFile(filename, len(data))
        else:
            params[name] = data.decode("utf-8", "replace")
    return params


def as_bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def as_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return None


def as_list(value: Any) -> list[Any]:
    """A list given as a JSON list, a JSON-encoded string, or a comma-joined string."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    text = str(value).strip()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError:
            return [text]
        return loaded if isinstance(loaded, list) else [loaded]
    return [item.strip() for item in text.split(",") if item.strip()]
