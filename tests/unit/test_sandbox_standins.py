"""The sandbox's stand-ins: the discovery rule, and what a new platform's module gets."""

from __future__ import annotations

import asyncio
import inspect
import json
import resource
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from studio_publish.platforms.graph.rupload import upload_file
from studio_publish.sandbox import STANDINS, Sandbox, StandIn, knobs, state
from studio_publish.sandbox.standins import discover
from studio_publish.sandbox.standins.containers import ContainerStandIn, Flow

AUTH = {"Authorization": "Bearer sample-token-abc123"}
IG = "17841400000000001"
PAGE = "104000000000001"


# ---- the discovery rule ------------------------------------------------------------------


def test_every_standin_is_named_after_its_platform_and_declares_its_endpoints() -> None:
    assert STANDINS, "no stand-ins discovered"
    for standin in STANDINS:
        module = inspect.getmodule(standin)
        assert module is not None and module.STANDIN is standin
        assert module.__name__ == f"studio_publish.sandbox.standins.{standin.platforms[0]}"
        assert standin.actions <= set(standin.endpoints)
        for endpoint in standin.endpoints:
            assert endpoint.split(".", 1)[0] in standin.prefixes, endpoint


def test_knobs_and_accounts_are_derived_from_the_standins() -> None:
    declared = {name for standin in STANDINS for name in standin.endpoints}
    assert set(knobs.ENDPOINTS) == declared and len(knobs.ENDPOINTS) == len(declared)
    assert {name for s in STANDINS for name in s.actions} == knobs.ACTION_ENDPOINTS
    served = [platform for standin in STANDINS for platform in standin.platforms]
    assert list(state.PLATFORMS) == served and len(set(served)) == len(served)
    for standin in STANDINS:
        for platform in standin.platforms:
            assert state._realm(platform) == standin.realm
            state.AccountSpec(platform, "some-account")  # accepted


def test_the_sandbox_serves_every_standin() -> None:
    sandbox = Sandbox()
    assert tuple(type(s) for s in sandbox.standins) == STANDINS
    with sandbox:
        expected_env = {k: v for s in sandbox.standins for k, v in s.env(sandbox.url).items()}
        assert sandbox.env() == expected_env
        health = httpx.get(f"{sandbox.url}/_sandbox/health").json()
        for name, base in sandbox.bases().items():
            assert health[f"{name}_base"] == base
            assert base.startswith(sandbox.url + "/")


def test_each_standin_module_documents_its_urls() -> None:
    sandbox = Sandbox()
    for standin in sandbox.standins:
        module = inspect.getmodule(type(standin))
        doc = (module.__doc__ if module else None) or ""
        for prefix in standin.prefixes:
            assert f"{{url}}/{prefix}/" in doc, (type(standin).__name__, prefix)
        for endpoint in standin.endpoints:
            assert endpoint in doc, (type(standin).__name__, endpoint)
        for setting in standin.env("{url}"):
            assert setting in doc, (type(standin).__name__, setting)


