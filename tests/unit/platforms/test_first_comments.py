"""First comments on Instagram, Facebook and Threads: the documented request and answer
shapes, and what a client does with an unclear answer (it never sends twice by itself).

Shapes: https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments
(``POST /{ig-media-id}/comments`` with ``message`` -> ``{"id"}``; ``GET`` -> ``data`` of
``id, text, timestamp, from``), https://developers.facebook.com/docs/graph-api/reference/object/comments
(the same on any object, as the Page, ``message``/``created_time``/``from``) and
https://developers.facebook.com/docs/threads/reply-management (a TEXT container with
``reply_to_id``, then ``threads_publish``; ``GET /{thread-id}/replies``).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
from support import platform_fakes as fakes
from support.platform_fakes import GRAPH, NOW, TOKEN, FakeApi, make_settings, ok, run
from support.platform_fakes import api_fixture as api_fixture  # the `api` fixture

from studio_publish.domain import Account
from studio_publish.engine.comments import after_comment_error
from studio_publish.engine.outcomes import RetryPolicy
from studio_publish.platforms.base import CommentContext, Commenting, Decision, PlatformError
from studio_publish.platforms.facebook.client import FacebookPlatform
from studio_publish.platforms.graph.usage import UsageThrottle
from studio_publish.platforms.instagram.client import InstagramPlatform
from studio_publish.platforms.threads.client import ThreadsPlatform
from studio_publish.platforms.tiktok.client import TikTokPlatform
from studio_publish.platforms.transport import OutcomeUnclear
from studio_publish.states import CommentState

T = TypeVar("T")
THREADS = "https://threads.test/v1.0"


@dataclass
class CommentSaver:
    """Stands in for the engine's comment store: records saves and the sent mark, in order
    with the requests (the FakeApi's log)."""

    log: list[str]
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def save_ids(self, ids: dict[str, Any]) -> None:
        self.calls.append(dict(ids))
        self.log.extend(f"save {k}={v!r}" for k, v in ids.items())

    async def mark_sent(self) -> None:
        self.log.append("mark sent")


def comment_ctx(
    api: FakeApi,
    *,
    post_id: str = "18001",
    account_id: str = "1789",
    post_ids: dict[str, Any] | None = None,
    saved: dict[str, Any] | None = None,
    since: dt.datetime | None = None,
    message: str = "First!",
) -> CommentContext:
    account = Account("acc-1", "x", account_id, TOKEN)
    return CommentContext(
        account=account,
        http=httpx.AsyncClient(),
        platform_post_id=post_id,
        post_ids=post_ids or {},
        message=message,
        saved_ids=dict(saved or {}),
        store=CommentSaver(api.log),
        sent_since=since,
    )


def instagram() -> InstagramPlatform:
    return InstagramPlatform(make_settings(), throttle=UsageThrottle(), clock=lambda: NOW)


def facebook() -> FacebookPlatform:
    return FacebookPlatform(make_settings(), throttle=UsageThrottle(), clock=lambda: NOW)


def threads() -> ThreadsPlatform:
    settings = make_settings(threads_api_base=THREADS)
    return ThreadsPlatform(settings, throttle=UsageThrottle(), clock=lambda: NOW)


def graph_time(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def test_only_the_platforms_with_first_comments_take_them() -> None:
    assert all(isinstance(p, Commenting) for p in (instagram(), facebook(), threads()))
    assert not isinstance(TikTokPlatform(make_settings()), Commenting)


# --- Instagram ------------------------------------------------------------------------------


def test_instagram_comments_under_the_media_id_with_message(api: FakeApi) -> None:
    api.on("POST", f"{GRAPH}/18002/comments", ok({"id": "17900"}))
    # The media id saved by the publish, not what the post was recorded as.
    ctx = comment_ctx(api, post_id="17-container", post_ids={"ig_media_id": "18002"})
    assert run(instagram().send_comment, ctx) == "17900"
    (request,) = api.calls("POST", f"{GRAPH}/18002/comments")
    assert fakes.form(request) == {"message": "First!"}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}" and TOKEN not in str(request.url)
    assert api.log == ["mark sent", "POST /v25.0/18002/comments"]  # marked before it goes out


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_instagram_an_unanswered_comment_is_unclear(api: FakeApi, failure: type[Exception]) -> None:
    api.on("POST", f"{GRAPH}/18001/comments", failure)
    ctx = comment_ctx(api)
    with pytest.raises(OutcomeUnclear):
        run(instagram().send_comment, ctx)
    assert ctx.sent


def test_instagram_a_5xx_to_the_comment_is_unclear(api: FakeApi) -> None:
    api.on("POST", f"{GRAPH}/18001/comments", fakes.graph_error(2, "unexpected", status=500))
    with pytest.raises(OutcomeUnclear):
        run(instagram().send_comment, comment_ctx(api))


def test_instagram_a_refused_comment_is_a_clear_error(api: FakeApi) -> None:
    api.on("POST", f"{GRAPH}/18001/comments", fakes.graph_error(100, "(#100) comments are off"))
    with pytest.raises(PlatformError) as caught:
        run(instagram().send_comment, comment_ctx(api))
    assert not isinstance(caught.value, OutcomeUnclear)
    assert caught.value.decision in (Decision.FAIL, Decision.INVALID)


def test_instagram_finds_its_comment_by_text_and_time(api: FakeApi) -> None:
    since = NOW - dt.timedelta(seconds=30)
    listing = {
        "data": [
            {"id": "c-old", "text": "First!", "timestamp": graph_time(NOW - dt.timedelta(hours=1))},
            {"id": "c-other", "text": "nice", "timestamp": graph_time(NOW)},
            {"id": "c-ours", "text": "First!", "timestamp": graph_time(NOW), "from": {"id": "9"}},
        ]
    }
    api.on("GET", f"{GRAPH}/18001/comments", ok(listing))
    assert run(instagram().find_comment, comment_ctx(api, since=since)) == "c-ours"
    (request,) = api.requests
    assert request.url.params["fields"] == "id,text,timestamp,from"


def test_a_busy_posts_comments_are_read_page_by_page(api: FakeApi) -> None:
    others = [{"id": f"o{i}", "text": "wow", "timestamp": graph_time(NOW)} for i in range(50)]
    first = {"data": others, "paging": {"cursors": {"after": "50"}, "next": "https://graph.test/…"}}
    second = {"data": [{"id": "ours", "text": "First!", "timestamp": graph_time(NOW)}]}
    api.on("GET", f"{GRAPH}/18001/comments", ok(first), ok(second))
    assert run(instagram().find_comment, comment_ctx(api, since=NOW)) == "ours"
    assert [r.url.params.get("after") for r in api.requests] == [None, "50"]


def test_the_search_stops_after_a_few_pages(api: FakeApi) -> None:
    page = {"data": [], "paging": {"cursors": {"after": "x"}, "next": "https://graph.test/…"}}
    api.on("GET", f"{GRAPH}/18001/comments", ok(page))
    assert run(instagram().find_comment, comment_ctx(api, since=NOW)) is None
    assert len(api.requests) == 4


def test_instagram_finds_nothing_in_a_clear_listing(api: FakeApi) -> None:
    api.on("GET", f"{GRAPH}/18001/comments", ok({"data": []}))
    assert run(instagram().find_comment, comment_ctx(api, since=NOW)) is None


# --- Facebook -------------------------------------------------------------------------------


def test_facebook_comments_as_the_page_under_the_post(api: FakeApi) -> None:
    api.on("POST", f"{GRAPH}/102_555/comments", ok({"id": "555_777"}))
    ctx = comment_ctx(api, post_id="102_555", account_id="102")
    assert run(facebook().send_comment, ctx) == "555_777"
    (request,) = api.requests
    assert fakes.form(request) == {"message": "First!"}


def test_facebook_finds_only_the_pages_own_comment(api: FakeApi) -> None:
    listing = {
        "data": [
            {"id": "x1", "message": "First!", "created_time": graph_time(NOW), "from": {"id": "7"}},
            {
                "id": "x2",
                "message": "First!",
                "created_time": graph_time(NOW),
                "from": {"id": "102", "name": "Page"},
            },
        ]
    }
    api.on("GET", f"{GRAPH}/102_555/comments", ok(listing))
    ctx = comment_ctx(api, post_id="102_555", account_id="102", since=NOW)
    assert run(facebook().find_comment, ctx) == "x2"
    params = api.requests[0].url.params
    assert params["fields"] == "id,message,created_time,from"
    assert params["order"] == "reverse_chronological"


@pytest.mark.parametrize("answered", [{}, {"id": "../me"}, {"id": None}, {"id": ["1", "2"]}])
def test_a_comment_answer_without_a_usable_id_is_unclear(
    api: FakeApi, answered: dict[str, object]
) -> None:
    # Sent, but its id is missing or not one: never recorded, never sent blindly again.
    api.on("POST", f"{GRAPH}/18001/comments", ok(answered))
    with pytest.raises(PlatformError) as caught:
        run(instagram().send_comment, comment_ctx(api))
    assert caught.value.decision is Decision.UNKNOWN and "holds no id" in str(caught.value)


# --- Threads --------------------------------------------------------------------------------


def test_threads_replies_with_a_text_container_then_publishes_it(api: FakeApi) -> None:
    api.on("POST", f"{THREADS}/1789/threads", ok({"id": "c9"}))
    api.on("POST", f"{THREADS}/1789/threads_publish", ok({"id": "r9"}))
    ctx = comment_ctx(api, post_id="t-container", post_ids={"th_media_id": "t1"})
    assert run(threads().send_comment, ctx) == "r9"
    create, publish = api.requests
    assert fakes.form(create) == {"media_type": "TEXT", "text": "First!", "reply_to_id": "t1"}
    assert fakes.form(publish) == {"creation_id": "c9"}
    # The container is saved before the publish, which is marked sent before it goes out.
    assert api.log == [
        "POST /v1.0/1789/threads",
        "save reply_container_id='c9'",
        "mark sent",
        "POST /v1.0/1789/threads_publish",
    ]


def test_threads_a_reply_container_answer_without_a_usable_id_is_tried_again(
    api: FakeApi,
) -> None:
    api.on("POST", f"{THREADS}/1789/threads", ok({"id": "../c9"}))
    ctx = comment_ctx(api, post_ids={"th_media_id": "t1"})
    with pytest.raises(PlatformError) as caught:
        run(threads().send_comment, ctx)
    assert caught.value.decision is Decision.RETRY and not ctx.sent  # nothing was published


def test_threads_a_reply_answer_without_a_usable_id_is_unclear(api: FakeApi) -> None:
    api.on("POST", f"{THREADS}/1789/threads", ok({"id": "c9"}))
    api.on("POST", f"{THREADS}/1789/threads_publish", ok({}))
    ctx = comment_ctx(api, post_ids={"th_media_id": "t1"})
    with pytest.raises(PlatformError) as caught:
        run(threads().send_comment, ctx)
    assert caught.value.decision is Decision.UNKNOWN and ctx.sent


def test_threads_never_publishes_a_published_reply_container_again(api: FakeApi) -> None:
    api.on("GET", f"{THREADS}/c9", ok({"id": "c9", "status": "PUBLISHED"}))
    ctx = comment_ctx(api, saved={"reply_container_id": "c9"}, since=NOW)
    with pytest.raises(OutcomeUnclear):
        run(threads().send_comment, ctx)
    assert api.count("POST", f"{THREADS}/1789/threads_publish") == 0


def test_threads_republishes_a_finished_container_and_replaces_a_spoilt_one(
    api: FakeApi,
) -> None:
    api.on("GET", f"{THREADS}/c9", ok({"id": "c9", "status": "FINISHED"}))
    api.on("POST", f"{THREADS}/1789/threads_publish", ok({"id": "r9"}))
    ctx = comment_ctx(api, saved={"reply_container_id": "c9"})
    assert run(threads().send_comment, ctx) == "r9"
    assert api.count("POST", f"{THREADS}/1789/threads") == 0

    spoilt = FakeApi()
    spoilt.on("GET", f"{THREADS}/c8", ok({"id": "c8", "status": "EXPIRED"}))
    spoilt.on("POST", f"{THREADS}/1789/threads", ok({"id": "c10"}))
    spoilt.on("POST", f"{THREADS}/1789/threads_publish", ok({"id": "r10"}))
    api.routes, api.requests = spoilt.routes, []
    ctx = comment_ctx(api, saved={"reply_container_id": "c8"})
    assert run(threads().send_comment, ctx) == "r10"
    assert fakes.form(api.calls("POST", f"{THREADS}/1789/threads_publish")[0]) == {
        "creation_id": "c10"
    }


def test_threads_finds_its_reply_in_the_replies(api: FakeApi) -> None:
    listing = {
        "data": [
            {
                "id": "r1",
                "text": "First!",
                "timestamp": graph_time(NOW),
                "is_reply_owned_by_me": False,
            },
            {
                "id": "r2",
                "text": "First!",
                "timestamp": graph_time(NOW),
                "is_reply_owned_by_me": True,
            },
        ]
    }
    api.on("GET", f"{THREADS}/t1/replies", ok(listing))
    ctx = comment_ctx(api, post_ids={"th_media_id": "t1"}, since=NOW)
    assert run(threads().find_comment, ctx) == "r2"
    assert "is_reply_owned_by_me" in api.requests[0].url.params["fields"]


# --- what an answer means (engine/comments.py, pure) ---------------------------------------

POLICY = RetryPolicy(max_attempts=3, base_seconds=60, max_seconds=3600)


def decide(error: PlatformError, attempt: int = 1, *, keep_sent: bool = False) -> Any:
    return after_comment_error(
        error, attempt=attempt, policy=POLICY, rng=random.Random(1), keep_sent=keep_sent
    )


def test_a_transient_error_is_tried_again_later_and_an_unclear_one_not_soon() -> None:
    retry = decide(PlatformError(Decision.RETRY, "busy"))
    assert retry.state is CommentState.PENDING and retry.delay_seconds >= 30
    unclear = decide(OutcomeUnclear("no answer"), keep_sent=True)
    assert unclear.state is CommentState.PENDING and unclear.keep_sent
    assert unclear.delay_seconds >= 60


def test_a_comment_fails_for_good_when_refused_or_out_of_tries() -> None:
    refused = decide(PlatformError(Decision.FAIL, "comments are off"))
    assert refused.state is CommentState.FAILED and refused.message == "comments are off"
    spent = decide(OutcomeUnclear("no answer"), attempt=3, keep_sent=True)
    assert spent.state is CommentState.FAILED and "gave up after 3 tries" in spent.message
    assert "may be on the platform" in spent.message


def test_a_rate_limit_waits_without_using_a_try() -> None:
    wait = decide(PlatformError(Decision.WAIT, "limited", retry_after=120))
    assert (wait.state, wait.delay_seconds, wait.give_back) == (CommentState.PENDING, 120, True)
