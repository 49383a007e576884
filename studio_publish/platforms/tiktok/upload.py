"""PUTting a FILE_UPLOAD video to TikTok's ``upload_url``, chunk by chunk, in order.

206 means "more expected" and 201 "all received, posting starts". A 5xx or a network error
resends *that* chunk a few times; 416 means TikTok's progress differs from ours and the
response's ``Content-Range: bytes 0-{last}/{total}`` says where to carry on; 403 means the
one-hour upload URL expired. Resending a chunk cannot make a second post (it belongs to
the same publish_id), so only the outcome of the final chunk can be unclear.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx

from studio_publish.platforms.base import Decision, PlatformError
from studio_publish.platforms.tiktok.chunks import ChunkPlan
from studio_publish.platforms.transport import OutcomeUnclear, send

ChunkBody = Callable[[int, int], AsyncIterator[bytes]]
CHUNK_RETRIES = 3  # resends of one chunk after a 5xx or a network error
MAX_RESYNCS = 3


class UploadIncomplete(PlatformError):
    """The upload certainly did not complete, so the publish_id can never go live."""


def resume_index(plan: ChunkPlan, content_range: str | None) -> int | None:
    """The chunk to send next after a 416, from ``bytes 0-{last}/{total}``.

    Returns len(plan.ranges) when everything has arrived, None when the reported progress
    does not fall on one of our chunk boundaries.
    """
    if not content_range:
        return None
    span = content_range.removeprefix("bytes ").partition("/")[0]
    last = span.partition("-")[2]
    if not last.isdigit():
        return None
    received = int(last) + 1
    if received >= plan.video_size:
        return len(plan.ranges)
    starts = [first for first, _ in plan.ranges]
    return starts.index(received) if received in starts else None


async def upload_chunks(
    http: httpx.AsyncClient,
    upload_url: str,
    plan: ChunkPlan,
    body: ChunkBody,
    *,
    content_type: str,
    timeout: float,
    backoff: float,
) -> None:
    """Send every chunk; raises UploadIncomplete, or OutcomeUnclear when the final chunk
    may or may not have completed the upload."""
    index, resyncs = 0, 0
    while index < len(plan.ranges):
        response = await _put(http, upload_url, plan, index, body, content_type, timeout, backoff)
        if response.status_code == 201:
            return
        if response.status_code == 206 and index < len(plan.ranges) - 1:
            index += 1
            continue
        if response.status_code in (206, 416) and resyncs < MAX_RESYNCS:
            resyncs += 1
            resumed = resume_index(plan, response.headers.get("Content-Range"))
            if resumed is not None:
                index = resumed
                continue
        raise _refused(response.status_code)


def _refused(status: int) -> UploadIncomplete:
    if status == 403:
        # The upload URL lasts an hour. A fresh init next time gives a new one.
        return UploadIncomplete(Decision.RETRY, "TikTok upload URL expired", http_status=403)
    if status in (206, 404, 416):
        return UploadIncomplete(
            Decision.RETRY, f"TikTok upload out of step (HTTP {status})", http_status=status
        )
    return UploadIncomplete(
        Decision.FAIL, f"TikTok refused the video chunk (HTTP {status})", http_status=status
    )


async def _put(
    http: httpx.AsyncClient,
    upload_url: str,
    plan: ChunkPlan,
    index: int,
    body: ChunkBody,
    content_type: str,
    timeout: float,
    backoff: float,
) -> httpx.Response:
    first, last = plan.ranges[index]
    final = index == len(plan.ranges) - 1
    what = f"TikTok upload of chunk {index + 1}/{plan.total_chunk_count}"
    headers = {
        "Content-Type": content_type,
        "Content-Length": str(last - first + 1),
        "Content-Range": f"bytes {first}-{last}/{plan.video_size}",
    }
    reached = False  # whether any try of the final chunk may have reached TikTok
    problem = ""
    for attempt in range(CHUNK_RETRIES + 1):
        if attempt:
            await asyncio.sleep(backoff * attempt)
        try:
            response = await send(
                http,
                "PUT",
                upload_url,
                what=what,
                timeout=timeout,
                irreversible=True,
                headers=headers,
                content=body(first, last),
            )
        except OutcomeUnclear as exc:
            reached, problem = True, exc.message
            continue
        except PlatformError as exc:
            if exc.decision is not Decision.RETRY:
                raise UploadIncomplete(exc.decision, exc.message) from exc
            problem = exc.message
            continue
        if response.status_code < 500:
            return response
        reached, problem = True, f"{what}: HTTP {response.status_code}"
    if final and reached:
        raise OutcomeUnclear(f"{problem}; the upload may have completed")
    raise UploadIncomplete(Decision.RETRY, f"{problem} (after {CHUNK_RETRIES} retries)")