def _package(root: Path, name: str, modules: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for module, source in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return folder


ECHO = '''
    """A toy platform for the tests: POST {url}/echo/v1/posts is echo.post."""

    from studio_publish.sandbox.standins.base import StandIn
    from studio_publish.sandbox.wire import ApiError, Response, Route


    def _error(status, message):
        return ApiError(Response(status, {"echo_error": message}))


    class EchoStandIn(StandIn):
        platforms = ("echo",)
        prefixes = ("echo",)
        realm = "echo"
        endpoints = ("echo.post",)
        actions = frozenset({"echo.post"})

        def route(self, req, parts):
            if parts[1:] == ["v1", "posts"] and req.method == "POST":
                return Route("echo.post", self.post)
            return None

        def post(self, req, who):
            return Response(200, {"id": self.ids.next("9"), "who": who, **req.params})

        def token_error(self, problem):
            return _error(401, problem)

        def request_error(self, status, message):
            return _error(status, message)

        def fault_error(self, fault, endpoint):
            return _error(fault.http_status or 503, fault.kind)

        def bases(self, url):
            return {"echo": f"{url}/echo/v1"}

        def reset(self):
            pass


    STANDIN = EchoStandIn
'''


def test_discovery_takes_modules_exporting_standin_and_skips_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _package(tmp_path, "probe_standins_ok", {"echo": ECHO, "echo_common": "X = 1\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    [found] = discover([str(folder)], "probe_standins_ok")
    assert found.__name__ == "EchoStandIn" and issubclass(found, StandIn)


@pytest.mark.parametrize(
    ("modules", "error"),
    [
        ({"threads": ECHO}, ValueError),  # not named after its platform
        ({"echo": ECHO, "other": ECHO.replace('"echo",)', '"other", "echo")')}, ValueError),
        ({"echo": "STANDIN = object\n"}, TypeError),
    ],
)
def test_discovery_refuses_misdeclared_standins(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    modules: dict[str, str],
    error: type[Exception],
) -> None:
    name = f"probe_standins_{error.__name__.lower()}_{len(modules)}"
    folder = _package(tmp_path, name, modules)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(error):
        discover([str(folder)], name)


# ---- a new platform is one module -----------------------------------------------------------


@pytest.fixture
def with_echo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    folder = _package(tmp_path, "probe_standins_echo", {"echo": ECHO})
    monkeypatch.syspath_prepend(str(tmp_path))
    [echo] = discover([str(folder)], "probe_standins_echo")

    class EchoSandbox(Sandbox):
        standin_types = (*STANDINS, echo)

    with EchoSandbox() as sandbox:
        yield sandbox


def test_a_new_standin_gets_the_whole_pipeline(with_echo: Sandbox) -> None:
    sandbox = with_echo
    base = sandbox.env()["STUDIO_PUBLISH_ECHO_API_BASE"]
    assert base == f"{sandbox.url}/echo/v1" == sandbox.base("echo")
    assert httpx.get(f"{sandbox.url}/_sandbox/health").json()["echo_base"] == base
    with httpx.Client(base_url=base, headers=AUTH, timeout=5) as echo:
        ok = echo.post("/posts", data={"text": "hi"})
        assert ok.status_code == 200 and (ok.json()["text"], ok.json()["who"]) == ("hi", "")
        assert "x-app-usage" not in ok.headers  # usage headers are Graph's, not everyone's

        assert httpx.post(f"{base}/posts").json() == {"echo_error": "missing"}
        sandbox.expire_token(AUTH["Authorization"].split()[1])
        assert echo.post("/posts").json() == {"echo_error": "expired"}

    with httpx.Client(base_url=base, headers={"Authorization": "Bearer echo-token-1"}) as echo:
        sandbox.inject("echo.*", http_status=502)
        faulted = echo.post("/posts")
        assert (faulted.status_code, faulted.json()) == (502, {"echo_error": "error"})
        sandbox.lose_response("echo.post")
        with pytest.raises(httpx.RemoteProtocolError):
            echo.post("/posts")
        leaked = echo.post("/posts", params={"access_token": "x"})
        assert leaked.status_code == 400 and "Authorization header" in leaked.json()["echo_error"]
        assert echo.get("/posts").status_code == 404  # not routed, no platform 404 declared

    stats = sandbox.stats()
    assert stats["calls"]["echo.post"] == 6 and stats["lost_responses"] == 1
    # The platforms already there are untouched.
    graph_auth = {"Authorization": "Bearer graph-token-1"}
    with httpx.Client(base_url=sandbox.graph_base, headers=graph_auth) as graph:
        assert graph.post(f"/{PAGE}/feed", data={"message": "x"}).status_code == 200


# ---- what the stand-ins declare, seen over HTTP -----------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(container_polls=0) as sb:
        yield sb


def _buc_type(response: httpx.Response) -> str:
    [[entry]] = json.loads(response.headers["x-business-use-case-usage"]).values()
    kind: str = entry["type"]
    return kind


def test_graph_usage_type_is_the_standins(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH) as graph:
        assert _buc_type(graph.get(f"/{IG}/content_publishing_limit")) == "instagram"
        assert _buc_type(graph.post(f"/{PAGE}/feed", data={"message": "x"})) == "pages"
        missing = graph.get("/999999")  # nobody's object: Graph's not-found, app usage only
        assert missing.json()["error"]["error_subcode"] == 33
        assert "x-app-usage" in missing.headers
        assert "x-business-use-case-usage" not in missing.headers


def test_unserved_paths_get_the_prefixs_not_found(sandbox: Sandbox) -> None:
    unknown_edge = httpx.post(f"{sandbox.graph_base}/{PAGE}/nope", headers=AUTH)
    assert unknown_edge.status_code == 400
    assert unknown_edge.json()["error"]["type"] == "GraphMethodException"
    tiktok = httpx.post(f"{sandbox.tiktok_base}/v2/nope/", headers=AUTH)
    assert tiktok.status_code == 404 and tiktok.json()["error"]["code"] == "invalid_params"
    upload_get = httpx.get(f"{sandbox.url}/tiktok-upload/123")
    assert upload_get.status_code == 404 and isinstance(upload_get.json()["error"], str)
    nowhere = httpx.get(f"{sandbox.url}/elsewhere/v1/x")
    assert nowhere.status_code == 404 and isinstance(nowhere.json()["error"], str)
    assert sandbox.stats()["calls"] == {"graph.unknown": 1, "tiktok.unknown": 1}


def _oversized(sandbox: Sandbox, path: str) -> tuple[int, Any]:
    """A request announcing a body over the sandbox's limit (and sending none)."""
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 70000000\r\n\r\n"
        sock.sendall(head.encode())
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_body_errors_have_the_standins_shape(sandbox: Sandbox) -> None:
    status, body = _oversized(sandbox, f"/graph/v25.0/{PAGE}/feed")
    assert status == 413 and body["error"]["code"] == 100
    status, body = _oversized(sandbox, "/tiktok/v2/post/publish/video/init/")
    assert status == 413 and body["error"]["code"] == "invalid_params"
    status, body = _oversized(sandbox, "/_sandbox/knobs")
    assert status == 413 and "too large" in body["error"]
    assert sandbox.stats()["server_errors"] == []


# ---- the container flow Instagram and Threads share -----------------------------------------

CONTAINER_STANDINS = [s for s in STANDINS if issubclass(s, ContainerStandIn)]
# What each container platform needs to create an image container, and its status field.
IMAGE = {
    "instagram": ({"image_url": "https://cdn.example/a.jpg"}, "status_code"),
    "threads": ({"media_type": "IMAGE", "image_url": "https://cdn.example/a.jpg"}, "status"),
}


def test_flow_endpoints_are_named_after_the_calls_unless_named_otherwise() -> None:
    flow = Flow("x", "posts", "posts_publish", "posts_limit", listing="x.posts")
    assert flow.endpoints == (
        "x.create", "x.publish", "x.container_status", "x.publishing_limit", "x.posts",
        "x.object",
    )  # fmt: skip
    assert {s.platforms[0] for s in CONTAINER_STANDINS} == set(IMAGE)
    for standin in CONTAINER_STANDINS:
        assert set(standin.flow.endpoints) <= set(standin.endpoints)
        # The publish, and the first comment's call (a Threads reply is published apart).
        assert standin.flow.publish in standin.actions
        assert standin.actions - {standin.flow.publish} <= {
            "graph.comments",
            "threads.reply_publish",
        }


@pytest.mark.parametrize("standin", CONTAINER_STANDINS, ids=lambda s: s.platforms[0])
def test_the_container_lifecycle_is_the_same_on_every_container_platform(
    standin: type[ContainerStandIn],
) -> None:
    platform, flow = standin.platforms[0], standin.flow
    params, status_field = IMAGE[platform]
    with (
        # An image container processed like a video (Instagram's are FINISHED at once).
        Sandbox(container_polls=1, slow_image_containers=1) as sandbox,
        httpx.Client(base_url=sandbox.base(standin.prefixes[0]), headers=AUTH) as api,
    ):

        def status(container_id: str) -> str:
            body = api.get(f"/{container_id}", params={"fields": status_field}).json()
            value: str = body[status_field]
            return value

        def publish(container_id: str) -> httpx.Response:
            return api.post(f"/{IG}/{flow.publish_edge}", data={"creation_id": container_id})

        created = api.post(f"/{IG}/{flow.edge}", data=params).json()["id"]
        assert created.startswith(standin.container_ids)
        too_early = publish(created).json()["error"]
        assert too_early["code"] == standin.refusals.not_ready["IN_PROGRESS"].code
        assert [status(created), status(created)] == ["IN_PROGRESS", "FINISHED"]
        published = publish(created)
        media_id = published.json()["id"]
        assert published.status_code == 200 and media_id.startswith(standin.media_ids)
        again = publish(created).json()["error"]
        assert again["code"] == 100 and "already been published" in again["message"]
        assert status(created) == "PUBLISHED" and not sandbox.expire_container(created)

        assert api.get(f"/{media_id}").json() == {"id": media_id}
        assert [m["id"] for m in api.get(f"/{IG}/{flow.edge}").json()["data"]] == [media_id]
        assert api.get(f"/{IG}/{flow.limit_edge}").json()["data"][0]["quota_usage"] == 1
        [entry] = sandbox.ledger.entries(platform)
        assert (entry.platform_post_id, entry.source_ids) == (media_id, (created,))

        # A carousel's children go live with it; the failure knob and expiry end in ERROR
        # and EXPIRED, and neither publishes.
        sandbox.set_knobs(container_polls=0)
        item = {**params, "is_carousel_item": "true"}
        children = [api.post(f"/{IG}/{flow.edge}", data=item).json()["id"] for _ in range(2)]
        carousel = {"media_type": "CAROUSEL", "children": ",".join(children)}
        album = api.post(f"/{IG}/{flow.edge}", data=carousel).json()["id"]
        assert publish(album).status_code == 200
        assert [status(c) for c in children] == ["PUBLISHED", "PUBLISHED"]
        sandbox.set_knobs(container_failures=1)
        failed = api.post(f"/{IG}/{flow.edge}", data=params).json()["id"]
        expired = api.post(f"/{IG}/{flow.edge}", data=params).json()["id"]
        assert sandbox.expire_container(expired)
        assert [status(failed), status(expired)] == ["ERROR", "EXPIRED"]
        assert publish(failed).status_code == publish(expired).status_code == 400
        assert len(sandbox.ledger.entries(platform)) == 2

    # Each call is counted under the endpoint name the stand-in's Flow gives it.
    calls = sandbox.stats()["calls"]
    assert [calls[name] for name in flow.endpoints] == [6, 6, 7, 1, 1, 1]


@pytest.mark.parametrize("standin", CONTAINER_STANDINS, ids=lambda s: s.platforms[0])
def test_container_read_knobs_refuse_reads_or_drop_the_state_while_publishing_works(
    standin: type[ContainerStandIn],
) -> None:
    platform, flow = standin.platforms[0], standin.flow
    params, status_field = IMAGE[platform]
    with (
        Sandbox(container_polls=0, container_read_failures=1, container_status_missing=1) as sb,
        httpx.Client(base_url=sb.base(standin.prefixes[0]), headers=AUTH) as api,
    ):
        created = api.post(f"/{IG}/{flow.edge}", data=params).json()["id"]
        refused = api.get(f"/{created}", params={"fields": status_field}).json()["error"]
        assert (refused["code"], refused["error_subcode"]) == (100, 33)
        blank = api.get(f"/{created}", params={"fields": status_field}).json()
        assert standin.state_field not in blank
        assert api.get(f"/{created}", params={"fields": status_field}).json()[status_field]
        published = api.post(f"/{IG}/{flow.publish_edge}", data={"creation_id": created})
        assert published.status_code == 200


def test_graph_hosts_cannot_parse_an_instagram_login_token(sandbox: Sandbox) -> None:
    ig_login = {"Authorization": "Bearer IGAAQx-instagram-login-token"}
    limits = [(sandbox.graph_base, "content_publishing_limit")]
    limits.append((sandbox.base("threads"), "threads_publishing_limit"))
    for base, edge in limits:
        refused = httpx.get(f"{base}/{IG}/{edge}", headers=ig_login)
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert (error["code"], error["type"]) == (190, "OAuthException")
        assert "error_subcode" not in error
        assert error["message"] == "Invalid OAuth access token - Cannot parse access token"
    sandbox.set_knobs(instagram_login_tokens_refused=False)
    accepted = httpx.get(f"{sandbox.graph_base}/{IG}/content_publishing_limit", headers=ig_login)
    assert accepted.status_code == 200


def test_the_instagram_login_host_publishes_and_refuses_facebook_login_tokens(
    sandbox: Sandbox,
) -> None:
    # graph.instagram.com's stand-in: the same content publishing paths as graph.facebook.com
    # (https://developers.facebook.com/docs/instagram-platform/content-publishing/).
    base = sandbox.env()["STUDIO_PUBLISH_INSTAGRAM_API_BASE"]
    assert base.endswith("/instagram/v25.0")
    ig_login = {"Authorization": "Bearer IGAAQx-instagram-login-token"}
    with httpx.Client(base_url=base, headers=ig_login) as api:
        created = api.post(f"/{IG}/media", data={"image_url": "https://cdn.test/a.jpg"}).json()
        published = api.post(f"/{IG}/media_publish", data={"creation_id": created["id"]}).json()
        read = api.get(f"/{published['id']}", params={"fields": "permalink"}).json()
        assert read["permalink"].startswith("https://www.instagram.com/p/")
        limit = api.get(f"/{IG}/content_publishing_limit", params={"fields": "quota_usage"})
        assert limit.json()["data"][0]["quota_usage"] == 1
    assert sandbox.ledger.count("instagram") == 1
    facebook_login = {"Authorization": "Bearer EAAB-facebook-login-token"}
    refused = httpx.get(f"{base}/{IG}/content_publishing_limit", headers=facebook_login)
    error = refused.json()["error"]
    assert (refused.status_code, error["code"]) == (400, 190) and "error_subcode" not in error
    assert error["message"] == "Invalid OAuth access token - Cannot parse access token"


def test_an_instagram_login_token_refreshes_once_it_is_a_day_old(sandbox: Sandbox) -> None:
    # GET /refresh_access_token?grant_type=ig_refresh_token&access_token=... answers
    # {access_token, token_type, expires_in} (https://developers.facebook.com/docs/
    # instagram-platform/reference/refresh_access_token), for a token at least 24 h old.
    root = sandbox.env()["STUDIO_PUBLISH_INSTAGRAM_API_BASE"].removesuffix("/v25.0")

    def refresh(token: str, grant: str = "ig_refresh_token") -> httpx.Response:
        params = {"grant_type": grant, "access_token": token}
        return httpx.get(f"{root}/refresh_access_token", params=params)

    first = refresh("IGAAQx-long-lived-token")
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 60 * 86400
    assert body["access_token"].startswith("IGAA")
    too_young = refresh(body["access_token"]).json()["error"]
    assert too_young["code"] == 190 and "24 hours" in too_young["message"]
    assert refresh("IGAAQx-long-lived-token").json()["error"]["code"] == 190  # spent
    assert refresh("IGAAQx-other", grant="th_refresh_token").json()["error"]["code"] == 100
    assert refresh("EAAB-facebook-login-token").json()["error"]["code"] == 190
    assert sandbox.stats()["violations"] == []  # its token is in the query, as documented
    assert sandbox.stats()["calls"]["instagram.refresh"] == 5
    # The new token works on the Instagram Login host.
    base = sandbox.env()["STUDIO_PUBLISH_INSTAGRAM_API_BASE"]
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert httpx.get(f"{base}/{IG}/content_publishing_limit", headers=headers).status_code == 200


def test_a_reels_finish_is_a_call_of_its_own_and_drop_never_reaches_it(sandbox: Sandbox) -> None:
    # One URL, two calls: faults aimed at the finish leave the start alone, and a dropped
    # finish is unanswered like a lost one, but the reel was never published.
    upload = sandbox.env()["STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE"]
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH, timeout=5) as graph:
        sandbox.inject("graph.video_reels.finish", "drop")
        video = graph.post(f"/{PAGE}/video_reels", data={"upload_phase": "start"}).json()
        uploaded = httpx.post(
            f"{upload}/video-upload/v25.0/{video['video_id']}",
            headers={"Authorization": AUTH["Authorization"], "file_url": "https://cdn.test/r.mp4"},
        )
        assert uploaded.json() == {"success": True}
        finish = {
            "upload_phase": "finish",
            "video_id": video["video_id"],
            "video_state": "PUBLISHED",
        }
        with pytest.raises(httpx.RemoteProtocolError):
            graph.post(f"/{PAGE}/video_reels", data=finish)
        assert sandbox.ledger.count() == 0  # dropped before the platform acted
        assert graph.post(f"/{PAGE}/video_reels", data=finish).json() == {"success": True}
        assert sandbox.ledger.count() == 1
        again = graph.post(f"/{PAGE}/video_reels", data=finish)  # a published reel: refused
        assert again.status_code == 400 and again.json()["error"]["code"] == 100
    stats = sandbox.stats()
    assert stats["calls"]["graph.video_reels"] == 1
    assert stats["calls"]["graph.video_reels.finish"] == 3 and stats["lost_responses"] == 1


# ---- Facebook stories: the Page Stories API's shapes ---------------------------------------


def _unpublished_photo(graph: httpx.Client) -> str:
    photo = graph.post(
        f"/{PAGE}/photos", data={"url": "https://cdn.test/s.jpg", "published": "false"}
    )
    photo_id: str = photo.json()["id"]
    return photo_id


def test_a_photo_story_goes_live_once_and_is_listed_by_its_photo(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH, timeout=5) as graph:
        photo_id = _unpublished_photo(graph)
        assert sandbox.ledger.count() == 0  # an unpublished photo is nothing to see
        story = graph.post(f"/{PAGE}/photo_stories", data={"photo_id": photo_id}).json()
        assert story["success"] is True and isinstance(story["post_id"], int)
        [entry] = sandbox.ledger.entries()
        assert (entry.kind, entry.caption, entry.source_ids) == ("story", "", (photo_id,))
        # The same photo again (a resent story): "can not have been used in a previously
        # published post".
        again = graph.post(f"/{PAGE}/photo_stories", data={"photo_id": photo_id})
        assert again.status_code == 400 and again.json()["error"]["code"] == 100
        assert sandbox.ledger.count() == 1
        [listed] = graph.get(f"/{PAGE}/stories").json()["data"]
        assert listed == {
            "post_id": str(story["post_id"]),
            "status": "PUBLISHED",
            "creation_time": listed["creation_time"],
            "media_type": "photo",
            "media_id": photo_id,
            "url": f"https://facebook.com/stories/{story['post_id']}",
        }
        later = int(listed["creation_time"]) + 1
        assert graph.get(f"/{PAGE}/stories", params={"since": later}).json()["data"] == []
        assert graph.post(f"/{PAGE}/photo_stories", data={"photo_id": "1"}).status_code == 400
    assert sandbox.stats()["calls"]["graph.photo_stories"] == 3


def test_a_video_story_is_listed_once_processed_and_its_finish_is_a_call_of_its_own(
    sandbox: Sandbox,
) -> None:
    sandbox.set_knobs(processing_seconds=0.3)
    upload = sandbox.env()["STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE"]
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH, timeout=5) as graph:
        start = graph.post(f"/{PAGE}/video_stories", data={"upload_phase": "start"}).json()
        video_id = start["video_id"]
        assert start["upload_url"].endswith(f"/video-upload/v25.0/{video_id}")
        uploaded = httpx.post(
            f"{upload}/video-upload/v25.0/{video_id}",
            headers={"Authorization": AUTH["Authorization"], "file_url": "https://cdn.test/s.mp4"},
        )
        assert uploaded.json() == {"success": True}
        sandbox.inject("graph.video_stories.finish", "drop")
        finish = {"upload_phase": "finish", "video_id": video_id}
        with pytest.raises(httpx.RemoteProtocolError):
            graph.post(f"/{PAGE}/video_stories", data=finish)
        done = graph.post(f"/{PAGE}/video_stories", data=finish).json()
        assert done["success"] is True and isinstance(done["post_id"], int)
        # Finished, still processing: not live yet, and its status says so.
        assert sandbox.ledger.count() == 0 and graph.get(f"/{PAGE}/stories").json()["data"] == []
        status = graph.get(f"/{video_id}", params={"fields": "status"}).json()["status"]
        assert status["publishing_phase"]["status"] == "not_started"
        time.sleep(0.35)
        status = graph.get(f"/{video_id}", params={"fields": "status"}).json()["status"]
        assert status["publishing_phase"]["publish_status"] == "published"
        [listed] = graph.get(f"/{PAGE}/stories").json()["data"]
        assert (listed["media_type"], listed["media_id"]) == ("video", video_id)
        assert listed["post_id"] == str(done["post_id"])
        again = graph.post(f"/{PAGE}/video_stories", data=finish)  # a published story: refused
        assert again.status_code == 400 and sandbox.ledger.count() == 1
        # A reel's session is not a story's.
        reel = graph.post(f"/{PAGE}/video_reels", data={"upload_phase": "start"}).json()
        wrong = graph.post(
            f"/{PAGE}/video_stories", data={"upload_phase": "finish", "video_id": reel["video_id"]}
        )
        assert wrong.status_code == 400
    calls = sandbox.stats()["calls"]
    assert calls["graph.video_stories"] == 1 and calls["graph.video_stories.finish"] == 4


def test_the_story_list_lag_knob_leaves_out_the_newest_story(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH, timeout=5) as graph:
        for _ in range(2):
            graph.post(f"/{PAGE}/photo_stories", data={"photo_id": _unpublished_photo(graph)})
        sandbox.set_knobs(facebook_story_list_lag=1)
        assert len(graph.get(f"/{PAGE}/stories").json()["data"]) == 1  # lagging
        assert len(graph.get(f"/{PAGE}/stories").json()["data"]) == 2  # caught up
    with pytest.raises(ValueError):
        knobs.Knobs(facebook_story_list_lag=-1)


# ---- local files: rupload's bytes and the Video API's resumable upload --------------------


def _rupload(url: str, data: bytes, offset: int, size: int) -> httpx.Response:
    headers = {"Authorization": AUTH["Authorization"], "offset": str(offset)}
    return httpx.post(url, headers={**headers, "file_size": str(size)}, content=data, timeout=5)


def test_a_local_reel_upload_counts_bytes_fails_on_the_knob_and_resumes(sandbox: Sandbox) -> None:
    upload = sandbox.env()["STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE"]
    data = bytes(range(256)) * 40
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH, timeout=5) as graph:
        video = graph.post(f"/{PAGE}/video_reels", data={"upload_phase": "start"}).json()
        url = f"{upload}/video-upload/v25.0/{video['video_id']}"
        sandbox.set_knobs(rupload_fail_after_bytes=4000)
        broken = _rupload(url, data, 0, len(data))
        assert broken.status_code == 503 and broken.json()["debug_info"]["retriable"] is True
        status = graph.get(f"/{video['video_id']}", params={"fields": "status"}).json()
        assert status["status"]["uploading_phase"]["bytes_transferred"] == 4000
        assert _rupload(url, data, 0, len(data)).status_code == 400  # offset must be 4000
        assert _rupload(url, data[4000:], 4000, len(data)).json() == {"success": True}
        status = graph.get(f"/{video['video_id']}", params={"fields": "status"}).json()
        assert status["status"]["uploading_phase"] == {
            "status": "complete",
            "bytes_transferred": len(data),
        }


