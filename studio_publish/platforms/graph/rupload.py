"""Uploads to Meta's rupload host: a reel's or video story's video, an Instagram video.

Three guides document the same host and call, ``POST {rupload}/{path}/{version}/{id}`` with
the token in ``Authorization: OAuth <token>``, answering ``{"success": true}``:

* Facebook reels, ``video-upload`` (https://developers.facebook.com/docs/video-api/guides/reels-publishing,
  "Upload a hosted file" with a ``file_url`` header, or "Upload a local file" with the
  headers ``offset`` and ``file_size`` and the bytes as the body), and Page video stories,
  the same upload (https://developers.facebook.com/docs/page-stories-api);
* Instagram's resumable upload, ``ig-api-upload``
  (https://developers.facebook.com/docs/instagram-platform/content-publishing/resumable-uploads):
  the container made with ``upload_type=resumable``, then the same headers and body (it
  answers ``{"success": true, "message": "Upload successful."}``).

An interrupted upload resumes "from the offset": the video's (or the container's) status
tells how much arrived, ``uploading_phase.bytes_transferred`` (``bytes_transferred``), and
the upload is sent again from there with ``offset`` set to it. Nothing is visible until the
publishing call that follows, so an upload is sent again as often as needed: it only ever
names the video or container it belongs to.

The body is streamed from the file a block at a time (media.file_range), never read whole;
``Content-Length`` is set so the body is not sent chunked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.platforms.graph.errors import graph_error
from studio_publish.platforms.media import file_range
from studio_publish.platforms.transport import json_body, redact, send


async def rupload(
    http: httpx.AsyncClient,
    url: str,
    token: str,
    *,
    what: str,
    timeout: float,
    headers: dict[str, str],
    content: Any = None,
) -> None:
    """One rupload call; raises with the Graph error's decision, else by HTTP status (the
    host answers its own errors as ``{"debug_info": {...}}``)."""
    response = await send(
        http,
        "POST",
        url,
        what=what,
        timeout=timeout,
        headers={"Authorization": f"OAuth {token}", **headers},
        content=content,
    )
    body = json_body(response)
    if response.is_success and body.get("success") is True:
        return
    if "error" in body:
        raise graph_error(
            body,
            http_status=response.status_code,
            what=what,
            regain_seconds=None,
            secrets=(token,),
            token=token,
        )
    detail = redact(json.dumps(body)[:300], token) if body else f"HTTP {response.status_code}"
    decision = {400: Decision.FAIL, 401: Decision.REAUTH, 403: Decision.REAUTH}.get(
        response.status_code, Decision.RETRY
    )
    raise PlatformError(decision, f"{what} failed: {detail}", http_status=response.status_code)


async def upload_file(
    http: httpx.AsyncClient,
    url: str,
    token: str,
    path: Path,
    *,
    offset: int,
    what: str,
    timeout: float,
) -> None:
    """Send ``path`` from byte ``offset`` on ("Upload a local file"), streamed."""
    size = path.stat().st_size
    headers = {
        "offset": str(offset),
        "file_size": str(size),
        "Content-Type": "application/octet-stream",
        "Content-Length": str(size - offset),
    }
    await rupload(
        http,
        url,
        token,
        what=what,
        timeout=timeout,
        headers=headers,
        content=file_range(path, offset, size - 1),
    )


def bytes_transferred(phases: object) -> int:
    """How much of an upload arrived, from a status object holding ``uploading_phase``
    (a Facebook video's ``status``, an Instagram container's ``video_status``); 0 when it
    does not say."""
    uploading = phases.get("uploading_phase") if isinstance(phases, dict) else None
    sent = uploading.get("bytes_transferred") if isinstance(uploading, dict) else None
    return sent if isinstance(sent, int) and not isinstance(sent, bool) and sent > 0 else 0


def resume_offset(phases: object, size: int) -> int | None:
    """Where to carry on an upload of ``size`` bytes: None when all of it arrived; 0 when
    the status tells nothing usable (more than the file, say): the whole file again."""
    sent = bytes_transferred(phases)
    if sent == size:
        return None
    return sent if sent < size else 0
