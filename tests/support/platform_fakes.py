"""Fakes for the platform tests: a routed fake API on pytest-httpx, a recording ctx.save.

Test modules pull the ``api`` fixture in with
``from support.platform_fakes import api_fixture as api_fixture``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs

import httpx
import pytest
from pytest_httpx import HTTPXMock

from studio_publish.domain import Account, Media, Post
from studio_publish.platforms.base import CommentContext, PublishContext
from studio_publish.settings import Settings

T = TypeVar("T")
C = TypeVar("C", PublishContext, CommentContext)  # a platform call's context
TOKEN = "EAAB-secret-token-0123456789"
GRAPH = "https://graph.test/v25.0"
TIKTOK = "https://tiktok.test"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

Reply = httpx.Response | type[Exception] | Callable[[httpx.Request], httpx.Response]


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "graph_api_base": GRAPH,
        "tiktok_api_base": TIKTOK,
        "tiktok_client_key": "client-key",
        "tiktok_client_secret": "client-secret-xyz",
        "poll_interval_seconds": 0.01,
        "poll_timeout_seconds": 0.2,
        "http_timeout_seconds": 7,
        # Local media in these tests lives in pytest's temporary folders.
        "media_root": tempfile.gettempdir(),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def ok(
    body: dict[str, Any] | None = None, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json=body or {}, headers=headers)


def graph_error(
    code: int, subcode: int | None = None, status: int = 400, **extra: Any
) -> httpx.Response:
    error: dict[str, Any] = {"message": f"error {code}", "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return httpx.Response(status, json={"error": error})


def tiktok_ok(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200, json={"data": data, "error": {"code": "ok", "message": "", "log_id": "l"}}
    )


def tiktok_error(code: str, status: int = 400) -> httpx.Response:
    body = {"data": {}, "error": {"code": code, "message": f"says {code}", "log_id": "l"}}
    return httpx.Response(status, json=body)


class FakeApi:
    """Routes requests by method and path to queued replies; the last reply repeats."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.requests: list[httpx.Request] = []
        self.log: list[str] = []  # requests and ctx.save calls, in order (see Saver)

    def on(self, method: str, url: str, *replies: Reply) -> FakeApi:
        self.routes.setdefault((method, httpx.URL(url).path), []).extend(replies)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.log.append(f"{request.method} {request.url.path}")
        key = (request.method, request.url.path)
        if key not in self.routes and self._quota_read(request):
            # The publishing quota, read beside a post's first container (graph/containers.py):
            # a test that is not about it gets an account with room, in the documented shape
            # (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/
            # reference/ig-user/content_publishing_limit).
            return ok({"data": [{"quota_usage": 0, "config": {"quota_total": 100}}]})
        if key not in self.routes:
            raise AssertionError(f"unexpected request {request.method} {request.url.path}")
        queue = self.routes[key]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, type):
            raise reply("simulated network failure", request=request)
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    @staticmethod
    def _quota_read(request: httpx.Request) -> bool:
        return request.method == "GET" and request.url.path.endswith("_publishing_limit")

    def calls(self, method: str, url: str) -> list[httpx.Request]:
        path = httpx.URL(url).path
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def count(self, method: str, url: str) -> int:
        return len(self.calls(method, url))


@pytest.fixture(name="api")
def api_fixture(httpx_mock: HTTPXMock) -> FakeApi:
    """Every request goes to one routed fake."""
    fake = FakeApi()
    httpx_mock.add_callback(fake, is_reusable=True, is_optional=True)
    return fake


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def body_json(request: httpx.Request) -> Any:
    return json.loads(request.content)


@dataclass
class Saver:
    """Stands in for the engine's store of saved ids (PostgreSQL); records each call."""

    log: list[str] = field(default_factory=list)  # shared with FakeApi: proves save-before-call
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def save_ids(self, ids: dict[str, Any]) -> None:
        self.calls.append(dict(ids))
        self.log.extend(f"save {key}={value!r}" for key, value in ids.items())

    def keys(self) -> list[str]:
        return [key for call in self.calls for key in call]


def make_post(
    post_type: str = "image",
    media: list[tuple[str, str]] | None = None,
    *,
    caption: str = "Hello world",
    options: dict[str, Any] | None = None,
) -> Post:
    items = media if media is not None else [("https://cdn.test/a.jpg", "image")]
    return Post(
        id="post-1",
        platform="x",
        post_type=post_type,
        caption=caption,
        media=tuple(Media(url, kind) for url, kind in items),
        options=options or {},
        attempt=1,
        attempt_started_at=NOW - dt.timedelta(minutes=1),
    )


def make_ctx(
    post: Post,
    *,
    account_id: str = "1789",
    saved: dict[str, Any] | None = None,
    account_options: dict[str, Any] | None = None,
    api: FakeApi | None = None,
) -> PublishContext:
    account = Account(
        id="acc-1",
        platform="x",
        platform_account_id=account_id,
        access_token=TOKEN,
        refresh_token="refresh-secret-abc",
        options=account_options or {},
    )
    return PublishContext(
        post=post,
        account=account,
        http=httpx.AsyncClient(),  # replaced inside run()
        saved_ids=dict(saved or {}),
        ids_store=Saver(log=api.log if api else []),
    )


def saver(ctx: PublishContext) -> Saver:
    assert isinstance(ctx.ids_store, Saver)
    return ctx.ids_store


def run(action: Callable[[C], Awaitable[T]], ctx: C) -> T:
    """Run one platform call in a fresh event loop with a fresh client (no pytest-asyncio)."""

    async def main() -> T:
        async with httpx.AsyncClient() as http:
            ctx.http = http
            return await action(ctx)

    return asyncio.run(main())


def assert_token_safe(fake: FakeApi, *messages: str) -> None:
    """The token travels only in the Authorization header: never in a URL or a message."""
    for request in fake.requests:
        assert TOKEN not in str(request.url)
        if request.url.host in ("graph.test", "tiktok.test"):
            assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    for message in messages:
        assert TOKEN not in message


def before(log: list[str], first: str, then: str) -> bool:
    """Whether the first log entry starting with ``first`` precedes the first with ``then``."""
    a = next(i for i, entry in enumerate(log) if entry.startswith(first))
    b = next(i for i, entry in enumerate(log) if entry.startswith(then))
    return a < b