def test_a_resumable_instagram_container_waits_for_its_upload(sandbox: Sandbox) -> None:
    upload = sandbox.env()["STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE"]
    data = b"\x00" * 5000
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH, timeout=5) as graph:
        params = {"media_type": "REELS", "upload_type": "resumable"}
        created = graph.post(f"/{IG}/media", data=params).json()
        read = graph.get(f"/{created['id']}", params={"fields": "status_code,video_status"})
        assert read.json()["status_code"] == "IN_PROGRESS"
        url = f"{upload}/ig-api-upload/v25.0/{created['id']}"
        assert _rupload(url, data, 0, len(data)).json() == {
            "success": True,
            "message": "Upload successful.",
        }
        read = graph.get(f"/{created['id']}", params={"fields": "status_code,video_status"})
        assert read.json()["status_code"] == "FINISHED"
        assert read.json()["video_status"]["uploading_phase"]["bytes_transferred"] == 5000
        published = graph.post(f"/{IG}/media_publish", data={"creation_id": created["id"]})
        assert "id" in published.json()
    assert sandbox.ledger.count("instagram") == 1


def test_a_local_page_video_takes_start_transfer_finish(sandbox: Sandbox) -> None:
    sandbox.set_knobs(facebook_transfer_chunk=1000)
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH, timeout=5) as graph:
        start = {"upload_phase": "start", "file_size": "2500"}
        session = graph.post(f"/{PAGE}/videos", data=start).json()
        assert (session["start_offset"], session["end_offset"]) == ("0", "1000")
        first = 0
        while True:
            chunk = b"x" * (int(session["end_offset"]) - first)
            transfer = {
                "upload_phase": "transfer",
                "upload_session_id": session["upload_session_id"],
                "start_offset": str(first),
            }
            files = {"video_file_chunk": ("v.mp4", chunk, "application/octet-stream")}
            session = {
                **session,
                **graph.post(f"/{PAGE}/videos", data=transfer, files=files).json(),
            }
            first = int(session["start_offset"])
            if session["start_offset"] == session["end_offset"]:
                break
        assert first == 2500
        finish = {
            "upload_phase": "finish",
            "upload_session_id": session["upload_session_id"],
            "description": "A local video",
        }
        assert graph.post(f"/{PAGE}/videos", data=finish).json() == {"success": True}
        again = graph.post(f"/{PAGE}/videos", data=finish)
        assert again.status_code == 400  # a second finish is refused
        status = graph.get(f"/{session['video_id']}", params={"fields": "status"}).json()
        assert status["status"]["publishing_phase"]["publish_status"] == "published"
    assert sandbox.ledger.count("facebook") == 1


