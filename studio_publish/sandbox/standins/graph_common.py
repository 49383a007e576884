"""What the Graph API stand-ins (Instagram, Facebook Pages) share; not a platform itself.

Both live on one host and one version (https://developers.facebook.com/docs/graph-api/),
so they share a URL prefix, tokens (realm "graph"), the error envelope
(https://developers.facebook.com/docs/graph-api/guides/error-handling), the usage headers
(https://developers.facebook.com/docs/graph-api/overview/rate-limiting) and cursor paging
(https://developers.facebook.com/docs/graph-api/results). URLs, under
``{url}/graph/v25.0`` (the version segment is optional)::

    /{node-id}/{edge}      the stand-in whose ``edges`` has (method, edge)
    /{object-id}/comments  the stand-in holding the object (``comments_route``; a Threads
                           thread's replies are /{thread-id}/replies)
    GET /{object-id}       the stand-in holding the object (``node``)
    anything else          Graph's own errors: 100/33 for an unknown object or path

The media container flow that Instagram and Threads publish through is ``containers``.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import re
import secrets
import urllib.parse
from collections.abc import Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from studio_publish.sandbox.standins.base import StandIn
from studio_publish.sandbox.wire import ApiError, Handler, Request, Response, Route, as_int, as_str

if TYPE_CHECKING:
    from studio_publish.sandbox.knobs import Fault, Knobs
    from studio_publish.sandbox.ledger import Ledger
    from studio_publish.sandbox.state import Accounts, Ids, TokenProblem

GRAPH_VERSION = "v25.0"
PREFIX = "graph"
OBJECT = "graph.object"  # GET /{object-id}: every Graph stand-in's nodes, and unknown ids
VERSION_RE = re.compile(r"^v\d+\.\d+$")
INSTAGRAM_LOGIN_TOKEN = "IG"  # how Instagram Login's Instagram User tokens begin (IGAA...)
FACEBOOK_LOGIN_TOKEN = "EAA"  # how Facebook Login's user and Page tokens begin
# The prefix of graph.instagram.com, the Instagram API with Instagram Login's host.
INSTAGRAM_LOGIN_PREFIX = "instagram"
# The codes Meta marks as temporary: retry later.
_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})

Edges = dict[tuple[str, str], tuple[str, Handler]]  # (method, edge) -> (endpoint, handler)


def graph_error(
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    type_: str = "OAuthException",
    is_transient: bool = False,
    http_status: int | None = None,
    user_title: str | None = None,
    user_msg: str | None = None,
) -> ApiError:
    """The documented Graph envelope. Instagram's error table
    (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes)
    lists HTTP 400 for everything; the generic codes 1 and 2 are reported arriving as 500,
    so those default to 500."""
    error: dict[str, Any] = {
        "message": message,
        "type": type_,
        "code": code,
        "is_transient": is_transient,
        "fbtrace_id": secrets.token_urlsafe(8),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if user_title:
        error["error_user_title"] = user_title
    if user_msg:
        error["error_user_msg"] = user_msg
    status = http_status if http_status is not None else (500 if code in (1, 2) else 400)
    return ApiError(Response(status, {"error": error}))


def graph_time(unix: float) -> str:
    """Graph's timestamp format: 2026-01-01T12:00:00+0000."""
    return dt.datetime.fromtimestamp(unix, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_time(value: Any) -> float | None:
    """A unix timestamp or an ISO 8601 string (Graph's `since`/`until` take both)."""
    text = as_str(value)
    if not text:
        return None
    number = as_int(text)
    if number is not None:
        return float(number)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise graph_error(100, f"(#100) Invalid time value for since/until: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def fields(req: Request, allowed: Set[str], node: str, default: tuple[str, ...]) -> list[str]:
    """The `fields` parameter; unknown fields are refused like Graph does."""
    raw = as_str(req.params.get("fields"))
    if not raw:
        return list(default)
    names = [f.strip() for f in raw.split(",") if f.strip()]
    for name in names:
        base = name.split("{", 1)[0].split(".", 1)[0]
        if base not in allowed:
            raise graph_error(
                100, f"(#100) Tried accessing nonexisting field ({base}) on node type ({node})"
            )
    return [n.split("{", 1)[0].split(".", 1)[0] for n in names]


def pick(record: dict[str, Any], names: list[str]) -> dict[str, Any]:
    out = {"id": record["id"]}
    for name in names:
        if name in record:
            out[name] = record[name]
    return out


def answer(req: Request, record: dict[str, Any], allowed: Set[str], node: str) -> Response:
    """A node read: the fields asked for (of ``allowed``) from ``record``."""
    return Response(200, pick(record, fields(req, allowed, node, ())))


@dataclass(frozen=True)
class Node:
    """A Graph node type as a read sees it: its name (Graph's "nonexisting field" error says
    it), the fields one may ask for and those answered when none are asked for."""

    name: str
    fields: Set[str]
    default: tuple[str, ...] = ()

    def asked(self, req: Request) -> list[str]:
        return fields(req, self.fields, self.name, self.default)


@dataclass(frozen=True)
class Refusal:
    """A Graph error kept as its arguments: each refusal is a fresh error (its own
    fbtrace_id)."""

    code: int
    message: str
    subcode: int | None = None
    is_transient: bool = False

    def error(self) -> ApiError:
        return graph_error(
            self.code, self.message, subcode=self.subcode, is_transient=self.is_transient
        )


def cannot_parse() -> ApiError:
    """Meta's answer to a token of the other login: 190, no subcode."""
    return graph_error(190, "Invalid OAuth access token - Cannot parse access token")


def not_found(object_id: str) -> ApiError:
    return graph_error(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        subcode=33,
        type_="GraphMethodException",
    )


def object_id(req: Request) -> str:
    """The id in a ``GET /{object-id}`` path."""
    return req.path.rstrip("/").rsplit("/", 1)[-1]


def paginate(req: Request, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Graph's cursor paging, with the offset as the cursor."""
    limit = max(1, min(as_int(req.params.get("limit")) or 25, 100))
    start = as_int(req.params.get("after")) or 0
    page = records[start : start + limit]
    body: dict[str, Any] = {"data": page}
    if records:
        cursors = {"before": str(start), "after": str(start + len(page))}
        body["paging"] = {"cursors": cursors}
        if start + limit < len(records):
            # Meta's "next" is a full URL (with the token in it; ours never carries one).
            query = {k: str(v) for k, v in req.query.items() if k not in ("after", "limit")}
            query.update(limit=str(limit), after=str(start + len(page)))
            next_url = f"http://{req.host}{req.path}?{urllib.parse.urlencode(query)}"
            body["paging"]["next"] = next_url
    return body


def _graph_parts(parts: list[str]) -> list[str]:
    """The path after the prefix and the (optional) version."""
    rest = parts[1:]
    return rest[1:] if rest and VERSION_RE.match(rest[0]) else rest


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class GraphStandIn(StandIn):
    """A Graph API platform: subclasses declare their edges and their nodes."""

    prefixes: ClassVar[tuple[str, ...]] = (PREFIX,)
    realm: ClassVar[str] = "graph"
    # The "type" of its X-Business-Use-Case-Usage entries (the rate-limiting page above).
    usage_type: ClassVar[str]

    def __init__(self, knobs: Knobs, ledger: Ledger, ids: Ids, accounts: Accounts) -> None:
        super().__init__(knobs, ledger, ids, accounts)
        self._edges = self.edges()

    @abc.abstractmethod
    def edges(self) -> Edges:
        """The ``/{node-id}/{edge}`` calls it serves; the node id is the account."""

    @abc.abstractmethod
    def node(self, object_id: str) -> Route | None:
        """The route for ``GET /{object-id}`` when it holds that object, else None."""

    # ---- routing ----------------------------------------------------------------------

    # The edge under a published object that its comments are (Threads: its replies).
    comment_edge: ClassVar[str] = "comments"

    def comments_route(self, req: Request, object_id: str) -> Route | None:
        """The route for ``/{object-id}/{comment_edge}`` when it holds that object and the
        object takes comments, else None."""
        return None

    def route(self, req: Request, parts: list[str]) -> Route | None:
        path = _graph_parts(parts)
        if len(path) == 2 and path[1] == self.comment_edge:
            return self.comments_route(req, path[0])
        if len(path) == 2:
            found = self._edges.get((req.method, path[1]))
            return Route(found[0], found[1], account=path[0]) if found else None
        if len(path) == 1 and req.method == "GET":
            return self.node(path[0])
        return None

    def unrouted(self, req: Request, parts: list[str]) -> Route:
        if len(_graph_parts(parts)) == 1 and req.method == "GET":
            return Route(OBJECT, _no_object, account=None)
        return Route("graph.unknown", _unsupported, account=None)

    # ---- tokens and errors ------------------------------------------------------------

    def authenticate(self, req: Request, route: Route) -> str:
        # An Instagram Login token (IG...) belongs on graph.instagram.com, a Facebook Login
        # token (EAA...) on graph.facebook.com; neither host can parse the other's
        # (https://developers.facebook.com/docs/instagram-platform/reference names the host
        # of each login), and answers as Meta does, 190 without a subcode
        # (https://github.com/TiagoGrosso/instagram-graph-api-lib/issues/462).
        token = req.bearer
        if route.needs_auth and token and self.knobs.instagram_login_tokens_refused:
            on_instagram_host = req.path.lstrip("/").startswith(f"{INSTAGRAM_LOGIN_PREFIX}/")
            other = FACEBOOK_LOGIN_TOKEN if on_instagram_host else INSTAGRAM_LOGIN_TOKEN
            if token.startswith(other):
                raise cannot_parse()
        return super().authenticate(req, route)

    def token_error(self, problem: TokenProblem) -> ApiError:
        if problem == "missing":
            return graph_error(
                104,
                "An access token is required to request this resource "
                "(send Authorization: Bearer <token>).",
            )
        if problem == "expired":
            return graph_error(
                190, "Error validating access token: Session has expired.", subcode=463
            )
        return graph_error(
            190, "Invalid OAuth access token - Cannot parse access token", subcode=467
        )

    def request_error(self, status: int, message: str) -> ApiError:
        return graph_error(100, f"(#100) {message}", http_status=status)

    def fault_error(self, fault: Fault, endpoint: str) -> ApiError:
        if fault.kind == "rate_limit":
            return graph_error(4, "(#4) Application request limit reached", is_transient=True)
        if fault.kind == "expired_token":
            return self.token_error("expired")
        code = as_int(fault.code) if fault.code is not None else None
        code = 2 if code is None else code
        transient = fault.is_transient
        if transient is None:
            transient = code in _TRANSIENT_CODES
        return graph_error(
            code,
            fault.message or "An unexpected error has occurred. Please retry your request later.",
            subcode=fault.subcode,
            is_transient=transient,
            http_status=fault.http_status,
        )

    def usage_headers(self, route: Route, recent: int, limited: bool) -> dict[str, str]:
        # Plausible numbers from the last minute's traffic, capped well under Meta's 100 so
        # benchmarks are not slowed by clients backing off; the usage_percent knob (or a
        # rate-limit fault) reports high usage on purpose.
        if limited:
            pct = 100
        elif self.knobs.usage_percent is not None:
            pct = self.knobs.usage_percent
        else:
            pct = min(40, 1 + recent // 200)
        usage = {"call_count": pct, "total_cputime": pct // 2, "total_time": pct // 2}
        headers = {"X-App-Usage": _json(usage)}
        if route.account:
            regain = 5 if pct >= 100 else 0
            entry = dict(usage, type=self.usage_type, estimated_time_to_regain_access=regain)
            headers["X-Business-Use-Case-Usage"] = _json({route.account: [entry]})
        return headers

    def bases(self, url: str) -> dict[str, str]:
        return {PREFIX: f"{url}/{PREFIX}/{GRAPH_VERSION}"}


def _no_object(req: Request, who: str) -> Response:
    raise not_found(object_id(req))


def _unsupported(req: Request, who: str) -> Response:
    raise graph_error(
        100,
        f"Unsupported {req.method.lower()} request. The sandbox does not serve {req.path}.",
        subcode=33,
        type_="GraphMethodException",
    )


# ---- the rupload host ("Upload a local file"): shared by Facebook and Instagram ----------

UPLOAD_PREFIX = "rupload"


def rupload_error(status: int, kind: str, message: str, *, retriable: bool = False) -> Response:
    """The rupload host's own error shape (not Graph's envelope)."""
    body = {"debug_info": {"retriable": retriable, "type": kind, "message": message}}
    return Response(status, body)


@dataclass
class Upload:
    """A local file's upload to rupload: its size (``file_size``) and the bytes arrived."""

    size: int = 0
    received: int = 0

    @property
    def complete(self) -> bool:
        return self.size > 0 and self.received == self.size

    def phase(self) -> dict[str, Any]:
        """The ``uploading_phase`` a status read shows (``bytes_transferred``)."""
        done = "complete" if self.complete else "in_progress" if self.received else "not_started"
        return {"status": done, "bytes_transferred": self.received}


def receive(req: Request, upload: Upload, fail_after: int) -> Response | None:
    """Take a local file's bytes (headers ``offset`` and ``file_size``, the body streamed and
    counted, never held): None when they arrived, else the refusal. ``offset`` must be what
    arrived so far (a resume reads bytes_transferred first); ``fail_after`` > 0 keeps only
    that many bytes of this body and answers a retriable 503, a connection that broke."""
    offset, size = as_int(req.header("offset")), as_int(req.header("file_size"))
    if offset is None or size is None or size <= 0 or not 0 <= offset <= size:
        return rupload_error(400, "ParameterValidationError", "offset and file_size are required")
    if upload.size and size != upload.size:
        return rupload_error(400, "ParameterValidationError", "file_size differs from before")
    if offset != upload.received:
        message = f"offset {offset} does not match the {upload.received} bytes received"
        return rupload_error(400, "ParameterValidationError", message)
    upload.size = size
    assert req.stream_body is not None
    for piece in req.stream_body():
        if fail_after and upload.received - offset + len(piece) >= fail_after:
            upload.received += fail_after - (upload.received - offset)
            return rupload_error(503, "ServiceUnavailable", "upload interrupted", retriable=True)
        upload.received = min(size, upload.received + len(piece))
    if not upload.complete:
        return rupload_error(400, "ParameterValidationError", "the body ended before file_size")
    return None