def test_a_large_local_upload_is_streamed_not_held(sandbox: Sandbox, tmp_path: Path) -> None:
    """200 MB through graph/rupload.upload_file to the sandbox's rupload: the process's peak
    memory grows far less than the file (a loose check: ru_maxrss, no timing)."""
    size = 200 * 1024**2
    big = tmp_path / "big.mp4"
    with big.open("wb") as handle:
        handle.truncate(size)  # sparse: nothing on disk, zeros when read
    upload = sandbox.env()["STUDIO_PUBLISH_FACEBOOK_UPLOAD_BASE"]
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH, timeout=5) as graph:
        video = graph.post(f"/{PAGE}/video_reels", data={"upload_phase": "start"}).json()
    url = f"{upload}/video-upload/v25.0/{video['video_id']}"
    token = AUTH["Authorization"].removeprefix("Bearer ")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    async def send() -> None:
        async with httpx.AsyncClient() as http:
            await upload_file(http, url, token, big, offset=0, what="upload", timeout=30)

    asyncio.run(send())
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    assert grown < size // 4
    with httpx.Client(base_url=sandbox.graph_base, headers=AUTH, timeout=5) as graph:
        status = graph.get(f"/{video['video_id']}", params={"fields": "status"}).json()
    assert status["status"]["uploading_phase"]["bytes_transferred"] == size
